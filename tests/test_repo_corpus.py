"""MF001 on the repository corpus (tests/repo_corpus.py): every case finds exactly its expected
classes, and the corpus's precision and recall are measured and held to the project's bar
(recall >= 0.9 at precision >= 0.95). The probe's agreement with each case is checked by the
behaviour harness (tests/test_fix_behaviour.py), which takes the same cases."""

import pytest

from conftest import ROOT
from mambafix.config import load_config
from mambafix.engine.file import check_source
from repo_corpus import CASES

CONFIG = load_config([ROOT])


def reported(case) -> set[str]:
    return {f.message.split(".", 1)[0] for f in check_source(case.code, "m.py", CONFIG) if f.code == "MF001"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case):
    assert reported(case) == set(case.expected), case.source


def test_corpus_is_broad_and_meets_the_precision_and_recall_bar(capsys):
    def repository(source: str) -> str | None:
        """The repository (owner/name) or stored file id a case cites; None for a described pattern."""
        if source.startswith("file id "):
            return " ".join(source.split()[:3])
        head = source.split()[0].split("@")[0]
        return head if head.count("/") == 1 and not head.endswith("-style") else None

    repositories = {repository(c.source) for c in CASES} - {None}
    assert len(CASES) >= 20 and len(repositories) >= 20, sorted(repositories)
    assert sum(bool(c.expected) for c in CASES) >= 8 and sum(not c.expected for c in CASES) >= 8
    tp = fp = fn = 0
    for case in CASES:
        found = reported(case)
        tp += len(found & case.expected)
        fp += len(found - case.expected)
        fn += len(case.expected - found)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    with capsys.disabled():
        print(f"\nrepository corpus: {len(CASES)} cases, {tp} true, {fp} false positives, {fn} missed: "
              f"precision {precision:.2f}, recall {recall:.2f}")
    assert recall >= 0.9 and precision >= 0.95


def test_smoke_finds_the_model_classes_of_normalized_corpus_cases(tmp_path):
    """`smoke PATH` probes classes that hold a Mamba stack, normalized or not: blocks built by a
    factory from a Block given its mixer class (hustvl/Vim) count, as mamba_ssm's Block does."""
    from mambafix.engine.project import find_model_classes

    for name in ("local-block-given-its-mixer", "mixer-model-create-block", "vim-factory-blocks"):
        case = next(c for c in CASES if c.name == name)
        path = tmp_path / f"{name.replace('-', '_')}.py"
        path.write_text(case.code)
        found = [t.rpartition(":")[2] for t in find_model_classes([path], CONFIG)]
        assert found and not case.expected, (name, found)
