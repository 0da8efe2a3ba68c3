"""What a model's forward does with its input, read with libcst (never imported, never torch).

A small model of the forward: its first parameter is followed through the statements in
order, through renames, shape-preserving arithmetic, `.permute`/`.transpose`/`.unsqueeze`/
`.squeeze`/`.flatten`/`.view`/`.reshape`, einops' `rearrange`, slicing, the class's own methods
(`self.prepare(x)`, inlined with the argument bound) and `for layer in self.layers` loops. Each
use that says something about the input's layout is an *event*:

- ``rank``: its rank at that point, exact (`B, C, H, W = x.shape`, `rearrange(x, "b c l -> ...")`,
  `x.permute(0, 2, 1)`, `F.conv2d(x, ...)`) or a lower bound (`x.shape[2]`, `x.size(3)`,
  `x[:, :, c, c]`, `x.mean(dim=(0, 2, 3))`);
- ``stft``: it is a raw signal given to `torch.stft` (with `n_fft` as a number or an attribute);
- ``module``: it is given to a submodule (`self.patch_embed(x)`, `self.layers[0](x)`), by its
  attribute path; what that module accepts is read in the probe process from the built module
  (its type, its widths), so a width that comes from a constructor argument is exact.

Every event carries the transformations applied before it (`ops`, replayed on axis labels by
`smoke.layouts`) and the submodules the value went through (`through`: an event on the output
of `self.dropout(x)` is an event on the input only if that module keeps the layout). A class
whose forward returns its input's layout (a mixup, a channel shuffle) is `transparent`.

`smoke.forward_facts` applies it to every class of the target's file and the files it imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from mambafix.smoke.tensor_ops import CONV_RANKS, IDENTITY_FUNCTIONS, IDENTITY_METHODS, REDUCTIONS
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import int_value, string_text

MAX_DEPTH = 4  # methods inlined into one another


@dataclass(frozen=True)
class Value:
    """The input, seen through `ops` after the submodules in `through`."""
    ops: tuple = ()
    through: tuple = ()

    def then(self, *op) -> "Value":
        return Value(self.ops + (op,), self.through)


@dataclass
class Reader:
    methods: dict  # name -> (FunctionDef, is_static)
    events: list = field(default_factory=list)
    depth: int = 0

    def event(self, kind: str, value: Value, **data) -> None:
        self.events.append({"kind": kind, "ops": [list(o) for o in value.ops], "through": list(value.through), **data})

    # ----- expressions -----
    def ev(self, expr, state: dict, loops: dict):
        """The Value `expr` holds when it is the input seen through ops, else None; events on the way."""
        if isinstance(expr, cst.Name):
            return state.get(expr.value)
        if isinstance(expr, cst.BinaryOperation):  # elementwise with broadcasting keeps the layout; @ does not
            left, right = self.ev(expr.left, state, loops), self.ev(expr.right, state, loops)
            return None if isinstance(expr.operator, cst.MatrixMultiply) else left or right
        if isinstance(expr, cst.UnaryOperation):
            return self.ev(expr.expression, state, loops)
        if isinstance(expr, cst.IfExp):
            self.ev(expr.test, state, loops)
            body, other = self.ev(expr.body, state, loops), self.ev(expr.orelse, state, loops)
            return body or other
        if isinstance(expr, cst.Subscript):
            return self._subscript(expr, state, loops)
        if isinstance(expr, cst.Attribute):
            base = self.ev(expr.value, state, loops)
            if base is not None and expr.attr.value == "mT":
                return base.then("transpose", -2, -1)
            return None
        if isinstance(expr, cst.Call):
            return self._call(expr, state, loops)
        for child in expr.children:  # tuples, comparisons, lists...: events only
            if isinstance(child, cst.BaseExpression):
                self.ev(child, state, loops)
            elif isinstance(child, (cst.Element, cst.Arg, cst.ComparisonTarget)):
                self.ev(child.value if not isinstance(child, cst.ComparisonTarget) else child.comparator, state, loops)
        return None

    def _subscript(self, expr: cst.Subscript, state, loops):
        value = expr.value
        if isinstance(value, cst.Attribute) and value.attr.value == "shape":  # x.shape[2]
            base = self.ev(value.value, state, loops)
            index = _index(expr)
            if base is not None and index is not None and index >= 0:
                self.event("rank", base, at_least=index + 1)
            return None
        base = self.ev(value, state, loops)
        if base is None:
            for element in expr.slice:
                if isinstance(element.slice, cst.Index):
                    self.ev(element.slice.value, state, loops)
            return None
        kept, out = 0, base
        axis = 0
        for element in expr.slice:
            part = element.slice
            if isinstance(part, cst.Index) and isinstance(part.value, cst.Ellipsis):
                return None
            if isinstance(part, cst.Index) and isinstance(part.value, cst.Name) and part.value.value == "None":
                out = out.then("unsqueeze", axis)
                axis += 1
                continue
            kept += 1
            if isinstance(part, cst.Slice):
                axis += 1
            elif _int(part.value) is not None:
                out = out.then("select", axis)  # x[:, 0]: the axis goes
            else:
                out = out.then("unknown", axis)  # x[:, idx]: an int or a tensor of indices
                axis += 1
        self.event("rank", base, at_least=kept)
        return out

    def _call(self, call: cst.Call, state, loops):
        func = call.func
        args = [a for a in call.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        if isinstance(func, cst.Attribute):
            base = self.ev(func.value, state, loops)
            if base is not None:
                return self._method(base, func.attr.value, args, keywords, state, loops)
        name = dotted(func) or ""
        short = name.rpartition(".")[2]
        first = self.ev(args[0].value, state, loops) if args else None
        for arg in args[1:]:
            self.ev(arg.value, state, loops)
        for value in keywords.values():
            self.ev(value, state, loops)
        if first is None and "input" in keywords:
            first = self.ev(keywords["input"], state, loops)
        path = _module_path(func, loops)
        if first is not None and path is not None:
            method = self.methods.get(path)
            if method is not None:
                return self._inline(method, call, first, state, loops)
            self.event("module", first, path=path)
            return Value(first.ops, first.through + (path,))
        if first is None:
            return None
        if short == "stft":
            n_fft = _number_or_attr(args[1].value if len(args) > 1 else keywords.get("n_fft"))
            self.event("stft", first, **n_fft)
            return None
        if short in CONV_RANKS and name.startswith(("F.", "torch.", "nn.functional.", "functional.")):
            self.event("rank", first, exact=CONV_RANKS[short], why=f"{name}")
            return first
        if short in ("rearrange", "repeat", "reduce") and len(args) > 1:
            return self._rearrange(first, string_text(args[1].value), short)
        if short in ("transpose", "swapaxes", "permute", "unsqueeze", "squeeze", "flatten", "reshape") and name.startswith("torch."):
            return self._method(first, short, args[1:], keywords, state, loops)
        if short in IDENTITY_FUNCTIONS:
            return first
        return None

    def _inline(self, method, call, value, state, loops):
        func, static = method
        params = [p.name.value for p in func.params.params][(0 if static else 1):]
        if not params or self.depth >= MAX_DEPTH:
            return None
        inner = Reader(self.methods, self.events, self.depth + 1)
        returns: list = []
        inner.block(func.body, {params[0]: value}, dict(loops), returns)
        found = [r for r in returns if r is not None]
        # an early return of the argument as it is (a guard) beside a transformed one: the shortest
        return min(found, key=lambda v: len(v.ops)) if found and len(found) == len(returns) else None

    def _method(self, base: Value, name: str, args, keywords, state, loops):
        ints = [_int(a.value) for a in args]
        for value in list(keywords.values()):
            self.ev(value, state, loops)
        dims = _dims(keywords.get("dim") or keywords.get("dims"))
        if dims and min(dims) >= 0:
            self.event("rank", base, at_least=max(dims) + 1)
        if name == "permute":
            order = ints if len(ints) != 1 else _tuple_ints(args[0].value)
            if order and all(i is not None for i in order):
                self.event("rank", base, exact=len(order), why=f"permute{tuple(order)}")
                return base.then("permute", *order)
            return None
        if name in ("transpose", "swapaxes") and len(ints) == 2 and None not in ints:
            if min(ints) >= 0:
                self.event("rank", base, at_least=max(ints) + 1)
            return base.then("transpose", *ints)
        if name == "unsqueeze" and ints and ints[0] is not None:
            return base.then("unsqueeze", ints[0])
        if name == "squeeze":
            return base.then("squeeze", ints[0] if ints else None)
        if name == "flatten":
            start = ints[0] if ints else _dims(keywords.get("start_dim"), one=True) or 0
            end = ints[1] if len(ints) > 1 else -1
            return base.then("flatten", start, end) if None not in (start, end) else None
        if name in ("view", "reshape"):
            parts = args if len(args) != 1 or not isinstance(args[0].value, cst.Tuple) else args[0].value.elements
            return base.then("reshape", len(parts)) if not any(getattr(a, "star", "") for a in args) else None
        if name in ("size", "dim", "ndimension", "numel") or name in REDUCTIONS or name in ("unfold", "chunk", "split"):
            if name in ("size", "unfold") and ints and ints[0] is not None and ints[0] >= 0:
                self.event("rank", base, at_least=ints[0] + 1)
            return None
        if name == "stft":
            self.event("stft", base, **_number_or_attr(args[0].value if args else keywords.get("n_fft")))
            return None
        if name in IDENTITY_METHODS:
            return base
        return None

    def _rearrange(self, base: Value, pattern: str, kind: str):
        left, _, right = pattern.partition("->")
        groups = _einops_axes(left)
        if not groups or "..." in left:
            return None
        self.event("rank", base, exact=len(groups), names=[" ".join(g) for g in groups], why=f"{kind} '{left.strip()}'")
        if kind != "rearrange":
            return None
        return base.then("rearrange", tuple(tuple(g) for g in groups), tuple(tuple(g) for g in _einops_axes(right)))

    # ----- statements -----
    def block(self, body, state: dict, loops: dict, returns: list) -> dict:
        for stmt in statements_of(body):
            state = self.statement(stmt, state, loops, returns)
        return state

    def statement(self, stmt, state: dict, loops: dict, returns: list) -> dict:
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in stmt.body:
                state = self.small(small, state, loops, returns)
            return state
        if isinstance(stmt, cst.If):
            self.ev(stmt.test, state, loops)
            taken = self.block(stmt.body, dict(state), loops, returns)
            other = state
            if stmt.orelse is not None:
                other = self.statement(stmt.orelse, dict(state), loops, returns) if isinstance(stmt.orelse, cst.If) \
                    else self.block(stmt.orelse.body, dict(state), loops, returns)
            # where the branches disagree the path without an adapter wins: the fall-through or else
            return {**{k: v for k, v in taken.items() if k not in other and k not in state}, **other}
        if isinstance(stmt, cst.For):
            self.ev(stmt.iter, state, loops)
            inner_loops = dict(loops)
            target, container = _loop_binding(stmt)
            if target and container:
                inner_loops[target] = container + ".0"
            return self.block(stmt.body, dict(state), inner_loops, returns)
        if isinstance(stmt, (cst.While, cst.With, cst.Try)):
            if isinstance(stmt, cst.While):
                self.ev(stmt.test, state, loops)
            return self.block(stmt.body, state, loops, returns)
        return state

    def small(self, small, state: dict, loops: dict, returns: list) -> dict:
        if isinstance(small, cst.Assign):
            value_node = small.value
            shape_of = _shape_source(value_node)
            if shape_of is not None and len(small.targets) == 1 and isinstance(small.targets[0].target, (cst.Tuple, cst.List)):
                base = self.ev(shape_of, state, loops)
                elements = small.targets[0].target.elements
                if base is not None:
                    starred = any(isinstance(e, cst.StarredElement) for e in elements)
                    names = [_target_name(e.value) for e in elements if not isinstance(e, cst.StarredElement)]
                    self.event("rank", base, **({"at_least": len(names)} if starred else {"exact": len(names)}),
                               names=names, why="unpacks " + ", ".join(names))
                return _unbind(small.targets, state)
            value = self.ev(value_node, state, loops)
            state = _unbind(small.targets, state)
            for target in small.targets:
                if isinstance(target.target, cst.Name) and value is not None:
                    state[target.target.value] = value
            return state
        if isinstance(small, cst.AnnAssign) and small.value is not None:
            value = self.ev(small.value, state, loops)
            state = {k: v for k, v in state.items() if not (isinstance(small.target, cst.Name) and k == small.target.value)}
            if value is not None and isinstance(small.target, cst.Name):
                state[small.target.value] = value
            return state
        if isinstance(small, cst.AugAssign):
            self.ev(small.value, state, loops)
            return state
        if isinstance(small, cst.Expr):
            self.ev(small.value, state, loops)
            return state
        if isinstance(small, cst.Return):
            returns.append(self.ev(small.value, state, loops) if small.value is not None else None)
        return state


# ----- small readings -----
def statements_of(body) -> list:
    """The statements of a block (an indented body), or the one statement given."""
    inner = getattr(body, "body", ())
    return list(inner) if isinstance(inner, (list, tuple)) else [body]


def _index(expr: cst.Subscript) -> int | None:
    if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
        return None
    return int_value(expr.slice[0].slice.value)


def _int(expr) -> int | None:
    """A whole-number literal, negative ones included (`-1`)."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        value = int_value(expr.expression)
        return -value if value is not None else None
    return int_value(expr)


