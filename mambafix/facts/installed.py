"""Classes of installed packages, read from their source files: the module a qualified name
lives in is found on `sys.path` (the environment that runs check), parsed with libcst and
never imported. A name a package re-exports (`from .modules.simple import Block` in its
`__init__.py`) is followed to the module that defines it."""

from __future__ import annotations

import os
import sys
from functools import lru_cache

import libcst as cst

from mambafix.facts.needles import found
from mambafix.syntax.names import dotted

MAX_SOURCE_BYTES = 2_000_000  # an installed module larger than this is not read
MAX_REEXPORTS = 4  # `from .x import Name` hops followed from a package's __init__


def find_module(module: str) -> str | None:
    """The source file of an installed module (`pkg/sub/mod.py` or `pkg/sub/mod/__init__.py`)."""
    return _find(module, tuple(sys.path))


@lru_cache(maxsize=1024)
def _find(module: str, path: tuple[str, ...]) -> str | None:
    parts = module.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for entry in path:
        if not entry or not os.path.isdir(entry):
            continue
        base = os.path.join(entry, *parts)
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return candidate
    return None


@lru_cache(maxsize=128)
def parse(path: str, needles: tuple) -> cst.Module | None:
    """The module's tree, where its source holds one of the needles (an SSM layer's name or
    parameter, or the class a package re-exports); unread otherwise."""
    try:
        if os.path.getsize(path) > MAX_SOURCE_BYTES:
            return None
        with open(path, "rb") as handle:
            data = handle.read()
        if not any(found(n, data) for n in needles):
            return None
        return cst.parse_module(data)
    except (OSError, cst.ParserSyntaxError, RecursionError, UnicodeDecodeError, ValueError):
        return None


def locate_class(qualified: str, needles: tuple, hops: int = 0) -> tuple[str, cst.Module, str, bool] | None:
    """(module name, its tree, the class's name there, whether the module is a package) for an
    installed class whose module can hold an SSM layer (it names one of `needles`), or None.
    The standard library is never read."""
    module, _, name = qualified.rpartition(".")
    if not module or module.split(".", 1)[0] in sys.stdlib_module_names:
        return None
    path = find_module(module)
    tree = parse(path, needles + (name.encode(),) if hops == 0 and path.endswith("__init__.py") else needles) \
        if path is not None else None
    if tree is None:
        return None
    is_package = path.endswith("__init__.py")
    for stmt in tree.body:
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == name:
            return module, tree, name, is_package
    if hops >= MAX_REEXPORTS:
        return None
    origin = _reexport(tree, name, module if is_package else module.rpartition(".")[0])
    return locate_class(origin, needles, hops + 1) if origin else None


def _reexport(tree: cst.Module, name: str, package: str) -> str | None:
    """Where a module imports `name` from (at its top level, inside try/except too)."""
    for node in _top_imports(tree):
        if isinstance(node.names, cst.ImportStar):
            continue
        for alias in node.names:
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else dotted(alias.name)
            if local != name:
                continue
            base = dotted(node.module) if node.module is not None else ""
            if node.relative:
                parts = package.split(".")
                parts = parts[: len(parts) - len(node.relative) + 1]
                base = ".".join(p for p in (*parts, base) if p)
            return f"{base}.{dotted(alias.name)}" if base else None
    return None


def _top_imports(tree: cst.Module):
    stack = list(tree.body)
    while stack:
        stmt = stack.pop(0)
        if isinstance(stmt, cst.SimpleStatementLine):
            yield from (s for s in stmt.body if isinstance(s, cst.ImportFrom))
        elif isinstance(stmt, (cst.Try, cst.If)):
            stack.extend(getattr(stmt.body, "body", ()))
            for handler in getattr(stmt, "handlers", ()):
                stack.extend(handler.body.body)
