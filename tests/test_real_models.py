"""smoke on real repositories' model classes (tests/real_models.py): each is probed when given its
input shape and when smoke infers it; every one that normalizes between its layers is STABLE,
every unnormalized one that overflows UNSTABLE; home-made SSMs are found the way check finds
them; and the verdicts' context rules (a norm right after a layer, the sweep's own scaling of a
first layer) hold on their own."""

import contextlib
import math
import os

import pytest

torch = pytest.importorskip("torch")

from real_models import INFERRED, MODELS, POST_NORM, S6_SCRATCH, HOME_MADE_TENSOR, write  # noqa: E402
from mambafix.smoke.runner import run_smoke  # noqa: E402
from mambafix.smoke.verdicts import GRADIENT_LIMIT, judge_gradients, mark_context  # noqa: E402
from mambafix.smoke.probe import LayerStat  # noqa: E402

RUN = {"scales": [1, 10, 30, 100], "length": 32, "timeout": 240}


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """Every model probed twice: with its authors' input shape, and inferring it."""
    root = tmp_path_factory.mktemp("real")
    out = {}
    for model in MODELS:
        target = write(model, root)
        with _path(root / model.name / model.elsewhere if model.elsewhere else None):
            out[model.name, "given"] = run_smoke(target, init=model.init, input_shape=list(model.shape),
                                                 batch=model.shape[0], **RUN)
            out[model.name, "inferred"] = run_smoke(target, init=model.init, **RUN)
    return out


@contextlib.contextmanager
def _path(folder):
    """PYTHONPATH with `folder` first while probing (another module of a name the tree uses)."""
    before = os.environ.get("PYTHONPATH")
    if folder is not None:
        os.environ["PYTHONPATH"] = str(folder) + (os.pathsep + before if before else "")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


@pytest.mark.parametrize("mode", ["given", "inferred"])
def test_every_real_model_is_probed(probed, mode):
    failed = {name: o.error for (name, m), o in probed.items() if m == mode and not o.ok}
    print(f"\nreal models probed ({mode} input): {len(MODELS) - len(failed)} of {len(MODELS)}")
    assert len(MODELS) >= 14 and failed == {}
    for model in MODELS:
        outcome = probed[model.name, mode]
        if mode == "given":
            assert outcome.data["input_shape"] == list(model.shape)
        else:  # the choice says where it came from
            assert outcome.data["input_source"].startswith(("the forward", "the constructor", "the first layers",
                                                            "a raw signal"))


@pytest.mark.parametrize("mode", ["given", "inferred"])
def test_verdicts_on_real_models_raise_no_false_alarm(probed, mode):
    for model in MODELS:
        outcome = probed[model.name, mode]
        verdicts = {r["verdict"] for r in outcome.data["result"]["layers"]} - {"ok"}
        if model.normalizes:
            assert outcome.stable, (model.name, verdicts)
        if model.overflows:
            assert not outcome.stable and "overflow" in verdicts, (model.name, verdicts)


def test_the_inferred_inputs_are_the_smallest_the_forward_allows(probed):
    # the inverted embedding's Linear(seq_len) after permute(0, 2, 1) fixes axis 1; enc_in the other
    assert probed["s_d_mamba", "inferred"].data["input_shape"] == [2, 48, 7]
    assert probed["vim", "inferred"].data["input_shape"] == [2, 3, 32, 32]  # img_size, channels
    # a raw signal into Conv1d(1) after unsqueeze(1): it runs at --length, so sample_length=1024 is not needed
    assert probed["ecg_raw", "inferred"].data["input_shape"] == [2, 32]
    assert probed["eeg_bimamba", "inferred"].data["input_shape"] == [2, 19, 32]  # channels first
    assert probed["segmamba", "inferred"].data["input_shape"] == [2, 1, 16, 32, 32]  # a small volume
    rec = probed["mamba4rec", "inferred"]
    assert rec.data["input_dtype"] == "long" and rec.data["forward_arguments"] == {"item_seq_len": "lengths"}
    assert probed["s_d_mamba", "given"].data["forward_arguments"] == {
        "x_mark_enc": "none", "x_dec": "none", "x_mark_dec": "none"}


