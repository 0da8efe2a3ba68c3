"""A content-keyed result cache: a re-run parses only files whose bytes changed, and reads only
files whose status changed.

One JSON file per (tool version, effective config), so a change of either starts a fresh store,
holding three tables:
- `entries`: a file's result, keyed by sha256 of (path, bytes);
- round results: a file read again in a cross-file round, keyed by its content key, each variant
  with the index lookups its analysis made (name -> key and summary digest): a variant serves a
  later round where the index answers those names the same way, so a warm run re-reads nothing and
  an edit re-reads only the files whose lookups it changes;
- `files`: per path, its status (modification and change times, size, inode), its content key, the
  checks the prefilter let through, and memos of later questions about its bytes: a file whose
  status is unchanged is not read at all.
Written atomically; a corrupt or unreadable store is ignored, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mambafix.engine.results import FileResult
from mambafix.report.findings import FileError, Finding

MAX_ENTRIES = 50_000
MAX_FILES = 200_000
MAX_VARIANTS = 4  # round results kept per file content (one per round, and one over)
FORMAT = 3  # of the store (3: round results by lookups, the files table); part of its name


class _LazyJSON(dict):
    """A file's summaries as the cache keeps them: the names now, the JSON text decoded when a
    cross-file round asks for them."""

    def __init__(self, text: str, names: list[str]) -> None:
        super().__init__()
        self._text = text
        self._names = names
        self._decoded = False

    def _decode(self) -> None:
        if not self._decoded:
            self._decoded = True
            super().update(json.loads(self._text))

    def keys(self):
        return self._names if not self._decoded else super().keys()

    def items(self):
        self._decode()
        return super().items()


def cache_dir() -> Path:
    explicit = os.environ.get("MAMBAFIX_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mambafix"


def _row(result: FileResult) -> dict:
    from mambafix.engine.results import summary_text

    texts = {k: summary_text(v) for k, v in result.summaries.items()}
    digests = result.summary_digests()
    return {
        "findings": [f.to_row() for f in result.findings],
        # kept as text: a warm run reads the names and digests, and decodes a file's summaries
        # only if a cross-file round must read a file again
        "summaries": "{" + ",".join(f"{json.dumps(k)}:{t}" for k, t in texts.items()) + "}",
        "summary_names": list(texts),
        "summary_digests": [digests[k] for k in texts],
        "unresolved": sorted(result.unresolved),
        "model_classes": result.model_classes,
        "not_followed": result.not_followed,
        "error": result.error.message if result.error is not None else None,
    }


def _result(raw: dict, path: str) -> FileResult | None:
    try:
        result = FileResult(
            error=FileError(path, raw["error"]) if raw.get("error") is not None else None,
            findings=[Finding.from_row(f) for f in raw["findings"]],
            summaries_json=_LazyJSON(raw["summaries"], raw["summary_names"]),
            unresolved=set(raw["unresolved"]),
            model_classes=list(raw["model_classes"]),
            not_followed=list(raw["not_followed"]),
        )
        result._digests = dict(zip(raw["summary_names"], raw["summary_digests"], strict=True))
    except (KeyError, TypeError, ValueError):
        return None
    return result


class ResultCache:
    def __init__(self, file: Path, entries: dict, files: dict) -> None:
        self.file = file
        self.entries = entries
        self.files = files
        self.used: set[str] = set()
        self.seen: set[str] = set()
        self.dirty = False

    @classmethod
    def open(cls, config) -> "ResultCache":
        file = cache_dir() / f"results-{FORMAT}-{config.digest()}.json"
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
            entries, files = raw["entries"], raw["files"]
            if not isinstance(entries, dict) or not isinstance(files, dict):
                raise ValueError
        except (OSError, ValueError, KeyError, TypeError):
            entries, files = {}, {}
        return cls(file, entries, files)

    @staticmethod
    def key(data: bytes, path: str, variant: str = "") -> str:
        """The entry of a file's bytes at a path; `variant` names what else the result depends on."""
        head = path.encode("utf-8", "surrogateescape") + b"\0" + variant.encode() + b"\0"
        return hashlib.sha256(head + data).hexdigest()[:32]

    # -- a file's result ---------------------------------------------------------------------
    def get(self, key: str, path: str) -> FileResult | None:
        raw = self.entries.get(key)
        result = _result(raw, path) if isinstance(raw, dict) else None
        if result is not None:
            self.used.add(key)
        return result

    def store(self, key: str, result: FileResult) -> None:
        self.entries[key] = _row(result)
        self.used.add(key)
        self.dirty = True

    # -- a file read again in a cross-file round -----------------------------------------------
    def get_round(self, key: str, path: str, answers_same) -> FileResult | None:
        """The round result of a file's content whose lookups `answers_same(name, key, digest)`
        still gives for every one, or None."""
        entry = self.entries.get("r" + key)
        if not isinstance(entry, list):
            return None
        for variant in entry:
            try:
                if all(answers_same(name, found, dg) for name, found, dg in variant["looked_up"]):
                    result = _result(variant, path)
                    if result is not None:
                        self.used.add("r" + key)
                        return result
            except (KeyError, TypeError, ValueError):
                continue
        return None

    def store_round(self, key: str, result: FileResult, looked_up: list[tuple]) -> None:
        entry = self.entries.get("r" + key)
        variants = entry if isinstance(entry, list) else []
        variants = [dict(_row(result), looked_up=looked_up)] + variants[:MAX_VARIANTS - 1]
        self.entries["r" + key] = variants
        self.used.add("r" + key)
        self.dirty = True

    # -- the files table -----------------------------------------------------------------------
    def file_row(self, path: str, status: list[int]) -> list | None:
        """The row of a file whose status is unchanged: [status, key, codes, memo]."""
        self.seen.add(path)
        row = self.files.get(path)
        if isinstance(row, list) and len(row) == 4 and row[0] == status and isinstance(row[3], dict):
            return row
        return None

    def set_file_row(self, path: str, row: list) -> None:
        self.files[path] = row
        self.seen.add(path)
        self.dirty = True

    def memo_changed(self) -> None:
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        entries, files = self.entries, self.files
        if len(entries) > MAX_ENTRIES:
            entries = {k: v for k, v in entries.items() if k in self.used}
        if len(files) > MAX_FILES:
            files = {k: v for k, v in files.items() if k in self.seen}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"entries": entries, "files": files}, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError:
            pass  # a read-only cache folder only costs speed
