"""What one file's classes build in __init__: stacks, single layers, norms.

Pure structure reading over libcst nodes; no rule logic lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from mambafix.names import dotted
from mambafix.walk import walk

MAMBA, NORM, NORMALIZED, OTHER = "mamba", "norm", "normalized", "other"

_EMPTY = cst.Module(body=[])


def code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


@dataclass
class Element:
    """One module constructor call, classified."""

    kind: str
    display: str = ""
    ctor: cst.Call | None = None
    d_model: cst.BaseExpression | None = None


@dataclass
class Stack:
    """What `self.<attr>` holds: one module, or a container of modules."""

    attr: str
    container: str  # "single", "modulelist", "sequential"
    elements: list[Element] | None = None  # literal list of elements
    repeated: Element | None = None  # comprehension / append-loop element
    count: int | None = None
    count_text: str | None = None
    define: cst.BaseSmallStatement | None = None  # the `self.attr = ...` statement
    insert_after: cst.BaseStatement | None = None  # statement that finishes building it
    value: cst.BaseExpression | None = None
    comp_names: frozenset[str] = frozenset()
    helper: str | None = None

    def all_elements(self) -> list[Element]:
        if self.elements is not None:
            return self.elements
        return [self.repeated] if self.repeated is not None else []

    def kind(self) -> str:
        """The stack's kind when looped over: MAMBA if its Mamba layers are unnormalized."""
        kinds = [e.kind for e in self.all_elements()]
        if not kinds:
            return OTHER
        if self.elements is not None:
            return MAMBA if self.longest_mamba_run() >= 1 else (NORM if all(k == NORM for k in kinds) else (NORMALIZED if NORMALIZED in kinds else OTHER))
        return kinds[0]

    def longest_mamba_run(self) -> int:
        best = run = 0
        for element in self.all_elements():
            if element.kind == MAMBA:
                run += 1
                best = max(best, run)
            elif element.kind in (NORM, NORMALIZED):
                run = 0
        return best

    def display(self) -> str:
        names = [e.display for e in self.all_elements() if e.kind == MAMBA]
        return names[0] if names else "Mamba"

    def uniform_d_model(self) -> cst.BaseExpression | None:
        exprs = [e.d_model for e in self.all_elements() if e.kind == MAMBA]
        if not exprs or any(x is None for x in exprs):
            return None
        texts = {code(x) for x in exprs}
        return exprs[0] if len(texts) == 1 else None


@dataclass
class InitInfo:
    stacks: dict[str, Stack] = field(default_factory=dict)
    attr_names: set[str] = field(default_factory=set)


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


def names_in(node: cst.CSTNode) -> set[str]:
    return {n.value for n in walk(node) if isinstance(n, cst.Name)}


def comprehension_names(comp: cst.ListComp | cst.GeneratorExp) -> frozenset[str]:
    names: set[str] = set()
    clause = comp.for_in
    while clause is not None:
        names |= names_in(clause.target)
        clause = clause.inner_for_in
    return frozenset(names)


def self_attr(expr: cst.BaseExpression) -> str | None:
    """`self.x` -> "x"."""
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
        return expr.attr.value
    return None


def int_value(expr: cst.BaseExpression) -> int | None:
    if isinstance(expr, cst.Integer):
        try:
            return int(expr.value.replace("_", ""), 0)
        except ValueError:
            return None
    return None


def param_defaults(func: cst.FunctionDef) -> dict[str, cst.BaseExpression | None]:
    params = func.params
    out: dict[str, cst.BaseExpression | None] = {}
    for p in (*params.posonly_params, *params.params, *params.kwonly_params):
        out[p.name.value] = p.default
    return out


def param_names(func: cst.FunctionDef) -> list[str]:
    params = func.params
    return [p.name.value for p in (*params.posonly_params, *params.params)]


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


def statements(block) -> list[cst.BaseStatement]:
    body = getattr(block, "body", ())
    return list(body) if isinstance(body, (list, tuple)) else []


def nested_blocks(stmt: cst.BaseStatement) -> list:
    """Statement blocks directly inside a compound statement, in source order."""
    out = []
    if isinstance(stmt, (cst.If,)):
        out.append(stmt.body)
        if stmt.orelse is not None:
            if isinstance(stmt.orelse, cst.If):
                out.extend(nested_blocks(stmt.orelse))
            else:
                out.append(stmt.orelse.body)
    elif isinstance(stmt, (cst.For, cst.While)):
        out.append(stmt.body)
        if stmt.orelse is not None:
            out.append(stmt.orelse.body)
    elif isinstance(stmt, cst.With):
        out.append(stmt.body)
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        out.append(stmt.body)
        out.extend(h.body for h in stmt.handlers)
        if stmt.orelse is not None:
            out.append(stmt.orelse.body)
        if stmt.finalbody is not None:
            out.append(stmt.finalbody.body)
    return out


def small_statements(stmt: cst.BaseStatement) -> list[cst.BaseSmallStatement]:
    return list(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else []
