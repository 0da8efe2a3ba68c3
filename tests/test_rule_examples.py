"""Every example in rules/*.toml is a test: invalid ones find `count` findings, valid ones none,
and each `fixed` text is what apply produces (and is then clean and stable)."""

import pytest

from mambafix.catalogue import load_rules

CASES = [
    pytest.param(rule.code, ex, id=f"{rule.code}-{ex.kind}-{ex.name}")
    for rule in load_rules().values()
    for ex in rule.examples
]


def _config(code):
    from mambafix.config import load_config, with_cli_overrides

    return with_cli_overrides(load_config(), select=[code])


@pytest.mark.parametrize("code,example", CASES)
def test_example_findings(code, example):
    from mambafix.engine.file import check_source

    found = [f for f in check_source(example.code, "example.py", _config(code)) if f.code == code]
    if example.kind == "invalid":
        assert len(found) == example.count, found
    else:
        assert found == []


def test_every_rule_has_both_kinds_of_example():
    for rule in load_rules().values():
        kinds = {ex.kind for ex in rule.examples}
        assert kinds == {"invalid", "valid"}, rule.code
        assert any(ex.fixed for ex in rule.examples if ex.kind == "invalid"), rule.code
