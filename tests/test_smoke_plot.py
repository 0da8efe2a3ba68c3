"""`--plot` read as a person reads it, through the figure's own objects: the x axis is the SSM
layers by name in depth order, each scale one line named "input xN", norms separate markers, a
blow-up a marker on the top edge, before and after on one y axis, the verdict in the title."""

import pytest

torch = pytest.importorskip("torch")
matplotlib = pytest.importorskip("matplotlib")

from conftest import EXAMPLE  # noqa: E402
from mambafix.config import load_config  # noqa: E402
from mambafix.smoke.plotting import BLEW_UP, figure, short_names  # noqa: E402
from mambafix.smoke.runner import compare_patched  # noqa: E402

LAYERS = [f"{d}_layers.{i}" for d in ("forward", "backward") for i in range(4)]


@pytest.fixture(scope="module")
def before_after():
    spec = {"length": 32, "scales": [1, 30], "timeout": 240, "gradients": True, "batch": 2, "dtype": "float32",
            "device": "auto", "init": {"d_model": 16}}
    return compare_patched(f"{EXAMPLE / 'bimamba.py'}:BiMamba", load_config([EXAMPLE]), echo=lambda *a: None, **spec)


def test_the_picture_names_the_layers_marks_the_blow_up_and_shares_its_axes(before_after):
    import matplotlib.pyplot as plt

    before, after = before_after
    fig = figure([before, after])
    try:
        axes = fig.axes
        assert len(axes) == 4  # activations and gradients, before and after
        for ax in axes:
            assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS
        top_before, top_after = axes[0], axes[1]
        assert top_before.get_ylim() == top_after.get_ylim() and axes[2].get_ylim() == axes[3].get_ylim()
        assert "UNSTABLE (overflow at x30" in top_before.get_title() and "STABLE at x1-x30" in top_after.get_title()
        labels = top_before.get_legend_handles_labels()[1]
        assert "input x1" in labels and "input x30" in labels and BLEW_UP in labels
        # the blow-ups sit on the top edge, at the layers that overflowed
        blown = [c for c in top_before.collections if c.get_label() == BLEW_UP]
        xs = sorted(int(x) for c in blown for x, _ in c.get_offsets())
        ys = {float(y) for c in blown for _, y in c.get_offsets()}
        overflowed = sorted(LAYERS.index(r["name"]) for r in before.data["result"]["layers"]
                            if r["scale"] == 30 and r["kind"] == "mamba" and r["verdict"] == "overflow")
        assert xs == overflowed and ys == {top_before.get_ylim()[1]}
        assert any(BLEW_UP not in labels for labels in [top_after.get_legend_handles_labels()[1]])
        # norms are markers of their own in the patched model, not points of the line
        assert "norm (after the layer)" in top_after.get_legend_handles_labels()[1]
        assert all(len(line.get_xdata()) == 4 for line in top_after.get_lines())  # one line per stack
    finally:
        plt.close(fig)


def test_long_names_are_shortened_from_their_common_prefix():
    assert short_names(["layers.0", "layers.1"]) == ["layers.0", "layers.1"]  # short enough: kept
    assert short_names(["backbone.encoder.layers.0.mixer", "backbone.encoder.layers.1.mixer"]) == [
        "layers.0.mixer", "layers.1.mixer"]
    assert short_names(["a.very_long_module_name_for_a_layer.0"])[0].startswith("…")
    assert len(short_names(["a.very_long_module_name_for_a_layer.0"])[0]) == 18
