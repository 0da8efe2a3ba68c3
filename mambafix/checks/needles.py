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



# Inside a file the prefilter opened (it names an SSM layer): what MF005 and MF006 need to find
# anything there. MF005: an init hook is applied (`.apply(fn)`) or loops over modules or
# parameters, and something is written in place; MF006: a half dtype, or a cast with `.half()`.
HOOKS = (b"apply(", b"parameters(", b"modules(")
WRITES = (b"init.", b"_()", b"fill_(", b"normal_(", b"uniform_(", b"constant_(", b"zeros_(", b"ones_(", b"copy_(",
          b"mul_(", b"div_(", b"/=")
HALF = (b"float16", b".half(", b"torch.half")


def holds(source: bytes | None, *needle_sets: tuple) -> bool:
    """Whether the bytes (None: unknown, taken as yes) hold one needle of every set."""
    return source is None or all(any(n in source for n in needles) for needles in needle_sets)


# MF007: a mamba_ssm layer (Mamba, Mamba2, Mamba2Simple) or MambaConfig is built.
SIZES = (b"Mamba",)
