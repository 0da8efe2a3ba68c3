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
    """The last component of every Mamba-family layer class, and the attribute every SSM
    signature starts with (`A_log`: a home-made selective SSM names no Mamba class)."""
    names = [n.rsplit(".", 1)[-1] for n in config.layer_classes] + [sig[0] for sig in config.ssm_signatures if sig]
    return minimal(n.encode() for n in names)


def markers(config) -> tuple[bytes, ...]:
    """The longest word of each debug marker: it survives a marker split across strings."""
    out = []
    for marker in config.markers:
        words = marker.split()
        out.append(max(words, key=len).encode() if words else marker.encode())
    return minimal(out)

