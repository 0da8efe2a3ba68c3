"""The facts of how a class's methods apply its modules, as data: one application of a layer,
what loop variables stand for, and a `StackUse` (layers applied in sequence)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from mambafix.facts.kinds import Role, Shape
from mambafix.facts.layers import Stack


@dataclass(frozen=True)
class Application:
    """One call of a layer on a tensor: `h = layer(h)`, `h = checkpoint(layer, h)`."""

    stmt: cst.BaseSmallStatement
    call: cst.Call
    attr: str
    var: str
    through_wrapper: bool
    plain: bool  # result used directly (not indexed, not unpacked)

    @property
    def callee(self) -> cst.BaseExpression:
        return self.call.args[0].value if self.through_wrapper else self.call.func


@dataclass(frozen=True)
class Bindings:
    """What the loop variables in scope stand for: name -> (role, stack attribute or None),
    and the stack a `range(len(self.x))` loop walks."""

    roles: tuple[tuple[str, Role, str | None], ...] = ()
    over: str | None = None

    def get(self, name: str) -> tuple[Role, str | None] | None:
        for n, role, attr in self.roles:
            if n == name:
                return role, attr
        return None

    def iterated(self) -> set[str]:
        out = {attr for _, role, attr in self.roles if role == Role.ELEMENT and attr}
        return out | ({self.over} if self.over else set())

    def merged(self, other: "Bindings") -> "Bindings":
        names = {n for n, _, _ in other.roles}
        return Bindings(tuple(r for r in self.roles if r[0] not in names) + other.roles, other.over or self.over)


@dataclass(frozen=True)
class StackUse:
    """Layers of one class applied in sequence."""

    shape: Shape
    cls: cst.ClassDef
    stacks: tuple[Stack, ...]
    apps: tuple[Application, ...]
    node: cst.CSTNode  # where it is reported
    count: int | None
    count_text: str
    normalized: bool = False  # a norm comes between the applications
    residual: bool = True  # a skip connection around each application (loops only)
    loop: cst.For | None = None
    bindings: Bindings = Bindings()
    compound: bool = False  # one statement of the loop applies this and another stack
    partners: tuple[Stack, ...] = ()  # the other stacks that statement applies (a compound step)
    flows: tuple = ()  # the data flow's flows (mambafix.flow.values.Flow) this use is made of
    path: str = ""  # the first flow, in words: "layers[i] output reaches layers[i+1] through ..."
    path_nodes: tuple = ()  # (statement, what happens there) along that flow
    blocked: str | None = None  # why the path runs where no fix can be written, if it does

    @property
    def owner(self) -> str:
        attrs = list(dict.fromkeys([a.attr for a in self.apps] + [p.attr for p in self.partners]))
        attrs = attrs or [s.attr for s in self.stacks]
        if not attrs and self.flows:
            attrs = list(dict.fromkeys(f.source.text.removeprefix("self.") for f in self.flows))
        return f"{self.cls.name.value}.{attrs[0]}" + "".join(f", {a}" for a in attrs[1:])

    @property
    def kind(self) -> str:
        return self.stacks[0].display() if self.stacks else "Mamba"

    @property
    def note(self) -> str:
        return self.stacks[0].note() if self.stacks else ""
