"""What fires, and the report it carries. Torch-free.

- nonfinite: the first watched module, in the order they ran, whose output holds NaN or inf.
  Where that is a norm (a LayerNorm over values whose variance overflows), the layer named is the
  SSM layer that ran last before it, the one that made the values; where the module's input was
  already non-finite, the report says the values came from before it.
- growth: an SSM layer whose output RMS passes `growth` times its input RMS, and whose output
  reaches the next SSM layer with no norm between (smoke's `bounded`, smoke.verdicts.mark_context):
  a norm after a layer takes its growth back, so a normalized model's layers may grow as they
  like (after `apply`, the seed's layers grow 1e7-1e15x at a diverging learning rate and the model
  stays finite). Inputs with RMS under 1e-6 are not judged (a zero-padded input is no signal).
- nonfinite-gradient (backward hooks on): the deepest SSM layer or norm whose output gradient
  holds NaN or inf, the first one backward reaches.

Each kind fires once per layer and attach (nonfinite and nonfinite-gradient once in all).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mambafix.guard.record import Row, StepRecord, fmt, profile_table

INPUT_FLOOR = 1e-6  # input RMS under which growth is not judged


class WatchError(FloatingPointError):
    """Raised by a watch whose action is "raise"; `event` holds what fired."""

    def __init__(self, event: "Event"):
        super().__init__(event.report())
        self.event = event


class WatchWarning(RuntimeWarning):
    """Warned by a watch whose action is "warn"."""


@dataclass
class Event:
    kind: str  # "nonfinite", "growth" or "nonfinite-gradient"
    layer: str  # the qualified name of the layer named
    row: Row  # its figures at this step
    index: int  # its row in `record`
    record: StepRecord  # the step's depth profile
    trend: list[tuple[int, float]] = field(default_factory=list)  # (step, output RMS) before this step
    detail: str = ""  # what the first non-finite module was, where that is not the layer named
    advice: object = None  # a callable giving the static advice text, or the text once computed

    @property
    def step(self) -> int:
        return self.record.step

    @property
    def headline(self) -> str:
        owner = f" ({self.detail})" if self.detail else ""
        what = {"nonfinite": "non-finite output in SSM layer" if self.row.kind == "mamba" else "non-finite output in",
                "growth": "unbounded growth in SSM layer",
                "nonfinite-gradient": "non-finite output gradient in"}[self.kind]
        return f"mambafix.watch: {what} {self.layer or '(model)'} at {self.record.label}{owner}"

    def figures(self) -> str:
        r = self.row
        out = (f"  output: RMS {r.out.rms_text()}, min {fmt(r.out.min)}, max {fmt(r.out.max)}; "
               f"input: RMS {r.inp.rms_text()}, |max| {fmt(r.inp.absmax)}")
        if self.kind == "growth":
            out += f"; growth {fmt(r.growth)}x its input, and no norm before the next SSM layer"
        elif self.kind == "nonfinite" and r.inp.nonfinite:
            out += " (the input was already non-finite: the values came from before this module)"
        elif self.kind == "nonfinite" and r.inp.known:
            out += " (finite input: this module made them)"
        if self.kind == "nonfinite-gradient" and r.grad is not None:
            out += f"\n  output gradient: RMS {r.grad.rms_text()}, min {fmt(r.grad.min)}, max {fmt(r.grad.max)}"
        return out

    def static_advice(self) -> str:
        if callable(self.advice):
            try:
                self.advice = self.advice(self)
            except Exception as exc:  # noqa: BLE001 - the report must come out whatever the static side does
                self.advice = f"(what check says could not be computed: {type(exc).__name__}: {exc})"
        return self.advice or ""

    def report(self) -> str:
        note = {"nonfinite": "first non-finite", "growth": "grows unbounded",
                "nonfinite-gradient": "first non-finite gradient (backward order)"}[self.kind]
        upto = self.index if self.kind != "nonfinite-gradient" else None
        parts = [self.headline, self.figures(),
                 f"depth profile at {self.record.label} (SSM layers and norms in the order they ran"
                 + (", through this one):" if upto is not None else "):"),
                 profile_table(self.record, upto=upto, mark=self.index, note=note)]
        if self.trend:
            parts.append(f"{self.layer} output RMS over the steps before: "
                         + ", ".join(f"{s}: {fmt(v)}" for s, v in self.trend))
        advice = self.static_advice()
        if advice:
            parts.append(advice)
        return "\n".join(parts)

    def to_dict(self) -> dict:
        return {"event": self.kind, "layer": self.layer, "step": self.step,
                **({"phase": self.record.phase} if self.record.phase else {}),
                "row": self.row.to_dict(), "detail": self.detail, "layers": self.record.to_dict()["layers"]}


def first_nonfinite(record: StepRecord) -> tuple[int, int, str] | None:
    """(row of the layer to name, row that went non-finite first, detail) of a step, or None."""
    rows = record.rows
    hit = next((i for i, r in enumerate(rows) if r.out.nonfinite), None)
    if hit is None:
        return None
    if rows[hit].kind == "mamba" or rows[hit].inp.nonfinite:
        return hit, hit, ""
    maker = next((i for i in range(hit - 1, -1, -1) if rows[i].kind == "mamba"), None)
    if maker is None:
        return hit, hit, ""
    return maker, hit, (f"{rows[hit].name} went non-finite first, on its input from {rows[maker].name}, "
                        f"|max| {fmt(rows[maker].out.absmax)}")


def growing(record: StepRecord, factor: float) -> list[int]:
    """Rows of unbounded SSM layers whose output grew past `factor` times their input."""
    return [i for i, r in enumerate(record.rows)
            if r.kind == "mamba" and not r.bounded and r.inp.rms >= INPUT_FLOOR
            and not (r.out.nonfinite or r.inp.nonfinite) and r.growth > factor]


def last_nonfinite_gradient(record: StepRecord) -> int | None:
    """The deepest row whose output gradient is non-finite: the first one backward reached."""
    return next((i for i in range(len(record.rows) - 1, -1, -1)
                 if record.rows[i].grad is not None and record.rows[i].grad.nonfinite), None)


def trend(history, name: str) -> list[tuple[int, float]]:
    """(step, output RMS) of the layer's first call in each step of the history."""
    out = []
    for record in history:
        row = next((r for r in record.rows if r.name == name), None)
        if row is not None:
            out.append((record.step, row.out.rms))
    return out

