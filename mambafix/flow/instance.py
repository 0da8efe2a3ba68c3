"""`self` while a class's methods are evaluated: the modules `__init__` builds, as `Mod`s (one
per attribute, containers with their elements), the constants it sets (configuration flags),
and the class's methods."""

from __future__ import annotations

import libcst as cst

from mambafix.facts.builds import methods_of
from mambafix.facts.init_scan import local_bases
from mambafix.facts.kinds import Container
from mambafix.facts.layers import Stack
from mambafix.facts import transfers
from mambafix.facts.transfer import Transfer
from mambafix.facts.transfers import element_transfer
from mambafix.flow.models import Func, Mod
from mambafix.flow.values import NOCONST, V, const


def _element_mod(element, text: str, stack: Stack, cls, parent: Mod, index: int | None = None) -> Mod:
    """One module of a container: a ModuleList built as a literal list holds its own modules, one
    by one (`for mixer, proj in self.blocks` unpacks them)."""
    members = getattr(element, "members", None)
    mod = Mod(text, element_transfer(element), stack, stack.attr,
              Container.MODULE_LIST if members else Container.SINGLE, index=index, parent=parent, cls=cls)
    if members:
        mod.elements = tuple(_element_mod(m, f"{text}[{k}]", stack, cls, mod, k) for k, m in enumerate(members))
        mod.count = len(members)
    return mod


def stack_mod(stack: Stack, cls: cst.ClassDef | None, text: str | None = None) -> Mod:
    """The module a stack attribute holds: one module, or a container with its elements."""
    text = text or f"self.{stack.attr}"
    if stack.container == Container.SINGLE:
        return Mod(text, element_transfer(stack.repeated), stack, stack.attr, Container.SINGLE, cls=cls)
    mod = Mod(text, None, stack, stack.attr, stack.container, count=stack.count if stack.count_fixed else None, cls=cls)
    if stack.elements is not None:
        mod.elements = tuple(_element_mod(e, f"{text}[{k}]", stack, cls, mod, k) for k, e in enumerate(stack.elements))
        mod.count = len(stack.elements)
    elif stack.contents.pattern:
        mod.elements = tuple(_element_mod(e, f"{text}[{k}]", stack, cls, mod, k)
                             for k, e in enumerate(stack.contents.pattern))
        mod.count = None  # the pattern repeats an unknown number of times
    elif stack.repeated is not None:
        mod.repeated = _element_mod(stack.repeated, f"{text}[i]", stack, cls, mod)
    return mod


def base_transfer(facts, cls: cst.ClassDef) -> Transfer | None:
    """The transfer of a Mamba-family class the class derives from (`class M(Mamba)`)."""
    fam = facts.families
    names = [n for b in cls.bases for n in facts.resolver.candidates(b.value)]
    matched = fam.layers.match_any(names)
    if matched:
        return transfers.SELF_NORMALIZED_SSM if matched in fam.self_normalizing else transfers.SSM
    model = fam.model(names)
    if model is not None:
        return model
    for base in cls.bases:
        summary = facts.summary_for(base.value)
        if summary is not None and summary.transfer is not None:
            return summary.transfer
    return None


class Instance:
    """The attributes and methods of one class, as values."""

    def __init__(self, facts, cls: cst.ClassDef) -> None:
        self.cls = cls
        self.facts = facts
        self.info = facts.init_info(cls)
        self.methods = {}
        for base in reversed(local_bases(facts, cls)):  # inherited methods, the class's own last
            self.methods.update(methods_of(base))
        self.methods.update(methods_of(cls))
        self.is_ssm = facts.families.is_ssm(self.info.attr_names)  # a selective SSM by its signature
        self._attrs: dict[str, V] = {}

    def attr(self, name: str) -> V | None:
        """What `self.<name>` holds, or None where the class does not say."""
        if name in self._attrs:
            return self._attrs[name]
        info = self.info
        value = None
        if name in info.stacks:
            stacks = [info.stacks[name], *info.alternatives.get(name, ())]
            mods = [stack_mod(s, self.cls) for s in stacks]
            for mod in mods:
                mod.alternatives = tuple(m for m in mods if m is not mod)
            value = V(mods=frozenset(mods))
            if name in info.consts:  # `self.norm = None` on another path
                value = V(mods=value.mods, const=NOCONST)
        elif name in self.methods:
            value = V(mods=frozenset({Func(self.methods[name], bound=True)}))
        elif name in info.consts:
            value = const(info.consts[name]) if info.consts[name] is not NOCONST else V()
        elif name not in info.attr_names and self.facts.families.attribute_like_a_norm(name):
            # built where the analysis cannot see (a base class's __init__), named as a norm
            value = V(mods=frozenset({Mod(f"self.{name}", transfers.NORM, attr=name, cls=self.cls)}))
        if value is not None:
            self._attrs[name] = value
        return value

    def base_transfer(self):
        """The transfer of a Mamba-family class the class derives from (`class M(Mamba)`)."""
        return base_transfer(self.facts, self.cls)

    def children(self) -> list[Mod]:
        """The modules `__init__` assigns, in the order it assigns them (`self.children()`)."""
        out = []
        for name in self.info.stacks:
            value = self.attr(name)
            if value is not None:
                out.extend(sorted(value.mods, key=lambda m: m.alternatives != ()))
        return out

    def matching(self, prefix: str) -> list[Mod]:
        """Modules of attributes whose name starts with `prefix` (`getattr(self, f"layer{i}")`)."""
        out = []
        for name in self.info.stacks:
            if name.startswith(prefix):
                for mod in self.attr(name).mods:  # a pattern of attributes stands for its elements
                    out.extend(mod.members() if name.endswith("*") else (mod,))
        return out
