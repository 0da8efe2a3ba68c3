"""Fixes for stacks applied without norms (MF001) or without residuals (MF002): why a use cannot
be fixed, and the edits that fix it. Shared by the two stack rules."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from mambafix.checks.base import Applicability, Diagnostic, FixContext
from mambafix.checks.loop_rewrites import enclosing_function, rewrite_for
from mambafix.facts.kinds import Container, Kind, Role, Shape
from mambafix.facts.layers import Stack
from mambafix.facts.applications import Application, Bindings, StackUse
from mambafix.syntax.nodes import code, names_in, self_attr


def stack_diagnostic(code: str, use: StackUse, fix, blocker: str | None) -> Diagnostic:
    """The diagnostic of a stack rule: the use's owner, count, kind and note, and the fix
    unless a blocker says why there is none."""
    fields = (("owner", use.owner), ("count", use.count_text), ("kind", use.kind), ("note", use.note),
              ("path", use.path))
    return Diagnostic(code, use.node, fields, fix=None if blocker else fix, no_fix=blocker,
                      applicability=Applicability.NONE if blocker else Applicability.UNSAFE,
                      owner_class=use.cls.name.value, flow=use.path_nodes)


# -- why a use cannot be fixed ----------------------------------------------------------------
def norm_fix_blocker(use: StackUse) -> str | None:
    """Why MF001's fix cannot be made for this use (whatever the options), or None."""
    if use.blocked:
        return use.blocked
    if use.shape == Shape.CHAIN:
        return _chain_blocker(use.stacks, use.apps)
    if use.shape == Shape.SEQUENTIAL:
        return _sequential_blocker(use.stacks[0])
    return _loop_blocker(use)


def residual_fix_blocker(use: StackUse) -> str | None:
    if use.compound:
        return COMPOUND
    if all(a.plain for a in use.apps) and len(use.apps) == 1:
        return None
    return "the layer's result is indexed or unpacked, or applied more than once per step"


def _sequential_blocker(stack: Stack) -> str | None:
    if stack.conditional:
        return f"self.{stack.attr} is built only under a condition (`... if cond else None`)"
    if stack.helper:
        return f"the stack is built by {stack.helper}(), which the tool does not rewrite"
    unpacked = _unpacked_attr(stack)
    if unpacked is not None:
        return (f"the nn.Sequential unpacks self.{unpacked}, which holds the layers; rewrite it as a loop "
                f"over self.{unpacked} with a norm after each layer")
    if _unpacks_a_built_list(stack):
        return "the nn.Sequential unpacks a list built elsewhere (an append loop); add the norms where it is built"
    if stack.repeated is None and stack.uniform_d_model() is None:
        return "the layers' width (d_model) could not be read from their constructors"
    if stack.repeated is not None and (stack.repeated.d_model is None or names_in(stack.repeated.d_model) & stack.comp_names):
        return "the layers' width (d_model) could not be read from their constructor"
    return None


def _unpacks_a_built_list(stack: Stack) -> bool:
    """`nn.Sequential(*parts)` over a local list: its layers are not written in the call."""
    value = stack.value
    if isinstance(value, cst.Name):
        return True
    if not isinstance(value, cst.Call):
        return False
    return any(a.star == "*" and not isinstance(a.value, (cst.ListComp, cst.GeneratorExp)) for a in value.args)


def _unpacked_attr(stack: Stack) -> str | None:
    """`nn.Sequential(*self.layers)`: the attribute whose modules the Sequential is made of."""
    value = stack.value
    if not isinstance(value, cst.Call):
        return None
    return next((self_attr(a.value) for a in value.args if a.star == "*" and self_attr(a.value)), None)


COMPOUND = ("one statement applies this and another stack (a compound step, such as forward plus "
            "flipped backward) in a form the tool does not rewrite")


def compound_stacks(use: StackUse) -> tuple[Stack, ...]:
    """The stacks of a compound step, the one zipped first leading (it gets the step's norms)."""
    stacks = (use.stacks[0], *use.partners)
    where = code(use.loop.iter) if use.loop is not None else ""
    return tuple(sorted(stacks, key=lambda s: (where.find(f"self.{s.attr}") % (len(where) + 1), s.attr)))


