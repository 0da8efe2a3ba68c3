"""`--plot`: one column per probed model (before and after, with `--compare`), two rows: the SSM
layers' output RMS and their gradient figure, layer by layer in depth order.

SSM layers are the x axis by name (shortened; the full names in a table under the axes when
shortening changed them) and each input scale is one coloured line ("input x10"); the norms are
separate hollow markers between the layers they follow, never part of the line. A non-finite
or overflowing value is drawn as a red triangle on the top edge with its layer named, so the
reader sees where it blew up. Every panel of a row shares its y axis; the verdict is in the
title. `figure()` returns the matplotlib figure for tests to read; `plot()` writes the PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

BLEW_UP = "non-finite or overflow"
MAX_LABEL = 18


def _order(result: dict) -> list[str]:
    """SSM layer names in forward order, as first seen."""
    return list(dict.fromkeys(r["name"] for r in result["layers"] if r["kind"] == "mamba"))


def short_names(names: list[str]) -> list[str]:
    """Names too long for a tick label lose the dotted prefix they all share, then are cut to
    MAX_LABEL characters from the right."""
    parts = [n.split(".") for n in names]
    common = 0
    while (len(parts) > 1 and any(len(".".join(p[common:])) > MAX_LABEL for p in parts)
           and all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1):
        common += 1
    out = [".".join(p[common:]) for p in parts]
    return [n if len(n) <= MAX_LABEL else "…" + n[-(MAX_LABEL - 1):] for n in out]


def _stacks(names: list[str]) -> list[list[int]]:
    """Positions of consecutive layers of one stack (`forward_layers.0..3`, then `backward_layers.0..3`)."""
    spans: list[list[int]] = []
    for i, name in enumerate(names):
        stack = name.rsplit(".", 1)[0] if name.rsplit(".", 1)[-1].isdigit() else name.split(".")[0]
        prev = names[i - 1] if i else None
        prev_stack = (prev.rsplit(".", 1)[0] if prev.rsplit(".", 1)[-1].isdigit() else prev.split(".")[0]) if prev else None
        if spans and stack == prev_stack:
            spans[-1].append(i)
        elif spans and "." not in name and "." not in (prev or ""):
            spans[-1].append(i)
        else:
            spans.append([i])
    return spans


SEVERITY = ("overflow", "explosion", "gradient explosion", "collapse", "vanishing gradient")


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def verdict_title(outcome) -> str:
    name = outcome.target.rsplit(":", 1)[-1]
    if outcome.stable:
        scales = outcome.data["result"]["scales"]
        return f"{name}: STABLE at x{scales[0]:g}-x{scales[-1]:g}"
    bad = [r for r in outcome.data["result"]["layers"] if r["verdict"] != "ok"]
    first = min(bad, key=lambda r: (SEVERITY.index(r["verdict"]) if r["verdict"] in SEVERITY else 9, r["scale"])) if bad else None
    return f"{name}: UNSTABLE" + (f" ({first['verdict']} at x{first['scale']:g}: {first['name']})" if first else "")


def _blew_up(row: dict) -> bool:
    return row["verdict"] == "overflow" or not _finite(row["rms"]) or row.get("nonfinite", 0) > 0


def _panel(ax, result: dict, key: str, colors: dict, top: float):
    """One panel: a line per scale over the SSM layers, norms as markers, blow-ups on the top edge."""
    names = _order(result)
    where = {n: i for i, n in enumerate(names)}
    for scale in result["scales"]:
        rows = [r for r in result["layers"] if r["scale"] == scale]
        ssm = {r["name"]: r for r in rows if r["kind"] == "mamba"}
        ys = [ssm[n][key] if n in ssm and _finite(ssm[n][key]) and not _blew_up(ssm[n]) else float("nan") for n in names]
        for g, span in enumerate(_stacks(names)):  # one line per stack: no line from one stack into the next
            ax.plot(span, [ys[i] for i in span], marker="o", color=colors[scale], label=f"input x{scale:g}" if g == 0 else None)
        after, norm_x, norm_y = -1, [], []
        for r in rows:
            if r["kind"] == "mamba":
                after = where.get(r["name"], after)
            elif r["kind"] == "norm" and _finite(r[key]) and not _blew_up(r):
                norm_x.append(after + 0.5)
                norm_y.append(r[key])
        if norm_x:
            ax.scatter(norm_x, norm_y, marker="s", facecolors="none", edgecolors=colors[scale], s=28,
                       label="norm (after the layer)" if scale == result["scales"][0] else None)
        blown = [n for n in names if n in ssm and _blew_up(ssm[n])]
        if blown:
            ax.scatter([where[n] for n in blown], [top] * len(blown), marker="^", color="red", s=70, clip_on=False,
                       zorder=5, label=BLEW_UP if not ax.get_legend_handles_labels()[1].count(BLEW_UP) else None)
            ax.annotate(f"{short_names(names)[where[blown[0]]]} x{scale:g}", (where[blown[0]], top), fontsize=7,
                        color="red", xytext=(4, -10 - 9 * result["scales"].index(scale)), textcoords="offset points")
    labels = short_names(names)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax.set_yscale("log")
    return names, labels


def _limits(outcomes, key: str) -> tuple[float, float]:
    values = [r[key] for o in outcomes for r in o.data["result"]["layers"] if _finite(r[key]) and r[key] > 0
              and not _blew_up(r)]
    if not values:
        return 1e-3, 1e3
    return min(values) / 3, max(values) * 10


def figure(outcomes: list):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = list(dict.fromkeys(s for o in outcomes for s in o.data["result"]["scales"]))
    cmap = plt.get_cmap("viridis")
    colors = {s: cmap(i / max(len(scales) - 1, 1)) for i, s in enumerate(scales)}
    rows = [("rms", "output RMS (SSM layers)")]
    if any(o.data["result"].get("gradients") for o in outcomes):
        rows.append(("grad_ratio", "gradient figure, relative to the last SSM layer"))
    fig, axes = plt.subplots(len(rows), len(outcomes), figsize=(6.5 * len(outcomes), 4.2 * len(rows) + 0.8),
                             squeeze=False, sharey="row")
    for row, (key, label) in enumerate(rows):
        low, high = _limits(outcomes, key)
        for column, outcome in enumerate(outcomes):
            ax = axes[row][column]
            ax.set_ylim(low, high)
            names, labels = _panel(ax, outcome.data["result"], key, colors, high)
            if column == 0:
                ax.set_ylabel(label)
            if row == 0:
                ax.set_title(verdict_title(outcome), fontsize=10)
            if row == len(rows) - 1 and labels != names:
                ax.text(0, -0.45, "\n".join(f"{s} = {n}" for s, n in zip(labels, names) if s != n), fontsize=6,
                        transform=ax.transAxes, va="top")
    for ax in axes[0]:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot(outcomes: list, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = figure([o for o in outcomes if o.ok])
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
