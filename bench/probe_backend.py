"""Reference Mamba forward: speed and peak memory, against mambapy and a naive per-step loop.

Run: python bench/probe_backend.py   (4 layers, d_model 100, float32, CPU, torch's default threads)

Each (implementation, shape) runs in its own subprocess, so that its peak resident memory is its
own: printed as the process's peak RSS and as the rise above the same process just before the
forward pass (torch and the model loaded). Times are the best of 3 forwards after a warm-up
(1 for the slow baselines). Ratios are against the mambafix reference in the same script run.
"""

from __future__ import annotations

import json
import subprocess
import sys

SHAPES = [(2, 1023), (8, 4096)]
IMPLEMENTATIONS = ["mambafix", "mambapy", "naive"]

CHILD = r'''
import json, resource, sys, time
import torch
impl, batch, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
from mambafix.smoke.reference import Mamba
ours = [Mamba(100) for _ in range(4)]
if impl == "mambafix":
    layers = ours
elif impl == "mambapy":
    from mambapy.mamba import MambaBlock, MambaConfig
    layers = [MambaBlock(MambaConfig(d_model=100, n_layers=1)) for _ in range(4)]
    for theirs, mine in zip(layers, ours):
        theirs.load_state_dict(mine.state_dict())
else:
    import mambafix.smoke.reference as ref
    ref.BLOCK = ref.CHUNK = 1  # one time step per chunk: the plain per-step recurrence
    layers = ours
x = torch.randn(batch, length, 100)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def run():
    with torch.no_grad():
        h = x
        for layer in layers:
            h = layer(h)
    return h
out = run()
repeat = 3 if impl == "mambafix" else 1
best = float("inf")
for _ in range(repeat):
    t = time.perf_counter()
    out = run()
    best = min(best, time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": best, "peak_mb": peak / 1024, "rise_mb": (peak - before) / 1024,
                  "finite": bool(torch.isfinite(out).all()), "threads": torch.get_num_threads()}))
'''


def measure(impl: str, batch: int, length: int) -> dict | None:
    proc = subprocess.run([sys.executable, "-c", CHILD, impl, str(batch), str(length)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {impl}: failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    import os
    import platform

    import torch

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    for batch, length in SHAPES:
        print(f"\nbatch {batch} x length {length}, 4 layers, d_model 100, float32")
        base = None
        for impl in IMPLEMENTATIONS:
            result = measure(impl, batch, length)
            if result is None:
                continue
            base = base or result["seconds"]
            print(f"  {impl:<9} {result['seconds']:8.3f} s  {result['seconds'] / base:6.2f}x   "
                  f"peak RSS {result['peak_mb']:7.0f} MB (+{result['rise_mb']:.0f} MB for the forward)"
                  f"{'' if result['finite'] else '  NON-FINITE OUTPUT'}")


if __name__ == "__main__":
    main()
