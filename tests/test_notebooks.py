"""Notebooks: code cells checked and fixed like .py files, reported by cell, written back with
everything but the changed cells' code untouched. The two notebooks in tests/notebooks are
nbformat-layout files written for this project: a bidirectional-encoder debugging session
(markdown, magics, a cell magic, a broken cell, outputs) and a clean, normalized model."""

import json
import shutil

from typer.testing import CliRunner

from conftest import ROOT
from mambafix.cli import app
from mambafix.config import load_config
from mambafix.engine.project import check_paths
from mambafix.fix.apply import apply_paths, fix_source
from mambafix.notebook import load, rebuild

NOTEBOOKS = ROOT / "tests" / "notebooks"
STACK = NOTEBOOKS / "stack_and_prints.ipynb"
CLEAN = NOTEBOOKS / "clean.ipynb"
CONFIG = load_config([ROOT])


def test_findings_carry_their_cell_and_cell_relative_lines():
    report = check_paths([NOTEBOOKS], CONFIG, cache=False)
    found = [(f.code, f.cell, f.line, f.col) for f in report.findings]
    assert found == [("MF001", 3, 7, 9), ("MF003", 3, 10, 17), ("MF003", 4, 3, 1)]
    assert report.files_checked == 2 and not report.errors
    cell = json.loads(STACK.read_text())["cells"][2]["source"]
    assert cell[6].strip() == "for i, layer in enumerate(self.layers):"  # line 7 of cell 3


def test_text_json_and_sarif_name_the_cell():
    runner = CliRunner()
    text = runner.invoke(app, ["check", str(STACK)]).stdout
    assert f"{STACK}:cell 3:7:9: MF001 Encoder.layers: 4 Mamba layers" in text
    data = json.loads(runner.invoke(app, ["check", str(STACK), "--output-format", "json"]).stdout)
    assert [f["cell"] for f in data["findings"]] == [3, 3, 4]
    sarif = json.loads(runner.invoke(app, ["check", str(STACK), "--output-format", "sarif"]).stdout)
    result = sarif["runs"][0]["results"][0]
    assert result["properties"]["cell"] == 3
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 7


def test_apply_rewrites_only_the_affected_cells_and_keeps_the_rest(tmp_path):
    target = tmp_path / "nb.ipynb"
    shutil.copy(STACK, target)
    report = apply_paths([target], load_config([tmp_path]))
    assert report.written == [str(target)] and not report.remaining
    before, after = json.loads(STACK.read_text()), json.loads(target.read_text())
    changed = [i for i, (a, b) in enumerate(zip(before["cells"], after["cells"])) if a != b]
    assert changed == [2, 3]
    for i in changed:  # only the code changed: outputs, ids, metadata, counts as they were
        assert {k: v for k, v in before["cells"][i].items() if k != "source"} == \
               {k: v for k, v in after["cells"][i].items() if k != "source"}
    assert before["metadata"] == after["metadata"]
    code = "".join(after["cells"][2]["source"])
    assert "self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in self.layers])" in code
    assert "x = norm(layer(x))" in code and "DEBUG" not in code
    assert "".join(after["cells"][3]["source"]) == "!pip install einops\nmodel = Encoder()"  # magic kept
    assert after["cells"][4] == before["cells"][4] and after["cells"][5] == before["cells"][5]  # %%time, broken
    # nbformat's own layout: one-space indent, sorted keys, raw unicode, final newline
    assert target.read_text(encoding="utf-8") == json.dumps(after, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    assert check_paths([target], load_config([tmp_path]), cache=False).findings == []


def test_nothing_to_fix_round_trips_byte_for_byte(tmp_path):
    for notebook in (STACK, CLEAN):
        nb = load(notebook.read_bytes())
        assert rebuild(nb, nb.source) == notebook.read_bytes()
    target = tmp_path / "clean.ipynb"
    shutil.copy(CLEAN, target)
    mtime = target.stat().st_mtime_ns
    report = apply_paths([target], load_config([tmp_path]))
    assert report.written == [] and target.stat().st_mtime_ns == mtime


def test_another_json_layout_is_kept(tmp_path):
    data = json.loads(STACK.read_text())
    data = {"nbformat": data["nbformat"], "nbformat_minor": data["nbformat_minor"], "metadata": data["metadata"],
            "cells": data["cells"]}  # unsorted keys, two-space indent, escaped unicode
    raw = json.dumps(data, indent=2, ensure_ascii=True) + "\n"
    fixed = fix_source(raw.encode(), "nb.ipynb", CONFIG)
    assert fixed.error is None and fixed.changed
    assert fixed.fixed.decode() == json.dumps(json.loads(fixed.fixed), indent=2, ensure_ascii=True) + "\n"
    assert list(json.loads(fixed.fixed)) == ["nbformat", "nbformat_minor", "metadata", "cells"]


def test_a_layout_that_would_not_come_back_is_not_rewritten():
    raw = STACK.read_text().replace('"cells": [', '"cells":  [', 1).encode()  # a hand-edited spacing
    fixed = fix_source(raw, "nb.ipynb", CONFIG)
    assert fixed.error is not None and "not rewritten" in fixed.error.message
    assert fixed.fixed == raw


def test_a_broken_notebook_is_a_per_file_error_and_the_run_goes_on(tmp_path):
    (tmp_path / "broken.ipynb").write_text('{"cells": [{"source": "from mamba_ssm import Mamba\\nclass Net')  # cut short
    shutil.copy(STACK, tmp_path / "ok.ipynb")
    report = check_paths([tmp_path], load_config([tmp_path]), cache=False)
    assert [e.path.endswith("broken.ipynb") for e in report.errors] == [True]
    assert "not a readable notebook" in report.errors[0].message
    assert len(report.findings) == 3


def test_extend_exclude_and_include_govern_notebooks(tmp_path):
    shutil.copy(STACK, tmp_path / "nb.ipynb")
    (tmp_path / "pyproject.toml").write_text('[tool.mambafix]\nextend-exclude = ["*.ipynb"]\n')
    assert check_paths([tmp_path], load_config([tmp_path]), cache=False).files_checked == 0
    (tmp_path / "pyproject.toml").write_text('[tool.mambafix]\ninclude = ["*.py"]\n')
    assert check_paths([tmp_path], load_config([tmp_path]), cache=False).files_checked == 0
    (tmp_path / "pyproject.toml").write_text('[tool.mambafix]\n')
    assert check_paths([tmp_path], load_config([tmp_path]), cache=False).files_checked == 1
    (tmp_path / "train_a.txt").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text('[tool.mambafix]\nextend-include = ["train_?.txt"]\n')  # a glob, not *.ext
    assert check_paths([tmp_path], load_config([tmp_path]), cache=False).files_checked == 2
