"""MF001's fix, planned from the finding's path: every source (an SSM layer whose output reaches
another layer unbounded) gets a norm where the path carries its output out of its statement.

From the layer's call the plan climbs through what keeps the value's layout (dropout, an
activation, a time flip, a dtype move, a tuple element taken, a scale or a gate it is multiplied
by) and through a sum that adds the layer's own input (a skip connection), up to the value the statement assigns, returns or passes
on: `x = x + self.drop(layer(x))` becomes `x = norm(x + self.drop(layer(x)))`, the skip reused
(`--residual` never adds a second one). It stops below anything else (a transpose, a projection, a
concatenation, another layer), where the last axis may not be the layer's width: the norm goes
right on the layer's output there.

Which norm: the layer's module is named by how the call selects it (`self.m`, `self.layers[k]`,
a loop variable over `self.layers`), and a norm module of the layer's own width is built beside
it in `__init__` (one per module; a parallel container for a container). Where the module cannot
be named or its width cannot be read, the norm is parameter-free over the last axis
(`nn.functional.layer_norm(h, h.shape[-1:])`, after the statement that assigns `h`): the
state_dict is unchanged. This module only plans; `norm_edits` writes the plan."""

from __future__ import annotations

from dataclasses import dataclass, replace

import libcst as cst

from mambafix.checks.later_skips import later_sum, unpacked_names
from mambafix.checks.loop_rewrites import rewrite_for
from mambafix.checks.norm_modules import buildable
from mambafix.facts.applications import StackUse
from mambafix.facts.kinds import Container, Role
from mambafix.facts.layers import Stack
from mambafix.facts.transfer import SSM_OUT
from mambafix.flow.plans import loop_bindings
from mambafix.flow.values import Site
from mambafix.syntax.nodes import assigned_name, names_in, self_attr
from mambafix.syntax.walk import children, walk


@dataclass(frozen=True)
class Carrier:
    """The expression a source's norm wraps: its output as the statement carries it on."""

    node: cst.BaseExpression
    stmt: cst.BaseSmallStatement
    target: str | None  # the plain name the statement assigns the whole carried value to
    whole: bool  # the carried value is the statement's whole value (assigned, returned)
    skip: bool  # the carried value already adds the layer's own input (a skip connection)
    nested: bool = False  # it is an operand of something that binds tighter than `+` (a sum put there needs parentheses)
    after: bool = False  # the output is one name of an unpacked tuple: normalized right after the statement
    through: bool = False  # the whole value carries the output through other code (a projection, a sum)


@dataclass(frozen=True)
class Selector:
    """How the call names the layer's module, so that its norm can be named the same way."""

    kind: str  # "single" (self.m), "indexed" (self.layers[k]), "loop" (a loop variable), "none"
    attr: str | None = None
    index: cst.BaseExpression | None = None  # "indexed": the subscript
    loop: cst.For | None = None  # "loop": the loop whose target binds the variable


NO_SELECTOR = Selector("none")


@dataclass(frozen=True)
class SiteNorm:
    """One layer application's part of the fix."""

    site: Site
    carrier: Carrier
    data: cst.Arg | None  # the call's data argument
    stream: str | None  # the layer's input as a plain name (what a skip adds), where it is one
    selector: Selector
    stack: Stack | None  # what __init__ builds for the selected module


@dataclass(frozen=True)
class NormPlan:
    sources: tuple[SiteNorm, ...]  # the outputs that get a norm (post-norm)
    sites: tuple[SiteNorm, ...]  # every application of the finding (pre-norm normalizes their inputs)


