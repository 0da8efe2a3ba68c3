"""MF001 and MF002: Mamba-family layers applied in sequence without norm / residual."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from mambafix.model import (
    MAMBA, NORM, NORMALIZED, OTHER, Element, InitInfo, Stack, call_arg, code,
    comprehension_names, int_value, names_in, nested_blocks, param_defaults, param_names,
    range_count, self_attr, small_statements, statements,
)
from mambafix.names import Family, NameResolver, dotted
from mambafix.results import ClassSummary
from mambafix.walk import walk


@dataclass
class Application:
    """One call of a layer on a tensor: `h = layer(h)`, `h = checkpoint(layer, h)`."""

    stmt: cst.BaseSmallStatement
    call: cst.Call
    attr: str
    var: str
    through_wrapper: bool
    plain: bool  # result used directly (not indexed, not unpacked)


@dataclass
class StackFinding:
    """A finding with everything apply needs to fix it, or the reason it cannot."""

    code: str
    node: cst.CSTNode  # where it is reported
    owner: str
    count: str
    kind: str
    shape: str  # "loop", "index-loop", "chain", "tied", "sequential"
    cls: cst.ClassDef
    stacks: list[Stack]
    apps: list[Application] = field(default_factory=list)
    loop: cst.For | None = None
    no_fix: str | None = None
    public: object = None  # the reported Finding


class Families:
    def __init__(self, config) -> None:
        self.layers = Family(config.layer_classes)
        self.norm_classes = Family(config.norm_classes)
        self.norm_functions = Family(config.norm_functions)
        self.normalized_blocks = Family(config.normalized_block_classes)
        self.apply_wrappers = Family(config.apply_wrappers)
        self.module_lists = Family(config.module_list_classes)
        self.sequentials = Family(config.sequential_classes)


class FileModel:
    """Classes and functions of one file, with the project-wide index of wrapper classes."""

    def __init__(self, module: cst.Module, resolver: NameResolver, families: Families, module_name: str,
                 project_index: dict[str, ClassSummary] | None = None) -> None:
        self.module = module
        self.resolver = resolver
        self.families = families
        self.module_name = module_name
        self.index = project_index or {}
        self.classes: dict[str, cst.ClassDef] = {}
        self.functions: dict[str, cst.FunctionDef] = {}
        for stmt in module.body:
            if isinstance(stmt, cst.ClassDef):
                self.classes[stmt.name.value] = stmt
            elif isinstance(stmt, cst.FunctionDef):
                self.functions[stmt.name.value] = stmt
        self._summaries: dict[str, ClassSummary | None] = {}
        self._inits: dict[str, InitInfo] = {}
        self.unresolved: set[str] = set()  # imported classes used as layers, unknown here

    # -- classifying constructor calls --------------------------------------------------
    def classify(self, expr: cst.BaseExpression, locals_: dict | None = None) -> Element:
        if not isinstance(expr, cst.Call):
            return Element(OTHER)
        fam = self.families
        names = self.resolver.candidates(expr.func)
        if not names:
            return Element(OTHER)
        if fam.sequentials.match_any(names) or fam.module_lists.match_any(names):
            inner = self.container_elements(expr, locals_ or {})
            elements = inner[0] if inner else None
            if not elements:
                return Element(OTHER)
            kinds = {e.kind for e in elements}
            mambas = [e for e in elements if e.kind == MAMBA]
            if mambas and (NORM in kinds or NORMALIZED in kinds):
                return Element(NORMALIZED, mambas[0].display, expr)
            if mambas:
                return Element(MAMBA, mambas[0].display, expr, mambas[0].d_model if len(mambas) == 1 else None)
            return Element(NORMALIZED if NORMALIZED in kinds else OTHER)
        matched = fam.layers.match_any(names)
        if matched:
            return Element(MAMBA, matched.rsplit(".", 1)[-1], expr, call_arg(expr, ("d_model", "dim"), 0))
        if fam.norm_classes.match_any(names):
            return Element(NORM, names[0].rsplit(".", 1)[-1], expr)
        if fam.normalized_blocks.match_any(names):
            return Element(NORMALIZED, names[0].rsplit(".", 1)[-1], expr)
        summary = self.summary_for(expr.func)
        if summary is not None:
            d_model = None
            if summary.d_model_param is not None:
                d_model = call_arg(expr, (summary.d_model_param[0],), summary.d_model_param[1])
            return Element(summary.kind, summary.display, expr, d_model)
        return Element(OTHER)

    def summary_for(self, func: cst.BaseExpression) -> ClassSummary | None:
        if isinstance(func, cst.Name) and func.value in self.classes and func.value not in self.resolver.aliases:
            return self.class_summary(func.value)
        qualified = self.resolver.qualify(func)
        if not qualified or "." not in qualified:
            return None
        if qualified in self.index:
            return self.index[qualified]
        # suffix match: "models.blocks.Wrap" against an index keyed by full dotted paths
        for key, summary in self.index.items():
            if key.endswith("." + qualified) or qualified.endswith("." + key):
                return summary
        top = qualified.split(".", 1)[0]
        if top not in ("torch", "mamba_ssm", "torchvision", "numpy", "math", "einops", "typing", "functools"):
            self.unresolved.add(qualified)
        return None

    def container_elements(self, call: cst.Call, locals_: dict):
        """Elements of `ModuleList(...)` / `Sequential(...)`: (elements, repeated, count, text, comp_names)."""
        args = [a for a in call.args if a.keyword is None]
        if not args:
            return None
        if len(args) == 1 and (args[0].star == "*" or self.families.module_lists.match_any(self.resolver.candidates(call.func))):
            return self._sequence_of(args[0].value, locals_)
        if any(a.star for a in args):
            return None
        return [self.classify(a.value, locals_) for a in args], None, len(args), str(len(args)), frozenset()

    def _sequence_of(self, expr: cst.BaseExpression, locals_: dict):
        if isinstance(expr, cst.Name) and expr.value in locals_:
            value = locals_[expr.value]
            if isinstance(value, tuple):  # an append-built local list
                return value
            expr = value
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp)):
            element = self.classify(expr.elt, locals_)
            count, text = range_count(expr.for_in.iter, locals_.get("__defaults__", {}))
            if expr.for_in.inner_for_in is not None:
                count, text = None, None
            return [element], element, count, text, comprehension_names(expr)
        if isinstance(expr, (cst.List, cst.Tuple)):
            if any(isinstance(e, cst.StarredElement) for e in expr.elements):
                return None
            elements = [self.classify(e.value, locals_) for e in expr.elements]
            return elements, None, len(elements), str(len(elements)), frozenset()
        return None

    # -- what __init__ builds -----------------------------------------------------------
    def init_info(self, cls: cst.ClassDef) -> InitInfo:
        key = cls.name.value
        if key in self._inits:
            return self._inits[key]
        info = InitInfo()
        self._inits[key] = info
        methods = {s.name.value: s for s in statements(cls.body) if isinstance(s, cst.FunctionDef)}
        for method in methods.values():
            for node in _walk_statements(method.body):
                for small in small_statements(node):
                    if isinstance(small, (cst.Assign, cst.AnnAssign)):
                        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                        for t in targets:
                            if self_attr(t):
                                info.attr_names.add(self_attr(t))
        init = methods.get("__init__")
        if init is None:
            return info
        locals_: dict = {"__defaults__": param_defaults(init)}
        self._scan_init_block(cls, init.body, info, locals_, methods)
        return info

    def _scan_init_block(self, cls, block, info: InitInfo, locals_: dict, methods: dict) -> None:
        for stmt in statements(block):
            if isinstance(stmt, cst.For):
                self._scan_append_loop(stmt, info, locals_)
            for inner in nested_blocks(stmt):
                if not isinstance(stmt, cst.For):
                    self._scan_init_block(cls, inner, info, locals_, methods)
            for small in small_statements(stmt):
                if not isinstance(small, cst.Assign) or len(small.targets) != 1:
                    continue
                target, value = small.targets[0].target, small.value
                if isinstance(target, cst.Name):
                    locals_[target.value] = value
                    continue
                attr = self_attr(target)
                if attr is None:
                    continue
                stack = self._stack_from_value(attr, value, locals_, methods)
                if stack is not None:
                    stack.define = small
                    stack.insert_after = stmt
                    info.stacks[attr] = stack

    def _scan_append_loop(self, loop: cst.For, info: InitInfo, locals_: dict) -> None:
        count, text = range_count(loop.iter, locals_.get("__defaults__", {}))
        for node in _walk_statements(loop.body):
            for small in small_statements(node):
                if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
                    continue
                call = small.value
                if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "append" and call.args):
                    continue
                element = self.classify(call.args[0].value, locals_)
                comp = frozenset(names_in(loop.target))
                owner = call.func.value
                attr = self_attr(owner)
                if attr is not None and attr in info.stacks and not info.stacks[attr].all_elements():
                    stack = info.stacks[attr]
                    stack.elements, stack.repeated, stack.count, stack.count_text = None, element, count, text
                    stack.insert_after, stack.comp_names = loop, comp
                elif isinstance(owner, cst.Name):
                    locals_[owner.value] = ([element], element, count, text, comp)

    def _stack_from_value(self, attr: str, value: cst.BaseExpression, locals_: dict, methods: dict) -> Stack | None:
        if isinstance(value, cst.Name) and value.value in locals_ and not isinstance(locals_[value.value], tuple):
            value = locals_[value.value]
        if not isinstance(value, cst.Call):
            return None
        names = self.resolver.candidates(value.func)
        fam = self.families
        container = "sequential" if fam.sequentials.match_any(names) else ("modulelist" if fam.module_lists.match_any(names) else None)
        if container is not None:
            parsed = self.container_elements(value, locals_)
            if parsed is None:
                return Stack(attr, container, elements=[], value=value)
            elements, repeated, count, text, comp = parsed
            if repeated is not None:
                return Stack(attr, container, repeated=repeated, count=count, count_text=text, value=value, comp_names=comp)
            return Stack(attr, container, elements=elements, count=count, count_text=text, value=value)
        helper = self._helper_stack(value, methods)
        if helper is not None:
            return helper
        element = self.classify(value, locals_)
        return Stack(attr, "single", repeated=element, count=1, count_text="1", value=value)

    def _helper_stack(self, call: cst.Call, methods: dict) -> Stack | None:
        func = None
        if isinstance(call.func, cst.Attribute) and self_attr(call.func) in methods:
            func = methods[self_attr(call.func)]
        elif isinstance(call.func, cst.Name) and call.func.value in self.functions:
            func = self.functions[call.func.value]
        if func is None:
            return None
        locals_: dict = {"__defaults__": param_defaults(func)}
        for node in _walk_statements(func.body):
            for small in small_statements(node):
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                    locals_[small.targets[0].target.value] = small.value
                if isinstance(small, cst.Return) and small.value is not None:
                    stack = self._stack_from_value("?", small.value, locals_, {})
                    if stack is not None and stack.container != "single":
                        stack.helper = code(call.func)
                        stack.count, stack.count_text = None, None
                        return stack
        return None

    # -- classes used as layers -----------------------------------------------------------
    def class_summary(self, name: str) -> ClassSummary | None:
        if name in self._summaries:
            return self._summaries[name]
        self._summaries[name] = None  # recursion guard
        cls = self.classes[name]
        base_names = [n for b in cls.bases for n in self.resolver.candidates(b.value)]
        methods = {s.name.value: s for s in statements(cls.body) if isinstance(s, cst.FunctionDef)}
        forward = methods.get("forward")
        init = methods.get("__init__")
        summary = None
        base_layer = self.families.layers.match_any(base_names)
        if base_layer:
            normalizes = forward is not None and self._forward_normalizes(cls, forward)
            d_param = ("d_model", 0)
            if init is not None:
                params = param_names(init)[1:]
                d_param = (params[0], 0) if params else None
            summary = ClassSummary(NORMALIZED if normalizes else MAMBA, name, d_param)
        elif forward is not None:
            info = self.init_info(cls)
            called = _called_self_attrs(forward)
            mamba_attrs = [a for a in called if a in info.stacks and info.stacks[a].kind() == MAMBA]
            if mamba_attrs:
                normalizes = self._forward_normalizes(cls, forward)
                d_param = None
                element = info.stacks[mamba_attrs[0]].all_elements()
                d_expr = next((e.d_model for e in element if e.kind == MAMBA), None)
                if isinstance(d_expr, cst.Name) and init is not None:
                    params = param_names(init)[1:]
                    if d_expr.value in params:
                        d_param = (d_expr.value, params.index(d_expr.value))
                summary = ClassSummary(NORMALIZED if normalizes else MAMBA, name, d_param)
            elif self._forward_normalizes(cls, forward) and any(
                a in info.stacks and info.stacks[a].kind() == NORMALIZED for a in called
            ):
                summary = ClassSummary(NORMALIZED, name)
        self._summaries[name] = summary
        return summary

    def _forward_normalizes(self, cls: cst.ClassDef, forward: cst.FunctionDef) -> bool:
        analyzer = ClassAnalyzer(self, cls)
        return any(analyzer.is_norm_call(c, {}) for c in _calls(forward.body))

    def summaries(self) -> dict[str, ClassSummary]:
        """Summaries of this file's layer-like classes, keyed by qualified name."""
        out = {}
        for name in self.classes:
            summary = self.class_summary(name)
            if summary is not None and summary.kind in (MAMBA, NORMALIZED):
                out[f"{self.module_name}.{name}" if self.module_name else name] = summary
        return out


