"""A plain training loop under `mambafix.watch`: the bundled seed model (seed_model/bimamba.py)
trained on random data at a learning rate that makes it diverge, as the seed's team's run did.

    python examples/watch_training.py                      # raises at the first non-finite layer
    python examples/watch_training.py --lr 1e-3            # a healthy run: profiles only
    python examples/watch_training.py --jsonl watch.jsonl --log-every 5

Without mamba_ssm (no GPU), the model runs on mambafix's pure-PyTorch reference Mamba, registered
under mamba_ssm's names as `mambafix smoke` does; your own training code imports its mamba_ssm
as usual and needs none of that. What the watch adds to a loop is the `with` line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
from pathlib import Path

import torch

import mambafix

sys.path.insert(0, str(Path(__file__).resolve().parent))


def build(d_model: int):
    try:
        import mamba_ssm  # noqa: F401
        if not torch.cuda.is_available():
            raise ImportError
    except ImportError:
        from mambafix.smoke import shim

        shim.install()
    from seed_model.bimamba import BiMamba

    return BiMamba(d_model=d_model, d_state=8, dropout=0.0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--d-model", type=int, default=16)
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--jsonl", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    torch.manual_seed(0)
    model = build(args.d_model)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    with mambafix.watch(model, log_every=args.log_every, jsonl=args.jsonl):
        for step in range(args.steps):
            x = torch.randn(2, args.length, args.d_model)
            y = torch.randn(2, args.length, args.d_model)
            with contextlib.redirect_stdout(io.StringIO()):  # the model's leftover [BiMamba DEBUG] prints
                out = model(x)
            loss = (out - y).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    print(f"{args.steps} steps, final loss {loss.item():.4g}: nothing fired")
    return 0


if __name__ == "__main__":
    sys.exit(main())