def plan_norms(facts, use: StackUse) -> NormPlan | str:
    """The plan for a finding, or why none can be made whatever the options."""
    if use.blocked:
        return use.blocked
    sources = {id(f.source): f.source for f in use.flows}
    everything = {id(s): s for f in use.flows for s in (f.source, f.sink)}
    planned: dict[int, SiteNorm] = {}
    for key, site in sorted(everything.items(), key=lambda kv: kv[1].order):
        found = _site_norm(facts, use, site, frozenset(s.order for s in sources.values()))
        if isinstance(found, str):
            if key in sources:
                return found
            continue
        planned[key] = found
    # a norm container is used on every member the finding applies, as a loop over it would: the
    # last layer of a chain by index gets its norm too (no norm built and left unused)
    normed = [k for k, sn in planned.items() if k in sources or sn.selector.kind == "indexed"]
    return NormPlan(tuple(planned[k] for k in sorted(normed, key=lambda k: everything[k].order)),
                    tuple(planned.values()))


def _site_norm(facts, use: StackUse, site: Site, sources: frozenset) -> SiteNorm | str:
    if site.primitive or site.mod is None and site.stmt is None:
        return "the layer is a scan function whose output layout is not known"
    if site.stmt is None or site.call is None or not isinstance(site.call, cst.Call):
        return f"{site.text} is applied where no statement can be edited"
    if not _in_class(use.cls, site.func):
        return (f"{site.text} is applied inside a function outside the class (a module function or a base "
                "class's method), which other code may call; add the norm where that function is called")
    call = site.call
    data = data_argument(facts, call)
    layers = frozenset(id(s.call) for f in use.flows for s in (f.source, f.sink))
    carrier = climb(facts, use.cls, site.stmt, call, data, layers, output_position(site))
    stream = _stream(data, site.stmt)
    if carrier.after and carrier.target is None and stream:  # the element the stream's skip adds back
        carrier = next(filter(None, (merged_later(site, replace(carrier, target=n), stream)
                                     for n in unpacked_names(site.stmt))), carrier)
    if carrier.after and carrier.target is None and site.order in sources:
        return f"{site.text} returns a tuple whose element holding its output is not known"
    if carrier.whole and carrier.target and stream and carrier.target != stream and not carrier.skip:
        carrier = merged_later(site, carrier, stream) or carrier
    selector = select(facts, use.cls, site)
    stack = site.mod.stack if site.mod is not None else None
    if selector.kind == "none" or stack is None or not buildable(facts, use.cls, stack) \
            or selector.kind == "loop" and rewrite_for(selector.loop.target, selector.loop.iter, stack.attr, "_", "_") is None:
        selector, stack = NO_SELECTOR, None
    if selector.kind == "none" and not (carrier.whole and carrier.target):
        carrier = _assigned_through(site.stmt, carrier, parents_of(site.stmt)) or carrier
    if selector.kind == "none" and not (carrier.whole and carrier.target) and site.order in sources:
        return (f"the width of {site.text} could not be read (so no norm module of its width can be built) "
                "and its output is not assigned to a name for a parameter-free norm")
    return SiteNorm(site, carrier, data, stream, selector, stack)


def _in_class(cls: cst.ClassDef, func) -> bool:
    return func is None or any(stmt is func for stmt in cls.body.body)


# -- the data argument --------------------------------------------------------------------------
def data_argument(facts, call: cst.Call) -> cst.Arg | None:
    """The argument that is the layer's data input: the first positional one (after the module,
    for `checkpoint(layer, x)`), else the first keyword that is not an option (`hidden_states=h`)."""
    through = bool(call.args) and facts.families.apply_wrappers.match_any(facts.resolver.candidates(call.func)) is not None
    positional = [a for a in call.args if a.keyword is None and not a.star]
    index = 1 if through else 0
    if len(positional) > index:
        return positional[index]
    options = facts.families.words.get("option_keywords", frozenset())
    return next((a for a in call.args if a.keyword is not None and a.keyword.value not in options), None)


def callee(facts, call: cst.Call) -> cst.BaseExpression:
    """The expression naming the module a call applies (`layer` in `checkpoint(layer, x)`)."""
    through = bool(call.args) and facts.families.apply_wrappers.match_any(facts.resolver.candidates(call.func)) is not None
    return call.args[0].value if through else call.func