def _compound_blocker(use: StackUse) -> str | None:
    """A compound step (`x = f(x) + b(x.flip(1)).flip(1)` over zip(self.f, self.b)) is fixed as one
    step: one norm per depth step over the step's result. Why it cannot be, or None."""
    app = use.apps[0]
    stmt = app.stmt
    if use.shape != Shape.LOOP or len(use.apps) != 1 or use.loop is None:
        return COMPOUND
    if not (isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Name)
            and stmt.targets[0].target.value == app.var):
        return COMPOUND
    stacks = compound_stacks(use)
    if any(s.define is None or s.conditional or s.container == Container.SINGLE for s in stacks):
        return COMPOUND
    widths = [s.uniform_d_model() for s in stacks]
    if any(w is None for w in widths) or len({code(w) for w in widths}) != 1:
        return "the stacks of the compound step differ in width, or it could not be read from their constructors"
    if names_in(widths[0]) & stacks[0].comp_names:
        return "the layers' width depends on the loop that builds them"
    if rewrite_for(use.loop.target, use.loop.iter, stacks[0].attr, "_", "_") is None:
        return "the loop's form is not one the tool rewrites"
    return None


def _loop_blocker(use: StackUse) -> str | None:
    stack, apps = use.stacks[0], use.apps
    if use.compound:
        return _compound_blocker(use)
    if stack.conditional:
        return (f"self.{stack.attr} is built only under a condition (`... if cond else None`); "
                "add the norms under the same condition")
    if stack.helper and stack.uniform_d_model() is None:
        return f"the stack is built by {stack.helper}(), and the layers' width could not be read in __init__"
    if stack.define is None:
        return "the stack is not built in __init__"
    if len(apps) != 1:
        return "the stack is applied more than once in the loop"
    if not apps[0].plain:
        return "the layer's result is indexed or unpacked (a layer that returns a tuple)"
    if use.shape == Shape.TIED:
        return _chain_blocker((stack,), apps)
    if stack.elements is not None and any(e.kind != Kind.MAMBA for e in stack.elements):
        return "the stack mixes Mamba layers with other modules"
    d_model = stack.uniform_d_model()
    if d_model is None:
        return "the layers' width (d_model) could not be read from their constructor"
    if names_in(d_model) & stack.comp_names:
        return "the layers' width depends on the loop that builds them"
    if use.shape == Shape.LOOP and not _loop_rewritable(apps[0], use.bindings, use.loop, stack.attr):
        return "the loop's form is not one the tool rewrites"
    return None


def _chain_blocker(stacks: tuple[Stack, ...], apps: tuple[Application, ...]) -> str | None:
    for app in apps:
        if not app.plain:
            return "a layer's result is indexed or unpacked (a layer that returns a tuple)"
    for stack in stacks:
        if stack.container != Container.SINGLE:
            return "the chain indexes into a container; rewrite it as a loop over the container"
        if stack.define is None:
            return f"self.{stack.attr} is not built in __init__"
        if stack.uniform_d_model() is None:
            return f"the width (d_model) of self.{stack.attr} could not be read from its constructor"
    return None


def _loop_rewritable(app: Application, bindings: Bindings, loop: cst.For, attr: str) -> bool:
    func = app.callee
    bound = bindings.get(func.value) if isinstance(func, cst.Name) else None
    return (bound is not None and bound[0] == Role.ELEMENT
            and rewrite_for(loop.target, loop.iter, attr, "_", "_") is not None)


# -- the edits ------------------------------------------------------------------------------
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


