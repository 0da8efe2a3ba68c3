"""One file, one parse: its facts, every enabled check, noqa and per-file ignores, positions.

Shared by check (through the project runner) and apply, which also needs each finding's
diagnostic (its nodes and its fix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import libcst as cst

from mambafix.catalogue import load_rules
from mambafix.checks.base import Applicability, Diagnostic
from mambafix.checks.registry import REGISTRY, class_index_codes, load_check
from mambafix.config import Config, load_config
from mambafix.engine.imports import module_name_for
from mambafix.engine.results import FileResult
from mambafix.flow.file_facts import FileFacts, failure
from mambafix.facts.kinds import Container, Kind
from mambafix.notebook import Notebook, NotebookError, is_notebook, load, locate
from mambafix.report.findings import FileError, Finding
from mambafix.source import SourceError, decode
from mambafix.syntax.positions import statement_positions

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*mambafix:\s*ignore(?:\[(?P<codes>[^\]]*)\])?")


@dataclass
class FileAnalysis:
    """Everything one parse of one file found: each reported diagnostic with its finding."""

    module: cst.Module
    facts: FileFacts
    reported: list[tuple[Diagnostic, Finding]]

    @property
    def findings(self) -> list[Finding]:
        return [f for _, f in self.reported]


def suppressed(line_text: str, code: str) -> bool:
    for pattern in (_NOQA, _IGNORE):
        match = pattern.search(line_text)
        if match:
            codes = match.group("codes")
            if not codes:
                return True
            if code.upper() in {c.strip().upper() for c in re.split(r"[\s,]+", codes) if c.strip()}:
                return True
    return False


def _relpath(path: str, root: Path | None) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix() if root else Path(path).as_posix()
    except (ValueError, OSError):
        return Path(path).as_posix()


def analyze_module(data: bytes, path: str, config: Config, index: dict | None = None,
                   codes: frozenset[str] | None = None) -> FileAnalysis:
    """Parse once, build the facts, run the enabled checks (`codes`, default: the configured
    selection). Raises SourceError or cst.ParserSyntaxError on bad input."""
    text = decode(data)
    module = cst.parse_module(data)
    codes = config.select if codes is None else codes & config.select
    module_name = module_name_for(path, config.root)
    package = module_name.rsplit(".", 1)[0] if "." in module_name else ""
    if path.endswith("__init__.py"):
        package = module_name
    facts = FileFacts(module, module_name, package, config, index)
    facts.path, facts.source = path, data
    diagnostics = []
    for code in sorted(codes):
        if code not in REGISTRY:
            continue
        try:
            found = list(load_check(code).run(facts))
        except Exception as exc:  # noqa: BLE001 - a check this file defeats: the others still run
            facts.failed.setdefault(f"{code} on the whole file", failure(exc))
            continue
        diagnostics.extend(found)
    lines = text.splitlines()
    nodes = [d.node for d in diagnostics] + [n for d in diagnostics for n, _ in d.flow]
    positions = statement_positions(module, data, lines, nodes) if diagnostics else {}
    ignored = config.ignored_for(_relpath(path, config.root))
    rules = load_rules()
    reported: list[tuple[Diagnostic, Finding]] = []
    for diagnostic in diagnostics:
        line, col = positions.get(id(diagnostic.node), (1, 1))
        code = diagnostic.code
        if code in ignored or (0 < line <= len(lines) and suppressed(lines[line - 1], code)):
            continue
        rule = rules[code]
        flow = tuple((*positions[id(n)], text, None) for n, text in diagnostic.flow if id(n) in positions)
        finding = Finding(path, line, col, code, rule.name, rule.severity, rule.format(**diagnostic.message_fields()),
                          diagnostic.applicability != Applicability.NONE, diagnostic.no_fix, flow=flow)
        reported.append((diagnostic, finding))
    reported.sort(key=lambda pair: (pair[1].line, pair[1].col, pair[1].code))
    return FileAnalysis(module, facts, reported)


def python_source(data: bytes, path: str) -> tuple[bytes, Notebook | None]:
    """The Python to analyse: the file itself, or a notebook's code cells joined."""
    if is_notebook(path):
        nb = load(data)
        return nb.source.encode("utf-8"), nb
    return data, None


def in_cells(findings: list[Finding], source: bytes) -> list[Finding]:
    """Findings on a notebook's joined source, placed in their cells."""
    text = source.decode("utf-8")
    out = []
    for finding in findings:
        cell, line = locate(text, finding.line)
        flow = []
        for step_line, col, message, _ in finding.flow:
            step_cell, within = locate(text, step_line)
            flow.append((within, col, message, step_cell))
        out.append(replace(finding, cell=cell, line=line, flow=tuple(flow)))
    return out


def check_source(source: bytes | str, path: str = "<stdin>", config: Config | None = None,
                 index: dict | None = None) -> list[Finding]:
    """Findings for one in-memory source. Raises SourceError / ParserSyntaxError on bad input."""
    config = config or load_config()
    data = source.encode("utf-8") if isinstance(source, str) else source
    return analyze_module(data, path, config, index).findings


def parse_error_message(exc: Exception) -> str:
    if isinstance(exc, cst.ParserSyntaxError):
        return f"cannot parse: {exc.message} (line {exc.raw_line}, column {exc.raw_column + 1})"
    if isinstance(exc, (SourceError, NotebookError)):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "cannot parse: nesting too deep"
    if isinstance(exc, (SyntaxError, ValueError)):  # from the standard library's parser, used for positions
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        return f"cannot parse: {getattr(exc, 'msg', None) or exc}{where}"
    return f"internal error: {type(exc).__name__}: {exc}"


def model_classes(analysis: FileAnalysis) -> list[str]:
    """Classes that hold a Mamba-family stack, normalized or not (smoke's targets in a path):
    the classes with a stack finding first, then the others, in file order."""
    facts = analysis.facts
    names = [d.owner_class for d, _ in analysis.reported if d.owner_class]
    names += [use.cls.name.value for use in facts.all_stack_uses()]
    for cls in facts.all_classes:
        for stack in facts.init_info(cls).stacks.values():
            several = stack.container != Container.SINGLE and (stack.repeated is not None or len(stack.elements or ()) > 1)
            if several and stack.kind() in (Kind.MAMBA, Kind.NORMALIZED):
                names.append(cls.name.value)
    return list(dict.fromkeys(names))


def analyze_file(path: str, data: bytes, config: Config, index: dict | None, codes: frozenset[str]) -> FileResult:
    result = FileResult()
    try:
        source, nb = python_source(data, path)
        analysis = analyze_module(source, path, config, index, codes)
        result.findings = in_cells(analysis.findings, source) if nb is not None else analysis.findings
        facts = analysis.facts
        if codes & class_index_codes():
            result.model_classes = model_classes(analysis)
            result.summaries = facts.summaries()
            result.unresolved = set(facts.unresolved)
            if index:
                result.looked_up = dict(facts.looked_up)
        result.not_followed = facts.not_followed()
    except Exception as exc:  # noqa: BLE001 - every input error is a per-file error
        result.error = FileError(path, parse_error_message(exc))
    return result
