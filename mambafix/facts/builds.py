"""Reading `__init__`: classify constructor calls and find the stacks each class builds.

Functions here take the file's `Facts` (for names, families and class summaries) and read
libcst nodes; they hold no rule logic.
"""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from mambafix.facts.kinds import Container, Kind
from mambafix.facts.layers import OTHER, Contents, Element, InitInfo
from mambafix.facts.locals import Locals
from mambafix.facts.protocol import Facts
from mambafix.facts import transfers
from mambafix.facts.consts import NOCONST, init_const
from mambafix.syntax.nodes import (
    call_arg, code, comprehension_names, literal_count, names_in, param_defaults, range_count, self_attr,
)
from mambafix.syntax.walk import blocks_of, small_statements, statements, walk_statements


# Methods that return the module they are called on: `Mamba(d).to("cuda")` is a Mamba.
MODULE_RETURNING = frozenset({"to", "cuda", "cpu", "float", "half", "bfloat16", "double", "train", "requires_grad_"})
COPIES = ("copy.deepcopy", "copy.copy")


def classify(facts: Facts, expr: cst.BaseExpression, local: Locals | None = None, depth: int = 0) -> Element:
    """What a constructor call builds: a Mamba-family layer, a norm, a normalized block, other."""
    if depth > 8:  # `layer = copy.deepcopy(layer)` and the like
        return OTHER
    if isinstance(expr, cst.Name) and local is not None and expr.value in local.exprs:
        with local.follow(expr.value) as value:  # `layer = Mamba(d)` earlier
            return OTHER if value is None else classify(facts, value, local, depth + 1)
    if isinstance(expr, cst.IfExp):  # `RMSNorm(d) if cfg.rms else nn.LayerNorm(d)`: what both branches are
        return join_elements(classify(facts, expr.body, local, depth + 1), classify(facts, expr.orelse, local, depth + 1))
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.IfExp):  # `(FusedRMSNorm if fuse else nn.RMSNorm)(d)`
        return join_elements(classify(facts, expr.with_changes(func=expr.func.body), local, depth + 1),
                             classify(facts, expr.with_changes(func=expr.func.orelse), local, depth + 1))
    if not isinstance(expr, cst.Call):
        return OTHER
    if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in MODULE_RETURNING:
        inner = classify(facts, expr.func.value, local, depth + 1)
        chain = code(expr)[len(code(expr.func.value)):]
        return replace(inner, moved=inner.moved + chain) if inner.kind != Kind.OTHER else inner
    if expr.args and facts.resolver.qualify(expr.func) in COPIES:
        return classify(facts, expr.args[0].value, local, depth + 1)
    given = _given_class(facts, expr.func, local)
    if given is not None:  # `norm_layer(dim)` of `norm_layer=nn.LayerNorm`, `partial(Mamba, ...)(d)`
        if given == "ssm":
            return Element(Kind.MAMBA, local.given, expr, call_arg(expr, ("d_model", "dim"), 0), model=transfers.SSM)
        return classify(facts, expr.with_changes(func=given), local, depth + 1)
    fam = facts.families
    names = facts.resolver.candidates(expr.func)
    if not names:
        return OTHER
    if fam.sequentials.match_any(names) or fam.module_lists.match_any(names):
        contents = container_contents(facts, expr, local or Locals({}), depth + 1)
        if contents is None:
            return OTHER
        element = _container_element(expr, contents)
        if element is not OTHER and contents.elements and not fam.sequentials.match_any(names):
            return replace(element, members=contents.elements)  # unpacked where it is iterated
        return element
    matched = fam.layers.match_any(names)
    if matched and _normalizes_itself(fam, matched, expr):
        return Element(Kind.NORMALIZED, matched.rsplit(".", 1)[-1], expr, model=transfers.SELF_NORMALIZED_SSM)
    if matched:
        return Element(Kind.MAMBA, matched.rsplit(".", 1)[-1], expr, call_arg(expr, ("d_model", "dim"), 0),
                       _other_bindings(facts, names, matched), model=transfers.SSM)
    model = fam.model(names)
    if model is not None:
        return Element(transfers.kind_of(model), names[0].rsplit(".", 1)[-1], expr,
                       call_arg(expr, ("d_model", "dim"), 0), model=model)
    if fam.norm_classes.match_any(names):
        return Element(Kind.NORM, names[0].rsplit(".", 1)[-1], expr, model=transfers.NORM)
    if fam.listed("bounded_modules", names):
        return Element(Kind.OTHER, names[0].rsplit(".", 1)[-1], expr, model=transfers.BOUNDED)
    if fam.normalized_blocks.match_any(names):
        return Element(Kind.NORMALIZED, names[0].rsplit(".", 1)[-1], expr, model=transfers.NORMALIZED_BLOCK)
    built = _factory_element(facts, expr, depth, local)
    if built is not None:
        return built
    summary = facts.summary_for(expr.func)
    if summary is not None and summary.mixer_param is not None:
        return _block_with_mixer(facts, expr, summary, local, depth)
    if summary is not None:
        d_model = None
        if summary.d_model_param is not None:
            d_model = call_arg(expr, (summary.d_model_param[0],), summary.d_model_param[1])
            if summary.d_model_attr is not None:  # a config object: its width attribute, at the call
                plain = isinstance(d_model, (cst.Name, cst.Attribute))
                d_model = cst.Attribute(value=d_model, attr=cst.Name(summary.d_model_attr)) if plain else None
        return Element(summary.kind, summary.display, expr, d_model, model=summary.transfer)
    if fam.named_like_a_norm(names) and not (isinstance(expr.func, cst.Name) and expr.func.value in facts.classes):
        return Element(Kind.NORM, names[0].rsplit(".", 1)[-1], expr, model=transfers.NORM)  # unseen, named as one
    return OTHER


