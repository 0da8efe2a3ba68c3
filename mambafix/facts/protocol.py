"""The face of a file's facts that the readers (`builds`, `uses`, `summaries`) use: they take
it as a parameter, so they depend on this protocol and not on `mambafix.flow.file_facts`, which
uses them (and computes the class flows and summaries they ask for)."""

from __future__ import annotations

from typing import Protocol

import libcst as cst

from mambafix.facts.families import Families
from mambafix.facts.kinds import ClassSummary
from mambafix.facts.layers import InitInfo
from mambafix.syntax.names import NameResolver


class Facts(Protocol):
    resolver: NameResolver
    families: Families
    index: dict[str, ClassSummary]
    unresolved: set[str]
    looked_up: dict[str, str | None]
    memo: dict
    module: cst.Module
    config: object

    @property
    def classes(self) -> dict[str, cst.ClassDef]: ...

    @property
    def functions(self) -> dict[str, cst.FunctionDef]: ...

    def init_info(self, cls: cst.ClassDef) -> InitInfo: ...

    def class_summary(self, name: str) -> ClassSummary | None: ...

    def summary_for(self, func: cst.BaseExpression) -> ClassSummary | None: ...

    def summary_by_name(self, qualified: str) -> ClassSummary | None: ...

    def installed_summary(self, qualified: str) -> ClassSummary | None: ...