def _stream(data: cst.Arg | None, stmt) -> str | None:
    """The stream a skip connection adds: the layer's input where it is a plain name, else the
    name the statement assigns where the input is computed from it (`x = layer(self.drop(x))`,
    `x = layer(x + pos)`); None otherwise."""
    if data is None:
        return None
    value = data.value
    if isinstance(value, cst.Name):
        return value.value
    target = assigned_name(stmt)
    return target if target is not None and target in names_in(value) else None


# -- the carrier --------------------------------------------------------------------------------
def parents_of(stmt: cst.CSTNode) -> dict[int, cst.CSTNode]:
    out: dict[int, cst.CSTNode] = {}
    stack = [stmt]
    while stack:
        node = stack.pop()
        for child in children(node):
            out[id(child)] = node
            stack.append(child)
    return out


def _statement_value(stmt) -> cst.BaseExpression | None:
    if isinstance(stmt, (cst.Assign, cst.AugAssign, cst.Return, cst.Expr)):
        return stmt.value
    if isinstance(stmt, cst.AnnAssign):
        return stmt.value
    return None


def climb(facts, cls: cst.ClassDef, stmt, call: cst.Call, data: cst.Arg | None,
          layers: frozenset = frozenset(), output: int | None = None) -> Carrier:
    """From the layer's call up to the value its statement carries on (see the module's text).
    `layers`: the ids of the calls that apply SSM layers (a sum with another layer's output is
    no skip connection)."""
    parents = parents_of(stmt)
    inputs = names_in(data.value) if data is not None else set()
    node: cst.CSTNode = call
    skip = False
    while True:
        parent = parents.get(id(node))
        if parent is None or parent is stmt:
            break
        if isinstance(parent, cst.Subscript) and parent.value is node:  # one element of a returned tuple
            node = parent
            continue
        if isinstance(parent, cst.BinaryOperation) and (
                isinstance(parent.operator, (cst.Add, cst.Subtract, cst.Multiply))
                or isinstance(parent.operator, cst.Divide) and parent.left is node):  # a scale or a gate keeps the layout
            other = parent.right if parent.left is node else parent.left
            skip = skip or (isinstance(parent.operator, cst.Add) and bool(inputs & names_in(other))
                            and not _applies_a_layer(other, layers))
            node = parent
            continue
        if isinstance(parent, cst.Arg) and parent.value is node and not parent.keyword:
            keeping = _layout_keeping_call(facts, cls, parents.get(id(parent)), parent)
            if keeping is not None:
                node = keeping
                continue
        if isinstance(parent, cst.Attribute) and parent.value is node:
            outer = parents.get(id(parent))
            if isinstance(outer, cst.Call) and outer.func is parent \
                    and facts.families.word("layout_keeping_methods", parent.attr.value):
                node = outer
                continue
        break
    value = _statement_value(stmt)
    whole = node is value
    parent = parents.get(id(node))
    nested = not whole and not isinstance(parent, (cst.Arg, cst.Element, cst.Index, cst.DictElement))
    target = None
    if whole and isinstance(stmt, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
        targets = [stmt.target] if not isinstance(stmt, cst.Assign) else [t.target for t in stmt.targets]
        if len(targets) == 1 and isinstance(targets[0], cst.Name):
            target = targets[0].value
    if whole and isinstance(stmt, cst.AugAssign):
        skip = skip or (isinstance(stmt.operator, cst.AddAssign) and target is not None and target in inputs)
    if whole and node is call and isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0].target, (cst.Tuple, cst.List)):
        return Carrier(node, stmt, _unpacked_output(stmt.targets[0].target, output), True, False, False, True)
    return Carrier(node, stmt, target, whole, skip, nested)


