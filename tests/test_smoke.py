"""smoke: reference Mamba agreement, state_dict compatibility, probe verdicts, isolation, CLI."""

import json

import pytest

torch = pytest.importorskip("torch")

from conftest import EXAMPLE  # noqa: E402
from mambafix.smoke.probe import run_probe  # noqa: E402
from mambafix.smoke.reference import Mamba, Mamba2  # noqa: E402
from mambafix.smoke.runner import run_smoke  # noqa: E402


def test_reference_mamba_matches_mambapy_and_loads_its_state_dict():
    mambapy = pytest.importorskip("mambapy.mamba")
    torch.manual_seed(0)
    ours = Mamba(d_model=48)
    theirs = mambapy.MambaBlock(mambapy.MambaConfig(d_model=48, n_layers=1))
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 200, 48)
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * b.abs().max().item())


def test_reference_mamba2_matches_a_sequential_recurrence():
    torch.manual_seed(0)
    m = Mamba2(d_model=32, d_state=16, headdim=16)
    assert sorted(m.state_dict()) == sorted(["in_proj.weight", "conv1d.weight", "conv1d.bias", "dt_bias", "A_log", "D",
                                             "norm.weight", "out_proj.weight"])
    u = torch.randn(2, 70, 32)
    with torch.no_grad():
        got = m(u)
        # the same layer with a plain per-step scan
        L = u.shape[1]
        z, xBC, dt = torch.split(m.in_proj(u), [m.d_inner, m.d_inner + 2 * m.d_state, m.nheads], dim=-1)
        xBC = torch.nn.functional.silu(m.conv1d(xBC.transpose(1, 2))[..., :L].transpose(1, 2))
        x, B, C = torch.split(xBC, [m.d_inner, m.d_state, m.d_state], dim=-1)
        dt = torch.nn.functional.softplus(dt + m.dt_bias)
        A = -torch.exp(m.A_log)
        xh = x.reshape(2, L, m.nheads, m.headdim)
        h = torch.zeros(2, m.nheads, m.headdim, m.d_state)
        ys = []
        for t in range(L):
            h = torch.exp(dt[:, t] * A)[:, :, None, None] * h + (dt[:, t][:, :, None, None] * xh[:, t, :, :, None] * B[:, t, None, None, :])
            ys.append((h * C[:, t, None, None, :]).sum(-1) + xh[:, t] * m.D[:, None])
        y = torch.stack(ys, 1).reshape(2, L, m.d_inner)
        want = m.out_proj(m.norm(y, z))
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)


def test_unnormalized_stack_decays_at_unit_scale_and_overflows_at_30():
    torch.manual_seed(0)
    stack = torch.nn.Sequential(*[Mamba(100) for _ in range(4)])
    result = run_probe(stack, lambda g: torch.randn(2, 128, 100, generator=g), scales=[1, 30])
    by_scale = {s: [r for r in result.stats if r.scale == s and r.kind == "mamba"] for s in (1, 30)}
    rms = [r.rms for r in by_scale[1]]
    assert rms == sorted(rms, reverse=True) and rms[-1] < 1e-5  # decay, not growth, at x1
    assert by_scale[1][-1].verdict == "collapse"
    assert any(r.verdict == "overflow" for r in by_scale[30])
    assert not result.stable


def test_normalized_stack_is_stable():
    torch.manual_seed(0)

    class Stack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([Mamba(64) for _ in range(4)])
            self.norms = torch.nn.ModuleList([torch.nn.LayerNorm(64) for _ in range(4)])

        def forward(self, h):
            for layer, norm in zip(self.layers, self.norms):
                h = norm(layer(h) + h)
            return h

    result = run_probe(Stack(), lambda g: torch.randn(2, 128, 64, generator=g))
    assert result.stable, [(r.name, r.scale, r.verdict) for r in result.stats if r.verdict != "ok"]


