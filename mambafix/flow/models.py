"""What a module or a function does to the data flow, as data: its transfer.

A `Transfer` summarises a forward: which of its data parameters reach an SSM layer's input at an
unbounded scale (sinks), and what its returned value carries (per element, when it returns a
tuple): its parameters unbounded, an unbounded SSM output of its own ("ssm"), and the parameters
it derives from along paths that skip every SSM layer (`deps`, which norms keep: a skip
connection). A pre-norm residual block is "no sink / ssm and x returned", a post-norm block
"sink / nothing unbounded returned", mamba_ssm.Mamba2 with its gated RMSNorm "sink / nothing".

The values a call can run are `Mod` (a module instance, possibly a container of modules),
`Func` (a function or method whose body the analysis reads) and `Ref` (a qualified name the
data of rules/models.toml or the default rules decide).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mambafix.facts.kinds import Container, Kind
from mambafix.flow.transfer import SSM_OUT, Part, Transfer

def kind_of(transfer: Transfer) -> Kind:
    """The facts' kind of a module with this transfer: an SSM layer (its input reaches a scan
    unbounded and its output is unbounded), a block holding one that bounds its input or its
    output (pre-norm, post-norm, a gated norm), a norm (nothing unbounded leaves it), or other."""
    if transfer.ssm:
        unbounded = any(SSM_OUT in p.taint for p in transfer.parts)
        return Kind.MAMBA if unbounded and transfer.sinks else Kind.NORMALIZED
    if transfer.params and all(not p.taint for p in transfer.parts) and any(p.deps for p in transfer.parts):
        return Kind.NORM
    return Kind.OTHER


def _one(taint=(), deps=(), params=("x",), sinks=(), ssm=False) -> Transfer:
    return Transfer(tuple(params), frozenset(sinks), (Part(frozenset(taint), frozenset(deps)),), False, ssm)


SSM = _one(taint={SSM_OUT}, sinks={0}, ssm=True)  # mamba_ssm.Mamba: its input reaches the scan
SELF_NORMALIZED_SSM = _one(sinks={0}, ssm=True)  # Mamba2's gated RMSNorm bounds what it returns
NORMALIZED_BLOCK = _one(deps={0}, ssm=True)  # a block that bounds both its input and output
NORM = _one(deps={0})
CARRY = _one(taint={0}, deps={0}, params=("*",))
BOUNDED = _one(deps={0}, params=("*",))  # sigmoid, tanh, softmax: the scale is gone
FRESH = _one(params=("*",))  # zeros_like, shape: nothing of the input's values


def element_transfer(element) -> Transfer | None:
    """What applying a classified constructor's module (a facts Element) does; None where
    nothing is known (it carries its input on)."""
    if element is None:
        return None
    if element.model is not None:
        return element.model
    return {Kind.MAMBA: SSM, Kind.NORM: NORM, Kind.NORMALIZED: NORMALIZED_BLOCK}.get(element.kind)


def compose(transfers) -> Transfer:
    """Modules applied one after the other (an nn.Sequential built inline) as one transfer."""
    taint, deps, sinks, ssm = {0}, {0}, set(), False
    for transfer in transfers:
        if transfer is None:
            continue
        ssm = ssm or transfer.ssm
        if not transfer.variadic and 0 in transfer.sinks and 0 in taint:
            sinks.add(0)
        part = transfer.parts[0]
        taint = {SSM_OUT} & part.taint | (taint if 0 in part.taint else set())
        deps = deps if 0 in part.deps else set()
    return Transfer(("x",), frozenset(sinks), (Part(frozenset(taint), frozenset(deps)),), False, ssm)


def transfer_from_data(entry: dict) -> Transfer:
    """A [[models]] entry of rules/models.toml: params, sinks (parameter names), returns (one list
    of names per returned element, "ssm" for the module's own SSM output), optional deps."""
    params = tuple(entry["params"])
    where = {name: i for i, name in enumerate(params)}

    def positions(names) -> frozenset:
        return frozenset(SSM_OUT if n == SSM_OUT else where[n] for n in names)

    returns = entry.get("returns", [[]])
    deps = entry.get("deps", [[n for n in r if n != SSM_OUT] for r in returns])
    parts = tuple(Part(positions(r), positions(d)) for r, d in zip(returns, deps))
    return Transfer(params, positions(entry.get("sinks", [])), parts, len(parts) > 1, bool(entry.get("ssm", False)))


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
