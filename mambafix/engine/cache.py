"""A content-keyed result cache: a re-run parses only files whose bytes changed, reads only
files whose status changed, and reads back only the results it uses.

One folder per (tool version, effective config), so a change of either starts a fresh store:
- entries, one JSON file each under `entries/`: a file's result, keyed by sha256 of (path,
  bytes); and round results: a file read again in a cross-file round, keyed by its content key,
  each variant with the index lookups its analysis made (name -> key and summary digest): a
  variant serves a later round where the index answers those names the same way, so an edit
  re-reads only the files whose lookups it changes;
- `files.json`: per path, its status (modification and change times, size, inode), its content
  key, the checks the prefilter let through, and memos of later questions about its bytes (a file
  whose status is unchanged is not read at all); and the last run's cross-file outcome
  (engine/outcome.py: a warm run builds no index).
Each file written atomically, entries before the table that names them; a corrupt or unreadable
store is ignored, never fatal.
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
FORMAT = 4  # of the store (3: round results by lookups, the files table; 4: one file per entry, the outcome); part of its name


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


def report_row(result: FileResult) -> dict:
    """What a report takes from a file's result (the outcome keeps it: engine/outcome.py)."""
    return {"findings": [f.to_row() for f in result.findings], "model_classes": result.model_classes,
            "not_followed": result.not_followed,
            "error": result.error.message if result.error is not None else None}


