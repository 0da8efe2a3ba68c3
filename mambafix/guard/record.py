"""One step's depth profile and its text and JSON forms. Torch-free: plain numbers read back from
the hooks' figures once per step.

A row is one call of a watched module in one step, in the order the calls ran: its input's and
output's figures (RMS, min, max), its output gradient's when backward hooks are on, and where it
sits (smoke's `bounded`: an SSM layer whose output meets a norm before the next SSM layer;
`first`: one fed the same input as the first SSM layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

NAN = float("nan")


FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class Figures:
    """One tensor's RMS, min and max; `known` False where there was no floating tensor to read.
    `overflow`: the float32 sum of squares overflowed on finite values, and `rms` is the lower
    bound that proves (stats.figures)."""
    rms: float = NAN
    min: float = NAN
    max: float = NAN
    known: bool = False
    overflow: bool = False

    @classmethod
    def of(cls, values, size: int = 1) -> "Figures":
        """From stats.figures' (2-norm, min, max) of a tensor of `size` elements."""
        if values is None:
            return cls()
        norm, low, high = (float(v) for v in values)
        if math.isinf(norm) and math.isfinite(low) and math.isfinite(high):
            return cls(math.sqrt(FLOAT32_MAX / max(size, 1)), low, high, True, True)
        return cls(norm / math.sqrt(max(size, 1)), low, high, True)

    @property
    def absmax(self) -> float:
        return NAN if math.isnan(self.min) or math.isnan(self.max) else max(abs(self.min), abs(self.max))

    @property
    def nonfinite(self) -> bool:
        """NaN or inf in the tensor (an RMS that overflowed float32 on finite values does not count)."""
        return self.known and not (math.isfinite(self.min) and math.isfinite(self.max))

    def to_dict(self) -> dict | None:
        if not self.known:
            return None
        return {"rms": number(self.rms), "min": number(self.min), "max": number(self.max),
                **({"rms_at_least": True} if self.overflow else {})}

    def rms_text(self) -> str:
        return (">" if self.overflow else "") + fmt(self.rms)


@dataclass
class Row:
    name: str
    kind: str  # "mamba" (an SSM layer) or "norm"
    inp: Figures
    out: Figures
    grad: Figures | None = None
    bounded: bool = False
    first: bool = False

    @property
    def rms_in(self) -> float:  # what smoke.verdicts.mark_context reads
        return self.inp.rms

    @property
    def growth(self) -> float:
        """Output RMS over input RMS; NaN where either is unknown, zero or not finite, or where
        the input's RMS is only a lower bound (an output's lower bound gives one for the growth)."""
        a, b = self.out.rms, self.inp.rms
        return a / b if math.isfinite(a) and math.isfinite(b) and b > 0 and not self.inp.overflow else NAN

    def to_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "in": self.inp.to_dict(), "out": self.out.to_dict()}
        if self.grad is not None:
            out["grad"] = self.grad.to_dict()
        if self.kind == "mamba":
            out["bounded"] = self.bounded
        return out


@dataclass
class StepRecord:
    step: int
    phase: str = ""
    rows: list[Row] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"step {self.step}" + (f" ({self.phase})" if self.phase else "")

    def to_dict(self) -> dict:
        return {"step": self.step, **({"phase": self.phase} if self.phase else {}),
                "layers": [r.to_dict() for r in self.rows]}


def number(value: float):
    """A float as JSON can hold it: non-finite values as the strings "nan", "inf", "-inf"."""
    return value if math.isfinite(value) else str(value)


def fmt(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.3g}"


def profile_table(record: StepRecord, upto: int | None = None, mark: int | None = None, note: str = "") -> str:
    """The depth profile as text, the rows in the order they ran (through row `upto` if given),
    the row `mark` flagged with `note`."""
    rows = record.rows if upto is None else record.rows[:upto + 1]
    grads = any(r.grad is not None for r in rows)
    width = max([len(r.name or "(model)") for r in rows] + [5])
    head = f"  {'layer':<{width}}  {'kind':<5}  {'in RMS':>9}  {'out RMS':>9}  {'out |max|':>9}  {'growth':>8}"
    lines = [head + (f"  {'grad RMS':>9}" if grads else "")]
    for i, r in enumerate(rows):
        growth = f"{'>' if r.out.overflow else ''}{fmt(r.growth)}x" if r.kind == "mamba" and not math.isnan(r.growth) else ""
        line = (f"  {r.name or '(model)':<{width}}  {r.kind:<5}  {r.inp.rms_text():>9}  {r.out.rms_text():>9}  "
                f"{fmt(r.out.absmax):>9}  {growth:>8}")
        if grads:
            line += f"  {r.grad.rms_text() if r.grad is not None else '':>9}"
        if i == mark:
            line += f"   <-- {note}"
        lines.append(line)
    return "\n".join(lines)


def profile_line(record: StepRecord) -> str:
    """One line for a periodic log: each SSM layer's output RMS, in the order they ran."""
    parts = [f"{r.name}={r.out.rms_text()}" for r in record.rows if r.kind == "mamba"]
    return f"{record.label}: SSM output RMS " + " ".join(parts)
