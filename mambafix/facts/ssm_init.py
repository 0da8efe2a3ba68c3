"""Which SSM parameters a module holds that their layer initializes itself, and where (MF005).

A library layer's are data (rules/MF005.toml `ssm_init_layers`, `ssm_init_holders`). A layer in
view (a selective SSM by its signature, rules/families.toml) is read from its `__init__`: the
state parameters it creates (`self.A_log = nn.Parameter(...)`, with their rank where the
expression shows it), the `nn.Linear` biases it writes (`self.dt_proj.bias.copy_(inv_dt)`, also
in a helper that builds and returns the Linear), and which of them it marks `_no_reinit`. A
module that holds layers holds theirs under the attribute path `__init__` builds them at (the
stacks `init_scan` reads; "*" for any element of a container), through the cross-file index
(`ClassSummary.init_params`)."""

from __future__ import annotations

from functools import lru_cache

import libcst as cst

from mambafix.catalogue import load_models, load_rules
from mambafix.facts.builds import _partial_of, _returns, container_contents, Locals, methods_of
from mambafix.facts.kinds import Container
from mambafix.facts.layers import Element
from mambafix.facts.protocol import Facts
from mambafix.facts.ssm_params import LAYER, LINEAR, InitParam, dedupe
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import call_arg, self_attr, string_text
from mambafix.syntax.walk import small_statements, walk_statements

PARAMETER = ("torch.nn.Parameter", "torch.nn.parameter.Parameter")
LINEAR_CLASSES = ("torch.nn.Linear", "torch.nn.modules.linear.Linear")
INIT_MODULE = "torch.nn.init."
MAX_DEPTH = 6


@lru_cache(maxsize=1)
def library() -> tuple[dict, dict, frozenset]:
    """(layer class -> its InitParams, holder class -> {path: class}, own-parameter names)."""
    data = load_rules()["MF005"].data
    layers = {}
    for entry in data.get("ssm_init_layers", ()):
        display = entry["classes"][0].rsplit(".", 1)[-1]
        params = tuple(InitParam(p["path"], p.get("owner", LAYER), p.get("rank"), bool(p.get("no_reinit", False)),
                                 p.get("init", ""), display) for p in entry["params"])
        layers.update({name: params for name in entry["classes"]})
    holders = {name: dict(entry["holds"]) for entry in data.get("ssm_init_holders", ()) for name in entry["classes"]}
    own = frozenset(load_models().get("ssm_kernel_attributes", ())) | frozenset(data.get("own_parameters", ()))
    return layers, holders, own


def call_params(facts: Facts, call: cst.Call, local: Locals | None = None, depth: int = 0) -> tuple[InitParam, ...]:
    """The SSM parameters the module a constructor call builds holds."""
    if depth > MAX_DEPTH:
        return ()
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("to", "cuda", "cpu", "float", "half", "bfloat16", "train"):
        return call_params(facts, func.value, local, depth + 1) if isinstance(func.value, cst.Call) else ()
    partial = _partial_of(facts, func)
    if partial is not None:
        return class_params_by_expr(facts, partial, call, depth + 1)
    names = facts.resolver.candidates(func)
    fam = facts.families
    if names and (fam.sequentials.match_any(names) or fam.module_lists.match_any(names)):
        keyed = _keyed(call)
        if keyed is not None:  # ModuleDict({"mamba": Mamba(d), ...}): each under its key
            out = []
            for key, value in keyed:
                if isinstance(value, cst.Call):
                    out += [p.under(key) for p in call_params(facts, value, local, depth + 1)]
            return dedupe(out)
        contents = container_contents(facts, call, local or Locals({}))
        if contents is None:
            return ()
        elements = contents.elements if contents.elements is not None else (contents.pattern or (contents.repeated,))
        literal = contents.elements is not None and fam.sequentials.match_any(names) is not None
        out = []
        for i, element in enumerate(elements):
            out += [p.under(str(i) if literal else "*") for p in element_params(facts, element, depth + 1)]
        return dedupe(out)
    if isinstance(func, cst.Name) and func.value in facts.functions and func.value not in facts.resolver.aliases:
        out = []  # a factory function of this file: what it returns
        for returned_local, value in _returns(facts, facts.functions[func.value]):
            if isinstance(value, cst.Name) and value.value in returned_local.exprs:
                value = returned_local.exprs[value.value]
            if isinstance(value, cst.Call):
                out += call_params(facts, value, returned_local, depth + 1)
        return dedupe(out)
    return class_params_by_expr(facts, func, call, depth + 1)


