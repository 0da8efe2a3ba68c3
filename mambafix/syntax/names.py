"""Import resolution: which local names stand for which qualified names.

Only the file's own import statements are read (anywhere, also inside try/except);
nothing is imported or executed.
"""

from __future__ import annotations

import libcst as cst

# Conventional aliases that resolve even when their import is not in view.
_CONVENTIONAL = {"nn": "torch.nn", "F": "torch.nn.functional"}


def dotted(expr: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = dotted(expr.value)
        return f"{base}.{expr.attr.value}" if base else None
    return None


def _module_text(node: cst.BaseExpression | None) -> str:
    return dotted(node) or "" if node is not None else ""


class NameResolver:
    """Which qualified names each local name stands for. A name imported in several places
    (try/except fallbacks, if/else on the platform, later re-imports) stands for all of them:
    `bindings` keeps every one, `aliases` the last (the one `qualify` gives)."""

    def __init__(self, package: str = "") -> None:
        self.package = package  # dotted package of the file, for relative imports
        self.aliases: dict[str, str] = {}
        self.bindings: dict[str, list[str]] = {}
        self.star_modules: list[str] = []

    def _bind(self, local: str, full: str, replace: bool = True) -> None:
        if replace or local not in self.aliases:
            self.aliases[local] = full
        known = self.bindings.setdefault(local, [])
        if full not in known:
            known.append(full)

    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._bind(alias.asname.name.value, full)
            else:
                top = full.split(".", 1)[0]
                self._bind(top, top, replace=False)

    def add_import_from(self, node: cst.ImportFrom) -> None:
        module = _module_text(node.module)
        if node.relative:
            depth = len(node.relative)
            parts = self.package.split(".") if self.package else []
            base = parts[: len(parts) - depth + 1] if depth > 1 else parts
            module = ".".join(p for p in (*base, module) if p)
        if isinstance(node.names, cst.ImportStar):
            self.star_modules.append(module)
            return
        for alias in node.names:
            name = dotted(alias.name) or ""
            local = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else name
            self._bind(local, f"{module}.{name}" if module else name)

    def qualify(self, expr: cst.BaseExpression) -> str | None:
        text = dotted(expr)
        if text is None:
            return None
        head, _, rest = text.partition(".")
        if head in self.aliases:
            base = self.aliases[head]
        elif head in _CONVENTIONAL:
            base = _CONVENTIONAL[head]
        else:
            base = head
        return f"{base}.{rest}" if rest else base

    def candidates(self, expr: cst.BaseExpression) -> list[str]:
        """Every qualified name the expression can stand for: the last binding first, then the
        others (a try/except fallback), plus what a star import could make of a bare name."""
        q = self.qualify(expr)
        if q is None:
            return []
        out = [q]
        head, _, rest = (dotted(expr) or "").partition(".")
        for base in reversed(self.bindings.get(head, ())):
            name = f"{base}.{rest}" if rest else base
            if name not in out:
                out.append(name)
        if isinstance(expr, cst.Name) and expr.value not in self.aliases:
            out.extend(f"{m}.{expr.value}" for m in self.star_modules)
        return out


class Family:
    """A set of qualified names; entries without a dot match any name with that last part."""

    def __init__(self, names: tuple[str, ...] | list[str]) -> None:
        self.full = {n for n in names if "." in n and not n.endswith(".*")}
        self.bare = {n for n in names if "." not in n}
        self.prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))
        self.suffix_wild = {n[2:] for n in names if n.startswith("*.")}

    def match(self, qualified: str | None) -> bool:
        if not qualified:
            return False
        if qualified in self.full:
            return True
        last = qualified.rsplit(".", 1)[-1]
        if last in self.bare:
            return True
        if self.prefixes and qualified.startswith(self.prefixes):
            return True
        return "." in qualified and last in self.suffix_wild

    def match_any(self, names: list[str]) -> str | None:
        for name in names:
            if self.match(name):
                return name
        return None