def _walk_statements(block):
    for stmt in statements(block):
        yield stmt
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        for inner in nested_blocks(stmt):
            yield from _walk_statements(inner)


def _calls(node: cst.CSTNode) -> list[cst.Call]:
    """Calls under `node`, not entering lambdas or nested functions."""
    return [n for n in walk(node, prune=(cst.FunctionDef, cst.Lambda)) if isinstance(n, cst.Call)]


def _called_self_attrs(func: cst.FunctionDef) -> list[str]:
    out = []
    for call in _calls(func.body):
        target = call.func.value if isinstance(call.func, cst.Subscript) else call.func
        attr = self_attr(target)
        if attr is not None:
            out.append(attr)
        elif call.args and isinstance(call.args[0].value, (cst.Attribute, cst.Subscript)):
            inner = call.args[0].value
            inner = inner.value if isinstance(inner, cst.Subscript) else inner
            if self_attr(inner):
                out.append(self_attr(inner))
    return out


class ClassAnalyzer:
    """Finds the sequential applications of stacks in one class's methods."""

    def __init__(self, model: FileModel, cls: cst.ClassDef) -> None:
        self.model = model
        self.cls = cls
        self.info = model.init_info(cls)
        self.findings: list[StackFinding] = []

    @property
    def name(self) -> str:
        return self.cls.name.value

    # -- callee resolution --------------------------------------------------------------
    def callee_attr(self, func: cst.BaseExpression, bindings: dict) -> str | None:
        if isinstance(func, cst.Name):
            bound = bindings.get(func.value)
            return bound[1] if bound and bound[0] == "elem" else None
        attr = self_attr(func)
        if attr is not None:
            return attr if attr in self.info.stacks else None
        if isinstance(func, cst.Subscript):
            base = self_attr(func.value)
            if base in self.info.stacks:
                return base
        return None

    def is_norm_call(self, call: cst.Call, bindings: dict) -> bool:
        fam = self.model.families
        names = self.model.resolver.candidates(call.func)
        if names and (fam.norm_functions.match_any(names) or fam.norm_classes.match_any(names)):
            return True
        if isinstance(call.func, cst.Call):  # nn.LayerNorm(d)(x)
            return self.model.classify(call.func).kind == NORM
        attr = self.callee_attr(call.func, bindings)
        if attr is not None:
            return self.info.stacks[attr].kind() in (NORM, NORMALIZED)
        if isinstance(call.func, cst.Name) and bindings.get(call.func.value, ("",))[0] == "norm":
            return True
        return False

    def applications_of(self, pseudo, small, bindings: dict) -> list[Application]:
        """Layer calls nested in a returned expression: each one's data argument holds another call."""
        out = []
        for call, plain in _calls_with_context(pseudo.value):
            func, through = call.func, False
            if self.model.families.apply_wrappers.match_any(self.model.resolver.candidates(call.func)) and call.args:
                func, through = call.args[0].value, True
            attr = self.callee_attr(func, bindings)
            if attr is not None:
                out.append(Application(small, call, attr, "", through, plain))
        return out

    def applications(self, small: cst.BaseSmallStatement, bindings: dict) -> list[Application]:
        """Layer calls in `h = ...` whose data argument mentions h."""
        if isinstance(small, cst.Assign):
            if len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
                return []
            var, value = small.targets[0].target.value, small.value
        elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name) and isinstance(small.operator, cst.AddAssign):
            var, value = small.target.value, small.value
        else:
            return []
        apps = []
        wrappers = self.model.families.apply_wrappers
        for call, plain in _calls_with_context(value):
            through = False
            func, data_index = call.func, 0
            if wrappers.match_any(self.model.resolver.candidates(call.func)) and call.args:
                func, data_index, through = call.args[0].value, 1, True
            attr = self.callee_attr(func, bindings)
            if attr is None:
                continue
            positional = [a for a in call.args if a.keyword is None]
            if len(positional) <= data_index or var not in names_in(positional[data_index].value):
                continue
            apps.append(Application(small, call, attr, var, through, plain))
        return apps

    # -- analysis -------------------------------------------------------------------------
    def run(self) -> list[StackFinding]:
        for stmt in statements(self.cls.body):
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value != "__init__":
                self.scan_block(stmt.body, {})
        return self.findings

    def scan_block(self, block, bindings: dict) -> None:
        chains: dict[str, list[Application]] = {}
        for stmt in statements(block):
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            if isinstance(stmt, cst.For):
                self._close_all(chains)
                self.scan_loop(stmt, bindings)
                continue
            if not isinstance(stmt, cst.SimpleStatementLine):
                self._close_all(chains)
                for inner in nested_blocks(stmt):
                    self.scan_block(inner, bindings)
                continue
            for small in small_statements(stmt):
                self._chain_step(small, bindings, chains)
        self._close_all(chains)

    def _chain_step(self, small, bindings: dict, chains: dict) -> None:
        for call, _ in _calls_with_context(small):
            attr = self_attr(call.func)
            stack = self.info.stacks.get(attr) if attr else None
            if stack is not None and stack.container == "sequential":
                self._sequential_whole(stack, Application(small, call, attr, "", False, True))
        if isinstance(small, cst.Return) and small.value is not None:
            # `return self.m2(self.m1(x))`: a chain inside one expression
            pseudo = cst.Assign([cst.AssignTarget(cst.Name("__return__"))], small.value)
            nested = [a for a in self.applications_of(pseudo, small, bindings) if self._single_mamba(a)]
            normalized = any(self.is_norm_call(c, bindings) for c, _ in _calls_with_context(small))
            if len(nested) >= 2 and not normalized:
                chains["\0return"] = nested
                self._close(chains, "\0return")
            return
        apps = self.applications(small, bindings)
        mamba_apps = [a for a in apps if self._single_mamba(a)]
        assigned = _assigned_name(small)
        if assigned is None:
            return
        normalized = any(self.is_norm_call(c, bindings) for c, _ in _calls_with_context(small))
        if mamba_apps and not normalized:
            chains.setdefault(assigned, []).extend(mamba_apps)
        elif normalized or assigned not in names_in(_assigned_value(small)):
            self._close(chains, assigned)

    def _single_mamba(self, app: Application) -> bool:
        stack = self.info.stacks[app.attr]
        func = app.call.args[0].value if app.through_wrapper else app.call.func
        if stack.container == "single":
            return stack.kind() == MAMBA
        if isinstance(func, cst.Subscript):
            index = func.slice[0].slice if len(func.slice) == 1 and isinstance(func.slice[0].slice, cst.Index) else None
            position = int_value(index.value) if index is not None else None
            elements = stack.all_elements()
            if stack.elements is not None and position is not None and position < len(elements):
                return elements[position].kind == MAMBA
            return stack.kind() == MAMBA
        return False

    def _close_all(self, chains: dict) -> None:
        for var in list(chains):
            self._close(chains, var)

    def _close(self, chains: dict, var: str) -> None:
        apps = chains.pop(var, [])
        if len(apps) < 2:
            return
        attrs = list(dict.fromkeys(a.attr for a in apps))
        stacks = [self.info.stacks[a] for a in attrs]
        owner = f"{self.name}.{attrs[0]}" + "".join(f", {a}" for a in attrs[1:])
        finding = StackFinding("MF001", apps[0].stmt, owner, str(len(apps)), stacks[0].display(), "chain", self.cls, stacks, apps)
        finding.no_fix = self._chain_no_fix(stacks, apps)
        self.findings.append(finding)

    def _sequential_whole(self, stack: Stack, app: Application) -> None:
        run = stack.longest_mamba_run()
        if stack.repeated is not None and stack.repeated.kind == MAMBA:
            if stack.count is not None and stack.count < 2:
                return
            count = stack.count_text or "several"
        elif run >= 2:
            count = str(run)
        else:
            return
        if any(f.shape == "sequential" and f.stacks[0] is stack for f in self.findings):
            return
        finding = StackFinding("MF001", stack.define or app.stmt, f"{self.name}.{stack.attr}", count, stack.display(),
                               "sequential", self.cls, [stack], [app])
        if stack.helper:
            finding.no_fix = f"the stack is built by {stack.helper}(), which the tool does not rewrite"
        elif stack.repeated is None and stack.uniform_d_model() is None:
            finding.no_fix = "the layers' width (d_model) could not be read from their constructors"
        elif stack.repeated is not None and (stack.repeated.d_model is None or names_in(stack.repeated.d_model) & stack.comp_names):
            finding.no_fix = "the layers' width (d_model) could not be read from their constructor"
        self.findings.append(finding)

    def scan_loop(self, loop: cst.For, outer: dict) -> None:
        bindings = dict(outer)
        bindings.update(self._bind(loop.target, loop.iter))
        loop_count, loop_text = range_count(loop.iter, {})
        groups: dict[tuple[str, str], list[Application]] = {}
        body_calls = _calls(loop.body)
        for node in _walk_statements(loop.body):
            if isinstance(node, cst.For):
                continue
            for small in small_statements(node):
                for app in self.applications(small, bindings):
                    groups.setdefault((app.attr, app.var), []).append(app)
        normalized = any(self.is_norm_call(c, bindings) for c in body_calls)
        residual_vars = _residual_vars(loop.body)
        iterated = {v[1] for v in bindings.values() if v[0] in ("elem", "over")}
        for (attr, var), apps in groups.items():
            stack = self.info.stacks[attr]
            if stack.container == "single" or attr not in iterated:
                # one module applied on every trip: tied weights
                if stack.kind() != MAMBA or (stack.container != "single" and not self._single_mamba(apps[0])):
                    continue
                if loop_count is not None and loop_count * len(apps) < 2:
                    continue
                count = str(loop_count * len(apps)) if loop_count is not None else (loop_text or "several")
                shape = "tied"
            else:
                if stack.kind() != MAMBA:
                    continue
                if stack.elements is not None:
                    if stack.longest_mamba_run() < 2:
                        continue
                    count = str(stack.longest_mamba_run())
                else:
                    if stack.count is not None and stack.count < 2:
                        continue
                    count = stack.count_text or "several"
                shape = "index-loop" if any(isinstance(a.call.func, cst.Subscript) or (a.through_wrapper and isinstance(a.call.args[0].value, cst.Subscript)) for a in apps) else "loop"
            if not normalized:
                finding = StackFinding("MF001", loop, f"{self.name}.{attr}", count, stack.display(), shape, self.cls, [stack], apps, loop)
                finding.no_fix = self._loop_no_fix(stack, apps, shape, bindings)
                self.findings.append(finding)
            elif var not in residual_vars:
                finding = StackFinding("MF002", loop, f"{self.name}.{attr}", count, stack.display(), shape, self.cls, [stack], apps, loop)
                finding.no_fix = None if all(a.plain for a in apps) and len(apps) == 1 else "the layer's result is indexed or unpacked, or applied more than once per step"
                self.findings.append(finding)

    def _bind(self, target: cst.BaseExpression, iter_expr: cst.BaseExpression) -> dict:
        """What each loop variable stands for: ("elem", attr), ("index", attr|None), ("norm", attr)."""
        out: dict = {}
        func_name = dotted(iter_expr.func) if isinstance(iter_expr, cst.Call) else None
        if isinstance(iter_expr, cst.Call) and func_name in ("reversed", "list", "iter", "tuple") and iter_expr.args:
            return self._bind(target, iter_expr.args[0].value)
        if isinstance(iter_expr, cst.Subscript) and self_attr(iter_expr.value):
            return self._bind(target, iter_expr.value)
        attr = self_attr(iter_expr)
        if attr is not None and isinstance(target, cst.Name):
            stack = self.info.stacks.get(attr)
            if stack is not None:
                out[target.value] = ("norm" if stack.kind() in (NORM,) else "elem", attr)
            return out
        if func_name == "enumerate" and iter_expr.args and isinstance(target, cst.Tuple) and len(target.elements) == 2:
            first = target.elements[0].value
            if isinstance(first, cst.Name):
                out[first.value] = ("index", None)
            out.update(self._bind(target.elements[1].value, iter_expr.args[0].value))
            return out
        if func_name == "zip" and isinstance(target, cst.Tuple) and len(target.elements) == len(iter_expr.args):
            for element, arg in zip(target.elements, iter_expr.args):
                out.update(self._bind(element.value, arg.value))
            return out
        if func_name == "range" and isinstance(target, cst.Name):
            out[target.value] = ("index", None)
            # range(len(self.layers)) iterates that stack
            for arg in iter_expr.args:
                v = arg.value
                if isinstance(v, cst.Call) and dotted(v.func) == "len" and v.args and self_attr(v.args[0].value):
                    out["\0over"] = ("over", self_attr(v.args[0].value))
        return out

    def _loop_no_fix(self, stack: Stack, apps: list[Application], shape: str, bindings: dict) -> str | None:
        if stack.helper:
            return f"the stack is built by {stack.helper}(), which the tool does not rewrite"
        if stack.define is None:
            return "the stack is not built in __init__"
        if len(apps) != 1:
            return "the stack is applied more than once in the loop"
        if not apps[0].plain:
            return "the layer's result is indexed or unpacked (a layer that returns a tuple)"
        if shape == "tied":
            return self._chain_no_fix([stack], apps)
        if stack.elements is not None and any(e.kind != MAMBA for e in stack.elements):
            return "the stack mixes Mamba layers with other modules"
        d_model = stack.uniform_d_model()
        if d_model is None:
            return "the layers' width (d_model) could not be read from their constructor"
        if names_in(d_model) & stack.comp_names:
            return "the layers' width depends on the loop that builds them"
        if shape == "loop" and not _loop_rewritable(apps[0], bindings):
            return "the loop's form is not one the tool rewrites"
        return None

    def _chain_no_fix(self, stacks: list[Stack], apps: list[Application]) -> str | None:
        for app in apps:
            if not app.plain:
                return "a layer's result is indexed or unpacked (a layer that returns a tuple)"
        for stack in stacks:
            if stack.container != "single":
                return "the chain indexes into a container; rewrite it as a loop over the container"
            if stack.define is None:
                return f"self.{stack.attr} is not built in __init__"
            if stack.uniform_d_model() is None:
                return f"the width (d_model) of self.{stack.attr} could not be read from its constructor"
        return None


