"""One transformer for all fixes: norms and residuals for MF001/MF002, print removal for MF003."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from mambafix.model import MAMBA, Stack, code, names_in, self_attr
from mambafix.names import Family, dotted
from mambafix.stacks import Application, StackFinding


@dataclass(frozen=True)
class FixOptions:
    residual: bool = False
    style: str = "postnorm"  # or "prenorm"
    norm: str = "layernorm"  # or "rmsnorm"

    @property
    def norm_class(self) -> str:
        return "RMSNorm" if self.norm == "rmsnorm" else "LayerNorm"


@dataclass
class FixPlan:
    call_rewrites: dict[int, object] = field(default_factory=dict)  # id(Call) -> fn(updated) -> expr
    for_rewrites: dict[int, tuple] = field(default_factory=dict)  # id(For) -> (target, iter)
    inserts: dict[int, list[cst.BaseStatement]] = field(default_factory=dict)  # id(stmt) -> statements after it
    value_rewrites: dict[int, cst.BaseExpression] = field(default_factory=dict)  # id(expr) -> replacement
    removals: set[int] = field(default_factory=set)  # id(small statement) to delete
    import_needed: str | None = None
    changes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def nn_alias(resolver) -> tuple[str, str | None]:
    """The file's own name for torch.nn, and the import to add when it has none."""
    for local, target in resolver.aliases.items():
        if target == "torch.nn":
            return local, None
    if resolver.aliases.get("torch") == "torch":
        return "torch.nn", None
    if "nn" not in resolver.aliases:
        return "nn", "import torch.nn as nn"
    return "torch.nn", "import torch"


