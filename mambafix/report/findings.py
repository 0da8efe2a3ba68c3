"""What a check run reports: findings, per-file errors and skips, and the run's report.

Plain data, free of libcst, so that a run served by the prefilter and the cache never
imports the parser.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    cell: int | None = None  # in a notebook: the cell (from 1); line and col are within it
    # the data flow behind the finding, source to sink: (line, col, what happens there, cell)
    flow: tuple[tuple[int, int, str, int | None], ...] = ()
    probe: str | None = None  # with `check --probe`: "confirmed: UNSTABLE at x30 (layers.2 overflow)", ...

    def to_dict(self) -> dict:
        """As JSON: `cell` only for a finding in a notebook, `flow` only for one with a data-flow
        path, `probe` only with --probe (schema 1 only ever adds keys)."""
        out = asdict(self)
        for key in ("cell", "probe"):
            if out[key] is None:
                del out[key]
        del out["flow"]
        if self.flow:
            out["flow"] = [{"line": line, "col": col, "message": message, **({"cell": cell} if cell is not None else {})}
                           for line, col, message, cell in self.flow]
        return out

    def to_row(self) -> list:
        """As the cache keeps it: the fields in order (the flow as plain lists)."""
        return [self.path, self.line, self.col, self.code, self.name, self.severity, self.message, self.fixable,
                self.fix_note, self.cell, [list(step) for step in self.flow], self.probe]

    @classmethod
    def from_row(cls, row: list) -> "Finding":
        if not isinstance(row, list) or len(row) != 12:
            raise TypeError("not a cached finding")
        flow = row[10]
        return cls(*row[:10], tuple(map(tuple, flow)) if flow else (), row[11])

    @classmethod
    def from_dict(cls, raw: dict) -> "Finding":
        """A finding from `to_dict`'s or `to_cache`'s form."""
        steps = raw.get("flow")
        if steps is None:
            return cls(**raw)
        raw = dict(raw)
        del raw["flow"]
        flow = tuple(tuple(s) if isinstance(s, list) else (s["line"], s["col"], s["message"], s.get("cell"))
                     for s in steps)
        return cls(**raw, flow=flow)

    @property
    def where(self) -> str:
        """`path:line:col`, or `path:cell N:line:col` in a notebook."""
        cell = f"cell {self.cell}:" if self.cell is not None else ""
        return f"{self.path}:{cell}{self.line}:{self.col}"


@dataclass(frozen=True)
class FileError:
    path: str
    message: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    skipped: list[FileError] = field(default_factory=list)  # files deliberately not read: (path, why)
    # what the analysis could not follow: (path, "Class.method: why"); the rest of the file is checked
    not_followed: list[FileError] = field(default_factory=list)
    files_checked: int = 0
    files_parsed: int = 0
    files_cached: int = 0
    files_reread: int = 0  # parsed again in a cross-file round, with the class index
    probe: dict | None = None  # with `check --probe`: counts of confirmed / not confirmed / not probed

    def exit_code(self, exit_zero: bool = False) -> int:
        if self.errors:
            return 2
        if self.findings and not exit_zero:
            return 1
        return 0
