"""Reference backend against the real mamba_ssm kernels on one GPU, same weights, same call.

Run on a machine with CUDA, mamba_ssm and causal_conv1d: python bench/gpu/backends.py
(bench/gpu/run.sh builds the kernels for sm_90 and runs this after the GPU tests).

1. Forward of a 4-layer d_model-100 Mamba stack at batch 8 x length 4096, float32: best of
   5 after 2 warm-ups, CUDA-synchronised, each backend on the same weights.
2. The probe of the bundled example (BiMamba, 2 x 4 layers) at length 1023 over the default
   4 scales, in-process (the model built once per backend, the probe timed).
3. The same probe end to end through `mambafix smoke` (a subprocess each: Python start,
   torch import, build, probe).
Ratios are kernels / reference from this run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mambafix.smoke.probe import run_probe  # noqa: E402
from mambafix.smoke.reference import Mamba as RefMamba  # noqa: E402


def best_of(fn, repeat=5, warmup=2) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def stacks():
    import mamba_ssm

    torch.manual_seed(0)
    real = torch.nn.Sequential(*[mamba_ssm.Mamba(d_model=100) for _ in range(4)]).cuda()
    ref = torch.nn.Sequential(*[RefMamba(d_model=100) for _ in range(4)]).cuda()
    ref.load_state_dict(real.state_dict(), strict=True)
    return {"kernels": real, "reference": ref}


def main() -> None:
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    models = stacks()
    x = torch.randn(8, 4096, 100, device="cuda")
    times = {}
    for name, model in models.items():
        with torch.no_grad():
            times[name] = best_of(lambda: model(x))
        print(f"forward B8 x L4096 x d100 x 4 layers, {name}: {times[name] * 1e3:.2f} ms")
    print(f"  ratio kernels/reference: {times['kernels'] / times['reference']:.3f}")

    sys.path.insert(0, str(ROOT / "examples"))
    import seed_model.bimamba as seed  # imports mamba_ssm.Mamba: the kernels

    probe_times = {}
    for name in ("kernels", "reference"):
        torch.manual_seed(0)
        model = seed.BiMamba()
        if name == "reference":
            import mambafix.smoke.reference as reference
            for direction in (model.forward_layers, model.backward_layers):
                for i, layer in enumerate(direction):
                    ours = reference.Mamba(d_model=100, d_state=16, d_conv=4, expand=2)
                    ours.load_state_dict(layer.state_dict(), strict=True)
                    direction[i] = ours
        model = model.cuda()

        def probe():
            return run_probe(model, lambda g: torch.randn(2, 1023, 100, generator=g), device="cuda", backend=name)

        probe_times[name] = best_of(probe, repeat=3, warmup=1)
        result = probe()
        print(f"probe of BiMamba (2x1023, 4 scales, in-process), {name}: {probe_times[name] * 1e3:.1f} ms, "
              f"stable={result.stable}")
    print(f"  ratio kernels/reference: {probe_times['kernels'] / probe_times['reference']:.3f}")

    from mambafix.smoke.runner import run_smoke

    target = f"{ROOT / 'examples' / 'seed_model' / 'bimamba.py'}:BiMamba"
    e2e = {}
    for name, backend in (("kernels", "auto"), ("reference", "reference")):
        t = time.perf_counter()
        outcome = run_smoke(target, device="cuda", length=1023, backend=backend)
        e2e[name] = time.perf_counter() - t
        print(f"mambafix smoke bimamba.py:BiMamba --length 1023 --device cuda, {name}: {e2e[name]:.2f} s "
              f"(ok={outcome.ok}, stable={outcome.stable})")
    print(f"  ratio kernels/reference: {e2e['kernels'] / e2e['reference']:.3f}")


if __name__ == "__main__":
    main()
