"""What a check produces: findings, per-file errors, per-file results, the run's report.

Plain data, free of libcst, so that a run served by the prefilter and the cache never
imports the parser.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ClassSummary:
    """How a class behaves when used as a layer elsewhere (a wrapper or a subclass)."""

    kind: str
    display: str
    d_model_param: tuple[str, int] | None = None  # (name, position) of the width argument


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    col: int
    code: str
    name: str
    severity: str
    message: str
    fixable: bool
    fix_note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FileError:
    path: str
    message: str


@dataclass
class FileResult:
    findings: list[Finding] = field(default_factory=list)
    error: FileError | None = None
    summaries: dict[str, ClassSummary] = field(default_factory=dict)
    unresolved: set[str] = field(default_factory=set)
    parsed: bool = False


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    skipped: list[FileError] = field(default_factory=list)  # files deliberately not read: (path, why)
    files_checked: int = 0
    files_parsed: int = 0
    files_cached: int = 0

    def exit_code(self, exit_zero: bool = False) -> int:
        if self.errors:
            return 2
        if self.findings and not exit_zero:
            return 1
        return 0
