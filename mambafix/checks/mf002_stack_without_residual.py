"""MF002 mamba-stack-without-residual: a normalized Mamba loop with no skip connection."""

from __future__ import annotations

from collections.abc import Iterator

from mambafix.checks.base import Applicability, Diagnostic
from mambafix.checks.mf001_unnormalized_stack import stack_fields
from mambafix.checks.stack_fixes import ResidualFix, residual_fix_blocker
from mambafix.facts.file_facts import FileFacts


class StackWithoutResidual:
    code = "MF002"

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        for use in facts.all_stack_uses():
            if not (use.shape.is_loop and use.normalized and not use.residual):
                continue
            blocker = residual_fix_blocker(use)
            yield Diagnostic(self.code, use.node, stack_fields(use),
                             fix=None if blocker else ResidualFix(use), no_fix=blocker,
                             applicability=Applicability.NONE if blocker else Applicability.UNSAFE,
                             owner_class=use.cls.name.value)


CHECK = StackWithoutResidual()
