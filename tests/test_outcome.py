"""The last run's outcome (engine/outcome.py): a warm run, or one after an edit that leaves what
every file exports and looks up as it was, builds no class index and reads back no result; any
other edit runs the cross-file rounds again, and the findings are always those of a cold run."""

from pathlib import Path

import pytest

from test_scale import HEADER, _two_pairs


class _Counted:
    """The rounds' index, counting how often it is built."""

    built = 0

    def __init__(self, real):
        self.real = real

    def __call__(self):
        _Counted.built += 1
        return self.real()


@pytest.fixture
def tree(tmp_path, monkeypatch):
    from mambafix.config import load_config
    from mambafix.engine import rounds, sources

    monkeypatch.setattr(sources, "RACY_NS", 0)  # the files here were all written just now
    monkeypatch.setenv("MAMBAFIX_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "tree"
    root.mkdir()
    _two_pairs(root)
    # a file the prefilter lets through (it names Mamba) that stacks a wrapper of another file:
    # its first reading and a round's reading both stand in its own entry
    (root / "enc3.py").write_text(HEADER + "from wrap2 import Mixer2\n\n\nclass Enc3(nn.Module):\n"
                                  "    def __init__(self, d):\n        super().__init__()\n"
                                  "        self.head = Mamba(d)\n"
                                  "        self.mixers = nn.ModuleList([Mixer2(d) for _ in range(3)])\n\n"
                                  "    def forward(self, x):\n        x = self.head(x)\n        for m in self.mixers:\n"
                                  "            x = m(x)\n        return x\n")
    # a class no check wants (it names no Mamba layer) and no round reads: until an edit makes
    # it stack a wrapper of another file
    (root / "plain.py").write_text("import torch.nn as nn\n\n\nclass Plain(nn.Module):\n    def __init__(self, d):\n"
                                   "        super().__init__()\n        self.mixers = nn.ModuleList([nn.Linear(d, d) for _ in range(3)])\n\n"
                                   "    def forward(self, x):\n        for m in self.mixers:\n            x = m(x)\n        return x\n")
    _Counted.built = 0
    monkeypatch.setattr(rounds, "Index", _Counted(rounds.Index))
    return root, load_config([root])


def _run(root, config, cache=True):
    from mambafix.engine.project import check_paths

    return check_paths([root], config, cache=cache, jobs=1)


def _names(report) -> list[tuple[str, int, str]]:
    return [(Path(f.path).name, f.line, f.message) for f in report.findings]


def test_a_warm_run_builds_no_index_and_reports_what_the_cold_run_did(tree):
    root, config = tree
    cold = _run(root, config)
    assert _Counted.built == 1 and sorted(n for n, _, _ in _names(cold)) == ["enc1.py", "enc2.py", "enc3.py"]
    warm = _run(root, config)
    assert _Counted.built == 1  # not built again
    # every file but plain.py (no check wants it, no round reads it) answered from the store
    assert (warm.findings, warm.files_parsed, warm.files_cached) == (cold.findings, 0, cold.files_checked - 1)


def test_an_edit_that_changes_no_export_or_lookup_reparses_that_file_alone(tree):
    root, config = tree
    cold = _run(root, config)
    wrap = root / "wrap2.py"  # comments above the wrapper Enc2 uses: what it exports is the same
    wrap.write_text(wrap.read_text().replace("class Mixer2", "# the second mixer\n# (two lines)\nclass Mixer2"))
    edited = _run(root, config)
    assert _Counted.built == 1 and edited.files_parsed == 1
    assert _names(edited) == _names(cold) == _names(_run(root, config, cache=False))


@pytest.mark.parametrize("edit", [
    # the file was read again in a round (it uses Mixer1 of wrap1.py): it must be read again now,
    # even where it exports and looks up the same (its finding moves down a line)
    ("enc1.py", "class Enc1", "# the first encoder\nclass Enc1"),
    ("enc3.py", "        for m in", "        # the stack\n        for m in"),
    ("enc1.py", "for _ in range(3)", "for _ in range(5)"),
    # what the file exports changes: Mixer1 normalizes its output now
    ("wrap1.py", "return self.ssm(x)", "return nn.functional.layer_norm(self.ssm(x), x.shape[-1:])"),
    # a file no check wanted and no round read now stacks a wrapper: a round must read it
    ("plain.py", "import torch.nn as nn\n", "import torch.nn as nn\nfrom wrap1 import Mixer1\n",
     "nn.Linear(d, d)", "Mixer1(d)"),
    # what the file looks up changes: Enc2 now uses Mixer1 too
    ("enc2.py", "from wrap2 import Mixer2", "from wrap1 import Mixer1 as Mixer2"),
])
def test_any_other_edit_runs_the_rounds_again(tree, edit):
    root, config = tree
    _run(root, config)
    name, *replacements = edit
    path = root / name
    text = path.read_text()
    for old, new in zip(replacements[::2], replacements[1::2]):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    edited = _run(root, config)
    assert _Counted.built == 2
    assert _names(edited) == _names(_run(root, config, cache=False))


def test_a_file_added_runs_the_rounds_again_and_a_later_warm_run_does_not(tree):
    root, config = tree
    first = _run(root, config)
    (root / "notes.py").write_text("x = 1\n")
    assert _run(root, config).findings == first.findings and _Counted.built == 2
    assert _run(root, config).findings == first.findings and _Counted.built == 2


def test_another_question_has_its_own_rounds(tree):
    """Another selection, or a part of the tree, is another question: its rounds run, and the
    whole tree's after it again."""
    from dataclasses import replace

    root, config = tree
    whole = _run(root, config)
    narrower = replace(config, select=frozenset({"MF001"}))
    assert _names(_run(root, narrower)) == _names(_run(root, narrower, cache=False))
    part = root / "enc1.py"
    assert _names(_run(part, config)) == _names(_run(part, config, cache=False))
    built = _Counted.built
    assert _run(root, config).findings == whole.findings and _Counted.built == built + 1


@pytest.mark.parametrize("damage", ["table", "entries", "both"])
def test_a_damaged_store_is_ignored_and_rebuilt(tree, tmp_path, damage):
    """A store cut short or overwritten (a crash, a full disk, another tool) costs speed only: the
    findings are those of a cold run, what cannot be read back is analysed again, and the next
    run has a whole store again."""
    root, config = tree
    cold = _run(root, config)
    store = next((tmp_path / "cache").glob("v*"))
    if damage in ("table", "both"):  # the files table and the outcome
        (store / "files.json").write_text('{"files": {"')
    if damage in ("entries", "both"):
        for entry in (store / "entries").rglob("*.json"):
            entry.write_bytes(entry.read_bytes()[: len(entry.read_bytes()) // 2])
    # an edit the outcome cannot answer: every file's first reading is needed again
    wrap = root / "wrap1.py"
    wrap.write_text(wrap.read_text().replace("return self.ssm(x)", "return nn.functional.layer_norm(self.ssm(x), x.shape[-1:])"))
    damaged = _run(root, config)
    assert damaged.errors == [] and _names(damaged) == _names(_run(root, config, cache=False))
    # wrap1.py and enc1.py (which uses Mixer1: read again in the round); with the entries gone
    # also the other first readings and the round readings the store kept (files_parsed counts a
    # file first read in a round, files_reread one read before)
    assert (damaged.files_parsed, damaged.files_reread) == ((2, 0) if damage == "table" else (5, 1))
    again = _run(root, config)
    assert (again.findings, again.files_parsed) == (damaged.findings, 0)


def test_pruning_a_full_store_keeps_what_the_outcome_names(tree, monkeypatch):
    """Past MAX_ENTRIES the store drops what the run did not use; a run answered by the outcome
    uses no entry itself, so the entries the outcome names are kept too: a later edit that needs
    every first reading again reads them back instead of parsing the tree again."""
    from mambafix.engine import cache

    root, config = tree
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)  # every run past it
    _run(root, config)
    wrap = root / "wrap2.py"  # answered by the outcome: one entry written, the store pruned
    wrap.write_text(wrap.read_text().replace("class Mixer2", "# the second mixer\nclass Mixer2"))
    assert _run(root, config).files_parsed == 1 and _Counted.built == 1
    wrap = root / "wrap1.py"  # an edit the outcome cannot answer
    wrap.write_text(wrap.read_text().replace("return self.ssm(x)", "return nn.functional.layer_norm(self.ssm(x), x.shape[-1:])"))
    edited = _run(root, config)
    assert (edited.files_parsed, edited.files_reread) == (2, 0)  # wrap1.py, and enc1.py in its round
    assert _names(edited) == _names(_run(root, config, cache=False))


@pytest.mark.parametrize("row", [["a", "list"], "text", {"findings": "text", "model_classes": [], "not_followed": []},
                                 {"findings": [["not", "a", "row"]], "model_classes": [], "not_followed": []}])
def test_an_outcome_whose_rows_another_writer_damaged_is_ignored(tree, tmp_path, row):
    """Valid JSON of the right scope, wrong inside (another build writing the same store): the
    rounds run and the findings are a cold run's, never an error."""
    import json

    root, config = tree
    cold = _run(root, config)
    table = next((tmp_path / "cache").glob("v*")) / "files.json"
    data = json.loads(table.read_text())
    for kept in data["outcome"]["files"]:
        if kept[3] is not None:
            kept[3] = row
    table.write_text(json.dumps(data))
    again = _run(root, config)
    assert (again.findings, again.errors) == (cold.findings, []) and _Counted.built == 2


def test_pruning_leaves_another_runs_file_being_written(tree, tmp_path, monkeypatch):
    """Two runs sharing a store: one's pruning must not remove the temporary file the other is
    about to move into place (its whole save would be lost)."""
    from mambafix.engine import cache

    root, config = tree
    _run(root, config)
    shard = next(next((tmp_path / "cache").glob("v*")).glob("entries/*"))
    writing = shard / ".0123.json.999.abcd.tmp"
    writing.write_text("{}")
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    wrap = root / "wrap2.py"  # one new entry: the store is past MAX_ENTRIES and pruned
    wrap.write_text(wrap.read_text() + "\n# edited\n")
    assert _run(root, config).files_parsed == 1
    assert writing.exists()