def _tuple_ints(expr) -> list | None:
    if isinstance(expr, (cst.Tuple, cst.List)):
        values = [_int(e.value) for e in expr.elements]
        return None if None in values else values
    return None


def _dims(expr, one: bool = False):
    if expr is None:
        return None
    single = _int(expr)
    if single is not None:
        return single if one else [single]
    return None if one else _tuple_ints(expr)


def _number_or_attr(expr) -> dict:
    if expr is None:
        return {}
    number = int_value(expr)
    if number is not None:
        return {"n_fft": number}
    name = dotted(expr)
    if name and name.startswith("self."):
        return {"n_fft_attr": name[5:]}
    return {}


def _shape_source(expr):
    """`x` for `x.shape` and `x.size()`."""
    if isinstance(expr, cst.Attribute) and expr.attr.value == "shape":
        return expr.value
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "size" and not expr.args:
        return expr.func.value
    return None


def _target_name(expr) -> str:
    return expr.value if isinstance(expr, cst.Name) else "_"


def _unbind(targets, state: dict) -> dict:
    names = set()
    for target in targets:
        names |= {n.value for n in _names(target.target)}
    return {k: v for k, v in state.items() if k not in names}


def _names(node):
    if isinstance(node, cst.Name):
        yield node
    elif isinstance(node, (cst.Tuple, cst.List)):
        for element in node.elements:
            yield from _names(element.value)
    elif isinstance(node, cst.StarredElement):
        yield from _names(node.value)


