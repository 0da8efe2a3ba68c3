"""How a class's methods apply the modules `__init__` built: every stack applied in sequence.

A `StackUse` is a fact (a loop over a stack, an unrolled chain, one module applied on every
trip, an `nn.Sequential` called whole), with whether a norm and a skip connection come with
it; the rules decide what is a finding.
"""

from __future__ import annotations

import libcst as cst

from mambafix.facts.applications import Application, Bindings, StackUse
from mambafix.facts.builds import classify, methods_of
from mambafix.facts.kinds import Container, Kind, Role, Shape
from mambafix.facts.layers import InitInfo, Stack
from mambafix.facts.protocol import Facts
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import (
    assigned_name, assigned_value, calls, calls_with_context, int_value, names_in, range_count, self_attr,
)
from mambafix.syntax.walk import blocks_of, is_simple, small_statements, statements, walk, walk_statements


def forward_normalizes(facts: Facts, cls: cst.ClassDef, forward: cst.FunctionDef) -> bool:
    flow = ClassFlow(facts, cls)
    return any(flow.is_norm_call(c, Bindings()) for c in calls(forward.body))


def called_self_attrs(func: cst.FunctionDef) -> list[str]:
    out = []
    for call in calls(func.body):
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


class ClassFlow:
    """Finds the sequential applications of stacks in one class's methods."""

    def __init__(self, facts: Facts, cls: cst.ClassDef) -> None:
        self.facts = facts
        self.cls = cls
        self.info: InitInfo = facts.init_info(cls)
        self.uses: list[StackUse] = []

    # -- callee resolution --------------------------------------------------------------
    def callee_attr(self, func: cst.BaseExpression, bindings: Bindings) -> str | None:
        if isinstance(func, cst.Name):
            bound = bindings.get(func.value)
            return bound[1] if bound and bound[0] == Role.ELEMENT else None
        attr = self_attr(func)
        if attr is not None:
            return attr if attr in self.info.stacks else None
        if isinstance(func, cst.Subscript):
            base = self_attr(func.value)
            if base in self.info.stacks:
                return base
        return None

    def is_norm_call(self, call: cst.Call, bindings: Bindings) -> bool:
        fam = self.facts.families
        names = self.facts.resolver.candidates(call.func)
        if names and (fam.norm_functions.match_any(names) or fam.norm_classes.match_any(names)):
            return True
        if isinstance(call.func, cst.Call):  # nn.LayerNorm(d)(x)
            return classify(self.facts, call.func).kind == Kind.NORM
        attr = self.callee_attr(call.func, bindings)
        if attr is not None:
            return self.info.stacks[attr].kind() in (Kind.NORM, Kind.NORMALIZED)
        if isinstance(call.func, cst.Name):
            bound = bindings.get(call.func.value)
            return bound is not None and bound[0] == Role.NORM
        return False

    def _is_norm_statement(self, node: cst.CSTNode, bindings: Bindings) -> bool:
        return any(self.is_norm_call(c, bindings) for c, _ in calls_with_context(node))

    def _wrapped(self, call: cst.Call) -> bool:
        wrappers = self.facts.families.apply_wrappers
        return bool(call.args) and wrappers.match_any(self.facts.resolver.candidates(call.func)) is not None

    def nested_applications(self, value: cst.BaseExpression, small, bindings: Bindings) -> list[Application]:
        """Layer calls nested in one expression (`return self.m2(self.m1(x))`)."""
        out = []
        for call, plain in calls_with_context(value):
            through = self._wrapped(call)
            attr = self.callee_attr(call.args[0].value if through else call.func, bindings)
            if attr is not None:
                out.append(Application(small, call, attr, "", through, plain))
        return out

    def applications(self, small: cst.BaseSmallStatement, bindings: Bindings) -> list[Application]:
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
        for call, plain in calls_with_context(value):
            through = self._wrapped(call)
            attr = self.callee_attr(call.args[0].value if through else call.func, bindings)
            if attr is None:
                continue
            data_index = 1 if through else 0
            positional = [a for a in call.args if a.keyword is None]
            if len(positional) <= data_index or var not in names_in(positional[data_index].value):
                continue
            apps.append(Application(small, call, attr, var, through, plain))
        return apps

    # -- analysis -------------------------------------------------------------------------
    def run(self) -> list[StackUse]:
        for name, method in methods_of(self.cls).items():
            if name != "__init__":
                self.scan_block(method.body, Bindings())
        return self.uses

    def scan_block(self, block, bindings: Bindings) -> None:
        chains: dict[str, list[Application]] = {}
        for stmt in statements(block):
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            if isinstance(stmt, cst.For):
                self._close_all(chains)
                self.scan_loop(stmt, bindings)
                continue
            if not is_simple(stmt):
                self._close_all(chains)
                for inner in blocks_of(stmt, defs=False):
                    self.scan_block(inner, bindings)
                continue
            for small in small_statements(stmt):
                self._chain_step(small, bindings, chains)
        self._close_all(chains)

    def _chain_step(self, small, bindings: Bindings, chains: dict[str, list[Application]]) -> None:
        for call, _ in calls_with_context(small):
            attr = self_attr(call.func)
            stack = self.info.stacks.get(attr) if attr else None
            if stack is not None and stack.container == Container.SEQUENTIAL:
                self._sequential_whole(stack, Application(small, call, attr, "", False, True))
        if isinstance(small, cst.Return) and small.value is not None:
            # `return self.m2(self.m1(x))`: a chain inside one expression
            nested = [a for a in self.nested_applications(small.value, small, bindings) if self._single_mamba(a)]
            if len(nested) >= 2 and not self._is_norm_statement(small, bindings):
                self._add_chain(_longest_nesting(nested))
            return
        assigned = assigned_name(small)
        if assigned is None:
            return
        mamba_apps = [a for a in self.applications(small, bindings) if self._single_mamba(a)]
        normalized = self._is_norm_statement(small, bindings)
        if mamba_apps and not normalized:
            chains.setdefault(assigned, []).extend(mamba_apps)
        elif normalized or assigned not in names_in(assigned_value(small)):
            self._add_chain(chains.pop(assigned, []))
            if not normalized and isinstance(small, cst.Assign):
                start = self._chain_start(small, assigned, bindings)
                if start is not None:  # `y = self.m1(x)` starts a chain that `y = self.m2(y)` goes on
                    chains[assigned] = [start]

    def _chain_start(self, small: cst.Assign, assigned: str, bindings: Bindings) -> Application | None:
        """`y = self.m1(x)`: one Mamba layer applied, whole, to a plain name other than `y`;
        the application's `var` is that input (what a residual adds back)."""
        value = small.value
        if not isinstance(value, cst.Call):
            return None
        apps = self.nested_applications(value, small, bindings)
        if len(apps) != 1 or apps[0].call is not value or not self._single_mamba(apps[0]):
            return None
        positional = [a for a in value.args if a.keyword is None]
        data = positional[1 if apps[0].through_wrapper else 0].value if len(positional) > apps[0].through_wrapper else None
        if not isinstance(data, cst.Name) or data.value == assigned:
            return None
        app = apps[0]
        return Application(app.stmt, app.call, app.attr, data.value, app.through_wrapper, app.plain)

    def _single_mamba(self, app: Application) -> bool:
        stack = self.info.stacks[app.attr]
        func = app.callee
        if stack.container == Container.SINGLE:
            return stack.kind() == Kind.MAMBA
        if isinstance(func, cst.Subscript):
            index = func.slice[0].slice if len(func.slice) == 1 and isinstance(func.slice[0].slice, cst.Index) else None
            position = int_value(index.value) if index is not None else None
            elements = stack.all_elements()
            if stack.elements is not None and position is not None and position < len(elements):
                return elements[position].kind == Kind.MAMBA
            return stack.kind() == Kind.MAMBA
        return False

    def _close_all(self, chains: dict[str, list[Application]]) -> None:
        for var in list(chains):
            self._add_chain(chains.pop(var))

    def _add_chain(self, apps: list[Application]) -> None:
        if len(apps) < 2:
            return
        attrs = list(dict.fromkeys(a.attr for a in apps))
        stacks = tuple(self.info.stacks[a] for a in attrs)
        self.uses.append(StackUse(Shape.CHAIN, self.cls, stacks, tuple(apps), apps[0].stmt, len(apps), str(len(apps))))

    def _sequential_whole(self, stack: Stack, app: Application) -> None:
        run = stack.longest_mamba_run()
        if stack.repeated is not None and stack.repeated.kind == Kind.MAMBA:
            if stack.count is not None and stack.count < 2:
                return
            count, text = stack.count, stack.count_text or "several"
        elif run >= 2:
            count, text = run, str(run)
        else:
            return
        if any(u.shape == Shape.SEQUENTIAL and u.stacks[0] is stack for u in self.uses):
            return
        self.uses.append(StackUse(Shape.SEQUENTIAL, self.cls, (stack,), (app,), stack.define or app.stmt, count, text))

    def scan_loop(self, loop: cst.For, outer: Bindings) -> None:
        bindings = outer.merged(self._bind(loop.target, loop.iter))
        loop_count, loop_text = range_count(loop.iter, {})
        groups: dict[tuple[str, str], list[Application]] = {}
        for stmt in walk_statements(loop.body):
            if isinstance(stmt, cst.For):
                continue
            for small in small_statements(stmt):
                for app in self.applications(small, bindings):
                    groups.setdefault((app.attr, app.var), []).append(app)
        normalized = any(self.is_norm_call(c, bindings) for c in calls(loop.body))
        attrs_per_statement: dict[int, set[str]] = {}  # the Mamba stacks each statement applies
        for apps in groups.values():
            for app in apps:
                if self.info.stacks[app.attr].kind() == Kind.MAMBA:
                    attrs_per_statement.setdefault(id(app.stmt), set()).add(app.attr)
        residual_vars = _residual_vars(loop.body)
        iterated = bindings.iterated()
        for (attr, var), apps in groups.items():
            stack = self.info.stacks[attr]
            if _fresh_each_trip(loop.body, var, apps[0].stmt):
                # `d = h[:, perm]; d = self.mixer(d)`: each trip starts from a value recomputed
                # from something else, so only the applications within one trip form a chain
                if len(apps) >= 2 and stack.kind() == Kind.MAMBA and all(self._single_mamba(a) for a in apps):
                    self._add_chain(apps)
                continue
            if stack.container == Container.SINGLE or attr not in iterated:
                # one module applied on every trip: tied weights
                if stack.kind() != Kind.MAMBA or (stack.container != Container.SINGLE and not self._single_mamba(apps[0])):
                    continue
                if loop_count is not None and loop_count * len(apps) < 2:
                    continue
                count = loop_count * len(apps) if loop_count is not None else None
                text = str(count) if count is not None else (loop_text or "several")
                shape = Shape.TIED
            else:
                if stack.kind() != Kind.MAMBA:
                    continue
                if stack.elements is not None:
                    if stack.longest_mamba_run() < 2:
                        continue
                    count = stack.longest_mamba_run()
                    text = str(count)
                else:
                    if stack.count is not None and stack.count < 2:
                        continue
                    count, text = stack.count, stack.count_text or "several"
                shape = Shape.INDEX_LOOP if any(isinstance(a.callee, cst.Subscript) for a in apps) else Shape.LOOP
            compound = any(len(attrs_per_statement.get(id(a.stmt), ())) > 1 for a in apps)
            partners = tuple(self.info.stacks[other] for a in apps for other in sorted(attrs_per_statement.get(id(a.stmt), ()))
                             if other != attr)
            self.uses.append(StackUse(shape, self.cls, (stack,), tuple(apps), loop, count, text, normalized,
                                      var in residual_vars, loop, bindings, compound, partners))

    def _bind(self, target: cst.BaseExpression, iter_expr: cst.BaseExpression) -> Bindings:
        """What each loop variable stands for."""
        func_name = dotted(iter_expr.func) if isinstance(iter_expr, cst.Call) else None
        if isinstance(iter_expr, cst.Call) and func_name in ("reversed", "list", "iter", "tuple") and iter_expr.args:
            return self._bind(target, iter_expr.args[0].value)
        if isinstance(iter_expr, cst.Subscript) and self_attr(iter_expr.value):
            return self._bind(target, iter_expr.value)
        attr = self_attr(iter_expr)
        if attr is not None and isinstance(target, cst.Name):
            stack = self.info.stacks.get(attr)
            if stack is None:
                return Bindings()
            return Bindings(((target.value, Role.NORM if stack.kind() == Kind.NORM else Role.ELEMENT, attr),))
        if func_name == "enumerate" and iter_expr.args and isinstance(target, cst.Tuple) and len(target.elements) == 2:
            first = target.elements[0].value
            index = Bindings(((first.value, Role.INDEX, None),)) if isinstance(first, cst.Name) else Bindings()
            return index.merged(self._bind(target.elements[1].value, iter_expr.args[0].value))
        if func_name == "zip" and isinstance(target, cst.Tuple) and len(target.elements) == len(iter_expr.args):
            out = Bindings()
            for element, arg in zip(target.elements, iter_expr.args):
                out = out.merged(self._bind(element.value, arg.value))
            return out
        if func_name == "range" and isinstance(target, cst.Name):
            over = None
            for arg in iter_expr.args:  # range(len(self.layers)) iterates that stack
                v = arg.value
                if isinstance(v, cst.Call) and dotted(v.func) == "len" and v.args and self_attr(v.args[0].value):
                    over = self_attr(v.args[0].value)
            return Bindings(((target.value, Role.INDEX, None),), over)
        return Bindings()


