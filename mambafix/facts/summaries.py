"""How a class behaves when another class uses it as a layer: an unnormalized Mamba-family
layer (a subclass or a thin wrapper), a normalized block, or neither. Summaries of one file's
classes feed the project-wide index that resolves classes across files."""

from __future__ import annotations

import libcst as cst

from mambafix.facts.builds import methods_of
from mambafix.facts.kinds import ClassSummary, Kind
from mambafix.facts.uses import called_self_attrs, forward_normalizes
from mambafix.facts.protocol import Facts
from mambafix.syntax.nodes import param_defaults, param_names, self_attr
from mambafix.syntax.walk import walk

# Packages whose classes are never a project's own wrapper: not worth a cross-file round.
EXTERNAL_PACKAGES = ("torch", "mamba_ssm", "torchvision", "numpy", "math", "einops", "typing", "functools")


def summarize(facts: Facts, cls: cst.ClassDef) -> ClassSummary | None:
    name = cls.name.value
    base_names = [n for b in cls.bases for n in facts.resolver.candidates(b.value)]
    methods = methods_of(cls)
    forward = methods.get("forward")
    init = methods.get("__init__")
    base = facts.families.layers.match_any(base_names)
    if base:
        normalizes = base in facts.families.self_normalizing or (
            forward is not None and forward_normalizes(facts, cls, forward))
        d_param, attr = (("d_model", 0), None) if init is None else _width_param(init, param_names(init)[1:])
        return ClassSummary(Kind.NORMALIZED if normalizes else Kind.MAMBA, name, d_param, d_model_attr=attr)
    if forward is None:
        return None
    info = facts.init_info(cls)
    if facts.families.is_ssm(info.attr_names):  # a home-made or vendored selective SSM
        params = param_names(init)[1:] if init is not None else []
        normalizes = forward_normalizes(facts, cls, forward)
        d_param, attr = _width_param(init, params)
        return ClassSummary(Kind.NORMALIZED if normalizes else Kind.MAMBA, name, d_param, d_model_attr=attr)
    called = called_self_attrs(forward)
    mamba_attrs = [a for a in called if a in info.stacks and info.stacks[a].kind() == Kind.MAMBA]
    if mamba_attrs:
        normalizes = forward_normalizes(facts, cls, forward)
        d_param = None
        elements = info.stacks[mamba_attrs[0]].all_elements()
        d_expr = next((e.d_model for e in elements if e.kind == Kind.MAMBA), None)
        if isinstance(d_expr, cst.Name) and init is not None:
            params = param_names(init)[1:]
            if d_expr.value in params:
                d_param = (d_expr.value, params.index(d_expr.value))
        return ClassSummary(Kind.NORMALIZED if normalizes else Kind.MAMBA, name, d_param)
    if forward_normalizes(facts, cls, forward) and any(
        a in info.stacks and info.stacks[a].kind() == Kind.NORMALIZED for a in called
    ):
        return ClassSummary(Kind.NORMALIZED, name)
    mixer = _mixer_param(init)
    if mixer is not None and mixer[0] in called and (
            forward_normalizes(facts, cls, forward) or _given_norm_attrs(facts, init) & set(called)):
        return ClassSummary(Kind.OTHER, name, mixer_param=(mixer[1], mixer[2]))
    return None


def _built_from_params(init: cst.FunctionDef) -> list[tuple[str, str]]:
    """(attribute, parameter) for each `self.<attribute> = <parameter>(...)` in __init__: modules
    built from a class the constructor is given."""
    params = set(param_names(init)[1:])
    out = []
    for node in walk(init.body):
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.value, cst.Call):
            attr, func = self_attr(node.targets[0].target), node.value.func
            if attr and isinstance(func, cst.Name) and func.value in params:
                out.append((attr, func.value))
    return out


def _mixer_param(init: cst.FunctionDef | None) -> tuple[str, str, int] | None:
    """(attribute, parameter, position) where __init__ does `self.<attribute> = <parameter>(...)`:
    a block that builds its mixer from a class it is given."""
    built = _built_from_params(init) if init is not None else []
    if not built:
        return None
    attr, param = built[0]
    return attr, param, param_names(init)[1:].index(param)


def _given_norm_attrs(facts: Facts, init: cst.FunctionDef) -> set[str]:
    """Attributes built from a constructor parameter whose default is a norm class
    (`def __init__(self, dim, norm_cls=nn.LayerNorm): self.norm = norm_cls(dim)`)."""
    defaults = param_defaults(init)
    return {attr for attr, param in _built_from_params(init)
            if defaults.get(param) is not None
            and facts.families.norm_classes.match_any(facts.resolver.candidates(defaults[param]))}



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
    if qualified in facts.index:
        return facts.index[qualified]
    # suffix match: "models.blocks.Wrap" against an index keyed by full dotted paths
    for key, summary in facts.index.items():
        if key.endswith("." + qualified) or qualified.endswith("." + key):
            return summary
    if qualified.split(".", 1)[0] not in EXTERNAL_PACKAGES:
        facts.unresolved.add(qualified)
    return None