def _container_element(expr: cst.Call, contents) -> Element:
    """A container built inline, as one element of the container holding it."""
    elements = contents.elements if contents.elements is not None else (contents.pattern or (contents.repeated,))
    if not elements:
        return OTHER
    kinds = {e.kind for e in elements}
    mambas = [e for e in elements if e.kind == Kind.MAMBA]
    if mambas and (Kind.NORM in kinds or Kind.NORMALIZED in kinds):
        return Element(Kind.NORMALIZED, mambas[0].display, expr, model=_sequence_model(elements))
    if mambas:
        return Element(Kind.MAMBA, mambas[0].display, expr, mambas[0].d_model if len(mambas) == 1 else None,
                       model=_sequence_model(elements))
    return Element(Kind.NORMALIZED, model=_sequence_model(elements)) if Kind.NORMALIZED in kinds else OTHER


_KIND_MODELS = {Kind.MAMBA: transfers.SSM, Kind.NORM: transfers.NORM, Kind.NORMALIZED: transfers.NORMALIZED_BLOCK}


def join_elements(a: Element, b: Element) -> Element:
    """A module that is one of two: what both are (two norms are a norm, two unbounded SSM
    layers one); modules of different kinds are not known to be either."""
    if a.kind != b.kind or a.kind == Kind.OTHER and a.model != b.model:
        return OTHER
    width = a.d_model if a.d_model is not None and b.d_model is not None and code(a.d_model) == code(b.d_model) else None
    model = a.model if a.model == b.model else _KIND_MODELS.get(a.kind)
    return Element(a.kind, a.display, a.ctor, width, a.note, a.moved if a.moved == b.moved else "", model)


def _given_class(facts: Facts, func: cst.BaseExpression, local: Locals | None):
    """The class a constructor call really names where its callee is a parameter (its default
    class, or "ssm" for the parameter a block is given its mixer by) or a `partial(Class, ...)`."""
    partial = _partial_of(facts, func)
    if partial is not None:
        return partial
    if not (isinstance(func, cst.Name) and local is not None and func.value in local.defaults):
        return None
    if func.value in facts.resolver.aliases:
        return None
    if local.given == func.value:
        return "ssm"
    default = local.defaults[func.value]
    if isinstance(default, (cst.Name, cst.Attribute)) and not (isinstance(default, cst.Name) and default.value == "None"):
        return default
    return _partial_of(facts, default)


