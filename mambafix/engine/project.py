"""A project: discovery, prefilter, cache, process pool, cross-file rounds.

The per-file analysis (`mambafix.engine.file`: one libcst parse, every check) is imported only
when some file needs parsing, so a run that the prefilter and the cache answer never loads
libcst. `find_model_classes` gives smoke the classes that hold Mamba stacks, through the same
rounds as check.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

from mambafix.checks.needles import found
from mambafix.checks.registry import REGISTRY, class_index_codes, needles_for, script_codes
from mambafix.config import Config, load_config
from mambafix.engine.pool import pool_map
from mambafix.engine.results import FileResult
from mambafix.facts.kinds import ClassSummary
from mambafix.facts.naming import names_match
from mambafix.report.findings import FileError, Report
from mambafix.source import SourceError, read_bytes

MAX_ROUNDS = 3  # cross-file rounds: a wrapper of a wrapper of a wrapper, at most
_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_CAPITALIZED = re.compile(rb"\b[A-Z][A-Za-z0-9_]*")  # class names, as a rule: fewer to collect


class Prefilter:
    """Which selected checks can find anything in a file, by the bytes it contains."""

    def __init__(self, config: Config) -> None:
        self.enabled = config.prefilter
        self.codes = frozenset(c for c in config.select if c in REGISTRY)
        self.needles = {code: needles_for(code, config) for code in self.codes}
        self.gates = {code: REGISTRY[code].gate for code in self.codes}
        # plain needles first (one `in` each), those of several parts after
        self.needles = {code: tuple(sorted(n, key=lambda x: not isinstance(x, bytes))) for code, n in self.needles.items()}

    def wanted(self, data: bytes) -> frozenset[str]:
        if not self.enabled:
            return self.codes
        opened = {gate: any(g in data for g in gate) for gate in set(self.gates.values()) if gate}
        return frozenset(code for code, needles in self.needles.items()
                         if (not self.gates[code] or opened[self.gates[code]])
                         and any(n in data if type(n) is bytes else found(n, data) for n in needles))


# -- running many files -----------------------------------------------------------------
_WORKER_CONFIG: Config | None = None


def _init_worker(config: Config) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = config


def _work(task: tuple[str, bytes, dict | None, frozenset[str]]) -> FileResult:
    from mambafix.engine.file import analyze_file

    path, data, index, codes = task
    return analyze_file(path, data, _WORKER_CONFIG, index, codes)


def run_tasks(tasks: list[tuple], config: Config, jobs: int | None, progress=None) -> list[FileResult]:
    """Analyse each task's file, in a process pool when there are enough of them.
    `progress(advance=1)` is called as each file is done."""
    return list(pool_map(_work, tasks, _init_worker, (config,), jobs, progress, max_chunk=16))


def read_sources(files: list[Path], config: Config, errors: list[FileError],
                 skipped: list[FileError]) -> list[tuple[str, bytes]]:
    """The bytes of each file; an unreadable one is an error, one over max-file-size is skipped."""
    sources: list[tuple[str, bytes]] = []
    for path in files:
        try:
            data = read_bytes(path)
        except SourceError as exc:
            errors.append(FileError(str(path), str(exc)))
            continue
        if len(data) > config.max_file_size:
            skipped.append(FileError(str(path), f"larger than max-file-size ({len(data) / 1e6:.1f} MB > "
                                                f"{config.max_file_size / 1e6:.1f} MB); not checked"))
            continue
        sources.append((str(path), data))
    return sources


def _gather(paths: list[str | Path], config: Config, report: Report) -> list[tuple[str, bytes]]:
    from mambafix.engine.discovery import discover

    found = discover([Path(p) for p in paths if str(p) != "-"], config)
    report.errors.extend(FileError(str(p), msg) for p, msg in found.errors)
    return read_sources(found.files, config, report.errors, report.skipped)


def check_paths(paths: list[str | Path], config: Config | None = None, *, cache: bool = True,
                jobs: int | None = None, stdin: tuple[str, bytes] | None = None, progress=None) -> Report:
    """Check files and folders. `stdin` is (display name, bytes) for `-`."""
    config = config or load_config([Path(p) for p in paths])
    report = Report()
    sources = _gather(paths, config, report)
    if stdin is not None:
        sources.append(stdin)
    report.files_checked = len(sources)
    for result in analyze_sources(sources, config, report, cache=cache, jobs=jobs, progress=progress):
        report.findings.extend(result.findings)
        if result.error is not None:
            report.errors.append(result.error)
    report.findings.sort(key=lambda f: (f.path, f.cell or 0, f.line, f.col, f.code))
    report.errors.sort(key=lambda e: e.path)
    return report


def find_model_classes(paths: list[str | Path], config: Config) -> list[str]:
    """`file.py:Class` for every class that holds a Mamba-family stack, normalized or not (those
    with a MF001/MF002 finding first in each file): the same discovery, prefilter and cross-file
    rounds as check, whatever the selection."""
    config = replace(config, select=class_index_codes())
    report = Report()
    sources = _gather(paths, config, report)
    results = _analyze(sources, config, report, cache=True)
    return [f"{sources[i][0]}:{cls}" for i in sorted(results) for cls in results[i].model_classes]


def analyze_sources(sources: list[tuple[str, bytes]], config: Config, report: Report, *, cache: bool = True,
                    jobs: int | None = None, progress=None) -> list[FileResult]:
    """One result per source that any check wanted, in source order; the others are skipped."""
    results = _analyze(sources, config, report, cache=cache, jobs=jobs, progress=progress)
    return [results[i] for i in sorted(results)]


def _analyze(sources: list[tuple[str, bytes]], config: Config, report: Report, *, cache: bool = True,
             jobs: int | None = None, progress=None) -> dict[int, FileResult]:
    from mambafix.engine.cache import ResultCache

    store = ResultCache.open(config) if cache else None
    prefilter = Prefilter(config)
    results: dict[int, FileResult] = {}
    pending: list[tuple[int, frozenset[str]]] = []
    for i, (path, data) in enumerate(sources):
        codes = prefilter.wanted(data)
        if not codes:
            continue
        cached = store.get(data, path) if store else None
        if cached is not None:
            results[i] = cached
            report.files_cached += 1
            continue
        pending.append((i, codes))
    if progress is not None:
        progress(add_total=len(pending))
    computed = run_tasks([(*sources[i], None, codes) for i, codes in pending], config, jobs, progress)
    for (i, _), result in zip(pending, computed):
        results[i] = result
        report.files_parsed += 1
        if store is not None and result.error is None:
            store.store(sources[i][1], sources[i][0], result)
    _cross_file_rounds(sources, results, config, report, prefilter, jobs, progress, store)
    if store is not None:
        store.save()
    return results


def index_digest(index: dict[str, ClassSummary]) -> str:
    payload = json.dumps(sorted((k, v.to_json()) for k, v in index.items()))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _cross_file_rounds(sources, results: dict[int, FileResult], config: Config, report: Report,
                       prefilter: Prefilter, jobs: int | None, progress, store=None) -> None:
    """Classes in one file that act as Mamba layers or normalized blocks, used in another: read
    the files that use them again with the project-wide index, until nothing new is learnt."""
    index_codes = class_index_codes() & prefilter.codes
    scripts = bool(script_codes() & prefilter.codes)  # a finding may stand in a file with no class
    known: set[str] = set()  # the index's names: a round that re-reads nothing decodes no summary
    for result in results.values():
        known.update(result.summary_names())
    index: dict[str, ClassSummary] | None = None
    words: dict[int, frozenset[bytes]] = {}  # the identifiers of each file no check wanted
    pattern = None
    for _ in range(MAX_ROUNDS):
        if not known or not index_codes:
            return
        names: set[bytes] | None = None  # the index's class names, and the modules defining each:
        modules: dict[bytes, set[bytes]] = {}  # made only if a file no check wanted needs them
        redo = []
        for i, (_, data) in enumerate(sources):
            result = results.get(i)
            if result is not None and result.error is None and _resolves(result.unresolved, known):
                redo.append(i)
            elif result is None and (scripts or b"class " in data):  # MF001's findings are always in a class
                if names is None:
                    names, modules = _index_names(known)
                    wanted = _CAPITALIZED if all(n[:1].isupper() for n in names) else _IDENTIFIER
                    if wanted is not pattern:
                        words, pattern = {}, wanted
                if i not in words:
                    words[i] = _imported(data, pattern)
                if _imports_one(words[i] & names, modules, data):
                    redo.append(i)
        if not redo:
            return
        if index is None:
            index = {k: v for result in results.values() for k, v in result.summaries.items()}
        variant = index_digest(index)
        again: dict[int, FileResult] = {}
        for i in redo:
            cached = store.get(sources[i][1], sources[i][0], variant) if store is not None else None
            if cached is not None:
                again[i] = cached
                report.files_cached += i not in results
        todo = [i for i in redo if i not in again]
        if progress is not None:
            progress(add_total=len(todo))
        tasks = [(*sources[i], dict(index), prefilter.wanted(sources[i][1]) | index_codes) for i in todo]
        for i, result in zip(todo, run_tasks(tasks, config, jobs, progress)):
            again[i] = result
            if i in results:
                report.files_reread += 1
            else:
                report.files_parsed += 1
            if store is not None and result.error is None:
                store.store(sources[i][1], sources[i][0], result, variant)
        changed = False
        for i in redo:
            result = again[i]
            results[i] = result
            new = {k: v for k, v in result.summaries.items() if k not in index}
            if new:
                index.update(new)
                known.update(new)
                changed = True
        if not changed:
            return


def _index_names(known: set[str]) -> tuple[set[bytes], dict[bytes, set[bytes]]]:
    """The index's class names, and for each the parts of the module paths that define it."""
    modules: dict[bytes, set[bytes]] = {}
    for key in known:
        *path, name = key.split(".")
        modules.setdefault(name.encode(), set()).update(p.encode() for p in path)
    return set(modules), modules


_IMPORT = re.compile(rb"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE)
_ATTRIBUTE = re.compile(rb"\.([A-Za-z_][A-Za-z0-9_]*)")


def _imported(data: bytes, pattern) -> frozenset[bytes]:
    """The names a file can reach a class of another file by: those its imports bind, and those
    it reads as a module's attribute (`blocks.Wrap`)."""
    out: set[bytes] = set()
    for match in _IMPORT.finditer(data):
        out.update(pattern.findall(match.group(1)))
    out.update(n for n in _ATTRIBUTE.findall(data) if pattern.fullmatch(n))
    return frozenset(out)


def _imports_one(named: set[bytes], modules: dict[bytes, set[bytes]], data: bytes) -> bool:
    """Whether a file that names these index classes can import one: the import of a class
    (`from pkg.blocks import Wrap`, `from .blocks import Wrap`, `from pkg import Wrap`, `blocks.Wrap`)
    spells a part of the path of a module that defines it."""
    return any(part in data for name in named for part in modules.get(name, ()))


def _resolves(unresolved: set[str], index: dict) -> bool:
    return any(names_match(key, name) for name in unresolved for key in index)
