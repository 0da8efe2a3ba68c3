"""Byte strings that a file must contain for a check to have anything to find in it: the
engine's prefilter reads them without parsing. Free of libcst."""

from __future__ import annotations


def minimal(needles) -> tuple[bytes, ...]:
    """Drop every needle that contains a shorter one: finding the shorter one suffices."""
    out: list[bytes] = []
    for needle in sorted(set(needles), key=len):
        if not any(kept in needle for kept in out):
            out.append(needle)
    return tuple(out)


def layer_names(config) -> tuple[bytes, ...]:
    """The last component of every Mamba-family layer class, and each alternative of the
    attribute every SSM signature starts with (`A_log`: a home-made selective SSM names no Mamba
    class; a one-letter attribute as `self.A`, which its assignment must contain)."""
    names = [n.rsplit(".", 1)[-1] for n in config.layer_classes]
    for sig in config.ssm_signatures:
        if sig:
            names += [alt if len(alt) > 2 else f"self.{alt}" for alt in sig[0].split("|")]
    return minimal(n.encode() for n in names)


def markers(config) -> tuple[bytes, ...]:
    """The longest word of each debug marker: it survives a marker split across strings."""
    out = []
    for marker in config.markers:
        words = marker.split()
        out.append(max(words, key=len).encode() if words else marker.encode())
    return minimal(out)