def _fresh_each_trip(body, var: str, first_use) -> bool:
    """Whether `var` is assigned, before its first use as a layer's input in the loop body, a
    value that does not mention it: then it is not carried from one trip to the next."""
    for stmt in walk_statements(body):
        for small in small_statements(stmt):
            if small is first_use:
                return False
            if assigned_name(small) == var and not isinstance(small, cst.AugAssign) \
                    and var not in names_in(assigned_value(small)):
                return True
    return False


def _residual_vars(block) -> set[str]:
    """Variables that get a skip connection in the block: `h = ... + h`, `h += ...`, `h = h + r` with r saved from h."""
    aliases: dict[str, str] = {}
    out: set[str] = set()
    for stmt in walk_statements(block):
        for small in small_statements(stmt):
            name = assigned_name(small)
            if name is None:
                continue
            if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign):
                out.add(name)
                continue
            value = assigned_value(small)
            if isinstance(value, cst.Name):
                aliases[name] = value.value
            for add in (n for n in walk(value) if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, cst.Add)):
                operands = {_root_name(add.left), _root_name(add.right)}
                if name in operands or any(aliases.get(o) == name for o in operands if o):
                    out.add(name)
    return out


def _root_name(expr) -> str | None:
    return expr.value if isinstance(expr, cst.Name) else None


def _data_argument(app: Application) -> cst.BaseExpression | None:
    positional = [a for a in app.call.args if a.keyword is None]
    index = 1 if app.through_wrapper else 0
    return positional[index].value if len(positional) > index else None


def _longest_nesting(apps: list[Application]) -> list[Application]:
    """The longest run of applications each fed (through its data argument) by the one before:
    `self.m2(self.m1(x))` is a chain of two, while `cat([self.a(x), self.b(x)])` applies two
    parallel branches to one input and is no chain at all."""
    inside: dict[int, list[Application]] = {}
    for app in apps:
        data = _data_argument(app)
        ids = {id(call) for call, _ in calls_with_context(data)} if data is not None else set()
        inside[id(app.call)] = [other for other in apps if id(other.call) in ids]
    best: dict[int, list[Application]] = {}

    def chain(app: Application) -> list[Application]:
        if id(app.call) not in best:
            best[id(app.call)] = max((chain(b) for b in inside[id(app.call)]), key=len, default=[]) + [app]
        return best[id(app.call)]

    return max((chain(a) for a in apps), key=len, default=[])