def _loop_rewritable(app: Application, bindings: dict) -> bool:
    func = app.call.args[0].value if app.through_wrapper else app.call.func
    return isinstance(func, cst.Name) and bindings.get(func.value, ("",))[0] == "elem"


def _calls_with_context(node: cst.CSTNode) -> list[tuple[cst.Call, bool]]:
    """Calls in an expression, each with whether its result is used as is (not subscripted)."""
    found: list[cst.Call] = []
    subscripted: set[int] = set()
    for n in walk(node, prune=(cst.Lambda,)):
        if isinstance(n, cst.Subscript) and isinstance(n.value, cst.Call):
            subscripted.add(id(n.value))
        elif isinstance(n, cst.Call):
            found.append(n)
    return [(n, id(n) not in subscripted) for n in found]


def _assigned_name(small) -> str | None:
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value
    if isinstance(small, (cst.AugAssign, cst.AnnAssign)) and isinstance(small.target, cst.Name):
        return small.target.value
    return None


def _assigned_value(small):
    return small.value if getattr(small, "value", None) is not None else cst.Name("_")


def _residual_vars(block) -> set[str]:
    """Variables that get a skip connection in the block: `h = ... + h`, `h += ...`, `h = h + r` with r saved from h."""
    aliases: dict[str, str] = {}
    out: set[str] = set()
    for node in _walk_statements(block):
        for small in small_statements(node):
            name = _assigned_name(small)
            if name is None:
                continue
            if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign):
                out.add(name)
                continue
            value = _assigned_value(small)
            if isinstance(value, cst.Name):
                aliases[name] = value.value
            for add in _additions(value):
                operands = {_root_name(add.left), _root_name(add.right)}
                if name in operands or any(aliases.get(o) == name for o in operands if o):
                    out.add(name)
    return out


def _root_name(expr) -> str | None:
    return expr.value if isinstance(expr, cst.Name) else None


def _additions(node) -> list[cst.BinaryOperation]:
    return [n for n in walk(node) if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Add)]


def analyze_stacks(model: FileModel) -> list[StackFinding]:
    findings: list[StackFinding] = []
    for cls in model.classes.values():
        findings.extend(ClassAnalyzer(model, cls).run())
    # classes nested in functions or other classes
    return findings
