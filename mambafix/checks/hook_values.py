"""Small readings an init hook's tests and writes need (MF005): how an in-place init writes, and
string tests on a parameter's dotted path where "*" stands for an unknown index."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst


@dataclass(frozen=True)
class PathVal:
    path: str  # the dotted name as named_parameters / named_modules gives it; "*": an index


def how_written(method: str, args: list) -> tuple[str, float | None]:
    """How an in-place init writes, and the constant it writes where one."""
    if method in ("zeros_", "zero_"):
        return "zeroes", 0.0
    if method in ("constant_", "fill_") and args:
        const = literal(args[0])
        return ("zeroes", 0.0) if const == 0 else ("sets", const)
    if method in ("ones_",):
        return "sets", 1.0
    if method in ("copy_",):
        return "overwrites", None
    if method in ("mul_", "div_"):
        return "rescales", None
    return "re-draws", None


def literal(expr) -> float | None:
    if isinstance(expr, (cst.Integer, cst.Float)):
        return float(expr.value.replace("_", ""))
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = literal(expr.expression)
        return -inner if inner is not None else None
    return None


def string_test(base, method: str, arg) -> bool | None:
    if not isinstance(arg, str):
        return None
    if isinstance(base, str):
        return {"startswith": base.startswith(arg), "endswith": base.endswith(arg), "find": base.find(arg)}[method]
    path = base.path
    if method == "endswith":
        tail = path.rsplit("*", 1)[-1]
        return True if path.endswith(arg) and len(arg) <= len(tail) else (False if len(arg) <= len(tail) else None)
    if method == "startswith":
        head = path.split("*", 1)[0]
        return True if path.startswith(arg) and len(arg) <= len(head) else (False if len(arg) <= len(head) else None)
    return None


def contains(container, item) -> bool | None:
    """`item in container` for a string or a path whose "*" stands for any index."""
    if not isinstance(item, str):
        return None
    if isinstance(container, str):
        return item in container
    if isinstance(container, PathVal):
        if item in container.path.replace("*", "\0"):
            return True
        return None if any(ch.isdigit() for ch in item) and "*" in container.path else False
    return None


def member(item, options: list) -> bool | None:
    if any(o is None for o in options):
        return None
    if isinstance(item, PathVal):
        if "*" not in item.path:
            return item.path in options
        return None if any(isinstance(o, str) and any(ch.isdigit() for ch in o) for o in options) else False
    if not isinstance(item, (str, int)):
        return None
    return item in options


def path_equal(a, b, op) -> bool | None:
    path, other = (a, b) if isinstance(a, PathVal) else (b, a)
    if not isinstance(other, str) or not isinstance(op, (cst.Equal, cst.NotEqual)):
        return None
    if "*" in path.path and any(ch.isdigit() for ch in other):
        return None
    return (path.path == other) == isinstance(op, cst.Equal)
