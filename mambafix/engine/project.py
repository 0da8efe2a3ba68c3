"""A project: discovery, prefilter, cache, process pool, cross-file rounds.

The per-file analysis (`mambafix.engine.file`: one libcst parse, every check) is imported only
when some file needs parsing, so a run that the prefilter and the cache answer never loads
libcst. `find_model_classes` gives smoke the classes that hold Mamba stacks, through the same
rounds as check.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mambafix.checks.needles import found
from mambafix.checks.registry import REGISTRY, class_index_codes, needles_for
from mambafix.config import Config, load_config
from mambafix.engine.pool import pool_map, release_memory
from mambafix.engine.results import FileResult
from mambafix.report.findings import FileError, Report
from mambafix.source import SourceError, read_bytes


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
        opened: dict = {}  # each group scanned once, and only while the groups before it open

        def is_open(group) -> bool:
            if group not in opened:
                opened[group] = any(g in data for g in group)
            return opened[group]

        return frozenset(code for code, needles in self.needles.items()
                         if all(is_open(group) for group in self.gates[code])
                         and any(n in data if type(n) is bytes else found(n, data) for n in needles))


# -- running many files -----------------------------------------------------------------
RELEASE_AFTER = 64_000  # bytes of source: past this a file's tree is worth handing back at once
_WORKER: tuple = (None, None)  # the run's config, and the class index of a cross-file round


def _init_worker(config: Config, index=None) -> None:
    global _WORKER
    _WORKER = (config, index)


def _work(task: tuple[str, bytes | None, frozenset[str]]) -> tuple[str, FileResult]:
    """One file: read (unless given in memory) and analysed. The cache key of the bytes read,
    and the result."""
    from mambafix.engine.cache import ResultCache
    from mambafix.engine.file import analyze_file

    path, data, codes = task
    config, index = _WORKER
    if data is None:
        try:
            data = read_bytes(Path(path))
        except SourceError as exc:
            return "", FileResult(error=FileError(path, str(exc)))
    result = analyze_file(path, data, config, index, codes)
    if len(data) > RELEASE_AFTER:
        release_memory()
    return ResultCache.key(data, path), result


def run_tasks(tasks: list[tuple], config: Config, jobs: int | None, progress=None, index=None) -> list[tuple[str, FileResult]]:
    """Analyse each task's file, in a process pool when there are enough of them; the workers get
    the class index once (forked with it), not with every task. `progress(advance=1)` is called
    as each file is done."""
    return list(pool_map(_work, tasks, _init_worker, (config, index), jobs, progress, max_chunk=16))


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


def _discover(paths: list[str | Path], config: Config, report: Report) -> list[str]:
    from mambafix.engine.discovery import discover

    found = discover([Path(p) for p in paths if str(p) != "-"], config)
    report.errors.extend(FileError(str(p), msg) for p, msg in found.errors)
    return found.paths


def check_paths(paths: list[str | Path], config: Config | None = None, *, cache: bool = True,
                jobs: int | None = None, stdin: tuple[str, bytes] | None = None, progress=None) -> Report:
    """Check files and folders. `stdin` is (display name, bytes) for `-`."""
    from mambafix.engine.sources import in_memory, scan_files

    config = config or load_config([Path(p) for p in paths])
    report = Report()
    store = _open_store(config, cache)
    prefilter = Prefilter(config)
    sources = scan_files(_discover(paths, config, report), config, prefilter, store, report.errors, report.skipped)
    if stdin is not None:
        sources += in_memory([stdin], prefilter)
    report.files_checked = len(sources)
    results = _analyze(sources, config, report, prefilter, store, jobs, progress)
    for i in sorted(results):
        result = results[i]
        report.findings.extend(result.findings)
        if result.error is not None:
            report.errors.append(result.error)
        report.not_followed.extend(FileError(sources[i].path, why) for why in result.not_followed)
    report.findings.sort(key=lambda f: (f.path, f.cell or 0, f.line, f.col, f.code))
    report.errors.sort(key=lambda e: e.path)
    report.not_followed.sort(key=lambda e: e.path)
    return report


def find_model_classes(paths: list[str | Path], config: Config) -> list[str]:
    """`file.py:Class` for every class that holds a Mamba-family stack, normalized or not (those
    with a MF001/MF002 finding first in each file): the same discovery, prefilter and cross-file
    rounds as check, whatever the selection."""
    from mambafix.engine.sources import scan_files

    config = replace(config, select=class_index_codes())
    report = Report()
    store = _open_store(config, True)
    prefilter = Prefilter(config)
    sources = scan_files(_discover(paths, config, report), config, prefilter, store, report.errors, report.skipped)
    results = _analyze(sources, config, report, prefilter, store)
    return [f"{sources[i].path}:{cls}" for i in sorted(results) for cls in results[i].model_classes]


def analyze_sources(sources: list[tuple[str, bytes]], config: Config, report: Report, *, cache: bool = True,
                    jobs: int | None = None, progress=None) -> list[FileResult]:
    """One result per source (path, bytes) that any check wanted, in source order; the others are skipped."""
    from mambafix.engine.sources import in_memory

    prefilter = Prefilter(config)
    results = _analyze(in_memory(sources, prefilter), config, report, prefilter, _open_store(config, cache),
                       jobs, progress, summaries=True)
    return [results[i] for i in sorted(results)]


def _open_store(config: Config, cache: bool):
    from mambafix.engine.cache import ResultCache

    return ResultCache.open(config) if cache else None


def _analyze(sources, config: Config, report: Report, prefilter: Prefilter, store, jobs: int | None = None,
             progress=None, summaries: bool = False) -> dict[int, FileResult]:
    """Each source a check wants: from the cache, else parsed (in a pool); then the cross-file
    rounds. Where the last run's outcome still holds (engine/outcome.py) and `summaries` is not
    asked for, an unchanged file's result is the one the report took last time (its findings,
    errors and model classes; no summaries), and nothing is read back or looked up."""
    from mambafix.engine import outcome
    from mambafix.engine.rounds import cross_file_rounds, index_codes_of

    index_codes, scripts = index_codes_of(prefilter)
    scope = outcome.scope_of(prefilter.codes, index_codes, scripts, [s.path for s in sources])
    last = outcome.Last(store.outcome if store is not None and not summaries else None, sources, scope,
                        reads_scripts=bool(index_codes) and scripts)
    deferred = last.unchanged()
    results: dict[int, FileResult] = {}
    _first_readings(sources, [i for i in range(len(sources)) if i not in deferred], results, config, report,
                    store, jobs, progress)
    replayed = last.replay(results)
    if replayed is not None:
        results.update(replayed)
        report.files_cached += len(replayed)
        store.set_outcome(last.updated(results))
    else:
        _first_readings(sources, sorted(deferred), results, config, report, store, jobs, progress)
        first = {i: outcome.signature(results[i]) for i in results}
        variants: dict[int, str | None] = {}
        cross_file_rounds(sources, results, config, report, prefilter, jobs, progress, store, run_tasks, variants)
        if store is not None:  # an outcome only where every round result that stood is kept
            store.set_outcome(outcome.record(sources, first, variants, results, scope)
                              if None not in variants.values() else None)
    if store is not None:
        store.save()
    return results


def _first_readings(sources, which: list[int], results: dict, config: Config, report: Report, store,
                    jobs: int | None, progress) -> None:
    """The first reading of each of `which` that a check wants: from the cache, else parsed."""
    pending: list[int] = []
    for i in which:
        source = sources[i]
        if not source.codes:
            continue
        cached = store.get(source.key, source.path) if store is not None else None
        if cached is not None:
            results[i] = cached
            report.files_cached += 1
            continue
        pending.append(i)
    if progress is not None and pending:
        progress(add_total=len(pending))
    pending.sort(key=lambda i: -sources[i].size)  # the largest first: the workers end together
    tasks = [(sources[i].path, sources[i].data, sources[i].codes) for i in pending]
    for i, (key, result) in zip(pending, run_tasks(tasks, config, jobs, progress)):
        results[i] = result
        report.files_parsed += 1
        if store is not None and key:  # a parse error is the bytes' too; a file unread is not
            store.store(key, result)
