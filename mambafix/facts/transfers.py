"""What a module or a function does to the data flow, as data: the standard transfers (an SSM
layer, one that bounds its own output, a block that bounds both, a norm, a bounded value), what a
classified constructor's module does, modules applied one after the other, and the transfers of
rules/models.toml's [[models]] entries. A transfer summarises a forward: which data parameters
reach an SSM layer's input at an unbounded scale (sinks), and what each returned element carries
(its parameters unbounded, its own SSM output: "ssm", and what it derives from around its SSM
layers, norms included: `deps`). A pre-norm residual block is "no sink / ssm and x returned", a
post-norm block "sink / nothing unbounded", mamba_ssm.Mamba2 with its gated RMSNorm "sink / nothing".
"""

from __future__ import annotations

from mambafix.facts.kinds import Kind
from mambafix.facts.transfer import SSM_OUT, Part, Transfer


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
BOUNDED = _one(deps={0}, params=("*",))  # sigmoid, tanh, softmax: the scale is gone


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
