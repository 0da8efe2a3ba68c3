"""The check engine: prefilter, one libcst parse and one traversal per file, every rule.

`analyze_module` is shared by check and apply; `check_paths` adds discovery, the
cross-file index of wrapper classes, the cache and the process pool.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import libcst as cst

from mambafix.catalogue import load_rules
from mambafix.config import Config, load_config
from mambafix.model import ClassSummary
from mambafix.names import NameResolver
from mambafix.positions import statement_positions
from mambafix.prints import PrintFinding, PrintMatcher
from mambafix.source import SourceError, decode, read_bytes
from mambafix.stacks import Families, FileModel, StackFinding, analyze_stacks

POOL_THRESHOLD = 24  # files that need a parse before a process pool pays for itself

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*mambafix:\s*ignore(?:\[(?P<codes>[^\]]*)\])?")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    col: int
    code: str
    name: str
    severity: str
    message: str
    fixable: bool
    fix_note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FileError:
    path: str
    message: str


@dataclass
class FileResult:
    findings: list[Finding] = field(default_factory=list)
    error: FileError | None = None
    summaries: dict[str, ClassSummary] = field(default_factory=dict)
    unresolved: set[str] = field(default_factory=set)
    parsed: bool = False


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    files_checked: int = 0
    files_parsed: int = 0
    files_cached: int = 0

    def exit_code(self, exit_zero: bool = False) -> int:
        if self.errors:
            return 2
        if self.findings and not exit_zero:
            return 1
        return 0


@dataclass
class Analysis:
    """Everything one parse of one file found: findings with their CST nodes for apply."""

    module: cst.Module
    stack_findings: list[StackFinding]
    print_findings: list[PrintFinding]
    findings: list[Finding]
    model: FileModel | None
    resolver: NameResolver


class _Collector(cst.CSTVisitor):
    """The one traversal: imports for name resolution, statements for MF003."""

    def __init__(self, resolver: NameResolver, matcher: PrintMatcher | None) -> None:
        self.resolver = resolver
        self.matcher = matcher
        self.prints: list[PrintFinding] = []

    def visit_Import(self, node: cst.Import) -> bool:
        self.resolver.add_import(node)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self.resolver.add_import_from(node)
        return False

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        if self.matcher is not None:
            self.prints.extend(self.matcher.match(node))
        return True

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> bool:
        if self.matcher is not None:
            self.prints.extend(self.matcher.match(node))
        return True

    # expressions hold no statements or imports: skip their subtrees
    def visit_Call(self, node: cst.Call) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> bool:
        return False


def marker_needles(config: Config) -> tuple[bytes, ...]:
    """Cheap substrings that every marker leaves in the file, even split across strings."""
    needles = []
    for marker in config.markers:
        words = marker.split()
        needles.append(max(words, key=len).encode() if words else marker.encode())
    return tuple(needles)


def layer_needles(config: Config, extra_names: set[str] = frozenset()) -> tuple[bytes, ...]:
    return tuple(sorted({n.encode() for n in (config.layer_class_names() | set(extra_names))}))


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
    collector = _Collector(resolver, matcher)
    module.visit(collector)
    stack_findings: list[StackFinding] = []
    model = None
    if want_stacks and ({"MF001", "MF002"} & select):
        model = FileModel(module, resolver, Families(config), module_name, index)
        stack_findings = [f for f in analyze_stacks(model) if f.code in select]
    rules = load_rules()
    nodes = [f.node for f in stack_findings] + [p.small for p in collector.prints]
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
    for p in collector.prints:
        before = len(findings)
        add("MF003", p.small, rules["MF003"].format(call=p.call_name, marker=p.marker), None, [])
        kept_prints.append(len(findings) > before)
    findings.sort(key=lambda f: (f.line, f.col, f.code))
    return Analysis(
        module,
        [f for f, k in zip(stack_findings, kept_stacks) if k],
        [p for p, k in zip(collector.prints, kept_prints) if k],
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


# -- running many files -----------------------------------------------------------------

_WORKER_CONFIG: Config | None = None


def _init_worker(config: Config) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = config


def _work(task: tuple[str, bytes, dict | None, bool, bool]) -> FileResult:
    path, data, index, stacks, prints = task
    return analyze_file(path, data, _WORKER_CONFIG, index, stacks, prints)


def run_tasks(tasks: list[tuple], config: Config, jobs: int | None) -> list[FileResult]:
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs <= 1 or len(tasks) < POOL_THRESHOLD:
        _init_worker(config)
        return [_work(t) for t in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context,
                             initializer=_init_worker, initargs=(config,)) as pool:
        chunk = max(1, len(tasks) // (jobs * 4))
        return list(pool.map(_work, tasks, chunksize=chunk))


@dataclass
class _Pending:
    path: str
    data: bytes
    stacks: bool
    prints: bool


def _needs(data: bytes, config: Config, layer: tuple[bytes, ...], markers: tuple[bytes, ...]) -> tuple[bool, bool]:
    if not config.prefilter:
        return True, True
    return any(n in data for n in layer), any(n in data for n in markers)


def check_paths(paths: list[str | Path], config: Config | None = None, *, cache: bool = True,
                jobs: int | None = None, stdin: tuple[str, bytes] | None = None, progress=None) -> Report:
    """Check files and folders. `stdin` is (display name, bytes) for `-`."""
    from mambafix.discovery import discover

    config = config or load_config([Path(p) for p in paths])
    report = Report()
    found = discover([Path(p) for p in paths if str(p) != "-"], config)
    report.errors.extend(FileError(str(p), msg) for p, msg in found.errors)
    sources: list[tuple[str, bytes]] = []
    for path in found.files:
        try:
            sources.append((str(path), read_bytes(path)))
        except SourceError as exc:
            report.errors.append(FileError(str(path), str(exc)))
    if stdin is not None:
        sources.append(stdin)
    report.files_checked = len(sources)
    results = analyze_sources(sources, config, report, cache=cache, jobs=jobs, progress=progress)
    for result in results:
        report.findings.extend(result.findings)
        if result.error is not None:
            report.errors.append(result.error)
    report.findings.sort(key=lambda f: (f.path, f.line, f.col, f.code))
    report.errors.sort(key=lambda e: e.path)
    return report


def analyze_sources(sources: list[tuple[str, bytes]], config: Config, report: Report, *, cache: bool = True,
                    jobs: int | None = None, progress=None) -> list[FileResult]:
    from mambafix.cache import ResultCache

    store = ResultCache.open(config) if cache else None
    layer, markers = layer_needles(config), marker_needles(config)
    results: dict[int, FileResult] = {}
    pending: list[tuple[int, _Pending]] = []
    skipped: list[int] = []
    for i, (path, data) in enumerate(sources):
        stacks, prints = _needs(data, config, layer, markers)
        if not (stacks or prints):
            skipped.append(i)
            continue
        cached = store.get(data, path) if store else None
        if cached is not None:
            results[i] = cached
            report.files_cached += 1
            continue
        pending.append((i, _Pending(path, data, stacks, prints)))
    computed = run_tasks([(p.path, p.data, None, p.stacks, p.prints) for _, p in pending], config, jobs)
    for (i, p), result in zip(pending, computed):
        results[i] = result
        report.files_parsed += 1
        if store is not None and result.error is None:
            store.store(p.data, p.path, result)
    # Cross-file wrappers: classes in one file that act as unnormalized Mamba layers, used in another.
    index: dict[str, ClassSummary] = {}
    for result in results.values():
        index.update(result.summaries)
    rounds = 0
    while index and rounds < 3:
        rounds += 1
        names = {k.rsplit(".", 1)[-1] for k in index}
        redo = []
        for i, (path, data) in enumerate(sources):
            result = results.get(i)
            if result is not None and result.error is None and _resolves(result.unresolved, index):
                redo.append(i)
            elif result is None and any(n.encode() in data for n in names):
                redo.append(i)
        if not redo:
            break
        again = run_tasks([(sources[i][0], sources[i][1], index, True, True) for i in redo], config, jobs)
        changed = False
        for i, result in zip(redo, again):
            if i not in results:
                report.files_parsed += 1
            results[i] = result
            new_summaries = {k: v for k, v in result.summaries.items() if k not in index}
            if new_summaries:
                index.update(new_summaries)
                changed = True
        if not changed:
            break
    if store is not None:
        store.save()
    return [results[i] for i in sorted(results)]


def _resolves(unresolved: set[str], index: dict) -> bool:
    for name in unresolved:
        for key in index:
            if key == name or key.endswith("." + name) or name.endswith("." + key):
                return True
    return False
