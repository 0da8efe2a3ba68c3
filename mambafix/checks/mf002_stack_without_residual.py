"""MF002 mamba-stack-without-residual: a normalized Mamba loop with no skip connection."""

from __future__ import annotations

from collections.abc import Iterator

from mambafix.checks.base import Diagnostic
from mambafix.checks.stack_fixes import ResidualFix, residual_fix_blocker, stack_diagnostic
from mambafix.facts.file_facts import FileFacts


class StackWithoutResidual:
    code = "MF002"

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        for use in facts.all_stack_uses():
            if use.shape.is_loop and use.normalized and not use.residual:
                yield stack_diagnostic(self.code, use, ResidualFix(use), residual_fix_blocker(use))


CHECK = StackWithoutResidual()