def test_seed_model_unstable_and_patched_stable(tmp_path):
    """The bundled seed model fails the probe on CPU; after `apply --residual` it passes."""
    import shutil

    from mambafix.fix.apply import apply_paths
    from mambafix.config import load_config
    from mambafix.checks.base import FixOptions

    pkg = tmp_path / "seed_model"
    shutil.copytree(EXAMPLE, pkg)
    before = run_smoke(f"{pkg / 'bimamba.py'}:BiMamba", length=128, timeout=300)
    assert before.ok and not before.stable
    verdicts = {(r["scale"], r["verdict"]) for r in before.data["result"]["layers"]}
    assert any(scale >= 30 and v == "overflow" for scale, v in verdicts)
    apply_paths([pkg], load_config([pkg]), FixOptions(residual=True))
    after = run_smoke(f"{pkg / 's6.py'}:S6", length=128, timeout=300)
    assert after.ok and after.stable, after.data
    assert after.data["input_shape"] == [2, 128, 8]


def test_errors_in_user_code_are_reported_not_raised(tmp_path):
    (tmp_path / "boom.py").write_text("import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n"
                                      "        super().__init__()\n        raise RuntimeError('kaboom')\n")
    outcome = run_smoke(f"{tmp_path / 'boom.py'}:M", timeout=120)
    assert not outcome.ok and "kaboom" in outcome.error and outcome.exit_code == 2
    (tmp_path / "hang.py").write_text("import time\ntime.sleep(60)\n")
    outcome = run_smoke(f"{tmp_path / 'hang.py'}:M", timeout=3)
    assert not outcome.ok and "did not finish" in outcome.error


def test_missing_constructor_arguments_are_named(tmp_path):
    (tmp_path / "m.py").write_text("import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self, vocab, d_model):\n"
                                   "        super().__init__()\n")
    outcome = run_smoke(f"{tmp_path / 'm.py'}:M", timeout=120)
    assert not outcome.ok and "missing constructor argument(s) vocab" in outcome.error


def test_cli_smoke_report_and_plot(tmp_path):
    from typer.testing import CliRunner

    from mambafix.cli import app

    report, plot = tmp_path / "r.json", tmp_path / "p.png"
    result = CliRunner().invoke(app, ["smoke", f"{EXAMPLE / 'bimamba.py'}:BiMamba", "--length", "64", "--scales", "1,30",
                                      "--report", str(report), "--plot", str(plot)])
    assert result.exit_code == 1, result.output
    assert "executes the target's code" in result.output and "backend: reference" in result.output
    data = json.loads(report.read_text())
    assert data["schema_version"] == 2
    data = data["targets"]
    assert data[0]["result"]["stable"] is False
    rows = data[0]["result"]["layers"]
    assert data[0]["result"]["gradients"] and all("grad_rms" in r and "grad_ratio" in r for r in rows)
    assert any(r["grad_ratio"] is not None for r in rows if r["scale"] == 1.0)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_apply_runs_the_code_only_with_smoke(tmp_path):
    import shutil

    from typer.testing import CliRunner

    from mambafix.cli import app

    target = tmp_path / "seed_model"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    quiet = CliRunner().invoke(app, ["apply", "--residual", str(target)])
    assert quiet.exit_code == 0, quiet.output
    assert "executes" not in quiet.output and "UNSTABLE" not in quiet.output  # nothing was run
    shutil.rmtree(target)
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    probed = CliRunner().invoke(app, ["apply", "--residual", "--smoke", str(target)])
    assert probed.exit_code == 0, probed.output
    assert "executes the target's code" in probed.output
    assert "BiMamba: before UNSTABLE, after stable" in probed.output


SMALL_STACK = """import torch.nn as nn
from mamba_ssm import Mamba


class Net(nn.Module):
    def __init__(self, d_model, n_layers=2):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Clean(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        return self.proj(x)
"""


def test_smoke_on_a_path_probes_the_stacks_check_finds(tmp_path):
    from typer.testing import CliRunner

    from mambafix.cli import app
    from mambafix.config import load_config
    from mambafix.smoke.targets import TargetError, resolve_jobs

    (tmp_path / "net.py").write_text(SMALL_STACK)
    (tmp_path / "other.py").write_text("x = 1\n")
    jobs = resolve_jobs([str(tmp_path)], load_config([tmp_path]), {})
    assert [j.target for j in jobs] == [f"{tmp_path / 'net.py'}:Net"]  # Clean has no stack
    with pytest.raises(TargetError, match="no class there holds a stack"):
        resolve_jobs([str(tmp_path / "other.py")], load_config([tmp_path]), {})
    report = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["smoke", str(tmp_path), "--init", '{"d_model": 16}', "--length", "32",
                                      "--scales", "1,100", "--report", str(report)])
    assert result.exit_code == 1, result.output  # two unnormalized layers overflow at x100
    data = json.loads(report.read_text())["targets"]
    assert [d["target"] for d in data] == [f"{tmp_path / 'net.py'}:Net"]
    assert data[0]["input_shape"] == [2, 32, 16]


