"""Deterministic, realistic Mamba model files built from the MF001 shapes (tests/shapes.py).

Each file: a module docstring, imports, a config dataclass, data and training helpers with
ordinary prints and logging, and a few model classes drawn from the positive and negative
shapes, some with tagged debug prints. About a third of the files are clean models.
Used by the dense benchmark tree (bench/check_speed.py) and by the reliability tests.
"""

from __future__ import annotations

import random
import textwrap

from shapes import HEADER, NEGATIVE, POSITIVE

MODULE_DOC = '''"""{title}.

Experiment code for a sequence encoder built on selective state-space layers.
The configuration below is the one used for the runs in the paper's table {table}.
"""
'''

EXTRA_IMPORTS = """import math
import logging
from dataclasses import dataclass, field

import torch.nn.functional as F

logger = logging.getLogger(__name__)
"""

CONFIG = '''

@dataclass
class {name}Config:
    d_model: int = {d}
    n_layers: int = {n}
    d_state: int = 16
    dropout: float = 0.{drop}
    lr: float = 3e-4
    warmup_steps: int = {warm}
    tags: list = field(default_factory=list)

    def scaled(self, factor: float) -> "{name}Config":
        """A copy with the width scaled, rounded to a multiple of 8."""
        width = int(math.ceil(self.d_model * factor / 8) * 8)
        return {name}Config(width, self.n_layers, self.d_state, self.dropout, self.lr, self.warmup_steps)
'''

HELPERS = [
    '''

def make_batch_{i}(batch_size, length, d_model, device="cpu"):
    """Random inputs and targets for a smoke run."""
    x = torch.randn(batch_size, length, d_model, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    return x, y
''',
    '''

def cosine_lr_{i}(step, total, base_lr, warmup=100):
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * progress))
''',
    '''

def count_parameters_{i}(model):
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"parameters: {{total:,}} ({{trainable:,}} trainable)")
    return total, trainable
''',
    '''

def evaluate_{i}(model, loader, device="cpu"):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x.to(device))
            if logits.dim() == 3:
                logits = logits.mean(dim=1)
            correct += (logits.argmax(-1) == y.to(device)).sum().item()
            total += y.numel()
    logger.info("accuracy %.4f over %d samples", correct / max(total, 1), total)
    return correct / max(total, 1)
''',
    '''

class EarlyStopping{i}:
    """Stops training when the validation loss has not improved for `patience` epochs."""

    def __init__(self, patience=5, min_delta=0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best = float("inf")
        self.bad_epochs = 0

    def step(self, loss):
        if loss < self.best - self.min_delta:
            self.best = loss
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience
''',
]

TRAIN_LOOP = '''

def train_{i}(model, loader, epochs={epochs}, lr=3e-4):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    for epoch in range(epochs):
        model.train()
        running = 0.0
        for step, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            logits = model(x)
            if logits.dim() == 3:
                logits = logits.mean(dim=1)
            loss = F.cross_entropy(logits, y)
            if torch.isnan(loss):
{debug}                break
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            running += loss.item()
        print(f"epoch {{epoch}}: loss {{running / max(1, step + 1):.4f}}")
    return model
'''

DEBUG_LINES = [
    '                print(f"[BiMamba DEBUG] NaN loss at epoch {epoch} step {step}")\n',
    '                print("[S6 DEBUG] logits", logits.abs().max().item())\n',
    '                logger.warning(f"[BiMamba DEBUG] loss is NaN, input RMS {x.pow(2).mean().sqrt():.3e}")\n',
]

FORWARD_DEBUG = '            print(f"[S6 DEBUG] after layer: {x.abs().max().item():.3e}")\n'


def _rename(source: str, name: str) -> str:
    return source.replace("class M(", f"class {name}(").replace("(M,", f"({name},")


def _with_forward_debug(source: str) -> str:
    """Put a tagged print after the first `x = layer(x)` style line of the loop."""
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("x = ") and "layer" in stripped and line.startswith("            "):
            return "".join(lines[: i + 1] + [FORWARD_DEBUG] + lines[i + 1:])
    return source


def model_file(seed: int) -> str:
    """One deterministic model file of about 250-300 lines."""
    rng = random.Random(seed)
    clean = seed % 3 == 0
    parts = [MODULE_DOC.format(title=f"Model family {seed}", table=rng.randint(1, 9)), HEADER, EXTRA_IMPORTS]
    parts.append(CONFIG.format(name=f"Run{seed}", d=rng.choice([64, 100, 128, 256]), n=rng.choice([2, 4, 8]),
                               drop=rng.randint(0, 3), warm=rng.choice([100, 500, 1000])))
    helpers = rng.sample(HELPERS, k=len(HELPERS))
    parts.extend(h.format(i=seed) for h in helpers)
    shapes = NEGATIVE if clean else {**POSITIVE, **NEGATIVE}
    names = rng.sample(sorted(shapes), k=10)
    for k, name in enumerate(names):
        body = textwrap.dedent(shapes[name])
        if not clean and rng.random() < 0.4:
            body = _with_forward_debug(body)
        parts.append("\n" + _rename(body, f"Model{seed}_{k}"))
    debug = "" if clean else "".join(rng.sample(DEBUG_LINES, k=rng.randint(1, 3)))
    parts.append(TRAIN_LOOP.format(i=seed, epochs=rng.randint(5, 50), debug=debug or "                pass\n"))
    return "".join(parts)


def write_tree(folder, count: int) -> list:
    """`count` model files under `folder`, in a few packages; returns their paths."""
    from pathlib import Path

    folder = Path(folder)
    paths = []
    for seed in range(count):
        package = folder / f"pkg{seed % 7}"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").touch()
        path = package / f"model_{seed:03d}.py"
        path.write_text(model_file(seed), encoding="utf-8")
        paths.append(path)
    return paths
