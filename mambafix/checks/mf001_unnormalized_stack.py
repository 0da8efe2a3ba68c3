"""MF001 unnormalized-mamba-stack: Mamba-family layers applied in sequence with no norm between."""

from __future__ import annotations

from collections.abc import Iterator

from mambafix.checks.base import Applicability, Diagnostic
from mambafix.checks.stack_fixes import NormFix, norm_fix_blocker
from mambafix.facts.file_facts import FileFacts
from mambafix.facts.uses import StackUse


def stack_fields(use: StackUse) -> tuple[tuple[str, str], ...]:
    return (("owner", use.owner), ("count", use.count_text), ("kind", use.kind), ("note", use.note))


class UnnormalizedStack:
    code = "MF001"

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        for use in facts.all_stack_uses():
            if use.normalized:
                continue
            blocker = norm_fix_blocker(use)
            yield Diagnostic(self.code, use.node, stack_fields(use),
                             fix=None if blocker else NormFix(use), no_fix=blocker,
                             applicability=Applicability.NONE if blocker else Applicability.UNSAFE,
                             owner_class=use.cls.name.value)


CHECK = UnnormalizedStack()
