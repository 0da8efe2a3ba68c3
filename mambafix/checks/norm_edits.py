"""Writing MF001's plan (`norm_plans`) as edits: the norm modules built in `__init__` beside the
layers they follow, and each carrier wrapped (post-norm, with a skip under `--residual` unless
one is there) or each layer's input normalized (pre-norm, with a skip unless one is there)."""

from __future__ import annotations

import libcst as cst

from mambafix.checks.base import FixContext
from mambafix.checks.loop_rewrites import enclosing_function, rewrite_for
from mambafix.checks.norm_modules import build_text, buildable, definitions
from mambafix.checks.norm_plans import NormPlan, SiteNorm
from mambafix.facts.applications import StackUse
from mambafix.facts.kinds import Container
from mambafix.facts.layers import Stack
from mambafix.syntax.nodes import code, names_in

TIGHT = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.MatrixMultiply, cst.Power)


# -- names -------------------------------------------------------------------------------------
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
        if attr.endswith(suffix) and len(attr) > len(suffix):
            return fresh(attr[: -len(suffix)] + "norms", taken)
    if attr in ("layers", "blocks", "mixers", "mambas"):
        return fresh("norms", taken)
    return fresh(f"{attr}_norms", taken)


def nn_name(ctx: FixContext) -> str:
    if "nn" not in ctx.memo:
        ctx.memo["nn"], ctx.plan.import_needed = nn_alias(ctx.facts.resolver)
    return ctx.memo["nn"]


def norm_ctor(ctx: FixContext, width: cst.BaseExpression) -> str:  # the nn.Sequential rewrite's
    return f"{nn_name(ctx)}.{ctx.options.norm_class}({code(width)})"


def taken_names(ctx: FixContext, cls: cst.ClassDef) -> set[str]:
    key = ("taken", id(cls))
    if key not in ctx.memo:
        info = ctx.facts.init_info(cls)
        ctx.memo[key] = set(info.attr_names) | set(info.stacks)
    return ctx.memo[key]