def _partial_of(facts: Facts, expr) -> cst.BaseExpression | None:
    """The class of `functools.partial(Class, ...)`, else None."""
    if isinstance(expr, cst.Call) and facts.resolver.qualify(expr.func) == "functools.partial" and expr.args:
        return expr.args[0].value
    return None


def _sequence_model(elements) -> transfers.Transfer:
    """An nn.Sequential built inline: what applying its elements in order does."""
    return transfers.compose(transfers.element_transfer(e) for e in elements)


def _block_with_mixer(facts: Facts, call: cst.Call, summary, local: Locals | None, depth: int) -> Element:
    """`Block(dim, partial(Mamba, ...))` of a block class that builds its mixer from the class it is
    given: where that class is Mamba-family, the block does what its summary (read with the
    mixer taken to be an SSM layer) says; otherwise nothing is known of it."""
    param = summary.mixer_param
    arg = call_arg(call, (param[0],), param[1])
    if isinstance(arg, cst.Name) and local is not None and arg.value in local.exprs:
        arg = local.exprs[arg.value]
    arg = _partial_of(facts, arg) or arg
    if isinstance(arg, (cst.Name, cst.Attribute, cst.Call)):  # a class given, or a module built for it
        mixer = classify(facts, arg if isinstance(arg, cst.Call) else cst.Call(func=arg), local, depth + 1)
        if mixer.kind == Kind.MAMBA and summary.transfer is not None:  # the hypothesis holds
            transfer = summary.transfer
            return Element(transfers.kind_of(transfer), mixer.display, call, model=transfer)
        if mixer.kind == Kind.NORMALIZED:  # a mixer that bounds itself: nothing unbounded from it
            return Element(Kind.NORMALIZED, mixer.display, call, model=transfers.NORMALIZED_BLOCK)
    return OTHER


def _factory_element(facts: Facts, call: cst.Call, depth: int, caller: Locals | None = None) -> Element | None:
    """What a module-level function of the file, or a method of the class, returns when it
    builds one layer (`def create_block(d_model, ...): ...; return block`). A width that is one of
    its parameters is read from the call's argument for it; any other is unknown."""
    helper = self_attr(call.func)
    if isinstance(call.func, cst.Name) and call.func.value in facts.functions:
        func, skip = facts.functions[call.func.value], 0
    elif helper is not None and caller is not None and helper in caller.methods and helper != "__init__":
        func, skip = caller.methods[helper], 1
    else:
        return None
    for local, value in _returns(facts, func):
        local.methods = caller.methods if caller is not None else {}
        element = classify(facts, value, local, depth + 1)
        if element.kind == Kind.OTHER and element.model is None:
            return None
        return replace(_in_caller(element, call, list(local.defaults)[skip:], frozenset()), ctor=call)
    return None


def _returns(facts: Facts, func: cst.FunctionDef):
    """Each value a helper or factory returns, with what its local names stand for there
    (assigned expressions, lists built by append loops)."""
    local = Locals(param_defaults(func))
    for stmt in walk_statements(func.body):
        if isinstance(stmt, cst.For):
            _scan_append_loop(facts, stmt, InitInfo(), local)
        for small in small_statements(stmt):
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                local.assign(small.targets[0].target.value, small.value)
            if isinstance(small, cst.Return) and small.value is not None:
                yield local, small.value


def _normalizes_itself(fam, matched: str, call: cst.Call) -> bool:
    """A layer with an internal output norm (Mamba2's gated RMSNorm), unless the constructor
    turns it off with the flag set to a literal False."""
    if matched not in fam.self_normalizing:
        return False
    flag = fam.self_normalizing[matched]
    value = call_arg(call, (flag,), None) if flag else None
    return not (isinstance(value, cst.Name) and value.value == "False")


def _other_bindings(facts: Facts, names: list[str], matched: str) -> str:
    """` (mamba_ssm.Mamba; the fallback pkg.ssm.Mamba normalizes inside)` where the name also
    stands for other classes; empty where it stands for one."""
    others = [n for n in names if n != matched and not facts.families.layers.match(n)]
    if not others:
        return ""
    parts = []
    for other in others:
        summary = facts.summary_by_name(other)
        inside = " normalizes inside" if summary is not None and summary.kind == Kind.NORMALIZED else ""
        parts.append(f"the fallback {other}{inside}")
    return f" ({matched}; {'; '.join(parts)})"


