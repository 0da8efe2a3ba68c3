"""Reading `__init__` (and the helper methods it calls) for what each attribute holds: the stacks,
the other modules an attribute may hold on another branch, and the constants it sets.

Configuration is read in its default state: a branch whose test is a constant under the
parameters' defaults (`if normalization:` with `normalization=True`) is the branch taken; any
other test leaves both branches possible.
"""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from mambafix.facts.builds import (
    Locals, _returns, _scan_append_loop, _sequence_of, _in_caller, classify, container_contents, methods_of,
)
from mambafix.facts.consts import init_const
from mambafix.facts.kinds import Container, Kind
from mambafix.facts.layers import Contents, Element, InitInfo, Stack
from mambafix.facts import transfers
from mambafix.facts.protocol import Facts
from mambafix.facts.consts import NOCONST
from mambafix.syntax.nodes import code, param_defaults, self_attr, string_text
from mambafix.syntax.walk import blocks_of, small_statements, statements, walk, walk_statements

_MAX_HELPER_DEPTH = 3
_HELPERS_READ: set[int] = set()  # helper functions whose returned stack is being read


def read_init(facts: Facts, cls: cst.ClassDef) -> InitInfo:
    """The stacks `__init__` builds, and the attribute names every method assigns."""
    info = InitInfo()
    methods = methods_of(cls)
    for method in methods.values():
        for stmt in walk_statements(method.body):
            for small in small_statements(stmt):
                targets = []
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                elif isinstance(small, cst.AnnAssign):
                    targets = [small.target]
                for target in targets:  # `self.A, self.B = ...` too
                    parts = [e.value for e in target.elements] if isinstance(target, (cst.Tuple, cst.List)) else [target]
                    info.attr_names.update(a for a in map(self_attr, parts) if a)
    _inherit(facts, cls, info)
    init = methods.get("__init__")
    if init is not None:
        info.given = given_param(facts, init, methods)
        local = Locals(param_defaults(init), info.stacks, given=info.given)
        local.methods = methods
        _scan_block(facts, init.body, info, local, methods, 0, {})
    return info


def local_bases(facts: Facts, cls: cst.ClassDef) -> list[cst.ClassDef]:
    """The classes of this file that `cls` derives from."""
    out = []
    for base in cls.bases:
        if isinstance(base.value, cst.Name) and base.value.value in facts.classes \
                and facts.classes[base.value.value] is not cls and base.value.value not in facts.resolver.aliases:
            out.append(facts.classes[base.value.value])
    return out


def _inherit(facts: Facts, cls: cst.ClassDef, info: InitInfo) -> None:
    """What a base class of this file builds, the subclass holds too (its own `__init__` may
    replace any of it). Inherited stacks are not the subclass's to rewrite: no definition."""
    for base in local_bases(facts, cls):
        inherited = facts.init_info(base)
        info.attr_names |= inherited.attr_names
        for attr, stack in inherited.stacks.items():
            info.stacks.setdefault(attr, replace(stack, define=None))
        for attr, value in inherited.consts.items():
            info.consts.setdefault(attr, value)


def given_param(facts: Facts, init: cst.FunctionDef, methods: dict) -> str | None:
    """The first constructor parameter, with no default, that `__init__` calls to build a module
    (`self.mixer = mixer_cls(dim)`: a block given the class of its mixer) or keeps as one
    (`self.fn = fn`: a wrapper given its module, `Residual(Mamba(d))`)."""
    defaults = param_defaults(init)

    def given(expr) -> str | None:
        if isinstance(expr, cst.Name) and expr.value in defaults and expr.value != "self" \
                and defaults[expr.value] is None and expr.value not in facts.resolver.aliases:
            return expr.value
        return None

    if any(isinstance(n, cst.Call) and facts.families.layers.match_any(facts.resolver.candidates(n.func))
           for n in walk(init.body)):
        return None  # it builds SSM layers of its own: a model given a submodule, not a block given its mixer
    called = {self_attr(n.func) for name, m in methods.items() if name != "__init__"
              for n in walk(m.body) if isinstance(n, cst.Call)} - {None}
    for node in walk_statements(init.body):
        for small in small_statements(node):
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call) and given(small.value.func):
                return given(small.value.func)
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and given(small.value) \
                    and self_attr(small.targets[0].target) in called:  # kept, then called as a module
                return given(small.value)
    return None


def _scan_block(facts: Facts, block, info: InitInfo, local: Locals, methods: dict, depth: int, where: dict) -> None:
    for stmt in statements(block):
        if isinstance(stmt, cst.For):  # the body's own assignments first: `layer = Mamba(d); layers.append(layer)`
            _scan_block(facts, stmt.body, info, local, methods, depth, where)
            _scan_append_loop(facts, stmt, info, local)
        elif isinstance(stmt, cst.If):
            test = init_const(stmt.test, local, info)
            if test is NOCONST or test:
                _scan_block(facts, stmt.body, info, local, methods, depth, where)
            if (test is NOCONST or not test) and stmt.orelse is not None:
                orelse = stmt.orelse
                _scan_block(facts, orelse if isinstance(orelse, cst.If) else orelse.body, info, local, methods,
                            depth, where)
        elif isinstance(stmt, (cst.While, cst.With, cst.Try, cst.TryStar, cst.Match)):
            for inner in blocks_of(stmt, defs=False):
                _scan_block(facts, inner, info, local, methods, depth, where)
        for small in small_statements(stmt):
            _scan_small(facts, small, stmt, block, info, local, methods, depth, where)


