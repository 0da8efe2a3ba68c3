"""The check engine: discovery, prefilter, cache, process pool, cross-file wrapper index.

The per-file analysis (one libcst parse, one traversal, every rule) lives in
`mambafix.analysis` and is imported only when some file needs parsing, so a run that the
prefilter and the cache answer never loads libcst.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mambafix.config import Config, load_config
from mambafix.results import ClassSummary, FileError, FileResult, Finding, Report
from mambafix.source import SourceError, read_bytes

__all__ = ["ClassSummary", "FileError", "FileResult", "Finding", "Report", "check_paths", "analyze_sources"]

POOL_THRESHOLD = 24  # files that need a parse before a process pool pays for itself


def marker_needles(config: Config) -> tuple[bytes, ...]:
    """Cheap substrings that every marker leaves in the file, even split across strings."""
    needles = []
    for marker in config.markers:
        words = marker.split()
        needles.append(max(words, key=len).encode() if words else marker.encode())
    return _minimal(needles)


def layer_needles(config: Config, extra_names: set[str] = frozenset()) -> tuple[bytes, ...]:
    return _minimal(n.encode() for n in (config.layer_class_names() | set(extra_names)))


def _minimal(needles) -> tuple[bytes, ...]:
    """Drop every needle that contains a shorter one: finding the shorter one suffices."""
    out: list[bytes] = []
    for needle in sorted(set(needles), key=len):
        if not any(kept in needle for kept in out):
            out.append(needle)
    return tuple(out)


# -- running many files -----------------------------------------------------------------

_WORKER_CONFIG: Config | None = None


def _init_worker(config: Config) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = config


def _work(task: tuple[str, bytes, dict | None, bool, bool]) -> FileResult:
    from mambafix.analysis import analyze_file

    path, data, index, stacks, prints = task
    return analyze_file(path, data, _WORKER_CONFIG, index, stacks, prints)


def run_tasks(tasks: list[tuple], config: Config, jobs: int | None, progress=None) -> list[FileResult]:
    """Analyse each task's file, in a process pool when there are enough of them.
    `progress(advance=1)` is called as each file is done."""
    return list(pool_map(_work, tasks, _init_worker, (config,), jobs, progress, max_chunk=16))


def pool_map(func, items: list, initializer, initargs: tuple, jobs: int | None, progress=None, max_chunk: int = 16):
    """func over items, in order, yielding each result as it is ready: in this process for a few
    items, else in a pool of forked workers, each set up once by initializer(*initargs).
    `progress(advance=1)` is called per result."""
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    pool = None
    if jobs <= 1 or len(items) < POOL_THRESHOLD:
        initializer(*initargs)
        results = map(func, items)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=context,
                                   initializer=initializer, initargs=initargs)
        results = pool.map(func, items, chunksize=max(1, min(max_chunk, len(items) // (jobs * 4))))
    try:
        for result in results:
            if progress is not None:
                progress(advance=1)
            yield result
    finally:
        if pool is not None:
            pool.shutdown()


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


def check_paths(paths: list[str | Path], config: Config | None = None, *, cache: bool = True,
                jobs: int | None = None, stdin: tuple[str, bytes] | None = None, progress=None) -> Report:
    """Check files and folders. `stdin` is (display name, bytes) for `-`."""
    from mambafix.discovery import discover

    config = config or load_config([Path(p) for p in paths])
    report = Report()
    found = discover([Path(p) for p in paths if str(p) != "-"], config)
    report.errors.extend(FileError(str(p), msg) for p, msg in found.errors)
    sources = read_sources(found.files, config, report.errors, report.skipped)
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
    if progress is not None:
        progress(add_total=len(pending))
    computed = run_tasks([(p.path, p.data, None, p.stacks, p.prints) for _, p in pending], config, jobs, progress)
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
        if progress is not None:
            progress(add_total=len(redo))
        again = run_tasks([(sources[i][0], sources[i][1], index, True, True) for i in redo], config, jobs, progress)
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
