"""How a class behaves when another class uses it as a layer: an unnormalized Mamba-family
layer (a subclass or a thin wrapper), a normalized block, or neither. Summaries of one file's
classes feed the project-wide index that resolves classes across files."""

from __future__ import annotations

import libcst as cst

from mambafix.facts.builds import methods_of
from mambafix.facts.kinds import ClassSummary, Kind
from mambafix.facts.naming import find
from mambafix.facts.protocol import Facts
from mambafix.facts.ssm_init import class_params
from mambafix.facts.transfers import kind_of
from mambafix.syntax.nodes import param_names
from mambafix.syntax.walk import walk

# Packages whose classes are never a project's own wrapper: not worth a cross-file round.
EXTERNAL_PACKAGES = ("torch", "torchvision", "numpy", "math", "einops", "typing", "functools")


def summarize(facts: Facts, cls: cst.ClassDef) -> ClassSummary | None:
    """What the class does where another class applies it, read off its data flow: an SSM layer
    (its output unbounded), a block holding one that bounds it, a norm, or a block given the
    class of its mixer. A class that only carries its input on needs no summary."""
    name = cls.name.value
    transfer = facts.class_flows(cls).transfer
    if transfer is None:
        return None
    methods = methods_of(cls)
    init = methods.get("__init__")
    info = facts.init_info(cls)
    if info.given is not None:  # a block given its mixer (a class or a module): the hypothesis's summary
        positional = param_names(init)[1:]
        position = positional.index(info.given) if info.given in positional else None  # keyword-only
        return ClassSummary.of(Kind.OTHER, name, mixer_param=(info.given, position), transfer=transfer)
    kind = kind_of(transfer)
    if kind == Kind.OTHER:  # no SSM, no norm of its own output: what it carries, and what it does not
        return None if carries_everything(transfer) else ClassSummary.of(kind, name, transfer=transfer)
    if kind == Kind.NORM:
        return ClassSummary.of(kind, name, transfer=transfer)
    base_names = [n for b in cls.bases for n in facts.resolver.candidates(b.value)]
    params = param_names(init)[1:] if init is not None else []
    held = class_params(facts, cls) if "MF005" in facts.config.select else ()
    if facts.families.layers.match_any(base_names) or facts.families.is_ssm(info.attr_names):
        d_param, attr = (("d_model", 0), None) if init is None else _width_param(init, params)
        return ClassSummary.of(kind, name, d_param, d_model_attr=attr, transfer=transfer, init_params=held)
    d_param = None
    for stack in info.stacks.values():
        d_expr = next((e.d_model for e in stack.all_elements() if e.kind == Kind.MAMBA), None)
        if isinstance(d_expr, cst.Name) and d_expr.value in params:
            d_param = (d_expr.value, params.index(d_expr.value))
            break
    return ClassSummary.of(kind, name, d_param, transfer=transfer, init_params=held)


def carries_everything(transfer) -> bool:
    """A transfer no different, for its data input, from an unknown module's: no sink, and its
    first parameter carried to every output (what it does to its options does not matter)."""
    return not transfer.sinks and bool(transfer.params) and all(0 in p.taint for p in transfer.parts)


WIDTH_ATTRS = ("d_model", "dim", "hidden_size", "hidden_dim", "d_hidden", "embed_dim", "n_embd", "width")


def _width_param(init: cst.FunctionDef | None, params: list[str]) -> tuple[tuple[str, int] | None, str | None]:
    """The constructor argument that is the layer's width, and where that argument is a config
    object the class reads attributes of, which attribute is the width (`args.d_model`): the
    first of WIDTH_ATTRS it reads; a config object with none of them has no width."""
    if not params:
        return None, None
    read = [n.attr.value for n in (walk(init.body) if init is not None else ())
            if isinstance(n, cst.Attribute) and isinstance(n.value, cst.Name) and n.value.value == params[0]]
    if not read:
        return (params[0], 0), None
    attr = next((a for a in WIDTH_ATTRS if a in read), None)
    return ((params[0], 0), attr) if attr is not None else (None, None)


def lookup(facts: Facts, func: cst.BaseExpression) -> ClassSummary | None:
    """The summary of the class a constructor call names: in this file, else in the index."""
    if isinstance(func, cst.Name) and func.value in facts.classes and func.value not in facts.resolver.aliases:
        return facts.class_summary(func.value)
    return by_name(facts, facts.resolver.qualify(func))


def by_name(facts: Facts, qualified: str | None) -> ClassSummary | None:
    """The index's summary of a class by qualified name; one the index does not know is noted
    in `unresolved` (a cross-file round may know it)."""
    if not qualified or "." not in qualified:
        return None
    key = find(facts.index, qualified)
    facts.looked_up[qualified] = key
    if key is not None:
        return facts.index[key]
    if qualified.split(".", 1)[0] in EXTERNAL_PACKAGES:
        return None
    facts.unresolved.add(qualified)  # a class of the checked tree, known in a later round, wins
    return facts.installed_summary(qualified)