def _scan_small(facts, small, stmt, block, info: InitInfo, local: Locals, methods, depth, where) -> None:
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        helper = self_attr(call.func)
        if helper in methods and helper != "__init__" and depth < _MAX_HELPER_DEPTH:
            # `self._build_layers(...)`: the helper assigns attributes too
            inner = Locals(param_defaults(methods[helper]), info.stacks)
            inner.methods = methods
            _scan_block(facts, methods[helper].body, info, inner, methods, depth + 1, where)
        elif isinstance(call.func, cst.Name) and call.func.value == "setattr" and len(call.args) >= 3:
            _scan_setattr(facts, call, small, stmt, info, local, where, block)
        elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "extend" and call.args:
            _extend(facts, self_attr(call.func.value), call.args[0].value, stmt, info, local)
        return
    if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign):
        _extend(facts, self_attr(small.target), small.value, stmt, info, local)  # `self.layers += [...]`
        return
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return
    for target, value in _pairs(small.targets[0].target, small.value):
        _assign(facts, target, value, small, stmt, block, info, local, methods, where)


def _pairs(target, value) -> list:
    """What each target of an assignment is given: itself and the value, or, for tuples of the
    same length on both sides (`self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)`), each
    element and its own value, nested tuples taken apart too. A tuple given what the analysis
    cannot take apart (a call's result, a starred element) gives its targets nothing."""
    if not isinstance(target, (cst.Tuple, cst.List)):
        return [(target, value)]
    if not isinstance(value, (cst.Tuple, cst.List)) or len(value.elements) != len(target.elements) \
            or any(isinstance(e, cst.StarredElement) for e in (*target.elements, *value.elements)):
        return []
    return [pair for t, v in zip(target.elements, value.elements) for pair in _pairs(t.value, v.value)]


def _assign(facts, target, value, small, stmt, block, info: InitInfo, local: Locals, methods, where) -> None:
    if isinstance(target, cst.Name):
        local.assign(target.value, value)
        found = init_const(value, local, info)
        if found is not NOCONST:
            local.consts[target.value] = found
        else:
            local.consts.pop(target.value, None)
        return
    attr = self_attr(target)
    if attr is None:
        return
    found = init_const(value, local, info)
    if found is not NOCONST:  # `self.use_norm = True`, `self.norm = None`
        previous = info.consts.get(attr, found)
        info.consts[attr] = found if previous == found and type(previous) is type(found) else NOCONST
        if found is not None:
            return
    elif attr in info.consts:
        info.consts[attr] = NOCONST  # a constant on one path, something else on another
    stack = _stack_from_value(facts, attr, value, local, methods)
    if stack is not None:
        _record(info, replace(stack, define=small, insert_after=stmt), where, block)


def _extend(facts, attr: str | None, value, stmt, info: InitInfo, local: Locals) -> None:
    """`self.layers.extend([Mamba(d) for _ in range(n)])` on a container built empty."""
    stack = info.stacks.get(attr) if attr else None
    if stack is None or stack.container == Container.SINGLE or stack.all_elements():
        return
    contents = _sequence_of(facts, value, local)
    if contents is not None:
        info.stacks[attr] = replace(stack, contents=contents, insert_after=stmt)


def _record(info: InitInfo, stack: Stack, where: dict, block) -> None:
    """An attribute assigned again: in the same block it is replaced; in another (a branch) both
    may be what it holds."""
    attr = stack.attr
    if attr in info.stacks and where.get(attr) is not block:
        info.alternatives.setdefault(attr, []).append(info.stacks[attr])
    info.stacks[attr] = stack
    where[attr] = block


def _scan_setattr(facts, call: cst.Call, small, stmt, info: InitInfo, local: Locals, where, block) -> None:
    """`setattr(self, f"layer{i}", Mamba(d))` in a loop: attributes named by a pattern, all alike."""
    target, name, value = (a.value for a in call.args[:3])
    if not (isinstance(target, cst.Name) and target.value == "self"):
        return
    if isinstance(name, cst.FormattedString):
        prefix = "".join(p.value for p in name.parts[:1] if isinstance(p, cst.FormattedStringText))
        if not prefix:
            return
        element = classify(facts, value, local)
        contents = Contents(repeated=element, count=None, count_text="several")
        _record(info, Stack(prefix + "*", Container.PLAIN_LIST, contents, define=small, insert_after=stmt,
                            value=value, helper="setattr"), where, block)
    elif isinstance(name, cst.SimpleString):
        stack = _stack_from_value(facts, string_text(name), value, local, {})
        if stack is not None:
            _record(info, replace(stack, define=small, insert_after=stmt), where, block)


MAX_VALUE_DEPTH = 12  # names and conditional expressions followed for one attribute's value


