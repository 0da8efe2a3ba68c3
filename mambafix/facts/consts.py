"""Constants of a class's configuration, read while `__init__` is: a test's value under the
parameters' defaults (`if normalization:` with `normalization=True`), or NOCONST."""

from __future__ import annotations

import libcst as cst

from typing import Any

from mambafix.syntax.nodes import self_attr, string_text


class _NoConst:
    """No constant is known (a value, or a test, that depends on what is not read)."""

    def __repr__(self) -> str:
        return "NOCONST"


NOCONST: Any = _NoConst()


_NAMED = {"True": True, "False": False, "None": None}


def init_const(expr: cst.BaseExpression, local, info):
    """The value of a test under the parameters' defaults, or NOCONST where it is not known."""
    if isinstance(expr, cst.Name):
        if expr.value in _NAMED:
            return _NAMED[expr.value]
        if local is None:
            return NOCONST
        if expr.value in local.consts:
            return local.consts[expr.value]
        if expr.value in local.defaults and expr.value not in local.exprs:
            default = local.defaults[expr.value]
            return init_const(default, None, info) if default is not None else NOCONST
        return NOCONST
    if isinstance(expr, cst.Integer):
        return int(expr.value.replace("_", ""), 0)
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        return string_text(expr)
    attr = self_attr(expr)
    if attr is not None:
        return info.consts.get(attr, NOCONST) if info is not None else NOCONST
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        inner = init_const(expr.expression, local, info)
        return NOCONST if inner is NOCONST else not inner
    if isinstance(expr, cst.BooleanOperation):
        left = init_const(expr.left, local, info)
        if left is NOCONST:
            return NOCONST
        if bool(left) == isinstance(expr.operator, cst.Or):
            return left
        return init_const(expr.right, local, info)
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        left, right = init_const(expr.left, local, info), init_const(expr.comparisons[0].comparator, local, info)
        op = expr.comparisons[0].operator
        if left is NOCONST or right is NOCONST:
            return NOCONST
        compare = {cst.Equal: lambda a, b: a == b, cst.NotEqual: lambda a, b: a != b, cst.Is: lambda a, b: a is b,
                   cst.IsNot: lambda a, b: a is not b, cst.In: lambda a, b: a in b, cst.NotIn: lambda a, b: a not in b}
        try:
            return compare[type(op)](left, right) if type(op) in compare else NOCONST
        except TypeError:
            return NOCONST
    if isinstance(expr, (cst.List, cst.Tuple)) and all(isinstance(e, cst.Element) for e in expr.elements):
        values = [init_const(e.value, local, info) for e in expr.elements]
        return NOCONST if any(v is NOCONST for v in values) else tuple(values)
    return NOCONST
