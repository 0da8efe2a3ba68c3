"""MF005 init-hook-overwrites-ssm-init: a model-wide init hook overwrites what an SSM layer's own
initialization set (its dt bias, A_log, D)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from mambafix.checks import needles
from mambafix.checks.base import Applicability, Diagnostic, FixContext
from mambafix.checks.hook_sites import Site, sites_at, writes
from mambafix.facts.scopes import scopes
from mambafix.facts.ssm_params import LINEAR, InitParam
from mambafix.flow.file_facts import FileFacts

CODE = "MF005"
SHOWN = 3  # paths named in a message; the rest are counted


class InitHookOverwritesSsmInit:
    code = CODE

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        if not needles.holds(facts.source, needles.HOOKS, needles.WRITES):
            return
        for scope in scopes(facts):
            owner = scope.cls.name.value if scope.cls is not None else (
                scope.func.name.value if scope.func is not None else "module")
            for stmt in scope.walk():
                for site in sites_at(facts, scope, stmt):
                    hit = [(p, w) for p in site.held.params for w in writes(facts, site, p)[:1]]
                    if hit:
                        yield diagnostic(site, owner, hit)


def diagnostic(site: Site, owner: str, hit: list[tuple[InitParam, object]]) -> Diagnostic:
    fix = GuardWithNoReinit(tuple(w for _, w in hit))
    blocker = no_fix_reason(hit)
    flow = [(site.node, f"runs over {site.held.display}, which holds SSM layers")]
    for param, write in hit:
        if write.node is not site.node and all(write.node is not n for n, _ in flow):
            flow.append((write.node, f"{write.how} {param.path}"))
    hook = f"`{site.text}` over {site.held.display}" if site.held.display != owner else f"`{site.text}`"
    return Diagnostic(CODE, site.node, (("owner", owner), ("hook", hook), ("effect", effect(hit))),
                      fix=None if blocker else fix, no_fix=blocker,
                      applicability=Applicability.NONE if blocker else Applicability.UNSAFE, flow=tuple(flow))


def effect(hit: list[tuple[InitParam, object]]) -> str:
    """What the hook does to the SSM parameters, grouped by how it writes them."""
    groups: dict[tuple, list[InitParam]] = {}
    for param, write in hit:
        groups.setdefault((write.how, write.constant), []).append(param)
    parts = []
    for (how, constant), params in groups.items():
        paths = list(dict.fromkeys(p.path for p in params))
        shown = ", ".join(paths[:SHOWN]) + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")
        layers = "/".join(dict.fromkeys(p.layer for p in params if p.layer)) or "SSM"
        inits = "; ".join(dict.fromkeys(p.init for p in params if p.init))
        to = f" to {constant:g}" if how == "sets" and constant is not None else ""
        text = f"{how} {shown}{to} of its {layers} layers" + (f" (their own init: {inits})" if inits else "")
        if any(p.init.startswith("softplus(dt)") for p in params):
            if constant is not None:
                text += f": softplus(dt) becomes {_softplus(constant):.2g} for every channel"
            elif how == "re-draws":
                text += ": softplus(dt) no longer spans its range"
        parts.append(text)
    marked = [p for p, _ in hit if p.owner == LINEAR and p.no_reinit]
    note = "; the layer marks it _no_reinit, the hook does not check the mark" if marked else ""
    return "; ".join(parts) + note


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x)) if x < 30 else x


def no_fix_reason(hit: list[tuple[InitParam, object]]) -> str | None:
    others = [p.path for p, _ in hit if p.owner != LINEAR]
    if others:
        return f"it also overwrites {', '.join(dict.fromkeys(others))}: skip the SSM layers in the hook"
    unmarked = [p.path for p, _ in hit if not p.no_reinit]
    if unmarked:
        return (f"the layer does not mark {', '.join(dict.fromkeys(unmarked))} _no_reinit, so mamba_ssm's guard "
                "would not help: mark it in the layer and test the mark, or skip the SSM layers in the hook")
    if any(_guard_test(w) is None for _, w in hit):
        return "no `<module>.bias is not None` test around the write to extend with mamba_ssm's guard"
    return None


def _guard_test(write) -> cst.Comparison | None:
    """The innermost `X.bias is not None` that every path to the write passes: a test around it,
    or one of the tests joined by `and` in it (under `or` or `not` it would not keep the write off)."""
    for test in reversed(write.tests):
        for node in _conjuncts(test):
            if isinstance(node, cst.Comparison) and len(node.comparisons) == 1 \
                    and isinstance(node.comparisons[0].operator, cst.IsNot) \
                    and isinstance(node.comparisons[0].comparator, cst.Name) \
                    and node.comparisons[0].comparator.value == "None" \
                    and isinstance(node.left, cst.Attribute) and node.left.attr.value == "bias":
                return node
    return None


def _conjuncts(test) -> list:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And) and not test.lpar:
        return _conjuncts(test.left) + _conjuncts(test.right)
    return [test]


@dataclass(frozen=True)
class GuardWithNoReinit:
    """`X.bias is not None` -> `X.bias is not None and not getattr(X.bias, "_no_reinit", False)`."""

    writes: tuple

    def apply(self, ctx: FixContext) -> str | None:
        for write in self.writes:
            comparison = _guard_test(write)
            key = ("MF005-guard", id(comparison))
            if comparison is None or key in ctx.memo:
                continue
            ctx.memo[key] = True
            ctx.plan.rewrite_expr(comparison, lambda node, bias=comparison.left: _guarded(node, bias))
            ctx.plan.changes.append("added mamba_ssm's _no_reinit guard to an init hook")
        return None


def _guarded(node: cst.BaseExpression, bias: cst.BaseExpression) -> cst.BaseExpression:
    marked = cst.Call(func=cst.Name("getattr"), args=[
        cst.Arg(bias, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
        cst.Arg(cst.SimpleString('"_no_reinit"'), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
        cst.Arg(cst.Name("False"))])
    return cst.BooleanOperation(left=node, operator=cst.And(), right=cst.UnaryOperation(cst.Not(), marked))


CHECK = InitHookOverwritesSsmInit()
