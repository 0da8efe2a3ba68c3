"""Every fix judged by what the patched model does, not by its text.

Sources: every rule example in rules/*.toml, every MF001 shape (positive and negative), and the
golden loop rewrites. For each, apply runs with each style (post-norm, --residual, --style
prenorm, --norm rmsnorm); then, in one separate process (tests/behaviour.py), the original and
every patched class are built with the reference backend and: the patched source compiles and
builds; one forward/backward pass reaches every parameter the fix added (no dead norms); the output has the
original's shape; the probe says UNSTABLE before where the rule says the stack is unnormalized,
STABLE for valid examples, and STABLE after every fix. A disagreement names the example.
"""

import ast
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("torch")

from conftest import ROOT, dedent  # noqa: E402
from mambafix.catalogue import load_rules  # noqa: E402
from mambafix.checks.base import FixOptions  # noqa: E402
from mambafix.config import load_config  # noqa: E402
from mambafix.engine.file import analyze_module, model_classes  # noqa: E402
from mambafix.fix.apply import fix_source  # noqa: E402
from shapes import HEADER, NEGATIVE, POSITIVE  # noqa: E402
from mambafix.engine.file import check_source  # noqa: E402
from repo_corpus import CASES as CORPUS  # noqa: E402
from test_apply import GOLDEN, golden_source  # noqa: E402
from test_fix_shapes import BIDIRECTIONAL_STEP, UNROLLED  # noqa: E402
from test_real_code import AUTHORS_FIX, HEADER as REAL_HEADER, HOME_MADE, PLAIN_AND_MIXED, PRENORM_BLOCK  # noqa: E402
from test_real_code import STACK_OF_MIXERS, WRAPPER  # noqa: E402
from fix_paths import SHAPES as PATH_SHAPES  # noqa: E402

# The reproductions of real repositories (each cites its source where it is defined).
REAL_CODE = {
    "proT-2894a5d-bimamba": WRAPPER,
    "proT-eaf9a1e-authors-fix": AUTHORS_FIX,
    "home-made-scan-stack": HOME_MADE + STACK_OF_MIXERS,
    "home-made-prenorm-blocks": PRENORM_BLOCK + STACK_OF_MIXERS,
    "plain-list-and-mixed-sequential": REAL_HEADER + PLAIN_AND_MIXED,
    "unrolled-chain": UNROLLED,
    "bidirectional-compound-step": BIDIRECTIONAL_STEP,
}

STYLES = {
    "postnorm": FixOptions(),
    "residual": FixOptions(residual=True),
    "prenorm": FixOptions(style="prenorm"),
    "rmsnorm": FixOptions(norm="rmsnorm"),
}
CONFIG = load_config([ROOT])
STACK_RULES = {"MF001", "MF002"}


def _sources() -> list[tuple[str, str, str, frozenset]]:
    """(id, source, expectation before: 'unstable' | 'stable' | 'same', rule selection)."""
    out = []
    for rule in load_rules().values():
        for ex in rule.examples:
            if rule.code == "MF001":
                expect = "unstable" if ex.kind == "invalid" else "stable"
            else:
                expect = "same"  # MF002's stacks are normalized; print rules change no behaviour
            out.append((f"{rule.code}:{ex.kind}:{ex.name}", dedent(ex.code), expect, frozenset({rule.code})))
    for name, body in POSITIVE.items():
        out.append((f"shape+:{name}", HEADER + body, "unstable", frozenset(STACK_RULES)))
    for name, body in NEGATIVE.items():
        out.append((f"shape-:{name}", HEADER + body, "stable", frozenset(STACK_RULES)))
    for name, (before, _, _) in GOLDEN.items():
        out.append((f"golden:{name}", golden_source(before), "unstable", frozenset(STACK_RULES)))
    for case in CORPUS:
        if case.probe:  # judged class by class: its expected classes unstable, the others stable
            out.append((f"corpus:{case.name}", case.code, "by-class", frozenset(STACK_RULES)))
    for name, (source, _) in PATH_SHAPES.items():
        if name != "aug-skip":  # `h += layer(h)` changes in place a tensor the layer's backward needs: no training run
            out.append((f"path:{name}", source, "unstable", frozenset(STACK_RULES)))
    for name, source in REAL_CODE.items():
        reported = any(f.code == "MF001" for f in check_source(source, "m.py", replace(CONFIG, select=frozenset(STACK_RULES))))
        out.append((f"real:{name}", source, "unstable" if reported else "stable", frozenset(STACK_RULES)))
    return out


