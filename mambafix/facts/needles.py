"""Byte strings a file must contain for an SSM layer to be in it: the prefilter reads them
without parsing, and so does the reader of installed packages before it parses a module.
Free of libcst."""

from __future__ import annotations

import json
from functools import lru_cache


def minimal(needles) -> tuple[bytes, ...]:
    """Drop every needle that contains a shorter one: finding the shorter one suffices."""
    out: list[bytes] = []
    for needle in sorted(set(needles), key=len):
        if not any(kept in needle for kept in out):
            out.append(needle)
    return tuple(out)


@lru_cache(maxsize=8)
def layer_names(config) -> tuple:
    """The last component of every Mamba-family layer class and scan function, the package of
    every modelled third-party SSM class (its import names it), and for each SSM signature what a file assigning it must contain:
    each alternative of its first attribute (`A_log`: a home-made selective SSM names no Mamba
    class), and where that attribute is one letter, the first two parts together (`self.A` and
    `self.D`, as their assignments spell them). A needle that is a tuple matches where all of
    its parts do."""
    names: list = [n.rsplit(".", 1)[-1].encode() for n in config.layer_classes]
    lists = dict(config.flow_lists)
    names += [n.rsplit(".", 1)[-1].encode() for n in lists.get("ssm_functions", ())]
    for raw in config.flow_models:
        for cls in json.loads(raw).get("classes", ()) if '"ssm": true' in raw else ():
            package = cls.split(".", 1)[0]  # a short name only as its import spells it
            names += [package.encode()] if len(package) >= 6 else [f"from {package}".encode(), f"import {package}".encode()]
    for sig in config.ssm_signatures:
        if not sig:
            continue
        first = sig[0].split("|")
        if all(len(alt) > 2 for alt in first) or len(sig) < 2:
            names += [alt.encode() if len(alt) > 2 else f"self.{alt}".encode() for alt in first]
        else:
            second = sig[1].split("|")
            names += [(f"self.{a} =".encode(), f"self.{b} =".encode()) for a in first for b in second]
    plain = minimal(_shared_prefixes([n for n in names if isinstance(n, bytes)]))
    together = tuple(dict.fromkeys(n for n in names if isinstance(n, tuple)
                                   and not any(p in part for p in plain for part in n)))
    return plain + together


def _shared_prefixes(names: list[bytes], at_least: int = 6) -> list[bytes]:
    """Needles that share a prefix of `at_least` bytes or more, replaced by that prefix (one scan
    instead of several: `mamba_inner_fn`, `mamba_chunk_scan_combined` -> `mamba_`)."""
    ordered = sorted(set(names))  # the longest prefix a name shares is with a neighbour in order
    out = []
    for i, name in enumerate(ordered):
        near = [ordered[j] for j in (i - 1, i + 1) if 0 <= j < len(ordered)]
        shared = max((_common(name, other) for other in near), key=len, default=b"")
        out.append(shared if len(shared) >= at_least and shared.replace(b"_", b"").isalnum() else name)
    return out


def _common(a: bytes, b: bytes) -> bytes:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def found(needle, data: bytes) -> bool:
    """Whether `data` contains the needle (every part of a tuple needle)."""
    return needle in data if isinstance(needle, bytes) else all(part in data for part in needle)


# MF001 reads PyTorch code: a file that names neither torch nor the Mamba family holds no SSM
# layer it could report, so its needles are not even looked for (one or two scans for most of
# a tree that is not a model's). Files it skips are still read in a cross-file round where they
# name a class the project index knows.
LAYER_GATE = (b"torch", b"amba")
# Its findings and the summaries it exports are all in classes: a file with no class statement is
# not parsed for it (the keyword and what may follow it before the name).
CLASS_GATE = (b"class ", b"class\t", b"class\\", b"class\x0c")
