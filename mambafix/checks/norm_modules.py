"""The norm modules MF001's fix builds beside a stack's layers in `__init__`, as text: one norm of
the layer's own width per module (a parallel ModuleList or ModuleDict for a container, its
comprehension mirrored where the width varies along it, Identity after a literal list's other
modules), on every path of `__init__` that builds the stack; none where a width cannot be read."""

from __future__ import annotations

import libcst as cst

from mambafix.facts.kinds import Container, Kind
from mambafix.facts.layers import Stack
from mambafix.syntax.nodes import code, names_in
from mambafix.syntax.walk import walk


def _comprehension(value) -> cst.ListComp | cst.GeneratorExp | None:
    if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
        return value
    if isinstance(value, cst.Call):
        for arg in value.args:
            found = _comprehension(arg.value)
            if found is not None:
                return found
    return None


def _keyed(facts, stack: Stack) -> bool:
    value = stack.value
    return isinstance(value, cst.Call) and (facts.resolver.qualify(value.func) or "").endswith("ModuleDict")


def build_text(facts, stack: Stack, name: str, nn: str = "nn", norm_class: str = "LayerNorm") -> str | None:
    """The statement that builds the norms of one definition of `stack`, or None where a width
    is not known."""
    if stack.conditional or stack.helper == "setattr" or stack.define is None:
        return None

    def ctor(width, moved=""):
        return f"{nn}.{norm_class}({code(width)}){moved}"

    moved = stack.moved()
    if stack.container == Container.SINGLE:
        width = stack.uniform_d_model()
        return None if width is None else f"self.{name} = {ctor(width, moved)}"
    if stack.elements is not None:  # a literal list: a norm after each layer, Identity after the rest
        parts = []
        for element in stack.elements:
            if element.kind == Kind.MAMBA:
                if element.d_model is None:
                    return None
                parts.append(ctor(element.d_model, element.moved))
            else:
                parts.append(f"{nn}.Identity()")
        if len(set(parts)) == 1:
            return f"self.{name} = {nn}.ModuleList([{parts[0]} for _ in self.{stack.attr}])"
        return f"self.{name} = {nn}.ModuleList([{', '.join(parts)}])"
    elements = stack.all_elements()
    if not elements or any(e.kind != Kind.MAMBA for e in elements):
        return None
    width = stack.uniform_d_model()
    if width is None:
        return None
    norm = ctor(width, moved)
    if names_in(width) & stack.comp_names:  # the width varies with the loop that builds the layers
        comp = _comprehension(stack.value)
        if comp is None or not names_in(width) <= (names_in(comp.for_in) | _outer(stack)):
            return None
        return f"self.{name} = {nn}.ModuleList([{norm} {code(comp.for_in).strip()}])"
    if _keyed(facts, stack):
        return f"self.{name} = {nn}.ModuleDict({{key: {norm} for key in self.{stack.attr}}})"
    return f"self.{name} = {nn}.ModuleList([{norm} for _ in self.{stack.attr}])"


def definitions(facts, cls: cst.ClassDef, stack: Stack) -> list[Stack]:
    """Every definition of the attribute: one per path of __init__ that builds it."""
    info = facts.init_info(cls)
    defs, seen = [], set()
    for d in (*info.alternatives.get(stack.attr, ()), info.stacks.get(stack.attr, stack)):
        if id(d.define) not in seen:
            seen.add(id(d.define))
            defs.append(d)
    return defs


def buildable(facts, cls: cst.ClassDef, stack: Stack) -> bool:
    """Whether norms of the layers' width can be built beside every definition of `stack`, in the
    class's own code (a stack a base class builds is the base's: its other subclasses share it)."""
    defs = definitions(facts, cls, stack)
    container = stack.container != Container.SINGLE
    own = {id(n) for n in walk(cls)}
    return all(build_text(facts, d, "_") is not None and d.insert_after is not None and id(d.define) in own
               and (d.container != Container.SINGLE) == container for d in defs)


def _outer(stack: Stack) -> set[str]:
    return set(names_in(stack.define)) if stack.define is not None else set()
