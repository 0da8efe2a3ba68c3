"""MF001 unnormalized-mamba-stack: Mamba-family layers applied in sequence with no norm between."""

from __future__ import annotations

from collections.abc import Iterator

from mambafix.checks.base import Diagnostic
from mambafix.checks.stack_fixes import NormFix, norm_fix_blocker, stack_diagnostic
from mambafix.flow.file_facts import FileFacts


class UnnormalizedStack:
    code = "MF001"

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        for use in facts.all_stack_uses():
            if not use.normalized:
                yield stack_diagnostic(self.code, use, NormFix(use), norm_fix_blocker(facts, use))


CHECK = UnnormalizedStack()
