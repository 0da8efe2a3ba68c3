"""Report renderers: text, json, sarif, github. Each returns a string."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from mambafix._version import __version__
from mambafix.catalogue import load_rules

JSON_SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFO_URI = "https://github.com/mambafix/mambafix"


def render_text(report, statistics: bool = False, color: bool = False) -> str:
    from mambafix.report.terminal import paint

    lines = []
    for f in report.findings:
        suffix = "" if f.fixable else paint(f"  (no automatic fix: {f.fix_note})", "dim", color)
        probe = f"  [{f.probe}]" if f.probe else ""
        lines.append(f"{paint(f.where + ':', 'path', color)} {paint(f.code, 'code', color)} {f.message}{probe}{suffix}")
    for e in report.errors:
        lines.append(f"{paint(e.path + ':', 'path', color)} {paint('error:', 'error', color)} {e.message}")
    for e in report.skipped:
        lines.append(f"{paint(e.path + ':', 'path', color)} skipped: {e.message}")
    for e in report.not_followed:
        lines.append(f"{paint(e.path + ':', 'path', color)} not followed: {e.message}")
    if statistics and report.findings:
        counts = Counter(f.code for f in report.findings)
        rules = load_rules()
        lines.append("")
        files = {code: len({f.path for f in report.findings if f.code == code}) for code in counts}
        for code, n in sorted(counts.items()):
            lines.append(f"{n:5d}  {code}  {rules[code].name}  (in {_files(files[code])})")
    if report.probe is not None:
        lines.append(probe_line(report.probe))
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def probe_line(counts: dict) -> str:
    """`Probe: 2 finding(s) confirmed, 0 not confirmed, 0 not probed.`, or nothing to confirm."""
    if not any(counts.values()):
        return "Probe: nothing to confirm (no MF001, MF005, MF006 or MF007 finding)."
    return (f"Probe: {counts['confirmed']} finding(s) confirmed, {counts['not_confirmed']} not confirmed, "
            f"{counts['not_probed']} not probed.")


def _files(n: int) -> str:
    return f"{n} file{'s' if n != 1 else ''}"


def summary_line(report) -> str:
    """`Found 8 findings in 2 files (4 files checked; 8 fixable with `mambafix apply`).` or
    `No findings (4 files checked).`: the files with findings, then the files checked."""
    n = len(report.findings)
    checked = f"{_files(report.files_checked)} checked"
    if n:
        fixable = sum(1 for f in report.findings if f.fixable)
        with_findings = len({f.path for f in report.findings})
        text = (f"Found {n} finding{'s' if n != 1 else ''} in {_files(with_findings)} "
                f"({checked}; {fixable} fixable with `mambafix apply`)")
    else:
        text = f"No findings ({checked})"
    if report.errors:
        text += f"; {len(report.errors)} file error{'s' if len(report.errors) != 1 else ''}"
    if report.skipped:
        text += f"; {_files(len(report.skipped))} skipped"
    if report.not_followed:
        text += f"; {len(report.not_followed)} not followed"
    return text + "."


def render_json(report) -> str:
    payload = {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": {"name": "mambafix", "version": __version__},
        "findings": [f.to_dict() for f in report.findings],
        "errors": [{"path": e.path, "message": e.message} for e in report.errors],
        "skipped": [{"path": e.path, "reason": e.message} for e in report.skipped],
        "not_followed": [{"path": e.path, "what": e.message} for e in report.not_followed],
        "summary": {
            "files_checked": report.files_checked,
            "files_parsed": report.files_parsed,
            "files_cached": report.files_cached,
            "findings": len(report.findings),
            "fixable": sum(1 for f in report.findings if f.fixable),
            "errors": len(report.errors),
            "not_followed": len(report.not_followed),
            "by_code": dict(sorted(Counter(f.code for f in report.findings).items())),
        },
    }
    if report.probe is not None:
        payload["probe"] = report.probe
    return json.dumps(payload, indent=2) + "\n"


_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(path: str) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.resolve().as_uri() if p.is_absolute() or p.exists() else p.as_posix()


def _code_flow(finding) -> dict:
    """A finding's data flow as SARIF's codeFlows: the locations from source to sink."""
    locations = []
    for line, col, message, cell in finding.flow:
        location = {
            "physicalLocation": {"artifactLocation": {"uri": _uri(finding.path)},
                                 "region": {"startLine": line, "startColumn": col}},
            "message": {"text": message},
        }
        if cell is not None:
            location["properties"] = {"cell": cell}
        locations.append({"location": location})
    return {"threadFlows": [{"locations": locations}]}


def render_sarif(report) -> str:
    rules = load_rules()
    codes = sorted(rules)
    driver_rules = [
        {
            "id": code,
            "name": rules[code].name,
            "shortDescription": {"text": rules[code].summary},
            "fullDescription": {"text": rules[code].what},
            "help": {"text": rules[code].why, "markdown": f"**Why it matters**\n\n{rules[code].why}\n\n**Fix**\n\n{rules[code].fix}"},
            "defaultConfiguration": {"level": _LEVEL.get(rules[code].severity, "warning"), "enabled": rules[code].enabled},
        }
        for code in codes
    ]
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code),
            "level": _LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message + (f" [{f.probe}]" if f.probe else "")},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.path)},
                    "region": {"startLine": f.line, "startColumn": f.col},
                }
            }],
            "properties": {"fixable": f.fixable, **({"fixNote": f.fix_note} if f.fix_note else {}),
                           **({"probe": f.probe} if f.probe else {}),
                           **({"cell": f.cell} if f.cell is not None else {})},
            **({"codeFlows": [_code_flow(f)]} if f.flow else {}),
        }
        for f in report.findings
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": e.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.path)}}}],
        }
        for e in report.errors
    ] + [
        {
            "level": "note",
            "message": {"text": "skipped: " + e.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.path)}}}],
        }
        for e in report.skipped
    ] + [
        {
            "level": "note",
            "message": {"text": "not followed: " + e.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.path)}}}],
        }
        for e in report.not_followed
    ]
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "mambafix", "version": __version__, "informationUri": INFO_URI, "rules": driver_rules}},
            "invocations": [{"executionSuccessful": not report.errors, "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }
    return json.dumps(sarif, indent=2) + "\n"


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def render_github(report) -> str:
    lines = []
    for f in report.findings:
        level = "error" if f.severity == "error" else "warning"
        lines.append(
            f"::{level} title={_gh_escape('mambafix ' + f.code, True)},file={_gh_escape(f.path, True)},"
            f"line={f.line},col={f.col}::{_gh_escape(('' if f.cell is None else f'cell {f.cell}: ') + f.code + ' ' + f.message)}"
        )
    for e in report.errors:
        lines.append(f"::error title=mambafix error,file={_gh_escape(e.path, True)}::{_gh_escape(e.message)}")
    for e in report.skipped:
        lines.append(f"::notice title=mambafix skipped,file={_gh_escape(e.path, True)}::{_gh_escape(e.message)}")
    for e in report.not_followed:
        lines.append(f"::notice title=mambafix not followed,file={_gh_escape(e.path, True)}::{_gh_escape(e.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif, "github": render_github}
