"""The rule catalogue: rules/*.toml, data and examples together."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REQUIRED_KEYS = ("code", "name", "enabled", "severity", "message", "summary", "what", "why", "example", "fix", "fix_safety")


@dataclass(frozen=True)
class Example:
    kind: str  # "invalid" or "valid"
    name: str
    code: str
    count: int = 0
    fixed: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    enabled: bool
    severity: str
    message: str
    summary: str
    what: str
    why: str
    example: str
    fix: str
    fix_safety: str
    data: dict
    examples: tuple[Example, ...]

    def format(self, **fields: object) -> str:
        return self.message.format(**fields)


def rules_dir() -> Path:
    """rules/ ships inside the wheel as mambafix/rules; a source checkout keeps it at the top."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules", here.parent / "rules"):
        if (candidate / "families.toml").is_file():
            return candidate
    raise FileNotFoundError("mambafix: the rule catalogue (rules/) is missing from this installation")


def _load_rule(path: Path) -> Rule:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise ValueError(f"{path.name}: missing keys {', '.join(missing)}")
    examples = tuple(
        Example(
            kind=ex["kind"],
            name=ex["name"],
            code=ex["code"].lstrip("\n"),
            count=int(ex.get("count", 0)),
            fixed=ex["fixed"].lstrip("\n") if "fixed" in ex else None,
            options=dict(ex.get("options", {})),
        )
        for ex in raw.get("examples", [])
    )
    return Rule(
        code=raw["code"],
        name=raw["name"],
        enabled=bool(raw["enabled"]),
        severity=raw["severity"],
        message=raw["message"],
        summary=raw["summary"].strip(),
        what=raw["what"].strip(),
        why=raw["why"].strip(),
        example=raw["example"].strip("\n"),
        fix=raw["fix"].strip(),
        fix_safety=raw["fix_safety"].strip(),
        data=dict(raw.get("data", {})),
        examples=examples,
    )


@functools.cache
def load_rules() -> dict[str, Rule]:
    directory = rules_dir()
    rules = {}
    for path in sorted(directory.glob("MF*.toml")):
        rule = _load_rule(path)
        rules[rule.code] = rule
    return rules


@functools.cache
def load_families() -> dict[str, list[str]]:
    return tomllib.loads((rules_dir() / "families.toml").read_text(encoding="utf-8"))


def load_models() -> dict:
    """rules/models.toml: what modules and functions do to the values MF001 follows."""
    return tomllib.loads((rules_dir() / "models.toml").read_text(encoding="utf-8"))


def rule_by_name_or_code(key: str) -> Rule | None:
    rules = load_rules()
    key_upper = key.upper()
    if key_upper in rules:
        return rules[key_upper]
    for rule in rules.values():
        if rule.name == key:
            return rule
    return None
