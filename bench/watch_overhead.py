"""What `mambafix.watch` costs a training step of the bundled model, paired against the same step
without it.

Run: python bench/watch_overhead.py [--length 256] [--batch 2] [--steps 20] [--gradients] [--threads 1]

The bundled example's BiMamba (examples/seed_model/bimamba.py: 2 x 4 Mamba layers, d_model 100,
d_state 16, the seed's size) on the reference Mamba (mambafix.smoke.reference, registered under
mamba_ssm's names as smoke does where mamba_ssm is absent), or on mamba_ssm's kernels with
--device cuda where they are installed. Three copies with the same weights, one watched (default
options: norms and SSM layers hooked, growth judged, no backward hooks unless --gradients) and
two not (the baseline and an A/A control), each with its own AdamW at a learning rate that keeps
it finite, take the same random batch in turn, the order rotating every round, after 3 warm-up
rounds. Printed: each side's median step time, the ratio of the medians to the baseline's, and
the median and quartiles of the per-round ratios; the control's ratio is the noise floor of the
run (an unwatched copy against an unwatched copy). The goal is a ratio <= 1.05.

On a shared machine wall-clock pairs scatter by +-10-20% whatever the watch does (other
processes take the cores in turn), so each step is also timed in CPU time of this process
(time.process_time: what the step itself computed, with one torch thread), paired and printed
the same way; and the script prints the watch's own work: the time spent inside its hooks and its
end-of-forward read-back (perf_counter around each, about 0.1 us apiece), per step and as a share
of the unwatched median. That is what the watch adds to a step, bar torch's own dispatch of a
module with hooks.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_bimamba(device: str):
    import torch

    from mambafix.smoke import shim

    if device == "cpu" or not shim.real_backend_available():
        shim.install()
    path = ROOT / "examples" / "seed_model" / "bimamba.py"
    spec = importlib.util.spec_from_file_location("seed_bimamba", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_bimamba"] = module
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    return module.BiMamba


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="timed rounds (one step of each copy)")
    parser.add_argument("--gradients", action="store_true", help="backward hooks too")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: two threads on 2 shared cores oversubscribe them, and a "
                             "step takes 3-4x longer and varies; 0: torch's default)")
    args = parser.parse_args()

    import contextlib
    import io

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    BiMamba = load_bimamba(args.device)
    plain = BiMamba(d_model=100, n_layers=4, d_state=16).to(args.device)
    control, watched = copy.deepcopy(plain), copy.deepcopy(plain)
    models = {"plain": plain, "control": control, "watched": watched}
    opts = {id(m): torch.optim.AdamW(m.parameters(), lr=1e-4) for m in models.values()}
    gen = torch.Generator().manual_seed(1)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def step(model, x, y) -> tuple[float, float]:
        sync()
        start, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):  # the example's own [BiMamba DEBUG] prints
            loss = (model(x) - y).pow(2).mean()
        opts[id(model)].zero_grad(set_to_none=True)
        loss.backward()
        opts[id(model)].step()
        sync()
        return time.perf_counter() - start, time.process_time() - cpu

    from mambafix.guard.watcher import Watcher

    spent = [0.0]

    def timed(fn):
        def run(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[0] += time.perf_counter() - start
        return run

    class Timed(Watcher):  # the same watch, with a clock around everything it runs per step
        def _layer_hook(self, index):
            return timed(super()._layer_hook(index))

        def _grad_hook(self, position, generation):
            return timed(super()._grad_hook(position, generation))

    Timed.begin_step, Timed.end_forward = timed(Watcher.begin_step), timed(Watcher.end_forward)

    times = {side: [] for side in models}
    cpu_times = {side: [] for side in models}
    inside = []
    with Timed(watched, gradients=args.gradients, advice=False).attach() as w:
        print(f"watching {len(w.layers)} modules: {', '.join(l.name for l in w.layers)}")
        for n in range(args.steps + 3):
            x = torch.randn(args.batch, args.length, 100, generator=gen).to(args.device)
            y = torch.randn(args.batch, args.length, 100, generator=gen).to(args.device)
            sides = list(models)
            for side in sides[n % 3:] + sides[:n % 3]:
                before = spent[0]
                elapsed, cpu = step(models[side], x, y)
                if n >= 3:
                    times[side].append(elapsed)
                    cpu_times[side].append(cpu)
                    if side == "watched":
                        inside.append(spent[0] - before)
        assert not w.events, [e.headline for e in w.events]
        recorded = len(w.history)
    assert recorded and not watched._forward_hooks, "the watch recorded nothing, or left a hook"
    print(f"device {args.device}, threads {torch.get_num_threads()}, batch {args.batch} x length {args.length}, "
          f"{args.steps} rounds, gradients {'on' if args.gradients else 'off'}")
    for label, table in (("wall", times), ("cpu", cpu_times)):
        a = statistics.median(table["plain"])
        for side, what in (("watched", "with watch"), ("control", "A/A control")):
            b = statistics.median(table[side])
            q1, q2, q3 = statistics.quantiles(sorted(o / p for p, o in zip(table["plain"], table[side])), n=4)
            print(f"{label:>4} {what}: median step {b * 1e3:.1f} ms against {a * 1e3:.1f} ms, ratio {b / a:.3f}; "
                  f"per-round ratio median {q2:.3f} (quartiles {q1:.3f}-{q3:.3f})")
    a = statistics.median(times["plain"])
    own = statistics.median(inside)
    print(f"the watch's own work per step: median {own * 1e3:.2f} ms, {own / a:.2%} of the unwatched median step")


if __name__ == "__main__":
    main()
