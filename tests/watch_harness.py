"""Driving real models the way a training run does, for the tests of mambafix.watch.

`Sandbox` imports a model's files in the test process with the reference Mamba registered under
mamba_ssm's names (mambafix.smoke.shim) and takes both back out afterwards (modules, sys.path),
so no other test sees them. `train` runs AdamW on random data with an L1 loss (its gradient is
bounded, so a run diverges through the forward pass, as the seed's did, not through a loss that
overflows first). `manual_first_nonfinite` is the check a person makes by hand, independent of
the watch: a plain `torch.isfinite(out).all()` after every SSM layer in the order they run,
layers chosen by class name.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from real_models import RealModel, write

LR = 0.3  # diverges the unnormalized seed model within 2-4 steps, its normalized versions stay finite


class Sandbox:
    def __init__(self, root: Path):
        self.root = root

    def __enter__(self) -> "Sandbox":
        from mambafix.smoke import shim

        self.modules, self.path = set(sys.modules), list(sys.path)
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)  # 2 shared cores: one thread is faster and steadier here
        shim.install()
        return self

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self.threads)
        self._forget(("mamba_ssm", "causal_conv1d"))
        sys.path[:] = self.path

    def _forget(self, also: tuple[str, ...] = ()) -> None:
        """Take the modules imported from under root (and the packages `also`) out of sys.modules."""
        for name in set(sys.modules) - self.modules:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if name.split(".")[0] in also or origin.startswith(str(self.root)):
                del sys.modules[name]

    def load(self, model: RealModel, apply: str | None = None):
        """(model class, its files' folder): written under root, fixed by apply first when asked
        ("postnorm" or "residual")."""
        from mambafix.checks.base import FixOptions
        from mambafix.fix.apply import apply_paths
        from mambafix.smoke.construct import load_target

        self._forget()  # a second variant of the same files imports afresh
        if any(rel.startswith("mamba_ssm/") for rel in model.files):  # its own package: imported as it is
            self._forget(("mamba_ssm",))
        folder = self.root / (apply or "original")
        target = write(model, folder)
        if apply is not None:
            report = apply_paths([folder / model.name], options=FixOptions(residual=apply == "residual"))
            assert report.changed and not report.remaining, (model.name, report.remaining)
        return load_target(target), folder / model.name

    def build(self, model: RealModel, apply: str | None = None, seed: int = 0, **init):
        from mambafix.smoke.construct import build

        cls, folder = self.load(model, apply)
        torch.manual_seed(seed)
        return build(cls, {**model.init, **init})[0]


def train(model: torch.nn.Module, shape, steps: int, lr: float = LR, seed: int = 0, last: dict | None = None) -> int:
    """AdamW on random inputs and targets; the input of the step running is kept in `last`.
    Returns the number of steps completed."""
    from mambafix.smoke.probe import first_tensor

    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed + 10)
    for step in range(steps):
        x = torch.randn(*shape, generator=gen)
        if last is not None:
            last["x"] = x
        out = first_tensor(model(x))
        loss = (out - torch.randn(out.shape, generator=gen)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps


def manual_first_nonfinite(model: torch.nn.Module, x: torch.Tensor, classes: tuple[str, ...]) -> str | None:
    """The first SSM layer (by class name) whose output holds NaN or inf, in the order they run."""
    seen: list[tuple[str, bool]] = []
    handles = [m.register_forward_hook(lambda mod, args, out, n=n: seen.append((n, bool(torch.isfinite(out).all()))))
               for n, m in model.named_modules() if type(m).__name__ in classes]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return next((n for n, finite in seen if not finite), None)


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
