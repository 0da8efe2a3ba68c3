"""What analysing one file produces, as plain data (cached by content; free of libcst)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mambafix.facts.kinds import ClassSummary
from mambafix.report.findings import FileError, Finding


@dataclass
class FileResult:
    findings: list[Finding] = field(default_factory=list)
    error: FileError | None = None
    summaries: dict[str, ClassSummary] = field(default_factory=dict)  # this file's layer-like classes
    unresolved: set[str] = field(default_factory=set)  # classes used as layers, defined elsewhere
    model_classes: list[str] = field(default_factory=list)  # classes holding a Mamba stack (smoke's targets)
