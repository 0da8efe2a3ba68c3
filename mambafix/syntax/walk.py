"""Fast read-only traversals of a libcst tree.

`CSTNode.visit` rebuilds and re-validates every node it passes, even for a visitor that
changes nothing; on a model file that is most of a check's time. These walkers read the
node dataclasses' fields directly, skip whitespace and punctuation, and build nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Literal

import libcst as cst

# Fields that hold only whitespace, comments or punctuation tokens: never a name, call or statement.
_TOKEN_FIELDS = frozenset({
    "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header",
    "footer", "trailing_whitespace", "newline", "colon", "equal", "dot", "operator",
    "first_colon", "second_colon", "lbracket", "rbracket", "lbrace", "rbrace",
})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:  # a field declared as text (a Name's value, a string's quotes) holds no node
        names = tuple(f.name for f in dataclasses.fields(cls)
                      if not f.name.startswith("whitespace") and f.name not in _TOKEN_FIELDS
                      and f.type is not str and getattr(f.type, "__origin__", None) is not Literal)
        _FIELDS[cls] = names
    return names


class _TypeTest:
    """`issubclass(kind, classes)`, memoized per type. The walkers ask it of every node: libcst's
    node classes are ABCs, so a plain isinstance goes through ABCMeta each time."""

    def __init__(self, classes) -> None:
        self.classes = classes
        self.known: dict[type, bool] = {}

    def __call__(self, kind: type) -> bool:
        found = self.known.get(kind)
        if found is None:
            found = self.known[kind] = issubclass(kind, self.classes)
        return found


_is_node = _TypeTest(cst.CSTNode)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's children that can hold code, in field order."""
    out: list[cst.CSTNode] = []
    for name in _fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is list or kind is tuple:
            out.extend(v for v in value if _is_node(type(v)))
        elif _is_node(kind):
            out.append(value)
    return out


def walk(node: cst.CSTNode, prune: tuple[type, ...] = ()) -> Iterator[cst.CSTNode]:
    """Every node under `node` (itself first), depth first. A node of a `prune` type other
    than `node` itself is yielded but not entered."""
    stack = [node]
    pruned = (_PRUNED.get(prune) or _PRUNED.setdefault(prune, _TypeTest(prune))) if prune else None
    while stack:
        current = stack.pop()
        yield current
        kind = type(current)
        if pruned is not None and current is not node and pruned(kind):
            continue
        if _fields(kind):  # a leaf (a name, a number, a string) has none
            stack.extend(reversed(children(current)))


_PRUNED: dict[tuple, _TypeTest] = {}  # per prune tuple


def _if_blocks(stmt, defs):
    orelse = stmt.orelse
    return [stmt.body] + ([orelse] if isinstance(orelse, cst.If) else ([orelse.body] if orelse else []))


def _loop_blocks(stmt, defs):
    return [stmt.body] + ([stmt.orelse.body] if stmt.orelse else [])


def _try_blocks(stmt, defs):
    return [stmt.body, *(h.body for h in stmt.handlers)] + ([stmt.orelse.body] if stmt.orelse else []) + (
        [stmt.finalbody.body] if stmt.finalbody else [])


_BLOCKS = {
    cst.If: _if_blocks,
    cst.For: _loop_blocks,
    cst.While: _loop_blocks,
    cst.With: lambda stmt, defs: [stmt.body],
    cst.FunctionDef: lambda stmt, defs: [stmt.body] if defs else [],
    cst.ClassDef: lambda stmt, defs: [stmt.body] if defs else [],
    cst.Try: _try_blocks,
    cst.TryStar: _try_blocks,
    cst.Match: lambda stmt, defs: [case.body for case in stmt.cases],
}
_NO_BLOCKS = (lambda stmt, defs: [])
_BY_TYPE: dict[type, object] = {}  # each node type seen -> its blocks (by exact type: isinstance of libcst's
# abstract node classes goes through ABCMeta, and this is called for every statement of every walk)


def blocks_of(stmt: cst.CSTNode, defs: bool = True) -> list:
    """The blocks directly inside a compound statement, in source order: the one statement
    walker every rule uses. A block is an IndentedBlock, a SimpleStatementSuite (`if x: y`), or
    an `elif`'s `If` (which `statements` lists as the one statement of that block, as `ast`
    does). `defs=False` leaves out the bodies of functions and classes."""
    kind = type(stmt)
    blocks = _BY_TYPE.get(kind)
    if blocks is None:
        blocks = _BY_TYPE[kind] = next((f for c, f in _BLOCKS.items() if issubclass(kind, c)), _NO_BLOCKS)
    return blocks(stmt, defs)


_is_own_statement = _TypeTest((cst.SimpleStatementSuite, cst.If))  # a block that is its one statement
_is_one_line = _TypeTest((cst.SimpleStatementLine, cst.SimpleStatementSuite))


def statements(block) -> list:
    """The statements of a block: an IndentedBlock's or a Module's body; a SimpleStatementSuite
    is one line of small statements; an `elif` is its one `If`; anything else has none."""
    if _is_own_statement(type(block)):
        return [block]
    body = getattr(block, "body", ())
    return list(body) if isinstance(body, (list, tuple)) else []


def is_simple(stmt) -> bool:
    return _is_one_line(type(stmt))


def small_statements(stmt) -> list[cst.BaseSmallStatement]:
    """The small statements of a line (`a = 1; b = 2`) or a suite (`if x: a = 1`)."""
    return list(stmt.body) if is_simple(stmt) else []


def walk_statements(block, defs: bool = False) -> Iterator:
    """Every statement in a block at any depth, in source order, a compound statement before
    the statements inside it. Function and class bodies are entered only with `defs`."""
    for stmt in statements(block):
        yield stmt
        for inner in blocks_of(stmt, defs):
            yield from walk_statements(inner, defs)


def statement_order(module: cst.Module) -> list:
    """Every compound statement and every line of simple statements (a SimpleStatementLine, or
    the SimpleStatementSuite after `if x: ...`), at any depth, in source order: a compound
    statement comes before the statements inside it."""
    return list(walk_statements(module, defs=True))


def statement_lines(module: cst.Module) -> list[cst.SimpleStatementLine | cst.SimpleStatementSuite]:
    """Every line of simple statements in the module, at any depth, in source order."""
    return [s for s in walk_statements(module, defs=True) if is_simple(s)]