def _case(case_id: str, source: str, select: frozenset) -> dict:
    config = replace(CONFIG, select=select)
    classes = model_classes(analyze_module(source.encode(), "m.py", replace(CONFIG, select=frozenset(STACK_RULES))))
    if not classes:  # no stack (a valid example): every class of the source the harness can build
        classes = [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    variants = {"original": source}
    remaining = {}
    for style, options in STYLES.items():
        fixed = fix_source(source.encode(), "m.py", config, options)
        assert fixed.error is None, (case_id, style, fixed.error)
        variants[style] = fixed.fixed.decode()
        remaining[style] = [f.message for f in fixed.remaining]
    return {"id": case_id, "variants": variants, "classes": classes, "remaining": remaining}


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    cases = [_case(case_id, source, select) for case_id, source, _, select in SOURCES]
    folder = tmp_path_factory.mktemp("behaviour")
    (folder / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("behaviour.py")), str(folder / "cases.json"),
                           str(folder / "out.json")], capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {c["id"]: c for c in cases}, json.loads((folder / "out.json").read_text())


SOURCES = _sources()


@pytest.mark.parametrize("case_id,expect", [(s[0], s[2]) for s in SOURCES], ids=[s[0] for s in SOURCES])
def test_fix_is_judged_by_behaviour(verdicts, case_id, expect):
    cases, results = verdicts
    case, result = cases[case_id], results[case_id]
    if expect == "same" and all(case["variants"][style] == case["variants"]["original"] for style in STYLES):
        return  # no fix written (MF006/MF007 offer none): nothing to judge; their probe: tests/test_smoke_causes.py
    probed = {cls: row for cls, row in result["original"].items() if "skipped" not in row}
    if expect != "same":
        assert probed, f"{case_id}: no class the harness could build ({result['original']})"
    expected = {f"corpus:{c.name}": c.expected for c in CORPUS}.get(case_id)
    mode = expect

    def want(cls: str) -> str:
        return ("unstable" if cls in expected else "stable") if mode == "by-class" else mode

    for cls, before in probed.items():
        expect = want(cls)
        assert "error" not in before, (case_id, cls, before)
        if before["no_ssm"]:
            assert expect != "unstable", f"{case_id}: {cls} is reported but the probe finds no SSM layer in it"
        elif expect == "unstable":
            assert not before["stable"], f"{case_id}: {cls} is reported unnormalized but the probe finds it stable"
        elif expect == "stable":
            assert before["stable"], f"{case_id}: {cls} is not reported but the probe finds it unstable: {before['bad']}"
    for style in STYLES:
        patched = result[style]
        assert "error" not in patched, (case_id, style, patched)
        changed = case["variants"][style] != case["variants"]["original"]
        for cls, before in probed.items():
            expect = want(cls)
            after = patched[cls]
            assert "error" not in after, (case_id, style, cls, after)
            assert after["shape"] == before["shape"], (case_id, style, cls)
            new_dead = sorted(set(after["dead"]) - set(before["dead"]))  # a fallback branch may be unused already
            assert new_dead == [], f"{case_id} [{style}]: {cls} parameters the fix added that get no gradient: {new_dead}"
            if before["no_ssm"]:
                continue
            declined = [m for m in case["remaining"][style] if m.startswith(f"{cls}.")]
            if expect == "unstable" and declined:
                continue  # reported with "no automatic fix" and why: the honest answer
            assert changed or expect != "unstable", f"{case_id} [{style}]: unstable, nothing written and nothing reported"
            if expect == "same" and not before["stable"]:
                continue  # a print rule's example need not be a stable model; the output shape is kept
            assert after["stable"], f"{case_id} [{style}]: {cls} still unstable after the fix: {after['bad']}"