def fresh(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name = f"{base}{n}"
        n += 1
    taken.add(name)
    return name


def norm_attr_name(attr: str, taken: set[str], container: bool) -> str:
    if not container:
        return fresh(f"{attr}_norm", taken)
    for suffix in ("layers", "blocks", "mixers", "mambas"):
        if attr.endswith(suffix):
            return fresh(attr[: -len(suffix)] + "norms", taken)
    return fresh(f"{attr}_norms", taken)


def _nn(ctx: FixContext) -> str:
    if "nn" not in ctx.memo:
        ctx.memo["nn"], ctx.plan.import_needed = nn_alias(ctx.facts.resolver)
    return ctx.memo["nn"]


def _norm_ctor(ctx: FixContext, d_model: cst.BaseExpression) -> str:
    return f"{_nn(ctx)}.{ctx.options.norm_class}({code(d_model)})"


def _taken(ctx: FixContext, cls: cst.ClassDef) -> set[str]:
    key = ("taken", id(cls))
    if key not in ctx.memo:
        info = ctx.facts.init_info(cls)
        ctx.memo[key] = set(info.attr_names) | set(info.stacks)
    return ctx.memo[key]


def ensure_norms(ctx: FixContext, cls: cst.ClassDef, stack: Stack) -> str:
    """The attribute holding the norms for `stack`, inserted into __init__ once per pass."""
    key = ("norms", id(cls), stack.attr)
    if key in ctx.memo:
        return ctx.memo[key]
    container = stack.container != Container.SINGLE
    name = norm_attr_name(stack.attr, _taken(ctx, cls), container)
    norm = _norm_ctor(ctx, stack.uniform_d_model()) + stack.moved()
    if container:
        text = f"self.{name} = {_nn(ctx)}.ModuleList([{norm} for _ in self.{stack.attr}])"
    else:
        text = f"self.{name} = {norm}"
    ctx.plan.insert_after(stack.insert_after, cst.parse_statement(text + "\n"))
    ctx.memo[key] = name
    return name


TIGHT = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.MatrixMultiply, cst.Power)


