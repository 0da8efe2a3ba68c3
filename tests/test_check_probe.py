"""`check --probe`: every class with an MF001 finding is probed and each finding says whether
the probe confirms it, in text, JSON and SARIF; without --probe check never imports torch."""

import json
import subprocess
import sys

import pytest

from conftest import EXAMPLE, ROOT, dedent

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from mambafix.cli import app  # noqa: E402
from mambafix.config import load_config  # noqa: E402
from mambafix.engine.project import check_paths  # noqa: E402
from mambafix.smoke.confirm import probe_findings  # noqa: E402

GIVEN = {"length": 32}


def test_the_bundled_examples_two_stacks_are_confirmed():
    config = load_config([EXAMPLE])
    report = check_paths([EXAMPLE / "bimamba.py"], config, cache=False)
    counts = probe_findings(report, config, GIVEN, timeout=240)
    assert counts == {"confirmed": 2, "not_confirmed": 0, "not_probed": 0}
    probes = [f.probe for f in report.findings if f.code == "MF001"]
    assert probes[0].startswith("confirmed: UNSTABLE at x") and "(forward_layers." in probes[0]
    assert probes[1].startswith("confirmed: UNSTABLE at x") and "(backward_layers." in probes[1]
    assert all(f.probe is None for f in report.findings if f.code != "MF001")


def test_a_normalized_model_has_nothing_to_confirm_and_cli_formats_carry_the_probe(tmp_path):
    result = CliRunner().invoke(app, ["check", "--no-cache", "--probe", "--length", "32", str(EXAMPLE / "prenorm.py")])
    assert result.exit_code == 0 and "Probe: nothing to confirm (no MF001, MF005, MF006 or MF007 finding)." in result.stdout
    out = tmp_path / "r.json"
    CliRunner().invoke(app, ["check", "--no-cache", "--probe", "--length", "32", "--output-format", "json",
                             "-o", str(out), str(EXAMPLE / "bimamba.py")])
    data = json.loads(out.read_text())
    assert data["schema_version"] == 1 and data["probe"]["confirmed"] == 2
    assert [f["probe"].split(" (")[0].startswith("confirmed: UNSTABLE at x") for f in data["findings"] if f["code"] == "MF001"] == [True, True]
    assert all("probe" not in f for f in data["findings"] if f["code"] != "MF001")  # only keys added
    sarif = tmp_path / "r.sarif"
    CliRunner().invoke(app, ["check", "--no-cache", "--probe", "--length", "32", "--output-format", "sarif",
                             "-o", str(sarif), str(EXAMPLE / "bimamba.py")])
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    mf001 = [r for r in results if r["ruleId"] == "MF001"]
    assert len(mf001) == 2 and all(r["properties"]["probe"].startswith("confirmed:") for r in mf001)
    assert all("[confirmed: UNSTABLE" in r["message"]["text"] for r in mf001)


def test_a_class_that_cannot_be_built_says_why(tmp_path):
    (tmp_path / "net.py").write_text(dedent("""
        import torch.nn as nn
        from mamba_ssm import Mamba


        class Net(nn.Module):
            def __init__(self, d_model, n_blocks, table):
                super().__init__()
                self.table = table
                self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_blocks)])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
    """))
    result = CliRunner().invoke(app, ["check", "--no-cache", "--probe", str(tmp_path / "net.py")])
    assert "[not probed: cannot build Net: missing constructor argument(s) table" in result.stdout
    assert "Probe: 0 finding(s) confirmed, 0 not confirmed, 1 not probed." in result.stdout
    given = CliRunner().invoke(app, ["check", "--no-cache", "--probe", "--init", '{"table": null}',
                                     "--length", "32", str(tmp_path / "net.py")])
    # d_model and n_blocks nobody gave: their names say a width (64) and a count of layers (2)
    assert "[confirmed: UNSTABLE at x" in given.stdout and "guessed: d_model=64, n_blocks=2" in given.stdout


def test_check_without_probe_never_imports_torch_nor_the_code():
    code = ("import sys; from typer.testing import CliRunner; from mambafix.cli import app; "
            f"r = CliRunner().invoke(app, ['check', '--no-cache', {str(EXAMPLE)!r}]); "
            "print(r.exit_code, 'torch' in sys.modules, any(m.startswith('bimamba') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["1", "False", "False"]
