"""The held-out cases of tests/heldout (labelled before MF005-MF007 existed): each rule's recall
and false positives against the issue's bar, recall >= 0.9 and no false positive."""

import csv

import pytest

from conftest import ROOT

FOLDER = ROOT / "tests" / "heldout"
CODES = ("MF005", "MF006", "MF007")


def _found() -> dict[str, set[str]]:
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.file import check_source

    config = with_cli_overrides(load_config([FOLDER]), select=list(CODES))
    return {path.name: {f.code for f in check_source(path.read_text(), path.name, config)}
            for path in sorted(FOLDER.glob("*.py"))}


@pytest.fixture(scope="module")
def scored():
    rows = list(csv.DictReader((FOLDER / "labels.tsv").open(), delimiter="\t"))
    return rows, _found()


@pytest.mark.parametrize("code", CODES)
def test_recall_and_no_false_positive(scored, code):
    rows, found = scored
    positives = {r["file"] for r in rows if r["rule"] == code and r["label"] == "1"}
    assert positives and positives <= set(found)
    hit = {f for f in positives if code in found[f]}
    false = {f for f, codes in found.items() if code in codes and f not in positives}
    print(f"{code}: recall {len(hit)}/{len(positives)}, false positives {sorted(false)}")
    assert len(hit) / len(positives) >= 0.9, sorted(positives - hit)
    assert false == set()
