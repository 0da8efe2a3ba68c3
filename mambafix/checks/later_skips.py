"""A skip connection written over several statements: the stream kept under another name before
the layer, the layer's output under its own name, rewritten from itself (a mask), then added back:
`residual = x`, `updated = layer(x)`, `updated = updated * mask`, `x = residual + updated`. MF001's
fix finds it here so that the norm goes on that sum and `--residual` adds no second skip."""

from __future__ import annotations

import libcst as cst

from mambafix.flow.values import Site
from mambafix.syntax.nodes import names_in
from mambafix.syntax.walk import walk


def later_sum(site: Site, name: str, stream: str) -> cst.Assign | None:
    """The statement that adds the output (`name`) back to the stream: the output's name is
    followed through the statements after the site's, in the same block, while only statements
    that rewrite it from itself touch it, to the one that assigns the stream a sum of it and the
    stream's value at the layer's input. None where the name goes elsewhere."""
    block, at = _block_of(site)
    if block is None:
        return None
    aliases = {stream} | _aliases_before(block[:at], stream)
    for stmt in block[at + 1:]:
        for small in _assignments(stmt):
            targets = [t.target for t in small.targets]
            used = name in names_in(small.value)
            if len(targets) == 1 and isinstance(targets[0], cst.Name) and targets[0].value == name and used:
                continue  # `updated = updated * mask`: still the output
            if len(targets) == 1 and isinstance(targets[0], cst.Name) and targets[0].value == stream and used \
                    and _sum_with(small.value, name, aliases):
                return small
            if used or any(names_in(t) & ({name} | aliases) for t in targets):
                return None
        if name in names_in(stmt) and not _assignments(stmt):
            return None  # the output read by something else (a call, a return)
    return None


def unpacked_names(stmt) -> list[str]:
    """The plain names a tuple-unpacking assignment binds."""
    targets = stmt.targets[0].target.elements if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 \
        and isinstance(stmt.targets[0].target, (cst.Tuple, cst.List)) else ()
    return [e.value.value for e in targets if isinstance(e.value, cst.Name)]


def _block_of(site: Site) -> tuple[list | None, int]:
    """The statements of the block holding the site's statement, and its position there."""
    scope = site.loops[-1] if site.loops else site.func
    if scope is None:
        return None, -1
    for node in walk(scope):
        body = getattr(node, "body", None)
        if isinstance(body, (list, tuple)):
            for k, stmt in enumerate(body):
                if isinstance(stmt, cst.SimpleStatementLine) and any(small is site.stmt for small in stmt.body):
                    return list(body), k
    return None, -1


def _aliases_before(stmts, stream: str) -> set[str]:
    """Names given the stream's value before the layer runs (`residual = x`), not reassigned since."""
    out: set[str] = set()
    for stmt in stmts:
        for small in _assignments(stmt):
            for t in small.targets:
                if isinstance(t.target, cst.Name):
                    out.discard(t.target.value)
                    if isinstance(small.value, cst.Name) and small.value.value == stream:
                        out.add(t.target.value)
    return out


def _assignments(stmt) -> list[cst.Assign]:
    return [n for n in walk(stmt) if isinstance(n, cst.Assign)]


def _sum_with(value, name: str, aliases: set[str]) -> bool:
    """Whether the value adds the output's name to one of the stream's names."""
    for node in walk(value):
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            left, right = names_in(node.left), names_in(node.right)
            if name in left and right & aliases or name in right and left & aliases:
                return True
    return False
