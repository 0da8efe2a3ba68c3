"""What the local names of a method stand for while `__init__` (or a helper it calls) is read."""

from __future__ import annotations

from contextlib import contextmanager

import libcst as cst

from mambafix.facts.layers import Contents


class Locals:
    """What the local names of a method stand for while `__init__` (or a helper) is read:
    an assigned expression, or the contents of a list built by an append loop."""

    def __init__(self, defaults: dict, stacks: dict | None = None, given: str | None = None) -> None:
        self.defaults = defaults
        self.given = given  # a class parameter taken to be an SSM layer (a block given its mixer)
        self.consts: dict = {}  # local names bound to a constant
        self.methods: dict = {}  # the class's methods, where a helper method may build a layer
        self.exprs: dict[str, cst.BaseExpression] = {}
        self.lists: dict[str, Contents] = {}
        self.started: dict[str, cst.BaseExpression] = {}  # what an append-built name was first
        self.stacks = stacks if stacks is not None else {}  # `self.<attr>` stacks read so far
        self.following: set[str] = set()  # names whose value is being read (`x = f(x)` reads x's own value)

    def assign(self, name: str, value: cst.BaseExpression) -> None:
        self.exprs[name] = value
        self.lists.pop(name, None)

    @contextmanager
    def follow(self, name: str):
        """The value assigned to `name`, while it is read; None where it is being read already (a
        name assigned from itself, `x = x.to(d)`, `x = nn.Sequential(x, ...)`: the value it had
        before is not kept, and reading it again would never end)."""
        if name in self.following:
            yield None
            return
        self.following.add(name)
        try:
            yield self.exprs[name]
        finally:
            self.following.discard(name)

    def append_built(self, name: str, contents: Contents) -> None:
        self.lists[name] = contents
        if name in self.exprs:
            self.started[name] = self.exprs.pop(name)
