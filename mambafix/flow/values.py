"""The abstract values of the data flow: what a name may hold while a method is evaluated.

A value is a tensor's *taint* (which SSM outputs and which of the method's own parameters it
carries at an unbounded scale), its *deps* (which parameters it derives from along paths that
skip every SSM layer, norms included: the skip connections), the modules or functions it may
be (to resolve calls), a known tuple structure, a known constant (configuration flags), and
whether it is a scale statistic of some labels (to see a norm written out by hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from mambafix.facts.consts import NOCONST

EMPTY: frozenset = frozenset()




class Site:
    """One application of an SSM layer (or of a module holding one) in the code: a source of
    unbounded values and, where the layer's input reaches an SSM input, a sink. Compared by
    identity: the analysis makes one per call node and module (`Sites.get`)."""

    __slots__ = ("call", "stmt", "text", "mod", "loops", "func", "primitive", "order")

    def __init__(self, call: cst.CSTNode, stmt, text: str, mod, loops: tuple, func, primitive: bool, order: int):
        self.call = call  # the call node (for an element of a called nn.Sequential: the call of the Sequential)
        self.stmt = stmt  # the small statement it is in (None inside a Sequential)
        self.text = text  # how the message names it: "self.layers[i]", "self.m1"
        self.mod = mod  # the Mod applied (None for an SSM function or a hand-written scan)
        self.loops = loops  # the `for`/`while` statements around it, outermost first
        self.func = func  # the function definition it is in
        self.primitive = primitive  # a hand-written scan or an SSM function, not a module
        self.order = order  # creation order: a stable sort key

    def __repr__(self) -> str:
        return f"Site({self.text})"


@dataclass(frozen=True)
class Step:
    """One operation a value passed through on its way from a source to a sink."""

    node: Any  # the small statement it happened in
    text: str  # "self.dropout", "transpose", "+ residual"


@dataclass(frozen=True)
class V:
    taint: frozenset = EMPTY  # Sites (SSM outputs) and ints (the method's parameters), unbounded
    deps: frozenset = EMPTY  # ints and loop-head markers this derives from outside SSM layers
    mods: frozenset = EMPTY  # Mod / Func / Ref: what a call of this value runs
    items: tuple | None = None  # a tuple of known length
    const: Any = NOCONST  # a known constant: True, None, 3, "S4"
    stat: frozenset = EMPTY  # a positive-power scale statistic of these labels (mean of x**2, std)
    inv: frozenset = EMPTY  # an inverse statistic of these labels (rsqrt of one)
    kernel: bool = False  # derived from a selective SSM's own parameters (A_log)
    # for each source site in `taint`, the operations since it: ((Site, (Step, ...)), ...)
    steps: tuple = field(default=(), compare=False)

    @property
    def data(self) -> bool:
        return bool(self.taint or self.deps)

    def sites(self) -> list[Site]:
        return sorted((t for t in self.taint if isinstance(t, Site)), key=lambda s: s.order)

    def path(self, site: Site) -> tuple:
        """The operations this value went through since `site`'s output."""
        for source, steps in self.steps:
            if source is site:
                return steps
        return ()

    def with_items(self, items) -> "V":
        return V(self.taint, self.deps, self.mods, items, self.const, self.stat, self.inv, self.kernel, self.steps)


NONE_V = V()
MAX_STEPS = 6


def const(value: Any) -> V:
    return V(const=value)


def flat(v: V) -> V:
    """A tuple seen as one value (passed to torch.cat, added, returned whole)."""
    if v.items is None:
        return v
    out = v.with_items(None)
    for item in v.items:
        out = join(out, flat(item))
    return out


def merge_paths(*values: V) -> tuple:
    """The paths of several values, one per source (the first value's where two have one)."""
    seen: dict = {}
    for v in values:
        for source, steps in v.steps:
            seen.setdefault(source, steps)
    return tuple(seen.items())


def source_paths(site: Site, *values: V) -> tuple:
    return ((site, ()),) + tuple(p for p in merge_paths(*values) if p[0] is not site)


def join(a: V | None, b: V | None) -> V | None:
    """What a name may hold after either of two paths; None is an unreachable path."""
    if a is None:
        return b
    if b is None or a is b:
        return a
    items = None
    if a.items is not None and b.items is not None and len(a.items) == len(b.items):
        items = tuple(join(x, y) for x, y in zip(a.items, b.items))
    elif a.items is not None or b.items is not None:
        a, b = flat(a), flat(b)
    return V(a.taint | b.taint, a.deps | b.deps, a.mods | b.mods, items,
             a.const if a.const == b.const and type(a.const) is type(b.const) else NOCONST,
             a.stat & b.stat, a.inv & b.inv, a.kernel or b.kernel, merge_paths(a, b) if b.steps else a.steps)


def union(values) -> V:
    """A value computed from several (a + b, torch.cat([a, b]), f(a, b)): their contents together,
    no constant, no modules, no structure."""
    taint, deps, kernel, flats = set(), set(), False, []
    for v in values:
        v = flat(v)
        flats.append(v)
        taint |= v.taint
        deps |= v.deps
        kernel = kernel or v.kernel
    return V(frozenset(taint), frozenset(deps), kernel=kernel, steps=merge_paths(*flats))


def with_step(v: V, node, text: str) -> V:
    """`v` having passed through one more operation (recorded for the paths of its sources)."""
    if not v.steps or not text:
        return v
    step = Step(node, text)
    paths = tuple((source, steps if (steps and steps[-1].text == text) or len(steps) >= MAX_STEPS else steps + (step,))
                  for source, steps in v.steps)
    return V(v.taint, v.deps, v.mods, v.items, v.const, v.stat, v.inv, v.kernel, paths)


def join_states(a: dict | None, b: dict | None) -> dict | None:
    """Two environments joined name by name; a name bound on one path only keeps its value
    (the other path may not have reached the statement that binds it)."""
    if a is None:
        return None if b is None else dict(b)
    if b is None:
        return dict(a)
    out = dict(a)
    for name, value in b.items():
        mine = out.get(name)
        out[name] = value if mine is None else join(mine, value)
    return out


@dataclass(frozen=True)
class Flow:
    """A source's output reaching a sink with no barrier between."""

    source: Site
    sink: Site
    steps: tuple  # the operations between (Step)
