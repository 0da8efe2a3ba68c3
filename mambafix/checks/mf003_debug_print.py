"""MF003 leftover-debug-print: a print or logging call that carries a configured debug marker."""

from __future__ import annotations

from collections.abc import Iterator

from mambafix.checks.base import Applicability, Diagnostic
from mambafix.checks.prints import RemoveStatement, call_name, print_calls
from mambafix.flow.file_facts import FileFacts
from mambafix.syntax.names import Family
from mambafix.syntax.nodes import string_text


class DebugPrint:
    code = "MF003"

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        markers = tuple(facts.config.markers)
        functions = Family(facts.config.print_functions)
        for line in facts.lines:
            for found in print_calls(line, functions, facts.resolver):
                texts = [string_text(arg.value) for arg in found.call.args]
                marker = next((m for text in texts for m in markers if m in text), None)
                if marker is None:
                    continue
                yield Diagnostic(self.code, found.small, (("call", call_name(found.call)), ("marker", marker)),
                                 fix=RemoveStatement(found.small), applicability=Applicability.SAFE)


CHECK = DebugPrint()
