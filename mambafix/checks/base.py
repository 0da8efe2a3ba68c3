"""What a check is and what it produces. Free of libcst at import time, so the CLI and the
engine's prefilter can name checks without loading the parser."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mambafix.flow.file_facts import FileFacts
    from mambafix.syntax.edits import EditPlan


class Applicability(str, Enum):
    """How far a fix can be trusted (Ruff's idea, as a type)."""

    SAFE = "safe"  # keeps the model's behaviour (removing a debug print)
    UNSAFE = "unsafe"  # changes the model on purpose (adds norms or residuals; new parameters)
    NONE = "none"  # no automatic fix; the diagnostic says why


@dataclass(frozen=True)
class FixOptions:
    residual: bool = False
    style: str = "postnorm"  # or "prenorm"
    norm: str = "layernorm"  # or "rmsnorm"

    @property
    def norm_class(self) -> str:
        return "RMSNorm" if self.norm == "rmsnorm" else "LayerNorm"


@dataclass
class FixContext:
    """What the fixes of one file share while one pass's edit plan is built: the plan, the
    options, the file's facts, and names already chosen (a norm stack made for one finding
    serves every other finding on the same stack)."""

    plan: EditPlan
    options: FixOptions
    facts: FileFacts
    memo: dict[Any, Any] = field(default_factory=dict)


class Fix(Protocol):
    def apply(self, ctx: FixContext) -> str | None:
        """Add this fix's edits to ctx.plan; or add none and return why it cannot be made
        with these options."""


@dataclass(frozen=True)
class Diagnostic:
    """One finding as a check makes it: complete when built, never changed afterwards."""

    code: str
    node: Any  # the libcst statement it is reported at
    fields: tuple[tuple[str, str], ...]  # the rule message's placeholders
    fix: Fix | None = None
    no_fix: str | None = None  # why there is no automatic fix (with fix None)
    applicability: Applicability = Applicability.NONE
    owner_class: str | None = None  # the class it concerns, for smoke's targets
    flow: tuple = ()  # (statement, what happens there) from the source to the sink

    def message_fields(self) -> dict[str, str]:
        return dict(self.fields)


class Check(Protocol):
    code: str

    def run(self, facts: FileFacts) -> Iterable[Diagnostic]:
        """The diagnostics for one file."""
