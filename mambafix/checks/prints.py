"""Print and logging statements as data, and their removal: shared by the debug-print rules."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from mambafix.checks.base import FixContext
from mambafix.syntax.names import Family, NameResolver, dotted


@dataclass(frozen=True)
class PrintCall:
    small: cst.Expr  # the statement `print(...)`
    call: cst.Call
    name: str  # the qualified name it matched


def print_calls(line, functions: Family, resolver: NameResolver) -> list[PrintCall]:
    """The statements of a line that are a call of one of `functions`."""
    out = []
    for small in line.body:
        if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
            continue
        name = functions.match_any(resolver.candidates(small.value.func))
        if name is not None:
            out.append(PrintCall(small, small.value, name))
    return out


def call_name(call: cst.Call) -> str:
    return dotted(call.func) or "call"


REMOVED = "removed {n} debug print(s)"
# apply's summary where it removed prints: the supported way to keep what they showed
WATCH_NOTE = ("Debug prints removed: to keep those diagnostics in a real training run, use mambafix.watch(model) "
              "(hooks on every SSM layer and norm; it names the first layer that goes non-finite, with the depth "
              "profile; README: `mambafix.watch`).")


def removed_prints(changes) -> bool:
    """Whether any of apply's change descriptions is REMOVED's."""
    head, _, tail = REMOVED.partition("{n}")
    return any(c.startswith(head) and c.endswith(tail) for c in changes)


@dataclass(frozen=True)
class RemoveStatement:
    """Delete the statement; its own comment lines go with it, and an `if` left with nothing but
    a side-effect-free test goes too (the executor's rules)."""

    small: cst.BaseSmallStatement

    def apply(self, ctx: FixContext) -> str | None:
        ctx.plan.remove(self.small)
        ctx.memo[REMOVED] = ctx.memo.get(REMOVED, 0) + 1
        return None
