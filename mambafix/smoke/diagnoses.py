"""What smoke finds besides the scale sweep, and how it is shown: SSM initialization that the
model's construction overwrote (init_watch, MF005's proof), sizes only older mamba_ssm releases
refuse (kernel_limits, MF007's), and with `--dtype float16`/`bfloat16` the same model probed in
float32 beside it (MF006's).

`building` runs in the probe process around the target's construction; the other functions run
in the parent on the outcome's data. A finding here makes smoke exit 1, like an unstable layer."""

from __future__ import annotations

import contextlib

HALF = ("float16", "bfloat16")


class Found:
    def __init__(self, watch, notes_before: int) -> None:
        self.watch, self.notes_before = watch, notes_before

    def result(self, model) -> dict:
        from mambafix.smoke import kernel_limits

        return {"init_overwritten": self.watch.report(model), "kernel_notes": kernel_limits.NOTES[self.notes_before:]}


@contextlib.contextmanager
def building(spec: dict, library: bool = True):
    """Around the target's construction: photograph each SSM layer as it is registered."""
    from mambafix.smoke import kernel_limits
    from mambafix.smoke.init_watch import recording
    from mambafix.smoke.probe import SSM_SIGNATURES, layer_kind

    extra = frozenset(spec.get("extra_classes", []))
    signatures = [tuple(s) for s in spec.get("ssm_signatures") or ()] or SSM_SIGNATURES
    known = frozenset(tuple(k) for k in spec.get("check_layers") or ())

    def is_layer(module) -> bool:
        return layer_kind(module, extra, signatures, known, library) == "mamba"

    with recording(is_layer) as watch:
        yield Found(watch, len(kernel_limits.NOTES))


def findings(data: dict) -> list[str]:
    """The lines smoke prints for one probed target's data (empty when there is nothing)."""
    from mambafix.smoke.init_watch import line

    out = [f"init: {line(e)}" for e in data.get("init_overwritten", ())]
    out += [f"kernels: {note}" for note in data.get("kernel_notes", ())]
    return out


def wants_float32_twin(spec: dict) -> bool:
    return spec.get("dtype") in HALF


def precision_line(half, fp32) -> str:
    """`float32 (same model, same input): STABLE at x1-x100; float16: UNSTABLE at x30 ...: the precision is the cause`."""
    dtype = half.data.get("result", {}).get("dtype", "half") if half.ok else "half"
    if not fp32.ok:
        return f"float32 twin not probed: {fp32.error}"
    span = _span(fp32)
    if not half.ok:
        return f"float32 (same model, same input): {_state(fp32)} at {span}; {dtype}: not probed"
    if fp32.stable and not half.stable:
        return (f"float32 (same model, same input): STABLE at {span}; {dtype}: {_state(half)}: the half precision is "
                "the cause (keep parameters in float32 and use autocast)")
    if not fp32.stable:
        return f"float32 (same model, same input): {_state(fp32)} too: the precision is not the only cause"
    return f"float32 (same model, same input): STABLE at {span}; {dtype}: STABLE too"


def _state(outcome) -> str:
    if outcome.stable:
        return "STABLE"
    bad = [r for r in outcome.data["result"]["layers"] if r["verdict"] != "ok"]
    first = min(bad, key=lambda r: r["scale"]) if bad else None
    return f"UNSTABLE at x{first['scale']:g} ({first['name']} {first['verdict']})" if first else "UNSTABLE"


def _span(outcome) -> str:
    scales = outcome.data["result"]["scales"]
    return f"x{scales[0]:g}-x{scales[-1]:g}"