def _assigned_through(stmt, carrier: Carrier, parents: dict) -> Carrier | None:
    """Where no norm module can be named: the statement's whole value, when it assigns one plain
    name and the layer's output reaches it only as an argument of calls or an operand of
    arithmetic (`x = proj(layer(x))`). A parameter-free norm of that name after the statement lies
    on the finding's path (the name is what carries the output on) whatever width the calls give it."""
    value = _statement_value(stmt)
    if not isinstance(stmt, cst.Assign) or len(stmt.targets) != 1 or not isinstance(stmt.targets[0].target, cst.Name):
        return None
    node = carrier.node
    while node is not value:
        parent = parents.get(id(node))
        if isinstance(parent, cst.Arg) and parent.value is node and not parent.star:
            node = parents.get(id(parent))
            if not isinstance(node, cst.Call) or node.func is parent:
                return None
        elif isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation)) and not isinstance(
                getattr(parent, "operator", None), (cst.MatrixMultiply,)):
            node = parent
        else:
            return None
    return Carrier(value, stmt, stmt.targets[0].target.value, True, False, through=True)


def merged_later(site: Site, carrier: Carrier, stream: str) -> Carrier | None:
    """The carrier where the output's name is added back to the stream by a later statement
    (`checks/later_skips.py`): that statement's value, its sum the skip."""
    merge = later_sum(site, carrier.target, stream)
    return None if merge is None else Carrier(merge.value, merge, stream, True, True)


def _unpacked_output(target, output: int | None) -> str | None:
    """`out, state = layer(x)`: the name the layer's output element is unpacked into."""
    elements = target.elements
    if output is None or output >= len(elements) or any(isinstance(e, cst.StarredElement) for e in elements):
        return None
    name = elements[output].value
    return name.value if isinstance(name, cst.Name) else None


def output_position(site: Site) -> int | None:
    """Which element of a tuple-returning layer is its unbounded output (its transfer's first
    part carrying an SSM output), None where not known."""
    transfer = site.mod.transfer if site.mod is not None else None
    if transfer is None or not transfer.is_tuple:
        return None
    return next((i for i, p in enumerate(transfer.parts) if SSM_OUT in p.taint), None)


def _applies_a_layer(node: cst.CSTNode, layers: frozenset) -> bool:
    return any(id(n) in layers for n in walk(node) if isinstance(n, cst.Call))


def _layout_keeping_call(facts, cls, parent, arg: cst.Arg) -> cst.Call | None:
    """`parent` when it is a call that keeps the layout of `arg`, its first argument."""
    if not isinstance(parent, cst.Call):
        return None
    args = [a for a in parent.args if a.keyword is None]
    if not args or args[0] is not arg:
        return None
    names = facts.resolver.candidates(parent.func) or []
    if facts.families.listed("layout_keeping_functions", names):
        return parent
    attr = self_attr(parent.func)
    if attr is not None:
        stack = facts.init_info(cls).stacks.get(attr)
        built = stack.value if stack is not None and stack.container == Container.SINGLE else None
        if isinstance(built, cst.Call) and facts.families.listed(
                "layout_keeping_modules", facts.resolver.candidates(built.func) or []):
            return parent
    return None


# -- the selector -------------------------------------------------------------------------------
def select(facts, cls: cst.ClassDef, site: Site) -> Selector:
    """How the site's call names its module: `self.m`, `self.layers[k]`, or a loop variable bound
    to each module of `self.layers`."""
    if site.mod is None or site.mod.stack is None:
        return NO_SELECTOR
    attr = site.mod.stack.attr
    func = callee(facts, site.call)
    if self_attr(func) == attr:
        return Selector("single", attr)
    if isinstance(func, cst.Subscript) and self_attr(func.value) == attr and len(func.slice) == 1 \
            and isinstance(func.slice[0].slice, cst.Index):
        return Selector("indexed", attr, func.slice[0].slice.value)
    if isinstance(func, cst.Name):
        for loop in reversed(site.loops):
            if not isinstance(loop, cst.For) or func.value not in names_in(loop.target):
                continue
            bound = loop_bindings(facts, cls, loop).get(func.value)
            if bound is not None and bound[0] == Role.ELEMENT and bound[1] == attr:
                return Selector("loop", attr, loop=loop)
            return NO_SELECTOR
    return NO_SELECTOR