def _keyed(call: cst.Call) -> list | None:
    """The (key, module) pairs of a container built from a literal dict with string keys."""
    args = [a for a in call.args if a.keyword is None]
    if len(args) != 1 or not isinstance(args[0].value, cst.Dict):
        return None
    pairs = []
    for element in args[0].value.elements:
        if not (isinstance(element, cst.DictElement) and isinstance(element.key, (cst.SimpleString, cst.ConcatenatedString))):
            return None
        pairs.append((string_text(element.key), element.value))
    return pairs


def element_params(facts: Facts, element: Element | None, depth: int = 0) -> tuple[InitParam, ...]:
    if element is None or element.ctor is None:
        return ()
    return call_params(facts, element.ctor, None, depth)


def class_params_by_expr(facts: Facts, func: cst.BaseExpression, call: cst.Call | None, depth: int) -> tuple[InitParam, ...]:
    """What a class named by an expression holds: library data, this file's class, the index."""
    layers, holders, _ = library()
    names = facts.resolver.candidates(func)
    for name in names:
        if name in layers:
            return layers[name]
        if name in holders:
            return _library_holder(facts, holders[name], call, depth)
    if isinstance(func, cst.Name) and func.value in facts.classes and func.value not in facts.resolver.aliases:
        return class_params(facts, facts.classes[func.value], depth + 1)
    summary = facts.summary_for(func)
    return summary.init_params if summary is not None else ()


def _library_holder(facts: Facts, holds: dict, call: cst.Call | None, depth: int) -> tuple[InitParam, ...]:
    layers = library()[0]
    out = []
    for path, held in holds.items():
        if held == "{mixer}":  # the mixer class a block is given: Block(dim, mixer_cls=partial(Mamba, ...))
            arg = call_arg(call, ("mixer_cls",), 1) if call is not None else None
            arg = _partial_of(facts, arg) or arg if arg is not None else None
            params = class_params_by_expr(facts, arg, None, depth + 1) if isinstance(arg, (cst.Name, cst.Attribute)) else ()
        else:
            params = layers.get(held, ())
        out += [p.under(path) for p in params]
    return dedupe(out)


def class_params(facts: Facts, cls: cst.ClassDef, depth: int = 0) -> tuple[InitParam, ...]:
    """The SSM parameters a class of this file holds: its own, if it is an SSM layer, then those
    of the modules `__init__` builds, under their attribute paths."""
    key = ("ssm_init", id(cls))
    if key in facts.memo:
        return facts.memo[key]
    facts.memo[key] = ()  # recursion guard
    out: list[InitParam] = []
    info = facts.init_info(cls)
    base_names = [n for b in cls.bases for n in facts.resolver.candidates(b.value)]
    layers = library()[0]
    inherited = next((layers[n] for n in base_names if n in layers), ())
    out += inherited
    if inherited or facts.families.is_ssm(info.attr_names):
        own = own_params(facts, cls)
        out += [p for p in own if p.path not in {q.path for q in inherited}]
    for attr, stack in info.stacks.items():
        for candidate in (stack, *info.alternatives.get(attr, ())):
            prefix = attr if candidate.container == Container.SINGLE else f"{attr}.*"
            for element in candidate.all_elements():
                out += [p.under(prefix) for p in element_params(facts, element, depth + 1)]
    facts.memo[key] = dedupe(out)
    return facts.memo[key]