def _fresh(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name = f"{base}{n}"
        n += 1
    taken.add(name)
    return name


def norm_attr_name(attr: str, taken: set[str], container: bool) -> str:
    if not container:
        return _fresh(f"{attr}_norm", taken)
    for suffix in ("layers", "blocks", "mixers", "mambas"):
        if attr.endswith(suffix):
            base = attr[: -len(suffix)] + "norms"
            break
    else:
        base = f"{attr}_norms"
    return _fresh(base, taken)


def _replace_attr(expr: cst.BaseExpression, attr: str, new_attr: str) -> cst.BaseExpression:
    class _R(cst.CSTTransformer):
        def leave_Attribute(self, original, updated):
            if self_attr(original) == attr:
                return updated.with_changes(attr=cst.Name(new_attr))
            return updated

    return expr.visit(_R())


def _norm_call(callee: cst.BaseExpression, arg: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=callee, args=[cst.Arg(arg)])


def _add(left: cst.BaseExpression, right: cst.BaseExpression) -> cst.BinaryOperation:
    return cst.BinaryOperation(left=left, operator=cst.Add(), right=right)


class Planner:
    """Turns findings into a FixPlan over the same parsed module."""

    def __init__(self, analysis, options: FixOptions) -> None:
        self.analysis = analysis
        self.options = options
        self.plan = FixPlan()
        self.nn, self.plan.import_needed = nn_alias(analysis.resolver)
        self._norm_attrs: dict[tuple[int, str], str] = {}
        self._taken_attrs: dict[int, set[str]] = {}

    def build(self) -> FixPlan:
        for finding in self.analysis.stack_findings:
            if finding.no_fix is not None:
                continue
            if finding.code == "MF002":
                self._residual_only(finding)
            elif finding.shape in ("loop", "index-loop"):
                self._loop(finding)
            elif finding.shape in ("chain", "tied"):
                self._chain(finding)
            elif finding.shape == "sequential":
                self._sequential(finding)
        for p in self.analysis.print_findings:
            self.plan.removals.add(id(p.small))
        if self.analysis.print_findings:
            self.plan.changes.append(f"removed {len(self.analysis.print_findings)} debug print(s)")
        if not any((self.plan.call_rewrites, self.plan.inserts, self.plan.value_rewrites)):
            self.plan.import_needed = None
        return self.plan

    # -- helpers ------------------------------------------------------------------------
    def _taken(self, finding: StackFinding) -> set[str]:
        key = id(finding.cls)
        if key not in self._taken_attrs:
            info = self.analysis.model.init_info(finding.cls)
            self._taken_attrs[key] = set(info.attr_names) | set(info.stacks)
        return self._taken_attrs[key]

    def _norm_ctor(self, d_model: cst.BaseExpression) -> str:
        return f"{self.nn}.{self.options.norm_class}({code(d_model)})"

    def _ensure_norms(self, finding: StackFinding, stack: Stack) -> str:
        """The attribute holding the norms for `stack`, inserted into __init__ once."""
        key = (id(finding.cls), stack.attr)
        if key in self._norm_attrs:
            return self._norm_attrs[key]
        container = stack.container != "single"
        name = norm_attr_name(stack.attr, self._taken(finding), container)
        if container:
            text = f"self.{name} = {self.nn}.ModuleList([{self._norm_ctor(stack.uniform_d_model())} for _ in self.{stack.attr}])"
        else:
            text = f"self.{name} = {self._norm_ctor(stack.uniform_d_model())}"
        self.plan.inserts.setdefault(id(stack.insert_after), []).append(cst.parse_statement(text + "\n"))
        self._norm_attrs[key] = name
        return name

    def _rewrite_app(self, app: Application, norm_callee: cst.BaseExpression, var: str) -> None:
        h = cst.Name(var)
        data_index = 1 if app.through_wrapper else 0
        options = self.options

        def rewrite(updated: cst.Call) -> cst.BaseExpression:
            if options.style == "prenorm":
                positional = [i for i, a in enumerate(updated.args) if a.keyword is None]
                k = positional[data_index]
                arg = updated.args[k]
                new_args = list(updated.args)
                new_args[k] = arg.with_changes(value=_norm_call(norm_callee, arg.value))
                return _add(h, updated.with_changes(args=new_args))
            if options.residual:
                return _norm_call(norm_callee, _add(updated, h))
            return _norm_call(norm_callee, updated)

        self.plan.call_rewrites[id(app.call)] = rewrite

    def _describe(self, finding: StackFinding, what: str) -> None:
        style = "pre-norm residual" if self.options.style == "prenorm" else ("post-norm with residual" if self.options.residual else "post-norm")
        self.plan.changes.append(f"{finding.owner}: {what} ({style}, {self.options.norm_class})")

    # -- shapes -------------------------------------------------------------------------
    def _loop(self, finding: StackFinding) -> None:
        stack = finding.stacks[0]
        app = finding.apps[0]
        norms = self._ensure_norms(finding, stack)
        if finding.shape == "index-loop":
            func = app.call.args[0].value if app.through_wrapper else app.call.func
            callee = func.with_changes(value=cst.Attribute(cst.Name("self"), cst.Name(norms)))
        else:
            loop = finding.loop
            taken = names_in(_enclosing_function(finding.cls, loop) or loop)
            var = _fresh("norm", taken)
            rewritten = _rewrite_for(loop.target, loop.iter, stack.attr, norms, var)
            if rewritten is None:
                finding.no_fix = "the loop's form is not one the tool rewrites"
                self.plan.skipped.append(finding.owner)
                return
            self.plan.for_rewrites[id(loop)] = rewritten
            callee = cst.Name(var)
        self._rewrite_app(app, callee, app.var)
        self._describe(finding, f"added self.{norms} and applied it after each layer")

    def _chain(self, finding: StackFinding) -> None:
        for app in finding.apps:
            stack = self.analysis.model.init_info(finding.cls).stacks[app.attr]
            norm = self._ensure_norms(finding, stack)
            self._rewrite_app(app, cst.Attribute(cst.Name("self"), cst.Name(norm)), app.var)
        attrs = ", ".join(dict.fromkeys(f"self.{a.attr}" for a in finding.apps))
        self._describe(finding, f"added a norm after {attrs}")

    def _sequential(self, finding: StackFinding) -> None:
        stack = finding.stacks[0]
        if self.options.residual or self.options.style == "prenorm":
            finding.no_fix = "an nn.Sequential cannot hold a residual connection; rewrite it as a loop over an nn.ModuleList"
            self.plan.skipped.append(f"{finding.owner} ({finding.no_fix})")
            return
        value = stack.value
        star = next((a for a in value.args if a.star == "*"), None)
        if star is not None and isinstance(star.value, (cst.ListComp, cst.GeneratorExp)):
            comp = star.value
            d_model = stack.repeated.d_model
            wrapped = cst.parse_expression(f"{self.nn}.Sequential({code(comp.elt)}, {self._norm_ctor(d_model)})")
            new_comp = comp.with_changes(elt=wrapped)
            new_value = value.with_changes(args=[a.with_changes(value=new_comp) if a is star else a for a in value.args])
        else:
            args = []
            elements = stack.elements or []
            for arg, element in zip(value.args, elements):
                args.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
                if element.kind == MAMBA:
                    args.append(cst.Arg(cst.parse_expression(self._norm_ctor(element.d_model))))
            new_value = value.with_changes(args=args)
        self.plan.value_rewrites[id(value)] = new_value
        self._describe(finding, "a norm after each Mamba layer inside the nn.Sequential")

    def _residual_only(self, finding: StackFinding) -> None:
        app = finding.apps[0]
        h = cst.Name(app.var)
        self.plan.call_rewrites[id(app.call)] = lambda updated: _add(updated, h)
        self.plan.changes.append(f"{finding.owner}: added a residual connection around each layer")


def _enclosing_function(cls: cst.ClassDef, node: cst.CSTNode) -> cst.FunctionDef | None:
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef):
            found = []

            class _Find(cst.CSTVisitor):
                def on_visit(self, n):
                    if n is node:
                        found.append(n)
                    return not found

            stmt.visit(_Find())
            if found:
                return stmt
    return None


