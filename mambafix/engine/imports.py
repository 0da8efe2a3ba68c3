"""What names of other files a file can look up in the class index, read from its bytes without
parsing (free of libcst): its imports bind local names to qualified ones as the analysis's name
resolver does (syntax/names.py), and every dotted chain it spells (`blocks.Wrap`,
`models.blocks.Wrap`) is qualified through them. The analysis asks the index only for such a
qualified name (a constructor, a base class), so a file none of whose names the index answers
has nothing to learn from a cross-file round. A superset: chains in strings and comments count.
"""

from __future__ import annotations

import re
from pathlib import Path

_STATEMENT = re.compile(rb"(?:^|;)[ \t]*(?:from[ \t]+(\.*)[ \t]*([\w.]*)[ \t]+)?import[ \t]+(\([^)]*\)|[^\n;]*)", re.M)
_FROM_NAME = re.compile(rb"([A-Za-z_]\w*)(?:\s+as\s+([A-Za-z_]\w*))?")
_MODULE_NAME = re.compile(rb"([A-Za-z_][\w.]*)(?:\s+as\s+([A-Za-z_]\w*))?")
_CHAIN = re.compile(rb"[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)+")
_SPACE = re.compile(rb"\s+")
_CONVENTIONAL = {"nn": "torch.nn", "F": "torch.nn.functional"}  # as the resolver reads them


def module_name_for(path: str, root: Path | None) -> str:
    """A file's dotted module name below the project root (its folders that are identifiers)."""
    p = Path(path)
    try:
        rel = p.resolve().relative_to(root) if root is not None else p
    except ValueError:
        rel = p
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(part for part in parts if part.isidentifier())


def package_of(path: str, root: Path | None) -> str:
    """The package a file's relative imports start from."""
    name = module_name_for(path, root)
    if path.endswith("__init__.py"):
        return name
    return name.rsplit(".", 1)[0] if "." in name else ""


def bindings(data: bytes, package: str) -> dict[str, set[str]]:
    """Each local name an import statement binds -> every qualified name it is bound to."""
    out: dict[str, set[str]] = {}
    for match in _STATEMENT.finditer(data.replace(b"\\\n", b" ")):
        dots, module, names = match.group(1), match.group(2), match.group(3).strip(b"()")
        if module is not None:  # `from M import ...`
            base = module.decode("ascii", "replace")
            if dots:
                parts = package.split(".") if package else []
                depth = len(dots)
                kept = parts[: len(parts) - depth + 1] if depth > 1 else parts
                base = ".".join(p for p in (*kept, base) if p)
            for name, alias in _FROM_NAME.findall(names):
                name = name.decode("ascii", "replace")
                local = alias.decode("ascii", "replace") if alias else name
                out.setdefault(local, set()).add(f"{base}.{name}" if base else name)
        else:
            for module_path, alias in _MODULE_NAME.findall(names):
                full = module_path.decode("ascii", "replace")
                if alias:
                    out.setdefault(alias.decode("ascii", "replace"), set()).add(full)
                else:
                    top = full.split(".", 1)[0]
                    out.setdefault(top, set()).add(top)
    return out


def qualified_names(data: bytes, package: str, wanted) -> set[str]:
    """The dotted names the analysis can look up in the index, among those whose last part
    `wanted` accepts: each import target, and each dotted chain with its head qualified."""
    bound = bindings(data, package)
    out = {q for targets in bound.values() for q in targets if "." in q and wanted(q.rpartition(".")[2])}
    for chain in set(_CHAIN.findall(data)):
        chain = _SPACE.sub(b"", chain).decode("ascii", "replace")
        head, _, rest = chain.partition(".")
        if not wanted(rest.rpartition(".")[2]):
            continue
        bases = bound.get(head) or {_CONVENTIONAL.get(head, head)}
        out.update(f"{base}.{rest}" for base in bases)
    return out


def last_parts(data: bytes, package: str, wanted) -> set[str]:
    """The last parts `wanted` accepts of every name `qualified_names` could give."""
    return {q.rpartition(".")[2] for q in qualified_names(data, package, wanted)}
