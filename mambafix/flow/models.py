"""The values a call can run while a method is evaluated: `Mod` (a module instance, possibly a
container of modules, with its transfer: mambafix.facts.transfers), `Func` (a function or method
whose body the analysis reads) and `Ref` (a qualified name the data of rules/models.toml or the
default rules decide)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mambafix.facts.kinds import Container
from mambafix.facts.transfer import Transfer


@dataclass(eq=False)
class Mod:
    """A module the code may call: `self.<attr>`, an element of a container, one built inline.
    Compared by identity; the analysis makes one per attribute (and element)."""

    text: str  # how a message names it
    transfer: Transfer | None = None  # None: unknown, carries its input on
    stack: Any = None  # the facts' Stack of the attribute, for the fixes
    attr: str | None = None
    container: Container | None = None  # set for a ModuleList, Sequential, list or dict
    elements: tuple = ()  # a container's modules in order, where they are known one by one
    repeated: "Mod | None" = None  # a container's element where it repeats one constructor
    count: int | None = None  # how many, where fixed by a literal
    index: int | None = None  # the position in its container
    parent: "Mod | None" = None
    cls: Any = None  # the class whose attribute it is
    alternatives: tuple = field(default=())  # other modules the same attribute may hold

    def members(self) -> tuple["Mod", ...]:
        """What iterating or indexing the container gives: every element it may hold."""
        if self.elements:
            return self.elements
        return (self.repeated,) if self.repeated is not None else ()

    @property
    def is_container(self) -> bool:
        return self.container is not None and self.container != Container.SINGLE

    def __repr__(self) -> str:
        return f"Mod({self.text})"


@dataclass(eq=False)
class Func:
    """A function whose body is evaluated at its calls: a module-level function, a method of the
    class (bound to the instance), a function defined inside a method (with its closure)."""

    node: Any  # the FunctionDef
    bound: bool = False  # a method: its first parameter is the instance
    closure: dict | None = None

    def __repr__(self) -> str:
        return f"Func({self.node.name.value})"


@dataclass(frozen=True, eq=False)
class Ref:
    """A name bound outside the method (an import, a builtin, a class or function of the file):
    what calling it does is decided from what it resolves to."""

    expr: Any  # the Name or Attribute that names it


SUPER = Ref(None)  # `super()`: its `forward` is the base class's
