"""mambafix.watch on training runs: the bundled seed model and real models' reproductions
(tests/real_models.py) trained on random data at a learning rate that makes the unnormalized ones
diverge. The watch names the same first non-finite SSM layer as a check by hand, fires nothing on
the normalized versions `apply` writes (nor on models that normalize already), removes its hooks,
and its report ends with what check says and the command to run next."""

import gc
import json
import logging
import weakref

import pytest

torch = pytest.importorskip("torch")

import mambafix  # noqa: E402
from mambafix.guard import WatchError, WatchWarning  # noqa: E402
from real_models import HOME_MADE_TENSOR, ICU, RESIDUAL_ONLY, SEED, VIM  # noqa: E402
from watch_harness import Sandbox, manual_first_nonfinite, train  # noqa: E402

SEED_INIT = {"dropout": 0.0}  # dropout off: the step replays exactly for the check by hand
QUIET_STEPS = 20  # the unnormalized versions fire within 1-4 steps at this learning rate


@pytest.fixture
def sandbox(tmp_path):
    with Sandbox(tmp_path) as box:
        yield box


def _hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def _diverge(model, shape, seed, **options):
    """Train under watch until it raises; (the event, the input of that step)."""
    last = {}
    options = {"on_growth": None, "advice": False, **options}
    with pytest.raises(WatchError) as caught:
        with mambafix.watch(model, **options):
            train(model, shape, steps=40, seed=seed, last=last)
    return caught.value.event, last["x"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seed_model_the_watch_names_the_layer_the_seeds_own_check_by_hand_names(sandbox, seed):
    model = sandbox.build(SEED, seed=seed, **SEED_INIT)
    event, x = _diverge(model, SEED.shape, seed)
    assert event.kind == "nonfinite" and event.row.kind == "mamba"
    # by hand, as the seed's [BiMamba DEBUG] prints walked it: each layer, then isfinite
    first = None
    with torch.no_grad():
        for stack, h in (("forward_layers", x), ("backward_layers", torch.flip(x, dims=[1]))):
            for i, layer in enumerate(getattr(model, stack)):
                h = layer(h)
                if first is None and not bool(torch.isfinite(h).all()):
                    first = f"{stack}.{i}"
    assert first is not None and event.layer == first
    assert manual_first_nonfinite(model, x, ("Mamba",)) == first
    assert event.row.out.nonfinite and not event.row.inp.nonfinite  # this layer made the non-finite values


@pytest.mark.parametrize("real, seed", [(RESIDUAL_ONLY, 0), (RESIDUAL_ONLY, 1), (ICU, 0), (ICU, 1)])
def test_real_unnormalized_stacks_the_watch_names_the_layer_a_check_by_hand_names(sandbox, real, seed):
    """file id 14660187431's backbone (x = x + layer(x), and nan_to_num on the way out, so the
    loss never shows the NaN; the watch sees it inside) and file id 55625485812's ICU model."""
    model = sandbox.build(real, seed=seed)
    event, x = _diverge(model, real.shape, seed)
    assert event.kind == "nonfinite"
    assert event.layer == manual_first_nonfinite(model, x, ("Mamba",)) is not None
    if real is RESIDUAL_ONLY:
        assert bool(torch.isfinite(model(x)).all())  # what a NaN check on the output would have seen


@pytest.mark.parametrize("real, apply", [(SEED, "postnorm"), (SEED, "residual"), (RESIDUAL_ONLY, "postnorm"),
                                         (ICU, "residual")])
def test_the_normalized_versions_apply_writes_fire_nothing(sandbox, real, apply):
    model = sandbox.build(real, apply=apply, **(SEED_INIT if real is SEED else {}))
    with mambafix.watch(model, on_growth="raise", on_nonfinite="raise", advice=False) as w:
        assert train(model, real.shape, steps=QUIET_STEPS) == QUIET_STEPS
    assert w.events == [] and len(w.history) == 8
    grown = max(r.growth for rec in w.history for r in rec.rows if r.kind == "mamba")
    assert grown > 1e3  # the layers do grow past the factor: the norm after each bounds them
    assert all(r.bounded for rec in w.history for r in rec.rows if r.kind == "mamba")


def test_an_unnormalized_stack_at_a_learning_rate_it_survives_fires_nothing(sandbox):
    """The seed model at lr 1e-3: its layers shrink what they are given (x0.03 each at init), and
    an unbounded layer must grow 1e3x its input to fire."""
    model = sandbox.build(SEED, **SEED_INIT)
    with mambafix.watch(model, on_growth="raise", advice=False) as w:
        train(model, SEED.shape, steps=QUIET_STEPS, lr=1e-3)
    assert w.events == [] and not any(r.bounded for r in w.history[-1].rows)


@pytest.mark.parametrize("real", [HOME_MADE_TENSOR, VIM])
def test_models_that_normalize_already_fire_nothing(sandbox, real):
    model = sandbox.build(real)
    with mambafix.watch(model, on_growth="raise", advice=False) as w:
        train(model, real.shape, steps=6)
    assert w.events == [] and w.history


def test_a_home_made_ssm_is_watched_because_check_calls_it_a_layer(sandbox):
    """AlexTitu/mamba_tsad_dcase's MambaBlock keeps A_log as a plain tensor: only check's summary
    (smoke's seam) says it is a selective SSM."""
    model = sandbox.build(HOME_MADE_TENSOR)
    seen = mambafix.watch(model, advice=False)
    seen.detach()
    assert [(w.name, w.kind) for w in seen.layers] == [
        ("layers.0.mixer", "mamba"), ("layers.0.norm", "norm"), ("layers.1.mixer", "mamba"), ("layers.1.norm", "norm")]
    with pytest.raises(ValueError, match="no SSM layer found"):
        mambafix.watch(model, static=False)


def test_hooks_come_off_and_nothing_keeps_the_watch_alive(sandbox):
    model = sandbox.build(SEED, **SEED_INIT)
    before = _hooks(model)
    with mambafix.watch(model, gradients=True, advice=False) as w:
        assert _hooks(model) == before + 10  # 8 layers, and the model's own pre- and post-hook
        train(model, SEED.shape, steps=1, lr=1e-4)
    assert _hooks(model) == before and not w.attached
    # a failed step: the exception leaves the with block, the hooks still come off
    with pytest.raises(WatchError):
        with mambafix.watch(model, on_growth=None, advice=False):
            train(model, SEED.shape, steps=40)
    assert _hooks(model) == before
    # attach / detach by hand, twice; a detached watch records nothing more
    w2 = mambafix.watch(model, advice=False)
    w2.attach()
    assert _hooks(model) == before + 10
    w2.detach()
    w2.detach()
    assert _hooks(model) == before
    model(torch.randn(*SEED.shape))
    assert len(w2.history) == 0
    ref = weakref.ref(w)
    del w, w2
    gc.collect()
    assert ref() is None


def test_the_report_gives_the_depth_profile_what_check_says_and_the_smoke_command(sandbox, tmp_path):
    from mambafix.smoke.runner import run_smoke

    model = sandbox.build(SEED, **SEED_INIT)
    snap = tmp_path / "snap"
    event, _ = _diverge(model, SEED.shape, 0, snapshot=snap, advice=True)
    text = event.report()  # computed here, as a raise computes it
    head, profile = text.splitlines()[0], text.split("depth profile at", 1)[1]
    assert head.startswith(f"mambafix.watch: non-finite output in SSM layer {event.layer} at step {event.step}")
    table = profile.splitlines()[2:]
    names = [line.split()[0] for line in table[:next(i for i, line in enumerate(table) if not line.startswith("  "))]]
    assert names[-1] == event.layer and names[0] == "forward_layers.0"  # the layers before it, in order
    stack = event.layer.split(".")[0]
    assert f"What check says about BiMamba, which holds {event.layer}:" in text
    assert f"MF001 BiMamba.{stack}: 4 Mamba layers applied in sequence without normalization" in text
    assert f"fix: mambafix apply" in text and f"BiMamba.{stack}: added a norm after {stack}[i]" in text
    command = text.splitlines()[-1]
    assert command.startswith("Confirm with the probe: mambafix smoke ") and "bimamba.py:BiMamba" in command
    weights = next(snap.glob("BiMamba-step*.pt"))
    assert f"--weights {weights}" in command and "(with --init the constructor arguments of the run" in command
    # the command confirms it: the probe on those weights names the same stack UNSTABLE
    target = command.split("mambafix smoke ", 1)[1].split()[0]
    outcome = run_smoke(target, init={"d_model": 16, "d_state": 8}, weights=str(weights), length=16,
                        scales=[30], timeout=240)
    assert outcome.ok and not outcome.stable
    assert any(r["name"].startswith(stack) and r["verdict"] != "ok" for r in outcome.data["result"]["layers"])


def test_actions_warn_log_and_callback(sandbox, caplog, tmp_path):
    model = sandbox.build(SEED, **SEED_INIT)
    got = []
    with pytest.warns(WatchWarning, match="unbounded growth in SSM layer"):
        with mambafix.watch(model, on_nonfinite=got.append, on_growth="warn", advice=False) as w:
            train(model, SEED.shape, steps=8)
    assert len(got) == 1 and got[0].kind == "nonfinite" and got[0] in w.events
    growth = [e for e in w.events if e.kind == "growth"]
    assert growth and all(e.step <= got[0].step and not e.row.bounded and e.row.growth > 1e3 for e in growth)
    model = sandbox.build(SEED, **SEED_INIT)
    with caplog.at_level(logging.ERROR, logger="mambafix.watch"):
        with mambafix.watch(model, on_nonfinite="log", on_growth=None, advice=False, jsonl=tmp_path / "w.jsonl") as w:
            train(model, SEED.shape, steps=8)
    assert sum("non-finite output in SSM layer" in r.message for r in caplog.records) == 1  # fired once
    lines = [json.loads(line) for line in (tmp_path / "w.jsonl").read_text().splitlines()]  # no log_every: events
    assert [line["event"] for line in lines].count("nonfinite") == 1 and {line["event"] for line in lines} <= {
        "nonfinite", "growth"}  # growth judged and recorded (on_growth=None), not acted on
    line = next(line for line in lines if line["event"] == "nonfinite")
    hit = next(e for e in w.events if e.kind == "nonfinite")
    assert line["layer"] == hit.layer and line["step"] == hit.step and {"nan", "inf", "-inf"} & {str(v) for v in line["row"]["out"].values()}
    assert [row["name"] for row in line["layers"]] == [r.name for r in hit.record.rows]
    with pytest.raises(ValueError, match="action 'stop'"):
        mambafix.watch(model, on_nonfinite="stop")


def test_periodic_depth_profile_to_the_logger_and_jsonl(sandbox, tmp_path, caplog):
    model = sandbox.build(SEED, apply="postnorm", **SEED_INIT)
    path = tmp_path / "watch.jsonl"
    with caplog.at_level(logging.INFO, logger="mambafix.watch"):
        with mambafix.watch(model, log_every=2, jsonl=path, advice=False):
            train(model, SEED.shape, steps=5, lr=1e-3)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["step"] for line in lines] == [0, 2, 4]
    names = [row["name"] for row in lines[0]["layers"]]
    assert names[:2] == ["forward_layers.0", "forward_norms.0"] and len(names) == 16  # the order they ran
    assert all(isinstance(row["out"]["rms"], float) for line in lines for row in line["layers"])
    logged = [r.message for r in caplog.records if r.message.startswith("step ")]
    assert len(logged) == 3 and "forward_layers.3=" in logged[0] and "forward_norms" not in logged[0]


