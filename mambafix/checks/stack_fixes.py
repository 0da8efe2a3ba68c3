"""Fixes for stacks applied without norms (MF001) or without residuals (MF002): why a use cannot
be fixed, and the edits that fix it. Shared by the two stack rules. MF001's fix is planned from
the finding's path (`norm_plans`, written by `norm_edits`); an nn.Sequential called whole gets
its norms inside the Sequential."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from mambafix.checks.base import Applicability, Diagnostic, FixContext
from mambafix.checks.norm_edits import (
    add_skip,
    nn_name,
    norm_ctor,
    write_postnorm,
    write_prenorm,
)
from mambafix.checks.norm_plans import NormPlan, climb, data_argument, plan_norms
from mambafix.facts.applications import StackUse
from mambafix.facts.builds import pair_list
from mambafix.facts.kinds import Kind, Shape
from mambafix.facts.layers import Stack
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
def norm_plan(facts, use: StackUse) -> NormPlan | str:
    """MF001's plan for this use, or why there is none whatever the options."""
    if use.shape == Shape.SEQUENTIAL:
        return _sequential_blocker(facts, use.stacks[0]) or NormPlan((), ())
    if any(s.stmt is None for f in use.flows for s in (f.source, f.sink)):
        return "the layers are applied inside an nn.Sequential called with other code around it"
    return plan_norms(facts, use)


def norm_fix_blocker(facts, use: StackUse) -> str | None:
    """Why MF001's fix cannot be made for this use with the default options, or None."""
    found = norm_plan(facts, use)
    return found if isinstance(found, str) else None


def residual_fix_blocker(use: StackUse) -> str | None:
    if use.compound:
        return COMPOUND
    if len(use.apps) != 1 or not all(a.plain for a in use.apps):
        return "the layer's result is indexed or unpacked, or applied more than once per step"
    if not use.apps[0].var:
        return "the layer's input is not a plain name, so the skip connection to add is not known"
    return None


def _sequential_blocker(facts, stack: Stack) -> str | None:
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
    value = stack.value
    if stack.elements is not None and isinstance(value, cst.Call) and _named_pairs(facts, value) is None \
            and len(value.args) != len(stack.elements):
        return "the nn.Sequential's modules are not written one per argument (a mapping the tool does not rewrite)"
    if stack.repeated is None and stack.uniform_d_model() is None:
        return "the layers' width (d_model) could not be read from their constructors"
    if stack.repeated is not None and (stack.repeated.d_model is None or names_in(stack.repeated.d_model) & stack.comp_names):
        return "the layers' width (d_model) could not be read from their constructor"
    return None


def _named_pairs(facts, value) -> cst.List | cst.Tuple | None:
    """The literal list of `(name, module)` pairs of `nn.Sequential(OrderedDict([...]))`, each name
    a plain string (builds.pair_list reads the pairs check reads); None for any other call."""
    if not isinstance(value, cst.Call) or len(value.args) != 1:
        return None
    inner = value.args[0].value
    pairs = pair_list(facts, inner)
    if pairs is None or not (facts.resolver.qualify(inner.func) or "").endswith("OrderedDict") \
            or not all(isinstance(e.value.elements[0].value, cst.SimpleString) for e in pairs.elements):
        return None
    return pairs


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


def _describe(ctx: FixContext, use: StackUse, what: str) -> None:
    options = ctx.options
    style = "pre-norm residual" if options.style == "prenorm" else ("post-norm with residual" if options.residual else "post-norm")
    ctx.plan.changes.append(f"{use.owner}: {what} ({style}, {options.norm_class})")


def _said(parts: list[str]) -> str:
    counted: dict[str, int] = {}
    for part in parts:
        counted[part] = counted.get(part, 0) + 1
    return "; ".join(part if n == 1 else f"{part} (x{n})" for part, n in counted.items())


@dataclass(frozen=True)
class NormFix:
    """MF001: a norm on each source's output where the path carries it (post-norm, with a skip
    under --residual unless one is there), or on each layer's input (pre-norm)."""

    use: StackUse

    def apply(self, ctx: FixContext) -> str | None:
        found = norm_plan(ctx.facts, self.use)
        if isinstance(found, str):
            return found
        if self.use.shape == Shape.SEQUENTIAL:
            return self._sequential(ctx)
        write = write_prenorm if ctx.options.style == "prenorm" else write_postnorm
        why, done = write(ctx, self.use, found)
        if why is not None:
            return why
        if done:
            _describe(ctx, self.use, "added " + _said(done))
        return None

    def _sequential(self, ctx: FixContext) -> str | None:
        if ctx.options.style == "prenorm":
            return "an nn.Sequential cannot hold a residual connection; rewrite it as a loop over an nn.ModuleList"
        stack = self.use.stacks[0]
        value = stack.value
        star = next((a for a in value.args if a.star == "*"), None)
        if star is not None and isinstance(star.value, (cst.ListComp, cst.GeneratorExp)):
            comp = star.value
            norm = norm_ctor(ctx, stack.repeated.d_model) + stack.repeated.moved
            wrapped = cst.parse_expression(f"{nn_name(ctx)}.Sequential({code(comp.elt)}, {norm})")
            new_comp = comp.with_changes(elt=wrapped)
            new_value = value.with_changes(args=[a.with_changes(value=new_comp) if a is star else a for a in value.args])
        elif (pairs := _named_pairs(ctx.facts, value)) is not None:  # nn.Sequential(OrderedDict([("name", module), ...]))
            entries = []
            for entry, element in zip(pairs.elements, stack.elements or ()):
                entries.append(entry.with_changes(comma=cst.MaybeSentinel.DEFAULT))
                if element.kind == Kind.MAMBA:
                    key = entry.value.elements[0].value.evaluated_value + "_norm"
                    norm = norm_ctor(ctx, element.d_model) + element.moved
                    entries.append(cst.Element(cst.parse_expression(f"({key!r}, {norm})")))
            value, new_value = pairs, pairs.with_changes(elements=entries)
        else:
            args = []
            for arg, element in zip(value.args, stack.elements or ()):
                args.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
                if element.kind == Kind.MAMBA:
                    args.append(cst.Arg(cst.parse_expression(norm_ctor(ctx, element.d_model) + element.moved)))
            new_value = value.with_changes(args=args)
        ctx.plan.replace(value, new_value)
        skip = " (no skip added: an nn.Sequential cannot hold one)" if ctx.options.residual else ""
        _describe(ctx, self.use, f"a norm after each Mamba layer inside the nn.Sequential{skip}")
        return None


@dataclass(frozen=True)
class ResidualFix:
    """MF002: a skip connection around the layer of a normalized loop."""

    use: StackUse

    def apply(self, ctx: FixContext) -> str | None:
        app = self.use.apps[0]
        facts = ctx.facts
        data = data_argument(facts, app.call)
        carrier = climb(facts, self.use.cls, app.stmt, app.call, data, frozenset({id(app.call)}))
        if add_skip(ctx, carrier, app.var):
            ctx.plan.changes.append(f"{self.use.owner}: added a residual connection around each layer")
        return None
