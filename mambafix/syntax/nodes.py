"""Small readings of libcst nodes: source text, `self.x`, names, arguments, literals, calls."""

from __future__ import annotations

import libcst as cst

from mambafix.syntax.names import dotted
from mambafix.syntax.walk import walk

_EMPTY = cst.Module(body=[])


def code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def self_attr(expr: cst.BaseExpression) -> str | None:
    """`self.x` -> "x"."""
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
        return expr.attr.value
    return None


def names_in(node: cst.CSTNode) -> set[str]:
    return {n.value for n in walk(node) if isinstance(n, cst.Name)}


def call_arg(call: cst.Call, keywords: tuple[str, ...], position: int | None) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in keywords:
            return arg.value
    if position is not None:
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if any(a.star for a in call.args[: len(positional)]):
            return None
        if len(positional) > position:
            return positional[position].value
    return None


def comprehension_names(comp: cst.ListComp | cst.GeneratorExp) -> frozenset[str]:
    names: set[str] = set()
    clause = comp.for_in
    while clause is not None:
        names |= names_in(clause.target)
        clause = clause.inner_for_in
    return frozenset(names)


def int_value(expr: cst.BaseExpression) -> int | None:
    if isinstance(expr, cst.Integer):
        try:
            return int(expr.value.replace("_", ""), 0)
        except ValueError:
            return None
    return None


def param_defaults(func: cst.FunctionDef) -> dict[str, cst.BaseExpression | None]:
    params = func.params
    return {p.name.value: p.default for p in (*params.posonly_params, *params.params, *params.kwonly_params)}


def param_names(func: cst.FunctionDef) -> list[str]:
    params = func.params
    return [p.name.value for p in (*params.posonly_params, *params.params)]


def literal_count(iter_expr: cst.BaseExpression) -> bool:
    """Whether a loop's `range(...)` ends at a literal (`range(4)`), not at a parameter: a count
    the caller sets is not known, whatever its default."""
    if not (isinstance(iter_expr, cst.Call) and dotted(iter_expr.func) == "range" and iter_expr.args):
        return False
    end = iter_expr.args[-1].value
    return isinstance(end, cst.Integer) or (isinstance(end, cst.UnaryOperation) and isinstance(end.expression, cst.Integer))


def range_count(iter_expr: cst.BaseExpression, defaults: dict) -> tuple[int | None, str | None]:
    """The trip count of `range(...)`, as a number where it can be read, else as text."""
    if not (isinstance(iter_expr, cst.Call) and dotted(iter_expr.func) == "range"):
        return None, None
    args = [a.value for a in iter_expr.args]
    if len(args) == 1:
        n = int_value(args[0])
        if n is not None:
            return n, str(n)
        if isinstance(args[0], cst.Name):
            default = defaults.get(args[0].value)
            if default is not None and int_value(default) is not None:
                return int_value(default), str(int_value(default))
        return None, code(args[0])
    if len(args) == 2 and int_value(args[0]) is not None and int_value(args[1]) is not None:
        n = int_value(args[1]) - int_value(args[0])
        return n, str(n)
    return None, code(iter_expr)


def calls(node: cst.CSTNode) -> list[cst.Call]:
    """Calls under `node`, not entering lambdas or nested functions."""
    return [n for n in walk(node, prune=(cst.FunctionDef, cst.Lambda)) if isinstance(n, cst.Call)]


def calls_with_context(node: cst.CSTNode) -> list[tuple[cst.Call, bool]]:
    """Calls in an expression, each with whether its result is used as is (not subscripted)."""
    found: list[cst.Call] = []
    subscripted: set[int] = set()
    for n in walk(node, prune=(cst.Lambda,)):
        if isinstance(n, cst.Subscript) and isinstance(n.value, cst.Call):
            subscripted.add(id(n.value))
        elif isinstance(n, cst.Call):
            found.append(n)
    return [(n, id(n) not in subscripted) for n in found]


def assigned_name(small) -> str | None:
    """The plain name a small statement assigns (`h = ...`, `h += ...`, `h: T = ...`), else None."""
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value
    if isinstance(small, (cst.AugAssign, cst.AnnAssign)) and isinstance(small.target, cst.Name):
        return small.target.value
    return None


def assigned_value(small) -> cst.BaseExpression:
    return small.value if getattr(small, "value", None) is not None else cst.Name("_")


def string_text(expr: cst.BaseExpression) -> str:
    """The literal text of a string expression (f-string literal parts, concatenations)."""
    if isinstance(expr, cst.SimpleString):
        try:
            value = expr.evaluated_value
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
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
