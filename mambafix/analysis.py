"""One file, one parse, one traversal: every enabled rule over a libcst tree.

Shared by check (through the engine) and apply, which also needs the nodes of each finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from mambafix.catalogue import load_rules
from mambafix.config import Config, load_config
from mambafix.names import NameResolver
from mambafix.positions import statement_positions
from mambafix.prints import PrintFinding, PrintMatcher
from mambafix.results import ClassSummary, FileError, FileResult, Finding
from mambafix.source import SourceError, decode
from mambafix.stacks import Families, FileModel, StackFinding, analyze_stacks
from mambafix.walk import statement_lines

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*mambafix:\s*ignore(?:\[(?P<codes>[^\]]*)\])?")


@dataclass
class Analysis:
    """Everything one parse of one file found: findings with their CST nodes for apply."""

    module: cst.Module
    stack_findings: list[StackFinding]
    print_findings: list[PrintFinding]
    findings: list[Finding]
    model: FileModel | None
    resolver: NameResolver


def _collect(module: cst.Module, resolver: NameResolver, matcher: PrintMatcher | None) -> list[PrintFinding]:
    """The one pass over the statements: imports for name resolution, tagged prints for MF003."""
    prints: list[PrintFinding] = []
    for line in statement_lines(module):
        for small in line.body:
            if isinstance(small, cst.Import):
                resolver.add_import(small)
            elif isinstance(small, cst.ImportFrom):
                resolver.add_import_from(small)
        if matcher is not None:
            prints.extend(matcher.match(line))
    return prints


def module_name_for(path: str, root: Path | None) -> str:
    p = Path(path)
    try:
        rel = p.resolve().relative_to(root) if root is not None else p
    except ValueError:
        rel = p
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(part for part in parts if part.isidentifier())


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


def analyze_module(
    data: bytes,
    path: str,
    config: Config,
    index: dict[str, ClassSummary] | None = None,
    want_stacks: bool = True,
    want_prints: bool = True,
    select: frozenset[str] | None = None,
) -> Analysis:
    """Parse once, traverse once, run every enabled rule. Raises SourceError or cst.ParserSyntaxError."""
    text = decode(data)
    module = cst.parse_module(data)
    select = config.select if select is None else select
    module_name = module_name_for(path, config.root)
    package = module_name.rsplit(".", 1)[0] if "." in module_name else ""
    if path.endswith("__init__.py"):
        package = module_name
    resolver = NameResolver(package)
    matcher = PrintMatcher(config, resolver) if want_prints and "MF003" in select else None
    prints = _collect(module, resolver, matcher)
    stack_findings: list[StackFinding] = []
    model = None
    if want_stacks and ({"MF001", "MF002"} & select):
        model = FileModel(module, resolver, Families(config), module_name, index)
        stack_findings = [f for f in analyze_stacks(model) if f.code in select]
    rules = load_rules()
    nodes = [f.node for f in stack_findings] + [p.small for p in prints]
    lines = text.splitlines()
    positions = statement_positions(module, data, lines, nodes) if nodes else {}
    ignored = config.ignored_for(_relpath(path, config.root))
    findings: list[Finding] = []

    def add(code: str, node, message: str, fix_note: str | None, kept: list) -> None:
        line, col = positions.get(id(node), (1, 1))
        if code in ignored or (0 < line <= len(lines) and suppressed(lines[line - 1], code)):
            return
        rule = rules[code]
        findings.append(Finding(path, line, col, code, rule.name, rule.severity, message, fix_note is None, fix_note))
        kept.append(True)

    kept_stacks, kept_prints = [], []
    for f in stack_findings:
        before = len(findings)
        add(f.code, f.node, rules[f.code].format(owner=f.owner, count=f.count, kind=f.kind), f.no_fix, [])
        kept_stacks.append(len(findings) > before)
        if len(findings) > before:
            f.public = findings[-1]
    for p in prints:
        before = len(findings)
        add("MF003", p.small, rules["MF003"].format(call=p.call_name, marker=p.marker), None, [])
        kept_prints.append(len(findings) > before)
    findings.sort(key=lambda f: (f.line, f.col, f.code))
    return Analysis(
        module,
        [f for f, k in zip(stack_findings, kept_stacks) if k],
        [p for p, k in zip(prints, kept_prints) if k],
        findings,
        model,
        resolver,
    )


def _relpath(path: str, root: Path | None) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix() if root else Path(path).as_posix()
    except (ValueError, OSError):
        return Path(path).as_posix()


def check_source(source: bytes | str, path: str = "<stdin>", config: Config | None = None,
                 index: dict[str, ClassSummary] | None = None) -> list[Finding]:
    """Findings for one in-memory source. Raises SourceError / ParserSyntaxError on bad input."""
    config = config or load_config()
    data = source.encode("utf-8") if isinstance(source, str) else source
    return analyze_module(data, path, config, index).findings


def parse_error_message(exc: Exception) -> str:
    if isinstance(exc, cst.ParserSyntaxError):
        return f"cannot parse: {exc.message} (line {exc.raw_line}, column {exc.raw_column + 1})"
    if isinstance(exc, SourceError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "cannot parse: nesting too deep"
    if isinstance(exc, (SyntaxError, ValueError)):  # from the standard library's parser, used for positions
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        return f"cannot parse: {getattr(exc, 'msg', None) or exc}{where}"
    return f"internal error: {type(exc).__name__}: {exc}"


def analyze_file(path: str, data: bytes, config: Config, index: dict | None,
                 want_stacks: bool, want_prints: bool) -> FileResult:
    result = FileResult(parsed=True)
    try:
        analysis = analyze_module(data, path, config, index, want_stacks, want_prints)
    except Exception as exc:  # noqa: BLE001 - every input error is a per-file error
        result.error = FileError(path, parse_error_message(exc))
        return result
    result.findings = analysis.findings
    if analysis.model is not None:
        result.summaries = analysis.model.summaries()
        result.unresolved = set(analysis.model.unresolved)
    return result