def _iterates(expr: cst.BaseExpression, attr: str) -> bool:
    if self_attr(expr) == attr:
        return True
    if isinstance(expr, cst.Call) and dotted(expr.func) in ("reversed", "list", "iter", "tuple") and expr.args:
        return _iterates(expr.args[0].value, attr)
    if isinstance(expr, cst.Subscript):
        return self_attr(expr.value) == attr
    return False


def _rewrite_for(target, iter_expr, attr: str, norms: str, var: str):
    """New (target, iter) that also binds `var` to the norm of each layer, or None."""
    norm_name = cst.Name(var)
    if _iterates(iter_expr, attr) and isinstance(target, cst.Name):
        zipped = cst.Call(cst.Name("zip"), [cst.Arg(iter_expr), cst.Arg(_replace_attr(iter_expr, attr, norms))])
        return cst.Tuple([cst.Element(target), cst.Element(norm_name)], lpar=[], rpar=[]), zipped
    func = dotted(iter_expr.func) if isinstance(iter_expr, cst.Call) else None
    if func == "enumerate" and isinstance(target, cst.Tuple) and len(target.elements) == 2 and iter_expr.args:
        inner = _rewrite_for(target.elements[1].value, iter_expr.args[0].value, attr, norms, var)
        if inner is None:
            return None
        new_target, new_iter = inner
        new_target = new_target.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        elements = [target.elements[0], target.elements[1].with_changes(value=new_target)]
        return target.with_changes(elements=elements), iter_expr.with_changes(
            args=[iter_expr.args[0].with_changes(value=new_iter), *iter_expr.args[1:]])
    if func == "zip" and isinstance(target, cst.Tuple) and len(target.elements) == len(iter_expr.args):
        for element, arg in zip(target.elements, iter_expr.args):
            if _iterates(arg.value, attr) and isinstance(element.value, cst.Name):
                last = target.elements[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                elements = [*target.elements[:-1], last, cst.Element(norm_name)]
                args = list(iter_expr.args)
                args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                args.append(cst.Arg(_replace_attr(arg.value, attr, norms)))
                return target.with_changes(elements=elements), iter_expr.with_changes(args=args)
    return None


def is_pure_test(expr: cst.BaseExpression, pure: Family, resolver) -> bool:
    ok = [True]

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> None:
            names = resolver.candidates(n.func) or []
            if isinstance(n.func, cst.Attribute):
                names = names + [f"x.{n.func.attr.value}"]
            if not pure.match_any(names):
                ok[0] = False

        def visit_NamedExpr(self, n) -> None:
            ok[0] = False

        def visit_Await(self, n) -> None:
            ok[0] = False

        def visit_Yield(self, n) -> None:
            ok[0] = False

    expr.visit(_V())
    return ok[0]


_PASS = cst.SimpleStatementLine([cst.Pass()])


class FixTransformer(cst.CSTTransformer):
    def __init__(self, plan: FixPlan, pure: Family, resolver) -> None:
        super().__init__()
        self.plan = plan
        self.pure = pure
        self.resolver = resolver
        # ids of nodes made here; the nodes are kept alive in _keep so that no id is reused
        self.emptied: set[int] = set()
        self.doomed: set[int] = set()
        self._keep: list = []

    def _mark(self, marks: set[int], node):
        marks.add(id(node))
        self._keep.append(node)
        return node

    def on_leave(self, original, updated):
        result = super().on_leave(original, updated)
        extra = self.plan.inserts.get(id(original))
        if extra and isinstance(result, cst.CSTNode):
            return cst.FlattenSentinel([result, *extra])
        return result

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        rewrite = self.plan.call_rewrites.get(id(original))
        result = rewrite(updated) if rewrite else updated
        value = self.plan.value_rewrites.get(id(original))
        return value if value is not None else result

    def leave_For(self, original: cst.For, updated: cst.For):
        rewrite = self.plan.for_rewrites.get(id(original))
        if rewrite is None:
            return updated
        target, iter_expr = rewrite
        return updated.with_changes(target=target, iter=iter_expr)

    # -- removing prints ------------------------------------------------------------------
    # A statement to delete is marked "doomed" and dropped by its enclosing block, which can
    # move the comment lines above it onto the next statement that stays.
    def _without_removed(self, original, updated):
        """The statement line minus removed small statements, or None when none is left."""
        kept = [s for o, s in zip(original.body, updated.body) if id(o) not in self.plan.removals]
        if len(kept) == len(updated.body):
            return updated
        if kept:
            kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            return updated.with_changes(body=kept)
        return None

    def leave_SimpleStatementLine(self, original, updated):
        result = self._without_removed(original, updated)
        return result if result is not None else self._mark(self.doomed, updated)

    def leave_SimpleStatementSuite(self, original, updated):
        result = self._without_removed(original, updated)
        return result if result is not None else self._mark(self.emptied, updated.with_changes(body=[cst.Pass()]))

    def _drop_doomed(self, body) -> tuple[list, list]:
        kept, pending = [], []
        for stmt in body:
            if id(stmt) in self.doomed:
                pending.extend(line for line in stmt.leading_lines if line.comment is not None)
                continue
            if pending:
                stmt = stmt.with_changes(leading_lines=[*pending, *stmt.leading_lines])
                pending = []
            kept.append(stmt)
        return kept, pending

    def leave_IndentedBlock(self, original, updated):
        if not any(id(s) in self.doomed for s in updated.body):
            return updated
        body, pending = self._drop_doomed(updated.body)
        if not body:
            return self._mark(self.emptied, updated.with_changes(body=[_PASS], footer=[*pending, *updated.footer]))
        return updated.with_changes(body=body, footer=[*pending, *updated.footer])

    def leave_If(self, original: cst.If, updated: cst.If):
        orelse = updated.orelse
        if isinstance(orelse, cst.Else) and id(orelse.body) in self.emptied:
            updated = updated.with_changes(orelse=None)
            orelse = None
        if id(updated.body) not in self.emptied or not is_pure_test(updated.test, self.pure, self.resolver):
            return updated
        if orelse is None:
            return self._mark(self.doomed, updated)
        if isinstance(orelse, cst.If):
            return orelse.with_changes(leading_lines=updated.leading_lines)
        if isinstance(orelse.body, cst.IndentedBlock):
            body = list(orelse.body.body)
        else:
            body = [cst.SimpleStatementLine(list(orelse.body.body))]
        body[0] = body[0].with_changes(leading_lines=[*updated.leading_lines, *body[0].leading_lines])
        return cst.FlattenSentinel(body)

    def leave_Module(self, original: cst.Module, updated: cst.Module):
        if any(id(s) in self.doomed for s in updated.body):
            body, pending = self._drop_doomed(updated.body)
            updated = updated.with_changes(body=body, footer=[*pending, *updated.footer])
        if self.plan.import_needed is None:
            return updated
        body = list(updated.body)
        position = 0
        for i, stmt in enumerate(body):
            if isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
                position = i + 1
            elif i == 0 and isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
                position = 1
        body.insert(position, cst.parse_statement(self.plan.import_needed + "\n"))
        return updated.with_changes(body=body)