def _grouped(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`expr`, parenthesised unless it already binds at least as tightly as `+`."""
    if isinstance(expr, (cst.Call, cst.Name, cst.Attribute, cst.Subscript)) or expr.lpar:
        return expr
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, TIGHT):
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _add(left: cst.BaseExpression, right: cst.BaseExpression) -> cst.BinaryOperation:
    return cst.BinaryOperation(left=left, operator=cst.Add(), right=right)


def _norm_call(callee: cst.BaseExpression, arg: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=callee, args=[cst.Arg(arg)])


def _rewrite_app(ctx: FixContext, app: Application, norm_callee: cst.BaseExpression) -> None:
    h = cst.Name(app.var)
    data_index = 1 if app.through_wrapper else 0
    options = ctx.options

    def rewrite(updated: cst.Call) -> cst.BaseExpression:
        if options.style == "prenorm":
            positional = [i for i, a in enumerate(updated.args) if a.keyword is None]
            k = positional[data_index]
            new_args = list(updated.args)
            new_args[k] = updated.args[k].with_changes(value=_norm_call(norm_callee, updated.args[k].value))
            return _add(h, updated.with_changes(args=new_args))
        if options.residual:
            return _norm_call(norm_callee, _add(updated, h))
        return _norm_call(norm_callee, updated)

    ctx.plan.rewrite_call(app.call, rewrite)


def _zip_norms(ctx: FixContext, use: StackUse, attr: str, norms: str) -> str | None:
    """Rewrite the use's loop to bind a fresh name to each layer's norm (`for layer, norm in
    zip(self.<attr>, self.<norms>)`); the name, or None where the loop's form does not allow it."""
    loop = use.loop
    var = fresh("norm", names_in(enclosing_function(use.cls, loop) or loop))
    rewritten = rewrite_for(loop.target, loop.iter, attr, norms, var)
    if rewritten is None:
        return None
    ctx.plan.rewrite_for(loop, *rewritten)
    return var


def _describe(ctx: FixContext, use: StackUse, what: str) -> None:
    options = ctx.options
    style = "pre-norm residual" if options.style == "prenorm" else ("post-norm with residual" if options.residual else "post-norm")
    ctx.plan.changes.append(f"{use.owner}: {what} ({style}, {options.norm_class})")


@dataclass(frozen=True)
class NormFix:
    """MF001: a norm after each layer of the use (post-norm, residual or pre-norm per options)."""

    use: StackUse

    def apply(self, ctx: FixContext) -> str | None:
        if self.use.shape == Shape.SEQUENTIAL:
            return self._sequential(ctx)
        if self.use.shape in (Shape.LOOP, Shape.INDEX_LOOP):
            return self._loop(ctx)
        return self._chain(ctx)  # a chain, or one module applied on every trip

    def _compound(self, ctx: FixContext) -> str | None:
        """One norm per depth step over the step's result (`x = norm(f(x) + b(x.flip(1)).flip(1))`;
        with --residual the step's own input is added first). Done once, by whichever stack of
        the step comes first; the other stack's finding is fixed by the same edit."""
        use = self.use
        app = use.apps[0]
        key = ("compound", id(app.stmt))
        if key in ctx.memo:
            return ctx.memo[key]
        if ctx.options.style == "prenorm":
            ctx.memo[key] = ("pre-norm is not written for a compound step (it would need a norm inside every "
                             "branch); use post-norm or --residual")
            return ctx.memo[key]
        stacks = compound_stacks(use)
        norms = ensure_norms(ctx, use.cls, stacks[0])
        var = _zip_norms(ctx, use, stacks[0].attr, norms)  # the blocker checked the loop's form
        h, residual = cst.Name(app.var), ctx.options.residual

        def rewrite(value: cst.BaseExpression) -> cst.BaseExpression:
            return _norm_call(cst.Name(var), _add(_grouped(value), h) if residual else value)

        ctx.plan.rewrite_expr(app.stmt.value, rewrite)
        attrs = ", ".join(f"self.{s.attr}" for s in stacks)
        _describe(ctx, use, f"added self.{norms}: one norm per step of the compound step over {attrs}, "
                            "applied to the step's result")
        ctx.memo[key] = None
        return None

    def _loop(self, ctx: FixContext) -> str | None:
        use = self.use
        if use.compound:
            return self._compound(ctx)
        stack, app = use.stacks[0], use.apps[0]
        norms = ensure_norms(ctx, use.cls, stack)
        if use.shape == Shape.INDEX_LOOP:
            callee = app.callee.with_changes(value=cst.Attribute(cst.Name("self"), cst.Name(norms)))
        else:
            var = _zip_norms(ctx, use, stack.attr, norms)
            if var is None:
                return "the loop's form is not one the tool rewrites"
            callee = cst.Name(var)
        _rewrite_app(ctx, app, callee)
        _describe(ctx, use, f"added self.{norms} and applied it after each layer")
        return None

    def _chain(self, ctx: FixContext) -> str | None:
        use = self.use
        for app in use.apps:
            norm = ensure_norms(ctx, use.cls, ctx.facts.init_info(use.cls).stacks[app.attr])
            _rewrite_app(ctx, app, cst.Attribute(cst.Name("self"), cst.Name(norm)))
        attrs = ", ".join(dict.fromkeys(f"self.{a.attr}" for a in use.apps))
        _describe(ctx, use, f"added a norm after {attrs}")
        return None

    def _sequential(self, ctx: FixContext) -> str | None:
        if ctx.options.residual or ctx.options.style == "prenorm":
            return "an nn.Sequential cannot hold a residual connection; rewrite it as a loop over an nn.ModuleList"
        stack = self.use.stacks[0]
        value = stack.value
        star = next((a for a in value.args if a.star == "*"), None)
        if star is not None and isinstance(star.value, (cst.ListComp, cst.GeneratorExp)):
            comp = star.value
            norm = _norm_ctor(ctx, stack.repeated.d_model) + stack.repeated.moved
            wrapped = cst.parse_expression(f"{_nn(ctx)}.Sequential({code(comp.elt)}, {norm})")
            new_comp = comp.with_changes(elt=wrapped)
            new_value = value.with_changes(args=[a.with_changes(value=new_comp) if a is star else a for a in value.args])
        else:
            args = []
            for arg, element in zip(value.args, stack.elements or ()):
                args.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
                if element.kind == Kind.MAMBA:
                    args.append(cst.Arg(cst.parse_expression(_norm_ctor(ctx, element.d_model) + element.moved)))
            new_value = value.with_changes(args=args)
        ctx.plan.replace(value, new_value)
        _describe(ctx, self.use, "a norm after each Mamba layer inside the nn.Sequential")
        return None


@dataclass(frozen=True)
class ResidualFix:
    """MF002: a skip connection around the layer of a normalized loop."""

    use: StackUse

    def apply(self, ctx: FixContext) -> str | None:
        app = self.use.apps[0]
        h = cst.Name(app.var)
        ctx.plan.rewrite_call(app.call, lambda updated: _add(updated, h))
        ctx.plan.changes.append(f"{self.use.owner}: added a residual connection around each layer")
        return None
