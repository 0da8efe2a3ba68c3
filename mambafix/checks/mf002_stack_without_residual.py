"""MF002 mamba-stack-without-residual: a normalized Mamba loop with no skip connection."""

from __future__ import annotations

from collections.abc import Iterator

from mambafix.checks.base import Diagnostic
from mambafix.checks.stack_fixes import ResidualFix, residual_fix_blocker, stack_diagnostic
from mambafix.flow.file_facts import FileFacts


class StackWithoutResidual:
    code = "MF002"

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        for cls in facts.all_classes:
            for use in facts.residual_uses(cls):
                yield stack_diagnostic(self.code, use, ResidualFix(use), residual_fix_blocker(use))


CHECK = StackWithoutResidual()