def test_pyproject_smoke_entries_set_target_init_shape_dtype_and_scales(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from mambafix.cli import app

    (tmp_path / "net.py").write_text(SMALL_STACK)
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.mambafix.smoke]]\ntarget = "net.py:Net"\ninit = { d_model = 12, n_layers = 3 }\n'
        'input-shape = [1, 40, "..."]\ndtype = "bfloat16"\nscales = [1, 2]\n')
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["smoke", "--report", str(report)])
    assert result.exit_code in (0, 1), result.output
    data = json.loads(report.read_text())["targets"][0]
    assert data["input_shape"] == [1, 40, 12] and data["init"] == {"d_model": 12, "n_layers": 3}
    assert data["result"]["dtype"] == "bfloat16" and data["result"]["scales"] == [1.0, 2.0]
    assert len({r["name"] for r in data["result"]["layers"]}) == 3
    # the command line wins over the entry, for the same target named another way
    result = CliRunner().invoke(app, ["smoke", f"{tmp_path / 'net.py'}:Net", "--length", "24", "--dtype", "float32",
                                      "--report", str(report)])
    data = json.loads(report.read_text())["targets"][0]
    assert data["input_shape"] == [1, 24, 12] and data["result"]["dtype"] == "float32"

    (tmp_path / "pyproject.toml").write_text('[[tool.mambafix.smoke]]\ntarget = "net.py:Net"\ninput-shape = [1]\n')
    result = CliRunner().invoke(app, ["smoke"])
    assert result.exit_code == 2 and "smoke.input-shape" in result.output
    (tmp_path / "pyproject.toml").write_text("[tool.mambafix]\n")
    result = CliRunner().invoke(app, ["smoke"])
    assert result.exit_code == 2 and "no target" in result.output


def test_cli_compare_original_unstable_patched_stable(tmp_path):
    import shutil

    from typer.testing import CliRunner

    from mambafix.cli import app

    pkg = tmp_path / "seed_model"
    shutil.copytree(EXAMPLE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = (pkg / "bimamba.py").read_bytes()
    report = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["smoke", f"{pkg / 'bimamba.py'}:BiMamba", "--compare", "--length", "64",
                                      "--scales", "1,30", "--report", str(report)])
    assert result.exit_code == 0, result.output  # the patched model is stable
    assert "BiMamba: before UNSTABLE, after stable" in result.output
    assert [d["stable"] for d in json.loads(report.read_text())["targets"]] == [False, True]
    assert (pkg / "bimamba.py").read_bytes() == before  # --compare patches a copy, never the file


@pytest.mark.parametrize("rmsnorm", [True, False])
def test_probe_agrees_with_mf001_on_mamba2s_own_norm(rmsnorm):
    """MF001 treats a bare Mamba2 stack as normalized unless rmsnorm=False (families data);
    the probe is the judge: stable with the gated RMSNorm on, unstable with it off."""
    import torch

    from conftest import run_check
    from mambafix.smoke.probe import run_probe
    from mambafix.smoke.reference import Mamba2

    flag = "" if rmsnorm else ", rmsnorm=False"
    src = ("import torch.nn as nn\nfrom mamba_ssm import Mamba2\n\n\nclass M(nn.Module):\n"
           "    def __init__(self, d=64, n=4):\n        super().__init__()\n"
           f"        self.layers = nn.ModuleList([Mamba2(d, d_state=16, headdim=16{flag}) for _ in range(n)])\n\n"
           "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n")
    static_unstable = any(f.code == "MF001" for f in run_check(src))
    torch.manual_seed(0)
    stack = torch.nn.Sequential(*[Mamba2(64, d_state=16, headdim=16, rmsnorm=rmsnorm) for _ in range(4)])
    result = run_probe(stack, lambda g: torch.randn(2, 128, 64, generator=g), scales=[1, 10, 30, 100])
    assert static_unstable == (not result.stable) == (not rmsnorm)
