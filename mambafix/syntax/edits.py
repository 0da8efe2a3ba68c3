"""Edits to one parsed module, keyed by the identity of the nodes they touch.

Fixes express themselves in these few verbs; `mambafix.fix.executor` carries them out in one
transformer pass. Nothing here knows a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst


@dataclass
class EditPlan:
    call_rewrites: dict[int, Callable[[cst.Call], cst.BaseExpression]] = field(default_factory=dict)
    for_rewrites: dict[int, tuple[cst.BaseAssignTargetExpression, cst.BaseExpression]] = field(default_factory=dict)
    inserts: dict[int, list[cst.BaseStatement]] = field(default_factory=dict)  # statements after a statement
    value_rewrites: dict[int, cst.BaseExpression] = field(default_factory=dict)  # an expression replaced whole
    expr_rewrites: dict[int, Callable] = field(default_factory=dict)  # any node, rewritten after its children
    small_inserts: dict[int, list[cst.BaseSmallStatement]] = field(default_factory=dict)  # after a small statement
    removals: set[int] = field(default_factory=set)  # small statements deleted
    import_needed: str | None = None  # one import line added after the file's imports
    changes: list[str] = field(default_factory=list)  # what was done, for the user

    def rewrite_call(self, call: cst.Call, fn: Callable[[cst.Call], cst.BaseExpression]) -> None:
        self.call_rewrites[id(call)] = fn

    def rewrite_expr(self, expr: cst.BaseExpression, fn: Callable[[cst.BaseExpression], cst.BaseExpression]) -> None:
        """Rewrite an expression after its children; a second rewrite of the same node applies
        to the first one's result."""
        self.rewrite_node(expr, fn)

    def rewrite_node(self, node: cst.CSTNode, fn: Callable[[cst.CSTNode], cst.CSTNode]) -> None:
        before = self.expr_rewrites.get(id(node))
        self.expr_rewrites[id(node)] = fn if before is None else (lambda n, a=before, b=fn: b(a(n)))

    def insert_small_after(self, small: cst.BaseSmallStatement, new: cst.BaseSmallStatement) -> None:
        """A statement right after a small statement: on a line of its own where that one ends
        its line, after a semicolon otherwise (`for l in ls: h = l(h); h = norm(h)`)."""
        self.small_inserts.setdefault(id(small), []).append(new)

    def rewrite_for(self, loop: cst.For, target, iter_expr) -> None:
        self.for_rewrites[id(loop)] = (target, iter_expr)

    def insert_after(self, stmt: cst.CSTNode, new: cst.BaseStatement) -> None:
        self.inserts.setdefault(id(stmt), []).append(new)

    def replace(self, expr: cst.CSTNode, new: cst.BaseExpression) -> None:
        self.value_rewrites[id(expr)] = new

    def remove(self, small: cst.BaseSmallStatement) -> None:
        self.removals.add(id(small))

    @property
    def edits_code(self) -> bool:
        """Whether any edit adds code (so an import it relies on is needed)."""
        return bool(self.call_rewrites or self.inserts or self.value_rewrites or self.for_rewrites or self.expr_rewrites
                    or self.small_inserts)
