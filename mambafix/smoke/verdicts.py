"""How the probe judges one layer at one input scale, from what it saw and what surrounds it.

Each scale's rows come in forward order (hooks fire as modules finish). Before judging, every
SSM row is placed (`mark_context`): `bounded` when its output meets a norm before the next SSM
layer runs (post-norm `norm(x + mamba(x))`, or the next pre-norm block's norm); `first` when it
is fed the model's own swept input (the first SSM layer, or a parallel twin on the same input,
such as the flipped branch of a bidirectional pair).

- overflow: non-finite values, or beyond 1% of the dtype's max. Always judged.
- collapse: output RMS below 1e-6 of the model's input RMS. Always judged.
- explosion: an SSM layer, not bounded, whose input was already amplified past 10x the model's
  input and which amplifies it again (compounding). A bounded layer's growth cannot compound:
  the norm after it takes it back.
- gradient explosion / vanishing gradient: an SSM layer, neither bounded nor first, whose
  sensitivity (output-gradient RMS x output RMS) is above 1e3 (below 1e-4) of the last SSM
  layer's while the next SSM layer is already past sqrt of that. A first layer's figure
  measures the sweep's own scaling of its input, and a norm right after a layer makes its
  figure a property of the norm's Jacobian, not of the stack.

The thresholds were calibrated on tests/real_models.py (real repositories' layouts): every one
that normalizes between its layers is STABLE at x1-x100, every unnormalized one that overflows
is UNSTABLE.
"""

from __future__ import annotations

import math

import torch

GROWTH_LIMIT = 10.0  # RMS out / RMS in of one layer
COLLAPSE_FLOOR = 1e-6  # RMS of a layer's output relative to the model's input RMS
SAFE_FRACTION = 0.01  # beyond this share of the dtype's max, call it overflow
GRADIENT_LIMIT = 1e3  # sensitivity of a layer relative to the last layer's: above, gradient explosion
GRADIENT_FLOOR = 1e-4  # below: vanishing gradient
SAME_INPUT = 1e-6  # relative RMS difference under which two SSM rows read the same input


def _same(a: float, b: float) -> bool:
    return a == a and b == b and abs(a - b) <= SAME_INPUT * max(abs(a), abs(b), 1e-30)


def mark_context(rows: list) -> None:
    """Set `bounded` and `first` on one scale's SSM rows (forward order)."""
    ssm = [i for i, r in enumerate(rows) if r.kind == "mamba"]
    if not ssm:
        return
    first_in = rows[ssm[0]].rms_in
    groups: list[list[int]] = []  # consecutive SSM rows on one input: parallel branches
    for i in ssm:
        if groups and groups[-1][-1] == i - 1 and _same(rows[i].rms_in, rows[groups[-1][0]].rms_in):
            groups[-1].append(i)
        else:
            groups.append([i])
    for n, group in enumerate(groups):
        end = groups[n + 1][0] if n + 1 < len(groups) else len(rows)
        bounded = any(rows[j].kind == "norm" for j in range(group[-1] + 1, end))
        for i in group:
            rows[i].bounded = bounded
            rows[i].first = n == 0 or _same(rows[i].rms_in, first_in)


def judge(stat, input_rms: float, dtype: torch.dtype, growth_limit: float = GROWTH_LIMIT,
          floor: float = COLLAPSE_FLOOR) -> str:
    safe = torch.finfo(dtype).max * SAFE_FRACTION
    if stat.nonfinite > 0 or max(abs(stat.min), abs(stat.max)) > safe:
        return "overflow"
    # Explosion is compounding: a layer whose input was already amplified well past the model's
    # input, and which amplifies it again, with no norm after it to take the growth back.
    amplified = stat.rms_in > growth_limit * input_rms
    if (stat.kind == "mamba" and not stat.bounded and amplified and stat.rms > stat.rms_in
            and stat.rms > growth_limit * input_rms):
        return "explosion"
    if stat.rms < floor * max(input_rms, 1e-30):
        return "collapse"
    return "ok"


def judge_gradients(rows: list, limit: float = GRADIENT_LIMIT, floor: float = GRADIENT_FLOOR) -> None:
    """Set grad_ratio and the gradient verdicts of one scale's rows (forward order).

    A row's sensitivity is its output's gradient RMS times that output's RMS: the relative change
    of the loss for a relative change of the tensor, which a layer that only multiplies by a
    gain leaves unchanged. Ratios are taken against the last SSM layer; only SSM layers get a
    gradient verdict (a norm's ratio is shown for reading)."""
    sensitivities = [r.grad_rms * r.rms if r.grad_rms is not None and r.rms == r.rms else None for r in rows]
    layers = [s for r, s in zip(rows, sensitivities) if r.kind == "mamba" and s is not None and math.isfinite(s) and s > 0]
    if not layers:
        return
    last = layers[-1]
    for row, s in zip(rows, sensitivities):
        if s is not None:
            row.grad_ratio = s / last if math.isfinite(s) else float("inf")
    ssm = [r for r in rows if r.kind == "mamba" and r.grad_ratio is not None]
    # Compounding, as for the forward verdicts: the layer is far off the last layer and the SSM
    # layer after it is already well on the way there; its output reaches that layer unbounded,
    # and its input is not the sweep's own.
    for row, after in zip(ssm, ssm[1:]):
        if row.verdict != "ok" or row.bounded or row.first:
            continue
        if not math.isfinite(row.grad_rms) or (row.grad_ratio > limit and after.grad_ratio > math.sqrt(limit)):
            row.verdict = "gradient explosion"
        elif row.grad_ratio < floor and after.grad_ratio < math.sqrt(floor):
            row.verdict = "vanishing gradient"