def test_backward_hooks_name_the_first_non_finite_gradient(sandbox):
    model = sandbox.build(SEED, **SEED_INIT)
    with mambafix.watch(model, gradients=True, advice=False) as w:
        out = model(torch.randn(*SEED.shape))
        assert w.history[-1].rows[0].grad is None  # not yet: backward has not run
        (out.sum() * 0.5).backward()
        assert all(r.grad is not None and r.grad.known for r in w.history[-1].rows)
        out = model(torch.randn(*SEED.shape))
        with pytest.raises(WatchError) as caught:
            (out.sum() * float("inf")).backward()  # every output gradient is inf or NaN from the loss on
    event = caught.value.event
    order = [r.name for r in event.record.rows]
    assert event.kind == "nonfinite-gradient" and event.layer == order[-1]  # the first one backward reaches


def test_a_norm_that_goes_non_finite_first_names_the_ssm_layer_that_fed_it():
    from mambafix.guard.events import first_nonfinite, growing
    from mambafix.guard.record import Figures, Row, StepRecord
    from mambafix.smoke.verdicts import mark_context

    ok, big, bad = Figures(1.0, -2.0, 2.0, True), Figures(1e37, -3e38, 3e38, True), Figures(float("nan"), float("nan"), float("nan"), True)
    rows = [Row("layers.0", "mamba", ok, ok), Row("norms.0", "norm", ok, ok), Row("layers.1", "mamba", ok, big),
            Row("norms.1", "norm", big, bad), Row("layers.2", "mamba", bad, bad)]
    record = StepRecord(7, rows=rows)
    mark_context(rows)
    assert first_nonfinite(record)[:2] == (2, 3) and "norms.1 went non-finite first" in first_nonfinite(record)[2]
    assert growing(record, 1e3) == []  # layers.1 grows 1e37x, but a norm follows it
    rows[0] = Row("layers.0", "mamba", bad, bad)  # non-finite from the data on: named where it shows
    assert first_nonfinite(StepRecord(7, rows=rows))[:2] == (0, 0)


