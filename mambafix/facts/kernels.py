"""The sizes mamba_ssm's layers and their CUDA kernels accept, as data (rules/MF007.toml:
`kernel_layers`, `kernel_constraints`, `kernel_configs`), and their evaluation: read by MF007 on
the sizes a file fixes, and by the probe's reference backend on the sizes a model is built with
(so a CPU machine says what the GPU would refuse). Free of libcst and torch.

Expressions in the data are small Python expressions over the layer's sizes (`d_ssm % headdim
== 0`, `d_inner if d_ssm is None else d_ssm`), evaluated by walking their syntax tree: names,
numbers, None, arithmetic, comparisons, boolean operators and `x if c else y`; nothing else."""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from functools import lru_cache

from mambafix.catalogue import load_rules
from mambafix.facts.naming import names_match


class Unknown(Exception):
    """An expression reads a size that is not known."""


@dataclass(frozen=True)
class Layer:
    classes: tuple[str, ...]
    display: str
    params: tuple[str, ...]
    defaults: tuple[tuple[str, object], ...]
    derived: tuple[tuple[str, str], ...]
    constraints: tuple[str, ...]


@dataclass(frozen=True)
class Constraint:
    id: str
    holds: str
    problem: str
    fails: str
    when: str  # "construction" or "kernel"
    before: str | None  # the mamba_ssm release that no longer refuses it
    source: str


@dataclass(frozen=True)
class Violation:
    constraint: Constraint
    problem: str  # with the sizes filled in
    values: dict

    @property
    def fails(self) -> str:
        return self.constraint.fails


@lru_cache(maxsize=1)
def catalogue() -> tuple[tuple[Layer, ...], dict[str, Constraint], tuple[dict, ...]]:
    data = load_rules()["MF007"].data
    layers = tuple(Layer(tuple(e["classes"]), e["display"], tuple(e["params"]), tuple(e.get("defaults", {}).items()),
                         tuple((name, expr) for name, expr in e.get("derived", ())), tuple(e["constraints"]))
                   for e in data.get("kernel_layers", ()))
    constraints = {c["id"]: Constraint(c["id"], c["holds"], c["problem"], c["fails"], c["when"], c.get("before"),
                                       c.get("source", "")) for c in data.get("kernel_constraints", ())}
    return layers, constraints, tuple(data.get("kernel_configs", ()))


def layer_for(names: list[str]) -> Layer | None:
    """The layer a constructor names (also a vendored copy of mamba_ssm: `pkg.mamba_ssm.Mamba2`)."""
    for layer in catalogue()[0]:
        if any(names_match(known, name) and name.rsplit(".", 1)[-1] == known.rsplit(".", 1)[-1]
               for name in names if "." in name for known in layer.classes):
            return layer
    return None


def layer_named(display: str) -> Layer | None:
    return next((layer for layer in catalogue()[0] if layer.display == display), None)


def sizes(layer: Layer, given: dict) -> dict:
    """The layer's sizes from the arguments given (a name missing from `given` is unknown; one
    given as None takes the layer's default), with the derived sizes."""
    values = {}
    defaults = dict(layer.defaults)
    for name in layer.params:
        if name in given:
            values[name] = defaults.get(name) if given[name] is DEFAULT else given[name]
    for name, expr in layer.derived:
        try:
            values[name] = evaluate(expr, values)
        except Unknown:
            values.pop(name, None)
    return values


DEFAULT = object()  # an argument not given: the layer's default


def violations(layer: Layer, values: dict, skip_before: bool = False) -> list[Violation]:
    """The constraints the sizes break (those whose sizes are all known); with `skip_before`,
    not those that only older releases enforce."""
    constraints = catalogue()[1]
    out = []
    for cid in layer.constraints:
        constraint = constraints.get(cid)
        if constraint is None or (skip_before and constraint.before):
            continue
        try:
            if evaluate(constraint.holds, values):
                continue
        except Unknown:
            continue
        out.append(Violation(constraint, _fill(constraint.problem, values), values))
    construction = [v for v in out if v.constraint.when == "construction"]
    return construction or out  # a layer that cannot be built never reaches its kernels


def _fill(text: str, values: dict) -> str:
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
           ast.Div: operator.truediv, ast.Mod: operator.mod}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not}


@lru_cache(maxsize=256)
def _parse(expr: str) -> ast.AST:
    return ast.parse(expr, mode="eval").body


def evaluate(expr: str, values: dict):
    """The value of a data expression over the sizes; raises Unknown where it reads one not
    known, ValueError for syntax the data may not use."""
    return _eval(_parse(expr), values)


def _eval(node: ast.AST, values: dict):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise Unknown(node.id)
        return values[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, values), _eval(node.right, values)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
            raise Unknown("not a number")
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise Unknown("division by zero") from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        inner = _eval(node.operand, values)
        return (not inner) if isinstance(node.op, ast.Not) else -inner
    if isinstance(node, ast.BoolOp):
        results = [_eval(v, values) for v in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.IfExp):
        return _eval(node.body, values) if _eval(node.test, values) else _eval(node.orelse, values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, values)
            if type(op) not in _COMPARE:
                raise ValueError(f"comparison {type(op).__name__} in kernel data")
            if not isinstance(op, (ast.Is, ast.IsNot)) and (left is None or right is None):
                raise Unknown("None compared")
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    raise ValueError(f"{type(node).__name__} in kernel data")


def release_before(version: str, before: str) -> bool:
    """Whether a mamba_ssm version string is older than `before` (numbers compared part by part)."""
    def parts(text: str) -> tuple[int, ...]:
        out = []
        for piece in text.split("+")[0].split("."):
            digits = "".join(ch for ch in piece if ch.isdigit())
            if not digits:
                break
            out.append(int(digits))
        return tuple(out)
    return parts(version) < parts(before)
