"""Byte strings that a file must contain for a check to have anything to find in it: the
engine's prefilter reads them without parsing. Free of libcst."""

from __future__ import annotations

from mambafix.facts.needles import CLASS_GATE, LAYER_GATE, found, layer_names, minimal  # noqa: F401 - the registry names them here


def markers(config) -> tuple[bytes, ...]:
    """The longest word of each debug marker: it survives a marker split across strings."""
    out = []
    for marker in config.markers:
        words = marker.split()
        out.append(max(words, key=len).encode() if words else marker.encode())
    return minimal(out)