def own_params(facts: Facts, cls: cst.ClassDef) -> tuple[InitParam, ...]:
    """What an SSM layer's own `__init__` initializes (and the helper methods it calls)."""
    own_names = library()[2]
    methods = methods_of(cls)
    init = methods.get("__init__")
    if init is None:
        return ()
    bodies = [init] + [methods[n] for n in _called_helpers(init, methods)]
    values: dict[str, cst.BaseExpression] = {}
    params: dict[str, int | None] = {}
    linears: dict[str, bool] = {}  # attr -> its bias is written here
    marked: set[str] = set()
    deleted: set[str] = set()
    for body in bodies:
        for stmt in walk_statements(body.body):
            for small in small_statements(stmt):
                _read_small(facts, small, values, params, linears, marked, deleted, own_names, methods)
    out = [InitParam(name, LAYER, rank, name in marked, f"set by {cls.name.value}.__init__", cls.name.value)
           for name, rank in params.items() if name not in deleted]
    out += [InitParam(f"{attr}.bias", LINEAR, 1, f"{attr}.bias" in marked, f"set by {cls.name.value}.__init__",
                      cls.name.value) for attr, written in linears.items() if written and attr not in deleted]
    return tuple(out)


def _called_helpers(init: cst.FunctionDef, methods: dict) -> list[str]:
    names = []
    for stmt in walk_statements(init.body):
        for small in small_statements(stmt):
            call = getattr(small, "value", None)
            if isinstance(call, cst.Call):
                helper = self_attr(call.func)
                if helper in methods and helper != "__init__" and helper not in names:
                    names.append(helper)
    return names


def _read_small(facts, small, values, params, linears, marked, deleted, own_names, methods) -> None:
    if isinstance(small, cst.Del):
        targets = small.target.elements if isinstance(small.target, cst.Tuple) else [small.target]
        deleted.update(a for a in (self_attr(getattr(t, "value", t)) for t in targets) if a)
        return
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "register_parameter" and len(call.args) >= 2:
            name = string_text(call.args[0].value)
            if name in own_names and _is_parameter(facts, call.args[1].value):
                params[name] = rank_of(facts, call.args[1].value.args[0].value if call.args[1].value.args else None, values)
            return
        written = written_tensor(facts, call)
        attr = _bias_owner(written) if written is not None else None
        if attr is not None and attr in linears:
            linears[attr] = True
        return
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return
    target, value = small.targets[0].target, small.value
    if isinstance(target, cst.Name):
        values[target.value] = value
        return
    chain = dotted(target) or ""
    if chain.startswith("self.") and chain.endswith("._no_reinit"):
        marked.add(chain[len("self."):-len("._no_reinit")])
        return
    attr = _bias_owner(target)
    if attr is not None and attr in linears:  # self.dt_proj.bias.data = ... / self.dt_proj.bias = nn.Parameter(...)
        linears[attr] = True
        return
    attr = self_attr(target)
    if attr is None:
        return
    if _is_parameter(facts, value) and attr in own_names:
        params[attr] = rank_of(facts, value.args[0].value if value.args else None, values)
    elif _is_linear(facts, value):
        linears[attr] = False
    elif isinstance(value, cst.Call):
        built = _helper_linear(facts, value, methods)
        if built is not None:
            linears[attr] = True
            if built:
                marked.add(f"{attr}.bias")


def _is_parameter(facts, value) -> bool:
    return isinstance(value, cst.Call) and facts.resolver.qualify(value.func) in PARAMETER


def _is_linear(facts, value) -> bool:
    if not (isinstance(value, cst.Call) and facts.resolver.qualify(value.func) in LINEAR_CLASSES):
        return False
    bias = call_arg(value, ("bias",), 2)
    return not (isinstance(bias, cst.Name) and bias.value == "False")


def written_tensor(facts, call: cst.Call) -> cst.BaseExpression | None:
    """The tensor an in-place call writes: `nn.init.x_(t, ...)`, `f_(t, ...)`, `t.x_(...)`."""
    name = facts.resolver.qualify(call.func) or ""
    last = name.rsplit(".", 1)[-1]
    if call.args and (name.startswith(INIT_MODULE) or (last.endswith("_") and not last.startswith("_")
                                                       and isinstance(call.func, cst.Name))):
        return call.args[0].value
    method = call.func.attr.value if isinstance(call.func, cst.Attribute) else ""
    if method.endswith("_") and not method.startswith("_") and method not in ("requires_grad_", "register_hook_"):
        return call.func.value
    return None


def _bias_owner(expr) -> str | None:
    """`self.x.bias` or `self.x.bias.data` -> "x"."""
    if isinstance(expr, cst.Attribute) and expr.attr.value == "data":
        expr = expr.value
    if isinstance(expr, cst.Attribute) and expr.attr.value == "bias":
        return self_attr(expr.value)
    return None