def container_contents(facts: Facts, call: cst.Call, local: Locals, depth: int = 0) -> Contents | None:
    """The modules of `ModuleList(...)` / `Sequential(...)`, or None where they cannot be read.
    `depth`: how deep in containers the call stands (`x = nn.Sequential(x, ...)` nests without end)."""
    args = [a for a in call.args if a.keyword is None]
    if not args:
        return None
    if len(args) == 1 and (args[0].star == "*" or facts.families.module_lists.match_any(facts.resolver.candidates(call.func))
                           or _mapping_values(facts, args[0].value) is not None or isinstance(args[0].value, cst.DictComp)):
        return _sequence_of(facts, args[0].value, local, depth)
    starred = [a for a in args if a.star]
    if len(starred) == 1 and starred[0].star == "*" and isinstance(starred[0].value, (cst.ListComp, cst.GeneratorExp)):
        # `nn.Sequential(*[Mamba(d) for _ in range(n)], nn.Linear(d, k))`: the repeated run is
        # the stack; the other modules stand before or after it
        return _sequence_of(facts, starred[0].value, local, depth)
    if starred:
        return None
    return Contents(elements=tuple(classify(facts, a.value, local, depth) for a in args), count=len(args),
                    count_text=str(len(args)), count_fixed=True)


def _sequence_of(facts: Facts, expr: cst.BaseExpression, local: Locals, depth: int = 0) -> Contents | None:
    values = _mapping_values(facts, expr)
    if values is not None:  # ModuleDict({"a": ...}), Sequential(OrderedDict([("a", ...), ...]))
        elements = tuple(classify(facts, v, local, depth) for v in values)
        return Contents(elements=elements, count=len(elements), count_text=str(len(elements)), count_fixed=True)
    attr = self_attr(expr)
    if attr is not None and attr in local.stacks and local.stacks[attr].container != Container.SINGLE:
        return local.stacks[attr].contents  # `nn.Sequential(*self.layers)` over a stack built above
    if isinstance(expr, cst.Name):
        if expr.value in local.lists:  # an append-built local list
            return local.lists[expr.value]
        expr = local.exprs.get(expr.value, expr)
    if isinstance(expr, cst.DictComp):  # ModuleDict({f"l{i}": Mamba(d) for i in range(n)})
        expr = cst.ListComp(elt=expr.value, for_in=expr.for_in)
    if isinstance(expr, (cst.ListComp, cst.GeneratorExp)):
        element = classify(facts, expr.elt, local, depth)
        count, text = range_count(expr.for_in.iter, local.defaults)
        iterated = expr.for_in.iter
        fixed = literal_count(iterated)
        if expr.for_in.inner_for_in is not None:
            count, text, fixed = None, None, False
        count, text = _settable(count, text, fixed, iterated)
        return Contents(repeated=element, count=count, count_text=text, comp_names=comprehension_names(expr),
                        count_fixed=fixed)
    if isinstance(expr, (cst.List, cst.Tuple)):
        if any(isinstance(e, cst.StarredElement) for e in expr.elements):
            return None
        elements = tuple(classify(facts, e.value, local, depth) for e in expr.elements)
        return Contents(elements=elements, count=len(elements), count_text=str(len(elements)), count_fixed=True)
    return None


def _mapping_values(facts: Facts, expr: cst.BaseExpression) -> list | None:
    """The values of a literal mapping of modules: `{"a": m, ...}`, `dict(a=m, ...)`,
    `OrderedDict([("a", m), ...])`; None for anything else."""
    if isinstance(expr, cst.Dict):
        return [e.value for e in expr.elements] if all(isinstance(e, cst.DictElement) for e in expr.elements) else None
    if not isinstance(expr, cst.Call):
        return None
    name = facts.resolver.qualify(expr.func)
    if name in ("dict",) and all(a.keyword is not None for a in expr.args):
        return [a.value for a in expr.args]
    if name in _MAPPINGS and len(expr.args) == 1 and isinstance(expr.args[0].value, cst.Dict):
        return _mapping_values(facts, expr.args[0].value)
    pairs = pair_list(facts, expr)
    return None if pairs is None else [e.value.elements[1].value for e in pairs.elements]


