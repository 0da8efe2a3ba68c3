"""The files of a run as the engine holds them: per file its cache key, the checks its bytes let
through, and whether it defines a class, but not its bytes (a cold run's memory does not grow
with the tree; a file is read again when it is parsed). A file whose status the cache knows
unchanged is not read at all.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mambafix.report.findings import FileError
from mambafix.source import SourceError, read_bytes

RACY_NS = 2_000_000_000  # a file changed this recently may change again within its clock tick


@dataclass(eq=False)
class Source:
    path: str
    key: str  # the cache key of the bytes read (path and content)
    codes: frozenset[str]  # the checks the prefilter lets through
    has_class: bool  # no check wanted it, and it defines a class: a cross-file round may read it (any
    # file, where a selected check reads scripts)
    size: int = 0
    data: bytes | None = None  # kept only for a source given in memory
    memo: dict | None = None  # answers about its bytes kept with the cache's row (cross-file rounds)

    def read(self) -> bytes:
        return self.data if self.data is not None else read_bytes(Path(self.path))


def _status(st: os.stat_result) -> list[int]:
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


def scan_files(files: list[str], config, prefilter, store, errors: list[FileError],
               skipped: list[FileError]) -> list[Source]:
    """A Source per file; an unreadable one is an error, one over max-file-size is skipped."""
    from mambafix.engine.cache import ResultCache

    racy = time.time_ns() - RACY_NS
    out: list[Source] = []
    for text in files:
        try:
            st = os.stat(text)
        except OSError:
            st = None  # read_bytes says why
        status = _status(st) if st is not None else None
        row = store.file_row(text, status) if store is not None and status is not None else None
        if row is not None:
            _, key, codes, memo = row
            if memo.get("skip"):
                skipped.append(FileError(text, memo["skip"]))
                continue
            out.append(Source(text, key, frozenset(codes), bool(memo.get("class")), status[2], memo=memo))
            continue
        try:
            data = read_bytes(Path(text))
        except SourceError as exc:
            errors.append(FileError(text, str(exc)))
            continue
        key = ResultCache.key(data, text)
        memo: dict = {}
        if len(data) > config.max_file_size:
            memo["skip"] = (f"larger than max-file-size ({len(data) / 1e6:.1f} MB > "
                            f"{config.max_file_size / 1e6:.1f} MB); not checked")
            skipped.append(FileError(text, memo["skip"]))
            codes = frozenset()
        else:
            codes = prefilter.wanted(data)
            if not codes and b"class " in data:  # a finding is always in a class
                memo["class"] = True
            out.append(Source(text, key, codes, bool(memo.get("class")), len(data), memo=memo))
        if store is not None and status is not None:
            if max(status[0], status[1]) >= racy:
                status = [-1]  # changed just now: read it again next time
            store.set_file_row(text, [status, key, sorted(codes), memo])
    return out


def in_memory(sources: list[tuple[str, bytes]], prefilter) -> list[Source]:
    """Sources given as (path, bytes): stdin, or a caller that has read them."""
    from mambafix.engine.cache import ResultCache

    out = []
    for path, data in sources:
        codes = prefilter.wanted(data)
        out.append(Source(path, ResultCache.key(data, path), codes, not codes and b"class " in data, len(data),
                          data=data, memo={}))
    return out