def report_result(row: dict, path: str) -> FileResult | None:
    """A result holding what the report takes (no summaries, no names to look up), or None."""
    if not isinstance(row, dict):
        return None
    try:
        return FileResult(error=FileError(path, row["error"]) if row.get("error") is not None else None,
                          findings=[Finding.from_row(f) for f in row["findings"]],
                          model_classes=list(row["model_classes"]), not_followed=list(row["not_followed"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _variant_name(looked_up) -> str:
    """A round result's variant, named by the lookups its analysis made."""
    return hashlib.sha1(json.dumps(looked_up, separators=(",", ":")).encode()).hexdigest()[:16]


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
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return result


class ResultCache:
    """The store of one (tool version, config): `files.json` (the files table and the last
    outcome), read at open; one file per entry under `entries/`, read when asked for and written
    when new, so a run reads the results it uses and writes what changed."""

    def __init__(self, folder: Path, files: dict, outcome, count: int) -> None:
        self.folder = folder
        self._base = f"{folder}{os.sep}entries{os.sep}"
        self.entries: dict = {}  # read or written in this run (None: asked for, not there)
        self.files = files
        self.outcome = outcome
        self.count = count  # entry files written, as last counted
        self.used: set[str] = set()
        self.seen: set[str] = set()
        self.new: set[str] = set()  # entries to write
        self.dirty = False

    @classmethod
    def open(cls, config) -> "ResultCache":
        folder = cache_dir() / f"v{FORMAT}-{config.digest()}"
        try:
            raw = json.loads((folder / "files.json").read_text(encoding="utf-8"))
            files, outcome, count = raw["files"], raw.get("outcome"), int(raw.get("count", 0))
            if not isinstance(files, dict):
                raise ValueError
        except (OSError, ValueError, KeyError, TypeError):
            files, outcome, count = {}, None, 0
        return cls(folder, files, outcome, count)

    def _entry(self, key: str):
        if key not in self.entries:
            try:
                with open(self._path(key), "rb") as fh:
                    self.entries[key] = json.loads(fh.read())
            except (OSError, ValueError):
                self.entries[key] = None
        return self.entries[key]

    def _path(self, key: str) -> str:
        return f"{self._base}{key[-2:]}{os.sep}{key}.json"

    @staticmethod
    def key(data: bytes, path: str, variant: str = "") -> str:
        """The entry of a file's bytes at a path; `variant` names what else the result depends on."""
        head = path.encode("utf-8", "surrogateescape") + b"\0" + variant.encode() + b"\0"
        return hashlib.sha256(head + data).hexdigest()[:32]

    # -- a file's result ---------------------------------------------------------------------
    def get(self, key: str, path: str) -> FileResult | None:
        raw = self._entry(key)
        result = _result(raw, path) if isinstance(raw, dict) else None
        if result is not None:
            self.used.add(key)
        return result

    def store(self, key: str, result: FileResult) -> None:
        self.entries[key] = _row(result)
        self.used.add(key)
        self.new.add(key)

    # -- a file read again in a cross-file round -----------------------------------------------
    def get_round(self, key: str, path: str, answers_same) -> tuple[FileResult, str] | None:
        """The round result of a file's content whose lookups `answers_same(name, key, digest)`
        still gives for every one, with the variant's name; or None."""
        return self._find_variant(key, path, lambda looked_up: all(
            answers_same(name, found, dg) for name, found, dg in looked_up))

    def get_variant(self, key: str, path: str, name: str) -> FileResult | None:
        """The round result of a file's content that the variant `name` kept, or None."""
        found = self._find_variant(key, path, lambda looked_up: _variant_name(looked_up) == name)
        return found[0] if found is not None else None

    def _find_variant(self, key: str, path: str, accept) -> tuple[FileResult, str] | None:
        """The first kept variant whose lookups `accept` takes and that reads back whole, with its name."""
        for variant in self._variants(key):
            try:
                if accept(variant["looked_up"]):
                    result = _result(variant, path)
                    if result is not None:
                        self.used.add("r" + key)
                        return result, _variant_name(variant["looked_up"])
            except (KeyError, TypeError, ValueError):
                continue
        return None

    def _variants(self, key: str) -> list:
        entry = self._entry("r" + key)
        return [v for v in entry if isinstance(v, dict)] if isinstance(entry, list) else []

    def store_round(self, key: str, result: FileResult, looked_up: list[tuple]) -> str:
        """Keep a round result with the lookups it made; the variant's name."""
        name = _variant_name(looked_up)
        variants = [v for v in self._variants(key) if _variant_name(v.get("looked_up")) != name]
        self.entries["r" + key] = [dict(_row(result), looked_up=looked_up)] + variants[:MAX_VARIANTS - 1]
        self.used.add("r" + key)
        self.new.add("r" + key)
        return name

    # -- the last run's cross-file outcome (engine/outcome.py) -----------------------------------
    def set_outcome(self, outcome: dict | None) -> None:
        if outcome != self.outcome:
            self.outcome = outcome
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
        """Write the new entries (each atomically), then the files table; past MAX_ENTRIES entry
        files, those this run did not use are removed. A read-only cache folder only costs speed."""
        try:
            for key in sorted(self.new):
                _write(self._path(key), json.dumps(self.entries[key], separators=(",", ":")))
            self.count += len(self.new)
            if self.count > MAX_ENTRIES:
                self.count = self._prune()
            if self.dirty or self.new:
                files = self.files
                if len(files) > MAX_FILES:
                    files = {k: v for k, v in files.items() if k in self.seen}
                _write(self.folder / "files.json", json.dumps(
                    {"files": files, "outcome": self.outcome, "count": self.count}, separators=(",", ":")))
        except OSError:
            pass
        self.new.clear()
        self.dirty = False

    def _prune(self) -> int:
        """Remove the entries neither this run nor the outcome it keeps uses; how many are left."""
        keep = set(self.used)
        rows = self.outcome.get("files") if isinstance(self.outcome, dict) else None
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, list) and row and isinstance(row[0], str):
                keep.update((row[0], "r" + row[0]))
        kept = 0
        for shard in (self.folder / "entries").iterdir():
            for file in shard.iterdir():
                if file.stem in keep or file.name.startswith("."):  # another run's file being written
                    kept += 1
                else:
                    file.unlink(missing_ok=True)
        return kept


def _write(path: Path | str, text: str) -> None:
    """`text` to `path` atomically (a reader sees the old file or the new one, never a part)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")  # unique across containers too
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
