"""The order in which one file's classes can be read without reading one inside another: a class
after every class it can use, found from the names each definition mentions.

A class's summary is read where another class applies it, so a file whose classes wrap one
another (a wrapper of a wrapper of ...) is read by recursion as deep as the chain. Where that
recursion would go deeper than a fixed bound, the file's facts read the classes the requested one
can reach in this order instead (an explicit worklist, dependencies first), so each is read with
what it uses already known. Classes that mention one another (a cycle) are read as they come.
"""

from __future__ import annotations

import libcst as cst

from mambafix.syntax.walk import walk


def mention_graph(module: cst.Module, classes: dict[str, cst.ClassDef],
                  functions: dict[str, cst.FunctionDef]) -> dict[str, set[str]]:
    """For each class, module-level function and module-level assigned name: the others of these
    that its definition mentions (a superset of what reading it can ask for)."""
    defined: dict[str, list[cst.CSTNode]] = {}
    for name, node in [*classes.items(), *functions.items()]:
        defined.setdefault(name, []).append(node)
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else \
                    [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else []
                for target in targets:
                    if isinstance(target, cst.Name):
                        defined.setdefault(target.value, []).append(small)
    graph: dict[str, set[str]] = {}
    for name, nodes in defined.items():
        mentioned = {n.value for node in nodes for n in walk(node) if type(n) is cst.Name}
        mentioned.discard(name)
        graph[name] = {m for m in mentioned if m in defined}
    return graph


def bottom_up(graph: dict[str, set[str]], start: str, wanted) -> list[str]:
    """The names reachable from `start` (itself left out) that `wanted` accepts, each after the
    names it reaches: a depth-first post-order over an explicit stack. An edge back into the path
    (a cycle) is not followed."""
    order: list[str] = []
    done: set[str] = {start}
    stack = [(start, iter(sorted(graph.get(start, ()))))]
    while stack:
        name, pending = stack[-1]
        for nxt in pending:
            if nxt not in done:
                done.add(nxt)
                stack.append((nxt, iter(sorted(graph.get(nxt, ())))))
                break
        else:
            stack.pop()
            if name != start and wanted(name):
                order.append(name)
    return order
