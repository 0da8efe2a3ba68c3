"""Matching a qualified name to the project-wide index of class summaries. Free of libcst (the
engine's cross-file rounds use it before any parse)."""

from __future__ import annotations


def names_match(key: str, qualified: str) -> bool:
    """Whether an index key (a class's full dotted path) is what a qualified name names: the same
    path seen from another root (`models.blocks.Wrap`), or the class re-exported by a package
    above its module (`pkg.block.S4` for `pkg.block.s4_base.S4`)."""
    if key == qualified or key.endswith("." + qualified) or qualified.endswith("." + key):
        return True
    package, _, name = qualified.rpartition(".")
    module, _, key_name = key.rpartition(".")
    return bool(package) and name == key_name and f".{package}." in f".{module}."