_MAPPINGS = ("collections.OrderedDict", "OrderedDict", "dict")


def pair_list(facts: Facts, expr: cst.BaseExpression) -> cst.List | cst.Tuple | None:
    """The literal list of `(key, module)` pairs a mapping is built from: `OrderedDict([("a", m),
    ...])`, `dict([...])`; None for anything else."""
    if not isinstance(expr, cst.Call) or len(expr.args) != 1 or facts.resolver.qualify(expr.func) not in _MAPPINGS:
        return None
    pairs = expr.args[0].value
    if isinstance(pairs, (cst.List, cst.Tuple)) and all(
            isinstance(e.value, cst.Tuple) and len(e.value.elements) == 2 for e in pairs.elements):
        return pairs
    return None


def methods_of(cls: cst.ClassDef) -> dict[str, cst.FunctionDef]:
    return {s.name.value: s for s in statements(cls.body) if isinstance(s, cst.FunctionDef)}


def _scan_append_loop(facts: Facts, loop: cst.For, info: InitInfo, local: Locals) -> None:
    """`for _ in range(n): self.layers.append(Mamba(d))` (or a local list): each owner's appended
    modules, in order; several appended per trip repeat as a pattern."""
    count, text = range_count(loop.iter, local.defaults)
    fixed = literal_count(loop.iter)
    count, text = _settable(count, text, fixed, loop.iter)
    appended: dict[str, list] = {}
    owners: dict[str, cst.BaseExpression] = {}
    for call in _append_calls(loop.body, local, info):
        owner = call.func.value
        key = code(owner)
        owners[key] = owner
        appended.setdefault(key, []).append(classify(facts, call.args[0].value, local))
    names = frozenset(names_in(loop.target))
    for key, elements in appended.items():
        if len(elements) == 1:
            contents = Contents(repeated=elements[0], count=count, count_text=text, comp_names=names, count_fixed=fixed)
        else:
            contents = Contents(count=None, count_text=text, comp_names=names, pattern=tuple(elements))
        owner = owners[key]
        attr = self_attr(owner)
        if attr is not None and attr in info.stacks and not info.stacks[attr].all_elements():
            info.stacks[attr] = replace(info.stacks[attr], contents=contents, insert_after=loop)
        elif isinstance(owner, cst.Name):
            local.append_built(owner.value, contents)


def _settable(count, text, fixed: bool, iterated) -> tuple[int | None, str | None]:
    """A count the caller sets (`range(n_layers)` with `n_layers=1`) is not its default: below
    two it is named by its parameter rather than counted."""
    if fixed or count is None or count >= 2:
        return count, text
    args = iterated.args if isinstance(iterated, cst.Call) else ()
    return None, code(args[-1].value) if args else text


def _append_calls(block, local: Locals, info: InitInfo):
    """The `<owner>.append(module)` calls of a loop body, on the branches its defaults take."""
    for stmt in statements(block):
        if isinstance(stmt, cst.If):
            test = init_const(stmt.test, local, info)
            if test is NOCONST or test:
                yield from _append_calls(stmt.body, local, info)
            if (test is NOCONST or not test) and stmt.orelse is not None:
                orelse = stmt.orelse
                yield from _append_calls(orelse if isinstance(orelse, cst.If) else orelse.body, local, info)
            continue
        if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef, cst.For)):
            for inner in blocks_of(stmt, defs=False):
                yield from _append_calls(inner, local, info)
        for small in small_statements(stmt):
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                call = small.value
                if isinstance(call.func, cst.Attribute) and call.func.attr.value == "append" and call.args:
                    yield call


def _in_caller(element: Element, call: cst.Call, params: list[str], loop_names: frozenset) -> Element:
    """An element built inside a helper, its width read in the caller: a width that is one of the
    helper's parameters becomes the call's argument for it; any other width is unknown."""
    width = element.d_model
    if isinstance(width, cst.Name) and width.value in params and width.value not in loop_names:
        return replace(element, d_model=call_arg(call, (width.value,), params.index(width.value)))
    return replace(element, d_model=None)