def _helper_linear(facts, call: cst.Call, methods: dict) -> bool | None:
    """A helper (`self.dt_init(...)`, a module-level or static function) that builds an nn.Linear,
    writes its bias and returns it: whether it marks the bias `_no_reinit`; None if it is not one."""
    helper = self_attr(call.func) or (dotted(call.func) or "").rsplit(".", 1)[-1]
    func = methods.get(helper) or facts.functions.get(helper)
    if func is None:
        return None
    linear, written, marked = None, False, False
    for stmt in walk_statements(func.body):
        for small in small_statements(stmt):
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target = small.targets[0].target
                if isinstance(target, cst.Name) and _is_linear(facts, small.value):
                    linear = target.value
                elif (dotted(target) or "") == f"{linear}.bias._no_reinit":
                    marked = True
                elif (dotted(target) or "") in (f"{linear}.bias", f"{linear}.bias.data"):
                    written = True
            elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and linear is not None:
                tensor = written_tensor(facts, small.value)
                text = dotted(tensor) if tensor is not None else None
                written = written or text in (f"{linear}.bias", f"{linear}.bias.data")
            elif isinstance(small, cst.Return) and linear is not None and isinstance(small.value, cst.Name) \
                    and small.value.value == linear:
                return marked if written else None
    return None


_SAME_RANK = frozenset({"log", "exp", "float", "double", "to", "clone", "contiguous", "detach", "neg", "abs",
                        "uniform_", "normal_", "clamp", "clamp_", "log_", "exp_", "mul", "div", "add", "sub"})
_SHAPED = frozenset({"ones", "zeros", "empty", "rand", "randn", "full"})


def rank_of(facts, expr, values: dict, depth: int = 0) -> int | None:
    """The number of dimensions of a tensor expression, where the expression shows it."""
    if expr is None or depth > 8:
        return None
    if isinstance(expr, cst.Name):
        return rank_of(facts, values.get(expr.value), values, depth + 1)
    if isinstance(expr, cst.UnaryOperation):
        return rank_of(facts, expr.expression, values, depth + 1)
    if isinstance(expr, cst.BinaryOperation):
        ranks = [rank_of(facts, side, values, depth + 1) for side in (expr.left, expr.right)]
        known = [r for r in ranks if r is not None]
        return max(known) if known else None
    if not isinstance(expr, cst.Call):
        return 0 if isinstance(expr, (cst.Integer, cst.Float)) else None
    name = facts.resolver.qualify(expr.func) or ""
    last = expr.func.attr.value if isinstance(expr.func, cst.Attribute) else name.rsplit(".", 1)[-1]
    positional = [a for a in expr.args if a.keyword is None]
    if name.startswith("torch.") and last in _SHAPED and positional:
        first = positional[0].value
        if isinstance(first, (cst.Tuple, cst.List)):
            return len(first.elements)
        return None if last == "full" else len(positional)
    if name in ("torch.arange", "torch.linspace"):
        return 1
    if last == "repeat" and isinstance(expr.func, cst.Attribute):
        return max(len(positional), rank_of(facts, expr.func.value, values, depth + 1) or 0)
    if last == "repeat" and len(positional) >= 2:  # einops: repeat(x, "n -> d n", d=...)
        pattern = string_text(positional[1].value)
        return _axes(pattern.split("->", 1)[1]) if "->" in pattern else None
    if last in ("view", "reshape", "expand") and isinstance(expr.func, cst.Attribute):
        return len(positional) or None
    if last == "unsqueeze" and isinstance(expr.func, cst.Attribute):
        inner = rank_of(facts, expr.func.value, values, depth + 1)
        return inner + 1 if inner is not None else None
    if last in _SAME_RANK:
        inner = expr.func.value if isinstance(expr.func, cst.Attribute) and not name.startswith("torch.") else (
            positional[0].value if positional else None)
        return rank_of(facts, inner, values, depth + 1)
    return None


def _axes(pattern: str) -> int:
    """The axes of one side of an einops pattern: "d (h n)" has two."""
    count, depth = 0, 0
    for token in pattern.replace("(", " ( ").replace(")", " ) ").split():
        if token == "(":
            count += depth == 0
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0:
            count += 1
    return count
