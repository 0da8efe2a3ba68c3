"""The value of a size expression where the file fixes it: literals, arithmetic, names bound in
the scope (a local constant, a parameter's default, a module-level constant), `self.x` as the
class's `__init__` sets it, and `cfg.x` of a config class of the file (its field's default, or
the keyword a construction in the scope gives). The configuration is read as its defaults, as
MF001 reads it. Anything else is UNKNOWN."""

from __future__ import annotations

import libcst as cst

from mambafix.facts.consts import NOCONST
from mambafix.facts.scopes import Scope
from mambafix.syntax.nodes import call_arg, self_attr, string_text
from mambafix.syntax.walk import small_statements, statements

UNKNOWN = NOCONST
MAX_DEPTH = 12
_NAMED = {"True": True, "False": False, "None": None}
_OPS = {
    cst.Add: lambda a, b: a + b, cst.Subtract: lambda a, b: a - b, cst.Multiply: lambda a, b: a * b,
    cst.FloorDivide: lambda a, b: a // b, cst.Divide: lambda a, b: a / b, cst.Modulo: lambda a, b: a % b,
    cst.Power: lambda a, b: a ** b,
}


def value(facts, expr: cst.BaseExpression | None, scope: Scope | None, depth: int = 0):
    """A number, a string, True/False/None, or UNKNOWN."""
    if expr is None or depth > MAX_DEPTH:
        return UNKNOWN
    if isinstance(expr, cst.Integer):
        return int(expr.value.replace("_", ""), 0)
    if isinstance(expr, cst.Float):
        return float(expr.value.replace("_", ""))
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        return string_text(expr)
    if isinstance(expr, cst.Name):
        if expr.value in _NAMED:
            return _NAMED[expr.value]
        return _name(facts, expr.value, scope, depth)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        inner = value(facts, expr.expression, scope, depth + 1)
        return UNKNOWN if not _numeric(inner) else (-inner if isinstance(expr.operator, cst.Minus) else inner)
    if isinstance(expr, cst.BinaryOperation) and type(expr.operator) in _OPS:
        left, right = value(facts, expr.left, scope, depth + 1), value(facts, expr.right, scope, depth + 1)
        if not (_numeric(left) and _numeric(right)):
            return UNKNOWN
        try:
            return _OPS[type(expr.operator)](left, right)
        except (ZeroDivisionError, OverflowError, ValueError):
            return UNKNOWN
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "int" and len(expr.args) == 1:
        inner = value(facts, expr.args[0].value, scope, depth + 1)
        return int(inner) if _numeric(inner) else UNKNOWN
    if isinstance(expr, cst.Attribute):
        return _attribute(facts, expr, scope, depth)
    return UNKNOWN


def _numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _name(facts, name: str, scope: Scope | None, depth: int):
    if scope is None:
        return UNKNOWN
    where, expr = scope.lookup(name)
    if where == "bound":
        return value(facts, expr, scope, depth + 1)
    if where in ("param", "module"):
        return value(facts, expr, scope.parent, depth + 1)
    return UNKNOWN


def _attribute(facts, expr: cst.Attribute, scope: Scope | None, depth: int):
    attr = self_attr(expr)
    if attr is not None:
        return _self_value(facts, attr, scope, depth) if scope is not None and scope.cls is not None else UNKNOWN
    if not isinstance(expr.value, cst.Name) or scope is None:
        return UNKNOWN
    base = expr.value.value
    where, bound = scope.lookup(base)
    if where == "bound" and isinstance(bound, cst.Call):  # cfg = Config(d_model=256)
        given = call_arg(bound, (expr.attr.value,), None)
        if given is not None:
            return value(facts, given, scope, depth + 1)
        return _field_default(facts, bound.func, expr.attr.value, scope, depth)
    if where == "param" and scope.func is not None:
        annotation = _annotation(scope.func, base)
        if annotation is not None:
            return _field_default(facts, annotation, expr.attr.value, scope, depth)
    return UNKNOWN


def _annotation(func: cst.FunctionDef, name: str) -> cst.BaseExpression | None:
    params = func.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.name.value == name and param.annotation is not None:
            return param.annotation.annotation
    return None


def _field_default(facts, func: cst.BaseExpression, field: str, scope: Scope, depth: int):
    """The default of a field of a config class of this file (`d_model: int = 384`)."""
    if not (isinstance(func, cst.Name) and func.value in facts.classes):
        return UNKNOWN
    for stmt in statements(facts.classes[func.value].body):
        for small in small_statements(stmt):
            target = small.target if isinstance(small, cst.AnnAssign) else (
                small.targets[0].target if isinstance(small, cst.Assign) and len(small.targets) == 1 else None)
            if isinstance(target, cst.Name) and target.value == field and small.value is not None:
                return value(facts, small.value, scope.parent or scope, depth + 1)
    return UNKNOWN


def _self_value(facts, attr: str, scope: Scope, depth: int):
    """`self.x` as the class's `__init__` last sets it, read under its parameters' defaults."""
    init = next((s for s in statements(scope.cls.body) if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"),
                None)
    if init is None:
        return UNKNOWN
    init_scope = Scope(init.body, init, scope.cls, scope.parent)
    found = None
    for stmt in init_scope.walk():
        for small in small_statements(stmt):
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and self_attr(small.targets[0].target) == attr:
                found = (small.value, dict(init_scope.bound))
    if found is None:
        return UNKNOWN
    init_scope.bound = found[1]
    return value(facts, found[0], init_scope, depth + 1)

