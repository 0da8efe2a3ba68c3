"""What module an expression stands for, where it is or holds SSM layers (MF005, MF006): a
constructor call classified as MF001 classifies one (an SSM layer, a block or model whose
summary says it applies one, in this file, the tree or rules/models.toml), a name bound to one
earlier in the scope, `self` in such a class, `self.<attr>` holding one, through the calls that
return the module they are given (`.to(device)`, `.cuda()`, `torch.compile(m)`,
`nn.DataParallel(m)`) and the loaders called on a class (`Class.from_pretrained(...)`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import libcst as cst

from mambafix.catalogue import load_rules
from mambafix.facts.builds import MODULE_RETURNING, classify
from mambafix.facts.kinds import Container, Kind
from mambafix.facts.scopes import Each, Scope
from mambafix.facts.ssm_init import call_params, class_params, element_params
from mambafix.facts.ssm_params import InitParam
from mambafix.syntax.names import Family
from mambafix.syntax.nodes import self_attr, string_text

MAX_DEPTH = 8


@dataclass(frozen=True)
class Held:
    ssm: bool  # is or holds an SSM layer
    display: str  # the module's class, for messages
    params: tuple[InitParam, ...] = ()  # the SSM parameters it holds that their layers initialize
    call: cst.Call | None = None  # the construction, where the expression is one
    layer: bool = False  # it is a library SSM layer itself (rules/families.toml layer_classes)


@lru_cache(maxsize=1)
def _wrappers() -> tuple[Family, frozenset]:
    data = load_rules()["MF006"].data
    return Family(data.get("module_wrappers", ())), frozenset(data.get("loader_methods", ()))


def held(facts, expr: cst.BaseExpression, scope: Scope | None, depth: int = 0) -> Held | None:
    """The module the expression stands for, if it is or holds an SSM layer; else None."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(expr, cst.Name):
        if expr.value == "self" and scope is not None and scope.cls is not None:
            return class_held(facts, scope.cls)
        if scope is None:
            return None
        where, bound = scope.lookup(expr.value)
        if isinstance(bound, Each):  # `for layer in self.layers`: any element
            return part(held(facts, bound.container, scope, depth + 1), "*")
        return held(facts, bound, scope, depth + 1) if where == "bound" and bound is not None else None
    attr = self_attr(expr)
    if attr is not None:
        return attribute_held(facts, scope.cls, attr) if scope is not None and scope.cls is not None else None
    if isinstance(expr, cst.Attribute):  # `layer.mixer` of a module held: the parameters under that path
        return part(held(facts, expr.value, scope, depth + 1), expr.attr.value)
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
        key = expr.slice[0].slice.value  # `self.layers[i]`, a loop's element, `blocks["mamba"]`
        name = string_text(key) if isinstance(key, (cst.SimpleString, cst.ConcatenatedString)) else None
        return part(held(facts, expr.value, scope, depth + 1), name or "*")
    if not isinstance(expr, cst.Call):
        return None
    func = expr.func
    if isinstance(func, cst.Attribute) and func.attr.value in MODULE_RETURNING | {"eval"}:
        return held(facts, func.value, scope, depth + 1)
    wrappers, loaders = _wrappers()
    if expr.args and wrappers.match_any(facts.resolver.candidates(func)):
        return held(facts, expr.args[0].value, scope, depth + 1)
    if isinstance(func, cst.Attribute) and func.attr.value in loaders:
        return constructed(facts, cst.Call(func=func.value), expr)
    return constructed(facts, expr, expr)


def constructed(facts, call: cst.Call, shown: cst.Call) -> Held | None:
    """What a constructor call builds, if it is or holds an SSM layer."""
    element = classify(facts, call)
    ssm = element.kind in (Kind.MAMBA, Kind.NORMALIZED) or bool(element.model is not None and element.model.ssm)
    if not ssm:
        return None
    layer = facts.families.layers.match_any(facts.resolver.candidates(call.func)) is not None
    return Held(True, element.display or _name(call), element_params(facts, element) or call_params(facts, call), shown,
                layer)


def class_held(facts, cls: cst.ClassDef) -> Held | None:
    """`self` in a class: whether it applies an SSM layer (its data-flow summary says so)."""
    name = cls.name.value
    summary = facts.class_summary(name) if facts.classes.get(name) is cls else None
    transfer = summary.transfer if summary is not None else None
    params = class_params(facts, cls)
    if (transfer is not None and transfer.ssm) or params:
        return Held(True, name, params)
    return None


def attribute_held(facts, cls: cst.ClassDef, attr: str) -> Held | None:
    """`self.<attr>`: what `__init__` builds there (any of its alternatives)."""
    info = facts.init_info(cls)
    stacks = [s for s in (info.stacks.get(attr), *info.alternatives.get(attr, ())) if s is not None]
    ssm, params = [], []
    for stack in stacks:
        for element in stack.all_elements():
            if element.kind in (Kind.MAMBA, Kind.NORMALIZED) or (element.model is not None and element.model.ssm):
                ssm.append(element)
                found = element_params(facts, element)
                params += found if stack.container == Container.SINGLE else [p.under("*") for p in found]
    if not ssm:
        return None
    return Held(True, ssm[0].display or attr, tuple(dict.fromkeys(params)))


def part(whole: Held | None, step: str) -> Held | None:
    """The part of a held module under one more step of its path (an attribute, a key, or "*":
    any element), where the parameters say it holds SSM layers there."""
    if whole is None:
        return None
    params = []
    for param in whole.params:
        head, _, rest = param.path.partition(".")
        if rest and (head == step or head == "*" or (step == "*" and head.isdigit())):
            params.append(replace(param, path=rest))
    return Held(True, whole.display, tuple(dict.fromkeys(params))) if params else None


def _name(call: cst.Call) -> str:
    func = call.func
    return func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else "module"
