"""Per-layer activation and gradient statistics over a sweep of input scales, and a verdict for each.

Layers are found by class name (mamba_ssm's, plus the configured extra classes) and by
structure: a module that owns the selective-SSM attributes of one of the signatures in
rules/families.toml (`A_log` with `D`, `dt_proj`, `x_proj` or `dt_bias`) is an SSM layer
whatever its class is called. After each scale's forward pass, one backward
pass of a scale-invariant loss gives each layer's output gradient; a layer's sensitivity is
that gradient's RMS times the output's RMS (unchanged when layers only rescale), and an SSM
layer's sensitivity far above the last SSM layer's is a gradient explosion, far below a
vanishing gradient.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from mambafix.catalogue import load_families
from mambafix.smoke.verdicts import COLLAPSE_FLOOR, GROWTH_LIMIT, judge, judge_gradients, mark_context

DEFAULT_SCALES = (1.0, 10.0, 30.0, 100.0)


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
    grad_rms: float | None = None  # RMS of d(loss)/d(output); None where no gradient reached it
    grad_ratio: float | None = None  # sensitivity relative to the last layer's
    bounded: bool = False  # an SSM layer whose output meets a norm before the next SSM layer
    first: bool = False  # an SSM layer fed the model's own (swept) input: the first, or a parallel twin


@dataclass
class ProbeResult:
    backend: str
    device: str
    dtype: str
    scales: list[float]
    stats: list[LayerStat] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    gradients: bool = True

    @property
    def stable(self) -> bool:
        return not self.errors and all(s.verdict == "ok" for s in self.stats)

    def to_dict(self) -> dict:
        return {"backend": self.backend, "device": self.device, "dtype": self.dtype, "scales": self.scales,
                "stable": self.stable, "errors": self.errors, "gradients": self.gradients, "layers": [asdict(s) for s in self.stats]}


LAYER_NAMES = {"Mamba", "Mamba2", "Mamba2Simple", "Mamba3"}
LAYER_MODULES = ("mamba_ssm", "mambafix.smoke.reference")  # where those names are mamba_ssm's layers
NORM_NAMES = {"LayerNorm", "RMSNorm", "GroupNorm", "RMSNormGated"}
# rules/families.toml's ssm_signatures, each part a set of alternatives ("D|dt_proj")
SSM_SIGNATURES = tuple(tuple(frozenset(part.split("|")) for part in sig) for sig in load_families()["ssm_signatures"])


def _alternatives(part) -> frozenset:
    """One part of a signature: "D|dt_proj" (as configured) or a set of names."""
    return frozenset(part.split("|")) if isinstance(part, str) else frozenset(part)


def layer_kind(module: nn.Module, extra: frozenset[str] = frozenset(), signatures=SSM_SIGNATURES,
               known: frozenset[tuple[str, str]] = frozenset(), library: bool = True) -> str | None:
    """"mamba" for an SSM layer: mamba_ssm's (or the reference's) layer classes, a configured
    extra class (a dotted name matches module.Class, a bare name any class so named), a class
    check summarises as a Mamba-family layer (`known`: (file, class) from smoke.check_layers),
    or any module that owns the selective-SSM attributes of one signature (rules/families.toml);
    `library=False` where the target's tree has its own package named mamba_ssm (then its class
    names say nothing);
    "norm" for a normalization; None for anything else. A user's class that is merely called
    Mamba (a whole language model, say) is not a layer unless its own attributes say so."""
    cls = type(module)
    own = set(module._parameters) | set(module._modules)
    if any(all(_alternatives(part) & own for part in sig) for sig in signatures):
        return "mamba"
    for klass in cls.__mro__:
        qualified = f"{klass.__module__}.{klass.__qualname__}"
        if library and klass.__name__ in LAYER_NAMES and klass.__module__.startswith(LAYER_MODULES):
            return "mamba"
        if qualified in extra or klass.__name__ in extra:
            return "mamba"
    if known and (_source_file(cls), cls.__name__) in known:
        return "mamba"
    if {c.__name__ for c in cls.__mro__} & NORM_NAMES:
        return "norm"
    return None


def _source_file(cls) -> str | None:
    try:
        return str(Path(inspect.getsourcefile(cls)).resolve())
    except (TypeError, OSError):
        return None


def outermost_dropped(named: list[tuple[str, nn.Module, str]]) -> list[tuple[str, nn.Module, str]]:
    """A layer holding another SSM layer (a thin wrapper check also calls a layer) is one layer:
    the innermost is probed."""
    ssm = [n for n, _, k in named if k == "mamba"]
    return [(n, m, k) for n, m, k in named
            if k != "mamba" or not any(o != n and o.startswith(f"{n}." if n else "") for o in ssm)]


def _stats(t: torch.Tensor) -> tuple[float, float, float, float, float]:
    t = t.detach().double()
    finite = torch.isfinite(t)
    share = 1.0 - float(finite.float().mean()) if t.numel() else 0.0
    if share >= 1.0:
        return float("nan"), float("nan"), float("nan"), float("nan"), share
    vals = t[finite] if share > 0 else t.reshape(-1)
    return float(vals.min()), float(vals.max()), float(vals.mean()), float(vals.pow(2).mean().sqrt()), share


def all_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """named_modules(), plus modules kept in plain Python lists or tuples (`self.layers = [...]`):
    those are not registered, so torch does not see them, but the model still calls them."""
    found, seen = [], set()

    def visit(prefix: str, module: nn.Module) -> None:
        if id(module) in seen:
            return
        seen.add(id(module))
        found.append((prefix, module))
        for name, child in module._modules.items():
            if child is not None:
                visit(f"{prefix}.{name}" if prefix else name, child)
        for name, value in vars(module).items():
            if isinstance(value, (list, tuple)) and value and all(isinstance(v, nn.Module) for v in value):
                for i, child in enumerate(value):
                    visit(f"{prefix}.{name}[{i}]" if prefix else f"{name}[{i}]", child)

    visit("", model)
    return found


def first_tensor(output):
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        for item in output:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


def run_probe(model: nn.Module, make_input, scales=DEFAULT_SCALES, dtype=torch.float32, device="cpu",
              backend="reference", seed=0, growth_limit=GROWTH_LIMIT, floor=COLLAPSE_FLOOR,
              extra_classes: frozenset[str] = frozenset(), gradients: bool = True, scale_at=None,
              signatures=SSM_SIGNATURES, call=None, known: frozenset[tuple[str, str]] = frozenset(),
              library: bool = True) -> ProbeResult:
    """`make_input(generator)` returns a unit-scale input; each scale multiplies it. For integer
    inputs (tokens), `scale_at` is the module (the embedding) whose output each scale multiplies.
    `call(model, x)` runs the model (default `model(x)`; the forward's other arguments)."""
    model = model.to(device=device, dtype=dtype).eval()
    registered = {id(m) for m in model.modules()}
    for _, module in all_modules(model):  # unregistered modules (plain lists) move too
        if id(module) not in registered:
            module.to(device=device, dtype=dtype).train(False)
    result = ProbeResult(backend, str(device), str(dtype).replace("torch.", ""), [float(s) for s in scales],
                         gradients=gradients)
    hooks, current = [], {}
    named = [(n, m, layer_kind(m, extra_classes, signatures, known, library)) for n, m in all_modules(model)]
    named = outermost_dropped([(n, m, k) for n, m, k in named if k is not None])
    if not any(k == "mamba" for _, _, k in named):
        result.errors.append("no SSM layer found in the model (no mamba_ssm layer, no module with A_log and D "
                             "parameters, no configured extra-layer-classes)")
        return result

    def hook(name, kind):
        def fn(module, inputs, output):
            out = first_tensor(output)
            inp = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            if out is None:
                return
            mn, mx, mean, rms, share = _stats(out)
            rms_in = _stats(inp)[3] if inp is not None and inp.is_floating_point() else float("nan")
            row = LayerStat(name, kind, current["scale"], mn, mx, mean, rms, rms_in, share)
            current.setdefault("rows", []).append(row)
            if gradients and out.requires_grad:
                out.register_hook(lambda g, row=row: setattr(row, "grad_rms", _grad_rms(g)))
        return fn

    def scale_output(module, inputs, output):
        current["input"] = output * current["scale"]
        return current["input"]

    for name, module, kind in named:
        hooks.append(module.register_forward_hook(hook(name, kind)))
    if scale_at is not None:
        hooks.append(scale_at.register_forward_hook(scale_output))
    try:
        for scale in scales:
            generator = torch.Generator(device="cpu").manual_seed(seed)
            raw = make_input(generator)
            x = raw.to(device=device) if scale_at is not None else (raw * scale).to(device=device, dtype=dtype)
            current.clear()
            current["scale"] = float(scale)
            with torch.set_grad_enabled(gradients):
                out = first_tensor(call(model, x) if call is not None else model(x))
                if gradients and out is not None and out.requires_grad and bool(torch.isfinite(out).all()):
                    # A fixed random direction: a loss along the output itself would be
                    # cancelled exactly by a final norm's backward (it is scale-invariant).
                    direction = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 1)).to(out.device)
                    norm = out.detach().float().pow(2).mean().sqrt().clamp_min(1e-30)
                    (out.float() * direction).mean().div(norm).backward()
            model.zero_grad(set_to_none=True)
            seen = current.get("input", x)
            input_rms = float(seen.detach().float().pow(2).mean().sqrt())
            rows = current.get("rows", [])
            mark_context(rows)
            for row in rows:
                row.verdict = judge(row, input_rms, dtype, growth_limit, floor)
            if gradients:
                judge_gradients(rows)
            result.stats.extend(rows)
    finally:
        for h in hooks:
            h.remove()
    return result


def _grad_rms(grad: torch.Tensor) -> float:
    g = grad.detach().double()
    return float(g.pow(2).mean().sqrt()) if g.numel() else float("nan")
