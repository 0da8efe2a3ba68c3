"""The last run's outcome: which result stood for each file once the cross-file rounds ended,
what the report took from it, and when all of that still stands without reading the results
back or building the index.

The rounds are a function of the files' first readings, in order: the index is built from their
summaries, and whether a file is read again depends on the index and on that file alone (its
unresolved names, or the names its bytes can spell). So where every file is the same as last time
but for some whose first reading exports the same summaries and leaves the same names unresolved
(a comment, a changed message, a local edit), and none of those was read again last time, the
index is the same and every round decides as it did: each unchanged file's final result is the
one the report took last time, and each edited file's is its new first reading. A warm run, or a
run after such an edit, then reads back no result, builds no index and asks nothing of it: its
cost is the files' status, the report, and the file edited.

Kept in the cache with the files table. A file added, removed or moved, another selection, or an
edit that changes what a file exports or looks up (or one of a file read again) runs everything
as before, and records the new outcome.
"""

from __future__ import annotations

import hashlib

from mambafix.engine.cache import report_result, report_row


def signature(result) -> str:
    """What a first reading gives the rounds: its summaries (names and digests, in order), the
    names it leaves unresolved, whether it failed."""
    digests = result.summary_digests()
    parts = [f"{k}={digests[k]}" for k in result.summary_names()]
    parts.append("|" + "\0".join(sorted(result.unresolved)))
    parts.append("error" if result.error is not None else "ok")
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:16]


def scope_of(codes: frozenset[str], index_codes: frozenset[str], scripts: bool, paths: list[str]) -> str:
    """The run's question: the checks, those that read the index, whether scripts are read, and
    the files in order."""
    head = ",".join(sorted(codes)) + "|" + ",".join(sorted(index_codes)) + ("|scripts" if scripts else "") + "\0"
    return hashlib.sha1((head + "\0".join(paths)).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def record(sources, first: dict[int, str], variants: dict[int, str], results: dict, scope: str) -> dict:
    """This run's outcome: per file (in order) its key, its first reading's signature (None: no
    check wanted it), the variant of its round result that stood (None: its first reading stood)
    and the report's row of its final result (None: it has none)."""
    return {"scope": scope, "files": [
        [s.key, first.get(i), variants.get(i), report_row(results[i]) if i in results else None]
        for i, s in enumerate(sources)]}


class Last:
    """The last outcome, against this run's files."""

    def __init__(self, kept, sources, scope: str, reads_scripts: bool) -> None:
        self.sources, self.scope, self.reads_scripts = sources, scope, reads_scripts
        self.rows: list | None = None
        if isinstance(kept, dict) and kept.get("scope") == scope:
            rows = kept.get("files")
            if isinstance(rows, list) and len(rows) == len(sources) and all(
                    isinstance(r, list) and len(r) == 4 for r in rows):
                self.rows = rows

    def unchanged(self) -> set[int]:
        """The files whose bytes are those of last time."""
        if self.rows is None:
            return set()
        return {i for i, s in enumerate(self.sources) if self.rows[i][0] == s.key}

    def replay(self, results: dict) -> dict | None:
        """Each unchanged file's final result, as the report took it, where the outcome still
        holds given the edited files' first readings in `results`; else None."""
        if self.rows is None:
            return None
        found: dict = {}
        for i, source in enumerate(self.sources):
            key, sig, variant, row = self.rows[i]
            if key != source.key:  # edited: it must export and look up the same, and not have been read again
                result = results.get(i)
                if variant is not None:
                    return None
                if sig is None and result is None:  # no check wanted it, then or now
                    if source.has_class or self.reads_scripts:  # but a round may read it
                        return None
                elif sig is None or result is None or signature(result) != sig:
                    return None
            elif row is not None:
                result = report_result(row, source.path)
                if result is None:
                    return None
                found[i] = result
        return found

    def updated(self, results: dict) -> dict:
        """The outcome after a replay: the edited files' keys and rows."""
        rows = [list(r) for r in self.rows]
        for i, source in enumerate(self.sources):
            if rows[i][0] != source.key:
                rows[i][0], rows[i][3] = source.key, report_row(results[i]) if i in results else None
        return {"scope": self.scope, "files": rows}