def test_importing_mambafix_and_the_static_side_of_the_report_never_import_torch(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT
    from real_models import write

    target = write(SEED, tmp_path).rpartition(":")[0]
    code = ("import sys, mambafix; from pathlib import Path\n"
            "from mambafix.guard.advice import Owner, advice\n"
            f"text = advice([Owner('', 'BiMamba', Path({target!r}), 'forward_layers.2')])\n"
            "assert 'MF001 BiMamba.forward_layers' in text, text\n"
            "print(sorted(m for m in ('torch', 'mamba_ssm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**__import__("os").environ, "MAMBAFIX_CACHE_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_applys_summary_names_the_watch_where_it_removes_debug_prints(tmp_path):
    from typer.testing import CliRunner

    from mambafix.cli import app

    (tmp_path / "prints.py").write_text("def f(x):\n    print('[BiMamba DEBUG] x', x)\n    return x\n")
    (tmp_path / "clean.py").write_text("def f(x):\n    print('[INFO] x', x)\n    return x\n")
    result = CliRunner().invoke(app, ["apply", str(tmp_path / "prints.py")])
    assert result.exit_code == 0 and "removed 1 debug print(s)" in result.stdout
    assert "use mambafix.watch(model)" in result.stdout
    result = CliRunner().invoke(app, ["apply", str(tmp_path / "clean.py")])
    assert result.exit_code == 0 and "mambafix.watch" not in result.stdout


def _lightning_run(model, steps, **options):
    """Fit a LightningModule around `model` on random batches under the WatchCallback."""
    L = pytest.importorskip("lightning.pytorch")
    from mambafix.guard.lightning import WatchCallback

    class Lit(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model, self.last = model, None

        def training_step(self, batch, batch_idx):
            x, y = batch
            self.last = x
            return (self.model(x) - y).abs().mean()

        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=0.3)

    gen = torch.Generator().manual_seed(10)
    data = [(torch.randn(*SEED.shape[1:], generator=gen), torch.randn(*SEED.shape[1:], generator=gen))
            for _ in range(2 * steps)]
    loader = torch.utils.data.DataLoader(data, batch_size=SEED.shape[0])
    callback = WatchCallback("model", advice=False, **options)
    lit = Lit()
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False, callbacks=[callback],
                        enable_progress_bar=False, enable_model_summary=False)
    return trainer, lit, loader, callback


def test_the_lightning_callback_names_the_same_layer_and_comes_off(sandbox):
    model = sandbox.build(SEED, **SEED_INIT)
    before = _hooks(model)
    trainer, lit, loader, callback = _lightning_run(model, 20, on_growth=None)
    with pytest.raises(WatchError) as caught:
        trainer.fit(lit, loader)
    event = caught.value.event
    assert event.kind == "nonfinite" and event.record.phase == "train" and event.step == trainer.global_step
    assert event.layer == manual_first_nonfinite(model, lit.last, ("Mamba",))
    assert _hooks(model) == before and not callback.watcher.attached
    # its normalized version trains the same number of steps and fires nothing
    model = sandbox.build(SEED, apply="postnorm", **SEED_INIT)
    trainer, lit, loader, callback = _lightning_run(model, 12, on_growth="raise", log_every=4)
    trainer.fit(lit, loader)
    assert trainer.global_step == 12 and callback.watcher.events == []
    assert [r.step for r in callback.watcher.history][-1] == 11 and _hooks(model) == before


def test_check_and_apply_never_import_the_watch_and_lightning_loads_only_when_asked(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT
    from test_architecture import _import_graph

    graph = _import_graph()
    static_side = ("mambafix.checks", "mambafix.engine", "mambafix.fix", "mambafix.flow", "mambafix.facts",
                   "mambafix.syntax", "mambafix.report", "mambafix.config", "mambafix.cli", "mambafix.guard.advice",
                   "mambafix.guard.record", "mambafix.guard.events")
    for module, targets in graph.items():
        if module.startswith(static_side):
            assert not [t for t in targets if t.startswith("mambafix.guard") and not t.startswith(
                ("mambafix.guard.record", "mambafix.guard.events", "mambafix.guard.advice"))], module
    code = ("import sys; import mambafix.guard.lightning, mambafix.guard\n"
            "print(sorted(m for m in ('torch', 'lightning', 'pytorch_lightning') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_the_figures_a_hook_takes_and_an_rms_that_overflows_float32():
    from mambafix.guard.record import Figures
    from mambafix.guard.stats import figures

    t = torch.randn(3, 50, 7, dtype=torch.float64).float() * 5
    got = Figures.of(figures(t), t.numel())
    assert got.rms == pytest.approx(float(t.double().pow(2).mean().sqrt()), rel=1e-5)
    assert (got.min, got.max) == (float(t.min()), float(t.max())) and not got.nonfinite and not got.overflow
    t[1, 2, 3] = float("nan")
    assert Figures.of(figures(t), t.numel()).nonfinite
    t[1, 2, 3] = float("-inf")
    assert Figures.of(figures(t), t.numel()).nonfinite
    big = torch.full((1000,), 3e37)  # finite, but its squares overflow float32
    got = Figures.of(figures(big), big.numel())
    assert got.overflow and not got.nonfinite and 5e17 < got.rms <= 3e37 and got.rms_text().startswith(">")
    assert figures(torch.arange(4)) is None and not Figures.of(None).known
    half = torch.randn(64, dtype=torch.bfloat16)
    assert Figures.of(figures(half), 64).rms == pytest.approx(float(half.float().pow(2).mean().sqrt()), rel=1e-3)