def _stack_from_value(facts: Facts, attr: str, value: cst.BaseExpression, local: Locals,
                      methods: dict, depth: int = 0) -> Stack | None:
    if depth > MAX_VALUE_DEPTH:  # `x = a if c else x`: a name that stands for itself
        return None
    if isinstance(value, cst.Name) and value.value == local.given and value.value not in local.exprs:
        # `self.fn = fn`: the module the wrapper is given, read as an SSM layer (the hypothesis
        # its summary is made under; a construction that passes another module knows nothing)
        element = Element(Kind.MAMBA, value.value, None, model=transfers.SSM)
        return Stack(attr, Container.SINGLE, Contents(repeated=element, count=1, count_text="1", count_fixed=True),
                     value=value)
    if isinstance(value, cst.Name) and value.value in local.lists:  # `out = nn.ModuleList()`, appended to
        start = local.started.get(value.value)
        kind = facts.resolver.candidates(start.func) if isinstance(start, cst.Call) else []
        container = (Container.MODULE_LIST if facts.families.module_lists.match_any(kind)
                     else Container.SEQUENTIAL if facts.families.sequentials.match_any(kind) else Container.PLAIN_LIST)
        return Stack(attr, container, local.lists[value.value], value=value)
    if isinstance(value, cst.Name) and value.value in local.exprs:
        with local.follow(value.value) as assigned:
            return None if assigned is None else _stack_from_value(facts, attr, assigned, local, methods)
    if isinstance(value, cst.IfExp):  # `nn.ModuleList([...]) if use_mamba else None`
        test = init_const(value.test, local, None)
        if test is not NOCONST:  # the branch the defaults take
            return _stack_from_value(facts, attr, value.body if test else value.orelse, local, methods, depth + 1)
        for branch in (value.body, value.orelse):
            stack = _stack_from_value(facts, attr, branch, local, methods, depth + 1)
            if stack is not None and stack.container != Container.SINGLE:
                return replace(stack, conditional=True)
        joined = classify(facts, value, local)  # one module of either branch: what both are
        if joined.kind == Kind.OTHER and joined.model is None:
            return None
        return Stack(attr, Container.SINGLE, Contents(repeated=joined, count=1, count_text="1", count_fixed=True),
                     value=value)
    if isinstance(value, (cst.ListComp, cst.List, cst.Tuple)):  # a plain Python list of layers
        contents = _sequence_of(facts, value, local)
        return Stack(attr, Container.PLAIN_LIST, contents, value=value) if contents is not None else None
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
            and value.func.attr.value in ("to", "cuda", "float", "half", "double", "bfloat16", "cpu"):
        inner = _stack_from_value(facts, attr, value.func.value, local, methods, depth + 1)
        if inner is not None and inner.container != Container.SINGLE:
            return inner  # `nn.Sequential(*blocks).float()`
    if not isinstance(value, cst.Call):
        return None
    names = facts.resolver.candidates(value.func)
    fam = facts.families
    container = (Container.SEQUENTIAL if fam.sequentials.match_any(names)
                 else Container.MODULE_LIST if fam.module_lists.match_any(names) else None)
    if container is not None:
        contents = container_contents(facts, value, local)
        return Stack(attr, container, contents if contents is not None else Contents(elements=()), value=value)
    helper = _helper_stack(facts, value, methods)
    if helper is not None:
        return replace(helper, attr=attr)
    return Stack(attr, Container.SINGLE, Contents(repeated=classify(facts, value, local), count=1, count_text="1",
                                                  count_fixed=True), value=value)


def _helper_stack(facts: Facts, call: cst.Call, methods: dict) -> Stack | None:
    """A stack built and returned by a helper method or a module-level function of the file."""
    func = None
    if isinstance(call.func, cst.Attribute) and self_attr(call.func) in methods:
        func = methods[self_attr(call.func)]
    elif isinstance(call.func, cst.Name) and call.func.value in facts.functions:
        func = facts.functions[call.func.value]
    if func is None or id(func) in _HELPERS_READ:  # a helper that calls itself: its own value is unknown
        return None
    _HELPERS_READ.add(id(func))
    try:
        return _helper_returned(facts, call, func)
    finally:
        _HELPERS_READ.discard(id(func))


def _helper_returned(facts: Facts, call: cst.Call, func: cst.FunctionDef) -> Stack | None:
    for local, value in _returns(facts, func):
        stack = _stack_from_value(facts, "?", value, local, {})
        if stack is None or stack.container == Container.SINGLE:
            continue
        contents = stack.contents
        params = list(local.defaults)
        if isinstance(call.func, cst.Attribute) and params[:1] == ["self"]:
            params = params[1:]
        if contents.repeated is not None:
            contents = replace(contents, repeated=_in_caller(contents.repeated, call, params, contents.comp_names))
        if contents.elements is not None:
            contents = replace(contents, elements=tuple(_in_caller(e, call, params, frozenset())
                                                        for e in contents.elements))
        contents = replace(contents, count=None, count_text=None, comp_names=frozenset(), count_fixed=False)
        return replace(stack, contents=contents, helper=code(call.func))
    return None
