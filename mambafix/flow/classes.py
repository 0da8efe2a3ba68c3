"""One class's data flow: every method evaluated from its parameters, the flows found (an SSM
output reaching an SSM input unbounded), and the class's own transfer, read off its forward,
that other classes apply where they use it as a layer (bottom-up, through the file's facts)."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from mambafix.facts import transfers
from mambafix.flow.context import Budget, Context, FlowBudget
from mambafix.flow.instance import Instance
from mambafix.flow.interp import Evaluator
from mambafix.facts.transfer import SSM_OUT, Part, Transfer
from mambafix.flow.values import V, Flow, Site
from mambafix.syntax.nodes import param_names


@dataclass
class ClassFlows:
    transfer: Transfer | None  # what the class does where it is applied as a layer
    flows: list[Flow] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)  # methods the analysis could not finish, and why
    sites: list[Site] = field(default_factory=list)  # every application of an SSM layer
    inputs: dict = field(default_factory=dict)  # site -> what its input derives from
    skips: dict = field(default_factory=dict)  # (loop id, name) -> the loop carries it around its layers


def data_params(method: cst.FunctionDef) -> list[str]:
    """A method's parameters after `self` (keyword-only ones included)."""
    names = param_names(method)[1:]
    return names + [p.name.value for p in method.params.kwonly_params]


def entry_env(method: cst.FunctionDef) -> dict:
    """Each parameter stands for itself: label i for the i-th after `self`."""
    env = {name: V(frozenset({i}), frozenset({i})) for i, name in enumerate(data_params(method))}
    params = method.params
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            env[star.name.value] = V()
    return env


def transfer_of(method: cst.FunctionDef, returned: V, sinks: set[int], saw_ssm: bool) -> Transfer:
    """The forward's summary. Only the first parameter, the module's data input, can be a sink:
    the others are its state and options (an inference cache, a mask), which reach the scan
    without being a layer's input."""
    sinks = sinks & {0}
    values = returned.items if returned.items is not None and len(returned.items) > 1 else (returned,)
    parts = []
    for value in values:
        taint = {t for t in value.taint if isinstance(t, int)}
        if any(isinstance(t, Site) for t in value.taint):
            taint.add(SSM_OUT)
        parts.append(Part(frozenset(taint), frozenset(d for d in value.deps if isinstance(d, int))))
    return Transfer(tuple(data_params(method)), frozenset(sinks), tuple(parts), len(parts) > 1, saw_ssm)


def unseen_scan(seen: Transfer, base: Transfer | None, normed: bool) -> Transfer:
    """A selective SSM (by its signature or its base class) whose scan the analysis cannot see (a
    compiled kernel, a stand-in): the scan sits between its input and its output. An input that
    is normalized first is no sink (a pre-norm block); an output that is bounded is no source."""
    bounded = all(not p.taint for p in seen.parts)
    if bounded:
        return transfers.SELF_NORMALIZED_SSM
    if normed:  # its first returned element is the scan's output
        first, *rest = seen.parts
        return Transfer(seen.params, frozenset(), (Part(first.taint | {SSM_OUT}, first.deps), *rest), seen.is_tuple, True)
    return base or transfers.SSM


def analyze_class(facts, cls: cst.ClassDef, budget: Budget) -> ClassFlows:
    inst = Instance(facts, cls)
    ctx = Context(facts, budget)
    transfer = None
    normed = False
    stopped = []
    for name, method in inst.methods.items():
        if name == "__init__":
            continue
        ctx.entry_sinks, ctx.saw_ssm, ctx.entry_normed = set(), False, set()
        ev = Evaluator(ctx, inst, method, active=(method,))
        try:
            returned = ev.run(method, entry_env(method))
        except (FlowBudget, RecursionError) as exc:
            stopped.append(f"{cls.name.value}.{name}: {exc if isinstance(exc, FlowBudget) else 'nesting too deep'}")
            continue
        except Exception as exc:  # noqa: BLE001 - code the analysis cannot follow: no finding from it, never a crash
            stopped.append(f"{cls.name.value}.{name}: {type(exc).__name__}: {exc}")
            continue
        if name == "forward" and ev.returns:  # a forward that only raises is abstract: nothing known
            transfer = transfer_of(method, returned, ctx.entry_sinks, ctx.saw_ssm)
            normed = 0 in ctx.entry_normed
    base = inst.base_transfer()
    if "forward" not in inst.methods:
        transfer = base
    elif transfer is not None and not transfer.ssm and (
            (base is not None and base.ssm) or facts.families.is_ssm(inst.info.attr_names)):
        transfer = unseen_scan(transfer, base, normed)
    return ClassFlows(transfer, list(ctx.flows.values()), stopped, list(ctx.sites.values()), ctx.inputs, ctx.skips)
