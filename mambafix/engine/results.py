"""What analysing one file produces, as plain data (cached by content; free of libcst)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from mambafix.facts.kinds import ClassSummary
from mambafix.report.findings import FileError, Finding


def summary_text(summary: ClassSummary) -> str:
    return json.dumps(summary.to_json(), separators=(",", ":"))


def digest(text: str) -> str:
    """A summary's identity in the index (what a file read with it depends on)."""
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass
class FileResult:
    findings: list[Finding] = field(default_factory=list)
    error: FileError | None = None
    unresolved: set[str] = field(default_factory=set)  # classes used as layers, defined elsewhere
    model_classes: list[str] = field(default_factory=list)  # classes holding a Mamba stack (smoke's targets)
    not_followed: list[str] = field(default_factory=list)  # classes or methods the analysis could not follow, and why
    # read with a class index: each name looked up in it -> the key found (None: not there)
    looked_up: dict[str, str | None] = field(default_factory=dict)
    # this file's classes that act as layers, blocks or norms where applied elsewhere; a result read
    # from the cache keeps them as JSON until a cross-file round needs more than their names
    summaries_json: dict[str, list] = field(default_factory=dict)
    _summaries: dict[str, ClassSummary] | None = field(default=None, repr=False)
    _digests: dict[str, str] | None = field(default=None, repr=False)

    @property
    def summaries(self) -> dict[str, ClassSummary]:
        if self._summaries is None:
            self._summaries = {k: ClassSummary.from_json(v) for k, v in self.summaries_json.items()}
        return self._summaries

    @summaries.setter
    def summaries(self, value: dict[str, ClassSummary]) -> None:
        self._summaries = value
        self.summaries_json = {}
        self._digests = None

    def summary_names(self):
        """The qualified names of the summarised classes (decoding nothing)."""
        return self._summaries.keys() if self._summaries is not None else self.summaries_json.keys()

    def summary_digests(self) -> dict[str, str]:
        """Each summarised class's digest (kept by the cache: a warm run decodes nothing)."""
        if self._digests is None:
            self._digests = {k: digest(summary_text(v)) for k, v in self.summaries.items()}
        return self._digests
