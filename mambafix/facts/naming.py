"""Matching a qualified name to the project-wide index of class summaries. Free of libcst (the
engine's cross-file rounds use it before any parse).

`names_match` says whether one index key is what a name names; `NameIndex` answers the same
question for every key at once by lookups (a dict keyed by the runs of each key's dotted path),
so resolving a file's names costs the names, not the names times the index.
"""

from __future__ import annotations

from collections.abc import Iterable


def names_match(key: str, qualified: str) -> bool:
    """Whether an index key (a class's full dotted path) is what a qualified name names: the same
    path seen from another root (`models.blocks.Wrap`), or the class re-exported by a package
    above its module (`pkg.block.S4` for `pkg.block.s4_base.S4`)."""
    if key == qualified or key.endswith("." + qualified) or qualified.endswith("." + key):
        return True
    package, _, name = qualified.rpartition(".")
    module, _, key_name = key.rpartition(".")
    return bool(package) and name == key_name and f".{package}." in f".{module}."


class NameIndex:
    """The index keys, in the order they were added, answering `find(name)`: the first key that
    `names_match` (the same answer as scanning the keys in order, found by lookups).

    For a dotted name `P.N` a key `M.N` matches where P's parts are a contiguous run of M's parts
    (the name seen from another root, a re-export above the module, or the key itself); or where
    the key is a dotted suffix of the name. Every run of every key's module path is a dict entry
    (a path of d parts has d(d+1)/2 runs; module paths are a few parts deep), and a name has as
    many suffixes as parts: adding a key and finding a name each cost their own parts."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._order: dict[str, int] = {}  # key -> position
        self._runs: dict[tuple[str, str], int] = {}  # (run of the module path, class name) -> first position
        self._names: dict[str, int] = {}  # class name -> first position (for an undotted name)
        self._keys: list[str] = []
        for key in keys:
            self.add(key)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._order

    def keys(self) -> list[str]:
        """The keys, in the order they were added."""
        return self._keys

    def add(self, key: str) -> None:
        if key in self._order:
            return
        position = len(self._keys)
        self._order[key] = position
        self._keys.append(key)
        module, _, name = key.rpartition(".")
        self._names.setdefault(name, position)
        parts = module.split(".") if module else []
        for start in range(len(parts)):
            for end in range(start + 1, len(parts) + 1):
                self._runs.setdefault((".".join(parts[start:end]), name), position)

    def find(self, qualified: str) -> str | None:
        """The first key `names_match(key, qualified)`, or None."""
        best = self._order.get(qualified)
        if best == 0:
            return self._keys[0]
        package, _, name = qualified.rpartition(".")
        if package:
            hit = self._runs.get((package, name))
            if hit is not None and (best is None or hit < best):
                best = hit
        start = qualified.find(".")
        while start != -1:  # the keys that are a dotted suffix of the name
            hit = self._order.get(qualified[start + 1:])
            if hit is not None and (best is None or hit < best):
                best = hit
            start = qualified.find(".", start + 1)
        if not package:  # an undotted name: the keys that end with it
            best = self._names.get(name)
        return self._keys[best] if best is not None else None


class ClassIndex(dict):
    """The project-wide index (qualified class name -> summary) with its NameIndex, which grows
    with it through `add`."""

    def __init__(self, items=()) -> None:
        super().__init__(items)
        self.names = NameIndex(self)

    def add(self, key: str, value) -> None:
        """A key not indexed yet (one indexed already keeps its place and value)."""
        if key not in self:
            self[key] = value
            self.names.add(key)


def find(index: dict, qualified: str) -> str | None:
    """The first key of `index` that `names_match` the name, or None (by the index's NameIndex
    where it is a ClassIndex; a plain dict is scanned)."""
    names = getattr(index, "names", None)
    if names is not None:
        return names.find(qualified)
    return next((key for key in index if names_match(key, qualified)), None)