def test_layouts_read_from_the_forward(probed):
    """Images, a raw signal through torch.stft, EEG with its electrodes first, a hyperspectral
    cube, token ids with their lengths, and a repository whose models/ folder another module
    named models would shadow: each inferred from what the forward does with its input, the
    smallest size that runs, and the reason said."""
    inferred = {m.name: probed[m.name, "inferred"].data for m in INFERRED}
    assert inferred["image_restoration"]["input_shape"] == [2, 3, 32, 32]  # small first, not img_size=64
    assert "Conv2d(3 channels)" in inferred["image_restoration"]["input_source"]
    assert inferred["stft_separator"]["input_shape"] == [2, 512]  # 8 x n_fft samples
    assert "torch.stft" in inferred["stft_separator"]["input_source"]
    eeg = inferred["eeg_channels_first"]
    assert eeg["input_shape"] == [2, 22, 250]  # the electrodes on axis 1, the window a norm fixes
    assert "Linear(22)" in eeg["input_source"] and "axis 1 of the input" in eeg["input_source"]
    assert [shape for shape, _ in eeg["input_trials_failed"]] == [[1, 22, 32]]  # --length first, then 250
    assert inferred["hyperspectral_cube"]["input_shape"] == [2, 1, 30, 9, 9]  # bands and patch from the constructor
    rec = inferred["session_recommender"]
    assert rec["input_dtype"] == "long" and rec["forward_arguments"] == {"item_seq_len": "lengths"}
    assert rec["input_source"].startswith("the forward: unpacks B, L")
    assert inferred["shadowed_models_folder"]["input_shape"] == [2, 32, 7]
    assert all(probed[m.name, "inferred"].stable for m in INFERRED)  # every one normalizes: no false alarm


def test_a_post_norm_models_first_layer_meets_the_sweep_and_is_not_a_false_alarm(probed):
    """The first Add & Norm block reads the raw features, which the sweep multiplies by 100: its
    sensitivity is far above the last layer's, and so is its parallel twin's; a norm-blind rule
    (ratio above 1e3, the next layer above sqrt(1e3)) would call it a gradient explosion."""
    rows = [r for r in probed[POST_NORM.name, "given"].data["result"]["layers"] if r["scale"] == 100 and r["kind"] == "mamba"]
    first, twin = rows[0], rows[1]
    assert first["grad_ratio"] > GRADIENT_LIMIT and twin["grad_ratio"] > math.sqrt(GRADIENT_LIMIT)
    assert first["first"] and twin["first"] and all(r["bounded"] for r in rows)
    assert probed[POST_NORM.name, "given"].stable


def test_a_home_made_ssm_check_calls_a_layer_is_probed(tmp_path):
    """Its A_log is a plain tensor, not a parameter: only check's summary (it assigns A_log and
    D) says it is a selective SSM; without that seam smoke finds no SSM layer."""
    target = write(HOME_MADE_TENSOR, tmp_path)
    outcome = run_smoke(target, init=HOME_MADE_TENSOR.init, scales=[1, 30], length=16, timeout=240)
    assert outcome.ok, outcome.error
    assert {r["name"] for r in outcome.data["result"]["layers"] if r["kind"] == "mamba"} == {
        "layers.0.mixer", "layers.1.mixer"}
    blind = run_smoke(target, init=HOME_MADE_TENSOR.init, scales=[1], length=16, timeout=240, check_layers=[])
    assert not blind.ok and "no SSM layer found" in blind.error


def test_a_trees_own_package_named_mamba_ssm_is_imported_not_shimmed(probed):
    outcome = probed[S6_SCRATCH.name, "given"]
    assert outcome.data["result"]["backend"] == "the target tree's own mamba_ssm package"
    names = {r["name"] for r in outcome.data["result"]["layers"] if r["kind"] == "mamba"}
    assert names == {f"layers.{i}.x_proj" for i in range(4)}  # its S6, not the model class named Mamba


def _row(name, kind, rms_in, grad_ratio):
    row = LayerStat(name, kind, 100.0, -1.0, 1.0, 0.0, 1.0, rms_in, 0.0, grad_rms=grad_ratio)
    return row


@pytest.mark.parametrize("layout, verdict", [
    ("mamba mamba mamba mamba", "gradient explosion"),  # unnormalized: compounding
    ("mamba norm mamba norm mamba norm mamba norm", "ok"),  # post-norm: bounded
])
def test_gradient_verdicts_need_an_unbounded_layer_that_is_not_the_first(layout, verdict):
    kinds = layout.split()
    ratios = iter([1e5, 1e4, 1e2, 1.0])
    rows = [_row(f"r{i}", k, 10.0 + i, next(ratios) if k == "mamba" else 1.0) for i, k in enumerate(kinds)]
    mark_context(rows)
    judge_gradients(rows)
    ssm = [r for r in rows if r.kind == "mamba"]
    assert ssm[0].first and ssm[0].verdict == "ok"  # the first layer: the sweep's own scaling
    assert ssm[1].verdict == verdict


def test_check_agrees_with_the_probe_on_every_real_model(tmp_path):
    """The static side of the judge: check reports MF001 on a real model's class exactly where
    the probe finds it unnormalized (`normalizes`, which the tests above hold to the probe)."""
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths

    for model in MODELS:
        write(model, tmp_path)
        report = check_paths([str(tmp_path / model.name)], load_config([tmp_path / model.name]), cache=False)
        owners = {f.message.split(".", 1)[0] for f in report.findings if f.code == "MF001"}
        assert owners == (set() if model.normalizes else {model.target.rpartition(":")[2]}), model.name
