"""What `__init__` builds, as data: classified constructor calls and the stacks they form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from mambafix.facts.kinds import Container, Kind
from mambafix.syntax.nodes import code


@dataclass(frozen=True)
class Element:
    """One module constructor call, classified."""

    kind: Kind
    display: str = ""
    ctor: cst.Call | None = None
    d_model: cst.BaseExpression | None = None
    note: str = ""  # what else the constructor's name stands for (a try/except fallback)
    moved: str = ""  # a method chain the constructor call is wrapped in: `.to("cuda")`
    model: Any = None  # the data flow's Transfer of the module, where one is known
    members: tuple | None = None  # a ModuleList built as a literal list: its modules, one by one


OTHER = Element(Kind.OTHER)


@dataclass(frozen=True)
class Contents:
    """The modules a container is built from: a literal list, or one repeated element."""

    elements: tuple[Element, ...] | None = None  # a literal list
    repeated: Element | None = None  # a comprehension's or an append loop's element
    count: int | None = None
    count_text: str | None = None
    comp_names: frozenset[str] = frozenset()  # names bound by the building loop
    count_fixed: bool = False  # the count is a literal, not a parameter the caller may set
    pattern: tuple[Element, ...] = ()  # several modules appended on each trip of the building loop


@dataclass(frozen=True)
class Stack:
    """What `self.<attr>` holds: one module, or a container of modules, and where it is built."""

    attr: str
    container: Container
    contents: Contents = Contents()
    define: cst.BaseSmallStatement | None = None  # the `self.attr = ...` statement
    insert_after: cst.CSTNode | None = None  # the statement that finishes building it
    value: cst.BaseExpression | None = None
    helper: str | None = None  # the helper method or function that builds it, if any
    conditional: bool = False  # built as `ModuleList(...) if cond else None`

    @property
    def elements(self) -> tuple[Element, ...] | None:
        return self.contents.elements

    @property
    def repeated(self) -> Element | None:
        return self.contents.repeated

    @property
    def count(self) -> int | None:
        return self.contents.count

    @property
    def count_text(self) -> str | None:
        return self.contents.count_text

    @property
    def comp_names(self) -> frozenset[str]:
        return self.contents.comp_names

    @property
    def count_fixed(self) -> bool:
        return self.contents.count_fixed

    def all_elements(self) -> tuple[Element, ...]:
        if self.elements is not None:
            return self.elements
        if self.contents.pattern:
            return self.contents.pattern
        return (self.repeated,) if self.repeated is not None else ()

    def kind(self) -> Kind:
        """The stack's kind when looped over: MAMBA if its Mamba layers are unnormalized."""
        kinds = [e.kind for e in self.all_elements()]
        if not kinds:
            return Kind.OTHER
        if self.elements is not None:
            if self.longest_mamba_run() >= 1:
                return Kind.MAMBA
            if all(k == Kind.NORM for k in kinds):
                return Kind.NORM
            return Kind.NORMALIZED if Kind.NORMALIZED in kinds else Kind.OTHER
        return kinds[0]

    def longest_mamba_run(self) -> int:
        best = run = 0
        for element in self.all_elements():
            if element.kind == Kind.MAMBA:
                run += 1
                best = max(best, run)
            elif element.kind in (Kind.NORM, Kind.NORMALIZED):
                run = 0
        return best

    def display(self) -> str:
        names = [e.display for e in self.all_elements() if e.kind == Kind.MAMBA]
        return names[0] if names else "Mamba"

    def moved(self) -> str:
        """The `.to(...)`/`.cuda()` chain the Mamba layers are built with (norms get the same)."""
        return next((e.moved for e in self.all_elements() if e.kind == Kind.MAMBA and e.moved), "")

    def note(self) -> str:
        return next((e.note for e in self.all_elements() if e.kind == Kind.MAMBA and e.note), "")

    def uniform_d_model(self) -> cst.BaseExpression | None:
        exprs = [e.d_model for e in self.all_elements() if e.kind == Kind.MAMBA]
        if not exprs or any(x is None for x in exprs):
            return None
        return exprs[0] if len({code(x) for x in exprs}) == 1 else None


@dataclass
class InitInfo:
    """What a class's `__init__` builds, and every `self.<name>` any of its methods assigns."""

    stacks: dict[str, Stack] = field(default_factory=dict)
    attr_names: set[str] = field(default_factory=set)
    alternatives: dict[str, list[Stack]] = field(default_factory=dict)  # other modules an attribute may hold
    consts: dict[str, Any] = field(default_factory=dict)  # `self.flag = True`: the constant (NOCONST: several)
    given: str | None = None  # the constructor parameter taken to be the class of an SSM mixer
