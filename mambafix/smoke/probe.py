"""Per-layer activation statistics over a sweep of input scales, and a verdict for each."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn

DEFAULT_SCALES = (1.0, 10.0, 30.0, 100.0)
GROWTH_LIMIT = 10.0  # RMS out / RMS in of one layer
COLLAPSE_FLOOR = 1e-6  # RMS of a layer's output relative to the model's input RMS
SAFE_FRACTION = 0.01  # beyond this share of the dtype's max, call it overflow


@dataclass
class LayerStat:
    name: str
    kind: str
    scale: float
    min: float
    max: float
    mean: float
    rms: float
    rms_in: float
    nonfinite: float
    verdict: str = "ok"


@dataclass
class ProbeResult:
    backend: str
    device: str
    dtype: str
    scales: list[float]
    stats: list[LayerStat] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def stable(self) -> bool:
        return not self.errors and all(s.verdict == "ok" for s in self.stats)

    def to_dict(self) -> dict:
        return {"backend": self.backend, "device": self.device, "dtype": self.dtype, "scales": self.scales,
                "stable": self.stable, "errors": self.errors, "layers": [asdict(s) for s in self.stats]}


LAYER_NAMES = {"Mamba", "Mamba2", "Mamba2Simple", "Mamba3"}
NORM_NAMES = {"LayerNorm", "RMSNorm", "GroupNorm", "RMSNormGated"}


def _is_layer(module: nn.Module) -> str | None:
    names = {c.__name__ for c in type(module).__mro__}
    if names & LAYER_NAMES:
        return "mamba"
    if names & NORM_NAMES:
        return "norm"
    return None


def _stats(t: torch.Tensor) -> tuple[float, float, float, float, float]:
    t = t.detach().double()
    finite = torch.isfinite(t)
    share = 1.0 - float(finite.float().mean()) if t.numel() else 0.0
    if share >= 1.0:
        return float("nan"), float("nan"), float("nan"), float("nan"), share
    vals = t[finite] if share > 0 else t.reshape(-1)
    return float(vals.min()), float(vals.max()), float(vals.mean()), float(vals.pow(2).mean().sqrt()), share


def judge(stat: LayerStat, input_rms: float, dtype: torch.dtype, growth_limit: float, floor: float) -> str:
    safe = torch.finfo(dtype).max * SAFE_FRACTION
    if stat.nonfinite > 0 or max(abs(stat.min), abs(stat.max)) > safe:
        return "overflow"
    # Explosion is compounding: a layer whose input was already amplified well past the model's
    # input, and which amplifies it again. One layer fed a large raw input is not flagged on its
    # own: the same first layer sits in a patched and an unpatched stack alike.
    amplified = stat.rms_in > growth_limit * input_rms
    if stat.kind == "mamba" and amplified and stat.rms > stat.rms_in and stat.rms > growth_limit * input_rms:
        return "explosion"
    if stat.rms < floor * max(input_rms, 1e-30):
        return "collapse"
    return "ok"


def run_probe(model: nn.Module, make_input, scales=DEFAULT_SCALES, dtype=torch.float32, device="cpu",
              backend="reference", seed=0, growth_limit=GROWTH_LIMIT, floor=COLLAPSE_FLOOR) -> ProbeResult:
    """`make_input(generator)` returns a unit-scale input; each scale multiplies it."""
    model = model.to(device=device, dtype=dtype).eval()
    result = ProbeResult(backend, str(device), str(dtype).replace("torch.", ""), [float(s) for s in scales])
    hooks, current = [], {}
    named = [(n, m, _is_layer(m)) for n, m in model.named_modules()]
    named = [(n, m, k) for n, m, k in named if k is not None]

    def hook(name, kind):
        def fn(module, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            inp = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            if not isinstance(out, torch.Tensor):
                return
            mn, mx, mean, rms, share = _stats(out)
            rms_in = _stats(inp)[3] if inp is not None else float("nan")
            current.setdefault("rows", []).append(LayerStat(name, kind, current["scale"], mn, mx, mean, rms, rms_in, share))
        return fn

    for name, module, kind in named:
        hooks.append(module.register_forward_hook(hook(name, kind)))
    try:
        for scale in scales:
            generator = torch.Generator(device="cpu").manual_seed(seed)
            x = (make_input(generator) * scale).to(device=device, dtype=dtype)
            current.clear()
            current["scale"] = float(scale)
            with torch.no_grad():
                model(x)
            input_rms = float(x.float().pow(2).mean().sqrt())
            for row in current.get("rows", []):
                row.verdict = judge(row, input_rms, dtype, growth_limit, floor)
                result.stats.append(row)
    finally:
        for h in hooks:
            h.remove()
    if not named:
        result.errors.append("no Mamba-family layer or norm found in the model")
    return result
