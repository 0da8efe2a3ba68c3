"""The facts of every class the target's tree defines in the files it imports: each class's
forward read by `smoke.forward_reading` (what it does with its input), keyed
"resolved-file::Class", the key the probe process builds from a module's class (as
`smoke.check_layers` keys its classes). The target's file and the files of its tree it imports,
transitively, at most MAX_FILES; nothing is imported or run, torch neither.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from mambafix.smoke.forward_reading import Reader, Value, statements_of
from mambafix.syntax.names import dotted

MAX_FILES = 60  # files read for one target: its own and those it imports from its tree


def class_facts(node: cst.ClassDef) -> dict | None:
    """The facts of one class's forward, or None when it has none (or takes no input)."""
    methods = {}
    for stmt in node.body.body:
        if isinstance(stmt, cst.FunctionDef):
            static = any(dotted(d.decorator) == "staticmethod" for d in stmt.decorators)
            methods[stmt.name.value] = (stmt, static)
    forward = methods.get("forward")
    if forward is None:
        return None
    params = [p.name.value for p in forward[0].params.params][1:]
    if not params:
        return None
    reader = Reader({k: v for k, v in methods.items() if k != "forward"})
    returns: list = []
    reader.block(forward[0].body, {params[0]: Value()}, {}, returns)
    transparent = bool(returns) and all(r is not None and not r.ops and not r.through for r in returns)
    return {"param": params[0], "events": reader.events, "transparent": transparent}


def file_facts(path: Path) -> tuple[dict, list[cst.CSTNode]]:
    """({Class: facts}, the file's import statements)."""
    data = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    module = cst.parse_module(data)
    found, imports = {}, []
    todo = list(module.body)
    while todo:
        stmt = todo.pop(0)
        if isinstance(stmt, cst.ClassDef):
            facts = class_facts(stmt)
            if facts is not None:
                found[stmt.name.value] = facts
        elif isinstance(stmt, cst.SimpleStatementLine):
            imports += [s for s in stmt.body if isinstance(s, (cst.Import, cst.ImportFrom))]
        elif isinstance(stmt, (cst.If, cst.Try)):
            todo[:0] = statements_of(stmt.body) + (statements_of(stmt.orelse.body) if getattr(stmt, "orelse", None) is not None
                                                  and not isinstance(stmt.orelse, cst.If) else [])
            todo[:0] = [s for h in getattr(stmt, "handlers", ()) for s in statements_of(h.body)]
    return found, imports


def _imported_files(path: Path, imports, roots: list[Path]) -> list[Path]:
    out = []
    for node in imports:
        if isinstance(node, cst.Import):
            names = [dotted(a.name) or "" for a in node.names]
            bases = [(n, roots) for n in names]
        else:
            module = dotted(node.module) if node.module is not None else ""
            if node.relative:
                folder = path.parent
                for _ in range(len(node.relative) - 1):
                    folder = folder.parent
                search = [folder]
            else:
                search = roots
            subs = [a.name.value for a in node.names] if not isinstance(node.names, cst.ImportStar) else []
            bases = [(module, search)] + [(f"{module}.{s}" if module else s, search) for s in subs]
        for name, folders in bases:
            rel = Path(*name.split(".")) if name else None
            for folder in folders:
                for candidate in ([folder / rel.with_suffix(".py"), folder / rel / "__init__.py"] if rel else []):
                    if candidate.is_file():
                        out.append(candidate.resolve())
    return out


def read_tree(file: str | Path, roots: list[str | Path] = ()) -> dict[str, dict]:
    """{"resolved-file::Class": facts} for the target's file and the tree files it imports."""
    start = Path(file).resolve()
    folders = [Path(r).resolve() for r in roots] + [start.parent]
    seen, todo, out = set(), [start], {}
    while todo and len(seen) < MAX_FILES:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            classes, imports = file_facts(path)
        except (OSError, cst.ParserSyntaxError, RecursionError, ValueError):
            continue
        out.update({f"{path}::{name}": facts for name, facts in classes.items()})
        todo += [p for p in _imported_files(path, imports, folders) if p not in seen]
    return out
