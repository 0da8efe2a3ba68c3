"""MF003: print and logging calls that carry a configured debug marker."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from mambafix.names import Family, NameResolver, dotted


@dataclass
class PrintFinding:
    stmt: cst.SimpleStatementLine | cst.SimpleStatementSuite
    small: cst.Expr
    call_name: str
    marker: str


def string_text(expr: cst.BaseExpression) -> str:
    """The literal text of a string expression (f-string literal parts, concatenations)."""
    if isinstance(expr, cst.SimpleString):
        try:
            return str(expr.evaluated_value) if not isinstance(expr.evaluated_value, bytes) else expr.evaluated_value.decode("latin-1")
        except Exception:  # noqa: BLE001 - an odd literal is only a miss, never a crash
            return expr.value
    if isinstance(expr, cst.FormattedString):
        return "".join(p.value if isinstance(p, cst.FormattedStringText) else "\0" for p in expr.parts)
    if isinstance(expr, cst.ConcatenatedString):
        return string_text(expr.left) + string_text(expr.right)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Modulo)):
        return string_text(expr.left) + "\0" + string_text(expr.right)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "format":
        return string_text(expr.func.value)
    return ""


class PrintMatcher:
    def __init__(self, config, resolver: NameResolver) -> None:
        self.markers = tuple(config.markers)
        self.functions = Family(config.print_functions)
        self.resolver = resolver

    def match(self, stmt: cst.SimpleStatementLine | cst.SimpleStatementSuite) -> list[PrintFinding]:
        out = []
        for small in stmt.body:
            if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
                continue
            call = small.value
            names = self.resolver.candidates(call.func)
            name = self.functions.match_any(names)
            if name is None:
                continue
            for arg in call.args:
                text = string_text(arg.value)
                marker = next((m for m in self.markers if m in text), None)
                if marker is not None:
                    out.append(PrintFinding(stmt, small, dotted(call.func) or "call", marker))
                    break
        return out
