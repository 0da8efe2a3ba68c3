"""Rule documentation rendered from rules/: `mambafix explain`, `mambafix rules`, docs/rules/*.md."""

from __future__ import annotations

from mambafix.catalogue import Rule, load_rules


def rule_markdown(rule: Rule) -> str:
    default = "on by default" if rule.enabled else "off by default"
    return (
        f"# {rule.code} {rule.name}\n\n"
        f"{rule.summary} (severity: {rule.severity}; {default})\n\n"
        f"## What it does\n\n{rule.what}\n\n"
        f"## Why is this bad\n\n{rule.why}\n\n"
        f"## Example\n\n```python\n{rule.example}\n```\n\n"
        f"## Fix\n\n{rule.fix}\n\n"
        f"## Fix safety\n\n{rule.fix_safety}\n"
    )


def rules_table_markdown() -> str:
    rows = ["| Code | Name | Default | Severity | Summary |", "| --- | --- | --- | --- | --- |"]
    for rule in load_rules().values():
        rows.append(f"| [{rule.code}](docs/rules/{rule.code}.md) | {rule.name} | {'on' if rule.enabled else 'off'} | {rule.severity} | {rule.summary} |")
    return "\n".join(rows)


def rules_table_text() -> str:
    rules = list(load_rules().values())
    width = max(len(r.name) for r in rules)
    lines = [f"{'CODE':6} {'NAME':{width}} {'DEFAULT':8} SUMMARY"]
    for r in rules:
        lines.append(f"{r.code:6} {r.name:{width}} {'on' if r.enabled else 'off':8} {r.summary}")
    return "\n".join(lines)


def write_rule_docs(folder) -> list[str]:
    """Write docs/rules/<CODE>.md; returns the file names written."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for rule in load_rules().values():
        (folder / f"{rule.code}.md").write_text(rule_markdown(rule), encoding="utf-8")
        names.append(f"{rule.code}.md")
    return names


if __name__ == "__main__":
    import sys

    write_rule_docs(sys.argv[1] if len(sys.argv) > 1 else "docs/rules")
