"""A content-keyed result cache: a re-run parses only files whose bytes changed.

Key: sha256 of (path, bytes), and for a file read again in a cross-file round, of the
class index it was read with (so a warm run over an unchanged tree parses nothing); the store is one JSON file per (tool version, effective
config), so a change of either starts a fresh store. Written atomically; a corrupt or
unreadable store is ignored, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mambafix.engine.results import FileResult
from mambafix.report.findings import Finding

MAX_ENTRIES = 50_000
FORMAT = 2  # of an entry (2: findings as rows, summaries as text); part of the store's name


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


class ResultCache:
    def __init__(self, file: Path, entries: dict) -> None:
        self.file = file
        self.entries = entries
        self.used: set[str] = set()
        self.dirty = False

    @classmethod
    def open(cls, config) -> "ResultCache":
        file = cache_dir() / f"results-{FORMAT}-{config.digest()}.json"
        try:
            entries = json.loads(file.read_text(encoding="utf-8"))
            if not isinstance(entries, dict):
                entries = {}
        except (OSError, ValueError):
            entries = {}
        return cls(file, entries)

    @staticmethod
    def key(data: bytes, path: str, variant: str = "") -> str:
        """The entry of a file's bytes at a path; `variant` names what else the result depends
        on (the digest of the cross-file index a round read it with)."""
        head = path.encode("utf-8", "surrogateescape") + b"\0" + variant.encode() + b"\0"
        return hashlib.sha256(head + data).hexdigest()

    def get(self, data: bytes, path: str, variant: str = ""):
        key = self.key(data, path, variant)
        raw = self.entries.get(key)
        if raw is None:
            return None
        try:
            result = FileResult(
                findings=[Finding.from_row(f) for f in raw["findings"]],
                summaries_json=_LazyJSON(raw["summaries"], raw["summary_names"]),
                unresolved=set(raw["unresolved"]),
                model_classes=list(raw["model_classes"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        self.used.add(key)
        return result

    def store(self, data: bytes, path: str, result, variant: str = "") -> None:
        key = self.key(data, path, variant)
        self.entries[key] = {
            "findings": [f.to_row() for f in result.findings],
            # kept as text: a warm run reads the names and decodes a file's summaries only if a
            # cross-file round needs them
            "summaries": json.dumps({k: v.to_json() for k, v in result.summaries.items()}, separators=(",", ":")),
            "summary_names": sorted(result.summaries),
            "unresolved": sorted(result.unresolved),
            "model_classes": result.model_classes,
        }
        self.used.add(key)
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        entries = self.entries
        if len(entries) > MAX_ENTRIES:
            entries = {k: v for k, v in entries.items() if k in self.used}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entries, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError:
            pass  # a read-only cache folder only costs speed