def _module_path(func, loops: dict) -> str | None:
    """`self.a.b` -> "a.b", `self.layers[i]` -> "layers.0", a loop's `layer` -> its container's first."""
    if isinstance(func, cst.Name):
        return loops.get(func.value)
    if isinstance(func, cst.Subscript):
        head = _module_path(func.value, loops)
        return f"{head}.0" if head else None
    if isinstance(func, cst.Attribute):
        if isinstance(func.value, cst.Name) and func.value.value == "self":
            return func.attr.value
        head = _module_path(func.value, loops)
        return f"{head}.{func.attr.value}" if head else None
    return None


def _loop_binding(stmt: cst.For) -> tuple[str | None, str | None]:
    """(`layer`, "layers") for `for layer in self.layers` or `for i, layer in enumerate(self.layers)`."""
    target, iterable = stmt.target, stmt.iter
    if isinstance(iterable, cst.Call) and dotted(iterable.func) == "enumerate" and iterable.args:
        iterable = iterable.args[0].value
        target = target.elements[1].value if isinstance(target, cst.Tuple) and len(target.elements) == 2 else None
    container = _module_path(iterable, {}) if isinstance(iterable, (cst.Attribute, cst.Subscript)) else None
    return (target.value if isinstance(target, cst.Name) else None), container


def _einops_axes(side: str) -> list[list[str]]:
    return [g.split() if g.startswith("(") is False else g[1:-1].split() for g in re.findall(r"\([^)]*\)|\S+", side.strip())]
