"""The reference backend's copy of what mamba_ssm and its CUDA kernels refuse (MF007's proof on a
CPU machine): each reference layer checks its sizes against rules/MF007.toml when it is built.
A size mamba_ssm asserts, or one every release's kernels refuse, stops the build with the
reason ("the CUDA kernels would reject this"); one that only older releases refuse is noted
for the report and the probe goes on."""

from __future__ import annotations

from mambafix.facts import kernels

NOTES: list[str] = []  # this process's notes: sizes only older releases refuse


class KernelShapeRejected(TypeError):
    """A layer built with sizes mamba_ssm or its CUDA kernels refuse (a user error: one line)."""


def enforce(display: str, **given) -> None:
    layer = kernels.layer_named(display)
    if layer is None:
        return
    values = kernels.sizes(layer, {k: v for k, v in given.items() if k in layer.params})
    broken = kernels.violations(layer, values)
    if not broken:
        return
    shown = ", ".join(f"{k}={v}" for k, v in given.items() if v is not None)
    hard = [v for v in broken if not v.constraint.before]
    if hard:
        raise KernelShapeRejected(f"{display}({shown}): " + "; ".join(f"{v.problem}: {v.fails}" for v in hard))
    for v in broken:
        note = f"{display}({shown}): {v.problem}: {v.fails}"
        if note not in NOTES:
            NOTES.append(note)