# -- expressions --------------------------------------------------------------------------------
def grouped(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`expr`, parenthesised unless it already binds at least as tightly as `+`."""
    if isinstance(expr, (cst.Call, cst.Name, cst.Attribute, cst.Subscript)) or expr.lpar:
        return expr
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, TIGHT):
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def add(left: cst.BaseExpression, right: cst.BaseExpression) -> cst.BinaryOperation:
    return cst.BinaryOperation(left=left, operator=cst.Add(), right=right)


def called(func: cst.BaseExpression, arg: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=func, args=[cst.Arg(_bare(arg))])


def _bare(expr: cst.BaseExpression) -> cst.BaseExpression:
    """An argument needs no parentheses of its own (multi-line ones keep theirs)."""
    if len(expr.lpar) == 1 and len(expr.rpar) == 1 and "\n" not in code(expr):
        return expr.with_changes(lpar=[], rpar=[])
    return expr


def functional_norm(ctx: FixContext, name: str) -> cst.BaseExpression:
    """A norm over the last axis with no parameters (the width is read off the tensor)."""
    fn = "rms_norm" if ctx.options.norm == "rmsnorm" else "layer_norm"
    return cst.parse_expression(f"{nn_name(ctx)}.functional.{fn}({name}, {name}.shape[-1:])")


# -- norm modules -------------------------------------------------------------------------------
def norm_module(ctx: FixContext, cls: cst.ClassDef, stack: Stack) -> str | None:
    """The attribute holding the norms of `stack`'s layers, built in __init__ beside every
    definition of it (once per pass); None where a width cannot be read (no module then)."""
    key = ("norms", id(cls), stack.attr)
    if key in ctx.memo:
        return ctx.memo[key]
    if not buildable(ctx.facts, cls, stack):
        ctx.memo[key] = None
        return None
    name = norm_attr_name(stack.attr, taken_names(ctx, cls), stack.container != Container.SINGLE)
    for d in definitions(ctx.facts, cls, stack):
        text = build_text(ctx.facts, d, name, nn_name(ctx), ctx.options.norm_class)
        ctx.plan.insert_after(d.insert_after, cst.parse_statement(text + "\n"))
    ctx.memo[key] = name
    return name


def _loop_norm(ctx: FixContext, cls: cst.ClassDef, loop: cst.For, attr: str, norms: str) -> str | None:
    """Rewrite the loop to bind each layer's norm too; the name bound, or None."""
    key = ("zip", id(loop), attr)
    if key in ctx.memo:
        return ctx.memo[key]
    current = ctx.memo.get(("for", id(loop)), (loop.target, loop.iter))
    var = fresh("norm", names_in(enclosing_function(cls, loop) or loop) | ctx.memo.setdefault(("vars", id(loop)), set()))
    ctx.memo[("vars", id(loop))].add(var)
    rewritten = rewrite_for(current[0], current[1], attr, norms, var)
    if rewritten is None:
        ctx.memo[key] = None
        return None
    ctx.memo[("for", id(loop))] = rewritten
    ctx.plan.rewrite_for(loop, *rewritten)
    ctx.memo[key] = var
    return var


def norm_callee(ctx: FixContext, cls: cst.ClassDef, sn: SiteNorm) -> cst.BaseExpression | None:
    """The expression naming the norm module of this site's layer, or None (parameter-free)."""
    sel = sn.selector
    if sel.kind == "none" or sn.stack is None:
        return None
    norms = norm_module(ctx, cls, sn.stack)
    if norms is None:
        return None
    attr = cst.Attribute(cst.Name("self"), cst.Name(norms))
    if sel.kind == "single":
        return attr
    if sel.kind == "indexed":
        return cst.Subscript(attr, [cst.SubscriptElement(cst.Index(sel.index))])
    var = _loop_norm(ctx, cls, sel.loop, sel.attr, norms)
    return cst.Name(var) if var is not None else None


# -- the fix ------------------------------------------------------------------------------------
def write_postnorm(ctx: FixContext, use: StackUse, plan: NormPlan) -> tuple[str | None, list[str]]:
    """A norm on each source's carried output; a skip added under --residual where none is
    there. (why not, what was done)"""
    residual = ctx.options.residual
    no_skip: dict[int, str] = {}  # sources that get their norm but no skip (--residual), and why
    for sn in plan.sources:
        if residual and not sn.carrier.skip:
            why = _no_skip(sn)
            if why is not None:
                no_skip[id(sn)] = why
    done: list[str] = []
    carriers = ctx.memo.setdefault("carriers", set())
    sharing: dict[int, list[str]] = {}
    for sn in plan.sources:
        sharing.setdefault(id(sn.carrier.node), []).append(sn.site.text.removeprefix("self."))
    for sn in plan.sources:
        carrier = sn.carrier
        if id(carrier.node) in carriers:
            continue
        what = " + ".join(dict.fromkeys(sharing[id(carrier.node)]))
        norm = norm_callee(ctx, use.cls, sn)
        if norm is None and not (carrier.whole and carrier.target):
            return (f"the width of {sn.site.text} could not be read (so no norm module of its width can be "
                    f"built) and its output is not assigned to a name for a parameter-free norm"), done
        carriers.add(id(carrier.node))
        skip = cst.Name(sn.stream) if residual and not carrier.skip and id(sn) not in no_skip else None
        if id(sn) in no_skip:
            what += f" (no skip added: {no_skip[id(sn)]})"
        if carrier.after:  # `out, state = layer(x)`: `out = norm(out)` after it
            if norm is None and skip is not None:  # `out = out + x` first, then the parameter-free norm
                ctx.plan.insert_small_after(carrier.stmt, _assign(carrier.target, add(cst.Name(carrier.target), skip)))
            value = cst.Name(carrier.target)
            value = add(value, skip) if skip is not None and norm is not None else value
            ctx.plan.insert_small_after(carrier.stmt, _assign(carrier.target, called(norm, value) if norm is not None
                                                              else functional_norm(ctx, carrier.target)))
            done.append(f"a norm after {what}" if norm is not None
                        else f"a parameter-free norm after {what} (the width could not be read)")
        elif norm is not None:
            _wrap(ctx, carrier, lambda e, n=norm, s=skip: called(n, add(grouped(e), s) if s is not None else e))
            done.append(f"a norm after {what}")
        else:
            if skip is not None:
                _wrap(ctx, carrier, lambda e, s=skip: add(grouped(e), s), plain=True)
            ctx.plan.insert_small_after(carrier.stmt, _assign(carrier.target, functional_norm(ctx, carrier.target)))
            done.append(f"a parameter-free norm after {what} (the width could not be read)")
    return None, done


def _no_skip(sn: SiteNorm) -> str | None:
    """Why no skip can be added around this source (its norm still can be), or None."""
    if sn.stream is None:
        return "its input is not a plain name, so the stream to add is not known"
    if sn.carrier.after and sn.stream in names_in(sn.carrier.stmt.targets[0]):
        return "the statement that unpacks its output overwrites its input"
    return None


def write_prenorm(ctx: FixContext, use: StackUse, plan: NormPlan) -> tuple[str | None, list[str]]:
    """A norm on each layer's input, and a skip around the layer where none is there."""
    for sn in plan.sites:
        if sn.data is None:
            return f"{sn.site.text} is called with no data argument the tool can find", []
        if not sn.carrier.skip and sn.stream is None:
            return (f"pre-norm: the input of {sn.site.text} is not a plain name, so the skip connection is not "
                    "known; use post-norm"), []
        if not sn.carrier.skip and sn.carrier.after and (
                sn.carrier.target is None or sn.stream in names_in(sn.carrier.stmt.targets[0])):
            return (f"pre-norm: the statement that unpacks the output of {sn.site.text} overwrites its input, so no "
                    "skip can be added after it; use post-norm"), []
    done: list[str] = []
    carriers = ctx.memo.setdefault("carriers", set())
    inputs = ctx.memo.setdefault("inputs", set())
    for sn in plan.sites:
        if id(sn.data) in inputs:
            continue
        norm = norm_callee(ctx, use.cls, sn)
        if norm is None and not isinstance(sn.data.value, cst.Name):
            return (f"the width of {sn.site.text} could not be read and its input is not a plain name for a "
                    "parameter-free norm"), done
        inputs.add(id(sn.data))
        data = sn.data.value
        if norm is not None:
            ctx.plan.rewrite_expr(data, lambda e, n=norm: called(n, e))
        else:
            ctx.plan.rewrite_expr(data, lambda e, name=data.value: functional_norm(ctx, name))
        if not sn.carrier.skip and id(sn.carrier.node) not in carriers:
            carriers.add(id(sn.carrier.node))
            if sn.carrier.after:  # `y, state = layer(norm(x))`: `y = x + y` after it
                ctx.plan.insert_small_after(sn.carrier.stmt, _assign(sn.carrier.target, add(
                    cst.Name(sn.stream), cst.Name(sn.carrier.target))))
            else:
                _wrap(ctx, sn.carrier, lambda e, s=cst.Name(sn.stream): add(s, grouped(e)), plain=True)
        done.append(f"a norm before {sn.site.text.removeprefix('self.')}"
                    + ("" if norm is not None else " (parameter-free: its width could not be read)"))
    return None, done


def _parenthesised(expr: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(expr, cst.BinaryOperation) and not expr.lpar:
        return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expr


def add_skip(ctx: FixContext, carrier, stream: str) -> bool:
    """MF002's fix: the layer's input added to the value its statement carries on, once per
    carrier; False where a skip is there already."""
    carriers = ctx.memo.setdefault("carriers", set())
    if carrier.skip or id(carrier.node) in carriers:
        return False
    carriers.add(id(carrier.node))
    _wrap(ctx, carrier, lambda e, s=cst.Name(stream): add(grouped(e), s), plain=True)
    return True


def _assign(name: str, value: cst.BaseExpression) -> cst.Assign:
    return cst.Assign([cst.AssignTarget(cst.Name(name))], value)


def _wrap(ctx: FixContext, carrier, fn, plain: bool = False) -> None:
    """Rewrite the carried value with `fn` (parenthesised where a sum replaces part of an
    expression). An augmented assignment (`h += E`, a skip) is rewritten whole into
    `h = fn(h + E)` unless `plain` (a change inside the value only)."""
    stmt = carrier.stmt
    if carrier.nested:
        inner = fn
        fn = lambda e, f=inner: _parenthesised(f(e))  # noqa: E731
    if isinstance(stmt, cst.AugAssign) and carrier.node is stmt.value and not plain:
        target = stmt.target
        op = "+" if isinstance(stmt.operator, cst.AddAssign) else None
        if op is None:
            ctx.plan.rewrite_expr(carrier.node, fn)
            return
        ctx.plan.rewrite_node(stmt, lambda s: cst.Assign([cst.AssignTarget(s.target)],
                                                          fn(add(target.deep_clone(), grouped(s.value)))))
        return
    ctx.plan.rewrite_expr(carrier.node, fn)
