"""Evaluating statements: assignments (tuple unpacking, augmented, attribute and item stores),
branches (joined, or chosen where the test is a known constant), loops (iterated to a fixed
point, or unrolled over modules known one by one), try/with/match, returns, and calls of the
class's own methods and of functions, evaluated inline."""

from __future__ import annotations

import libcst as cst

from mambafix.flow.calls import CallEval
from mambafix.flow.context import MAX_DEPTH, Context
from mambafix.flow.models import Func, Mod
from mambafix.flow.values import NOCONST, NONE_V, V, const, flat, join, join_states, union
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import int_value

MAX_TRIPS = 8  # fixed-point iterations of one loop
MAX_UNROLL = 16  # a loop over this many known modules is evaluated module by module


class Evaluator(CallEval):
    def __init__(self, ctx: Context, inst, func: cst.FunctionDef | None, loops: tuple = (), depth: int = 0,
                 active: tuple = ()) -> None:
        self.ctx = ctx
        self.facts = ctx.facts
        self.inst = inst
        self.func = func
        self.loops = loops
        self.depth = depth
        self.active = active  # the functions being evaluated, outermost first (recursion guard)
        self.stmt = None
        self.returns: list[V] = []
        self.breaks: list[dict] = []
        self.continues: list[dict] = []

    # -- functions --------------------------------------------------------------------------
    def run(self, func: cst.FunctionDef, env: dict) -> V:
        """Evaluate a function body from `env`; what it returns (joined over its returns)."""
        self.block(func.body, env)
        out = None
        for value in self.returns:
            out = join(out, value)
        return out if out is not None else NONE_V

    def inline(self, func: Func, args: list[V], kwargs: dict[str, V], node) -> V:
        if self.depth >= MAX_DEPTH or func.node in self.active:
            return self.carry(node, args, kwargs, "")
        env = dict(func.closure or {})
        env.update(bind_params(self, func.node, args, kwargs, skip_first=func.bound and not _static(func.node)))
        sub = Evaluator(self.ctx, self.inst, func.node, self.loops, self.depth + 1, self.active + (func.node,))
        return sub.run(func.node, env)

    def base_transfer(self):
        return self.inst.base_transfer() if self.inst is not None else None

    # -- statements -------------------------------------------------------------------------
    def block(self, block, env: dict | None) -> dict | None:
        if isinstance(block, cst.SimpleStatementSuite):
            return self.line(block.body, env)
        for stmt in getattr(block, "body", ()):
            if env is None:
                return None
            env = self.statement(stmt, env)
        return env

    def statement(self, stmt, env: dict) -> dict | None:
        self.ctx.tick()
        if isinstance(stmt, cst.SimpleStatementLine):
            return self.line(stmt.body, env)
        if isinstance(stmt, cst.If):
            return self.branch(stmt, env)
        if isinstance(stmt, cst.For):
            return self.for_loop(stmt, env)
        if isinstance(stmt, cst.While):
            return self.while_loop(stmt, env)
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                value = self.ev(item.item, env)
                if item.asname is not None:
                    self.assign(item.asname.name, value, env)
            return self.block(stmt.body, env)
        if isinstance(stmt, (cst.Try, cst.TryStar)):
            return self.try_block(stmt, env)
        if isinstance(stmt, cst.Match):
            self.ev(stmt.subject, env)
            out = None
            for case in stmt.cases:
                out = join_states(out, self.block(case.body, dict(env)))
            return join_states(out, env)
        if isinstance(stmt, cst.FunctionDef):
            env[stmt.name.value] = V(mods=frozenset({Func(stmt, closure=env)}))
            return env
        return env

    def line(self, smalls, env: dict | None) -> dict | None:
        for small in smalls:
            if env is None:
                return None
            self.stmt = small
            env = self.small(small, env)
        return env

    def small(self, small, env: dict) -> dict | None:
        if isinstance(small, cst.Assign):
            value = self.ev(small.value, env)
            for target in small.targets:
                self.assign(target.target, value, env)
        elif isinstance(small, cst.AugAssign):
            value = self.augmented(small, env)
            self.assign(small.target, value, env)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.assign(small.target, self.ev(small.value, env), env)
        elif isinstance(small, cst.Expr):
            self.ev(small.value, env)
        elif isinstance(small, cst.Return):
            self.returns.append(self.ev(small.value, env) if small.value is not None else const(None))
            return None
        elif isinstance(small, cst.Raise):
            return None
        elif isinstance(small, cst.Break):
            self.breaks.append(dict(env))
            return None
        elif isinstance(small, cst.Continue):
            self.continues.append(dict(env))
            return None
        return env

    def augmented(self, small: cst.AugAssign, env: dict) -> V:
        node = cst.BinaryOperation(left=small.target, operator=_AUG.get(type(small.operator), cst.Add)(),
                                   right=small.value)
        return self.binary(node, env)

    def assign(self, target, value: V, env: dict) -> None:
        if isinstance(target, cst.Name):
            env[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            starred = any(isinstance(e, cst.StarredElement) for e in elements)
            if value.items is not None and len(value.items) == len(elements) and not starred:
                for element, item in zip(elements, value.items):
                    self.assign(element.value, item, env)
            else:
                whole = flat(value)
                for element in elements:
                    self.assign(element.value, whole, env)
        elif isinstance(target, cst.Attribute):
            if isinstance(target.value, cst.Name) and target.value.value == "self":
                env[f"self.{target.attr.value}"] = value
        elif isinstance(target, cst.Subscript):
            base = target.value  # `x[:, i] = y`, `outs[k] = y`: the container now holds y too
            while isinstance(base, cst.Subscript):
                base = base.value
            if isinstance(base, cst.Name) and base.value in env:
                env[base.value] = join(flat(env[base.value]), flat(value))
        elif isinstance(target, cst.StarredElement):
            self.assign(target.value, value, env)

    def branch(self, stmt: cst.If, env: dict) -> dict | None:
        test = self.ev(stmt.test, env)
        orelse = stmt.orelse
        if test.const is not NOCONST and not isinstance(test.const, (list, tuple, dict)) or test.mods and not test.data:
            taken = bool(test.const) if test.const is not NOCONST else True
            if taken:
                return self.block(stmt.body, env)
            return self._orelse(orelse, env)
        left = self.block(stmt.body, dict(env))
        right = self._orelse(orelse, dict(env))
        return join_states(left, right)

    def _orelse(self, orelse, env: dict) -> dict | None:
        if orelse is None:
            return env
        if isinstance(orelse, cst.If):
            return self.branch(orelse, env)
        return self.block(orelse.body, env)

    def try_block(self, stmt, env: dict) -> dict | None:
        after = self.block(stmt.body, dict(env))
        seen = join_states(env, after)
        out = self.block(stmt.orelse.body, after) if stmt.orelse is not None and after is not None else after
        for handler in stmt.handlers:
            out = join_states(out, self.block(handler.body, dict(seen)))
        if stmt.finalbody is not None:
            out = self.block(stmt.finalbody.body, out if out is not None else dict(seen))
        return out

    # -- loops ------------------------------------------------------------------------------
    def for_loop(self, loop: cst.For, env: dict) -> dict | None:
        iterated = self.ev(loop.iter, env)
        sequence = self.unrolled(loop.iter, iterated, env)
        outer_breaks, outer_continues = self.breaks, self.continues
        self.breaks, self.continues = [], []
        saved = self.loops
        self.loops = saved + (loop,)
        try:
            if sequence is not None:
                state = env
                for element in sequence:
                    if state is None:
                        break
                    state = dict(state)
                    self.assign(loop.target, element, state)
                    state = self.block(loop.body, state)
                    for cont in self.continues:
                        state = join_states(state, cont)
                    self.continues = []
                out = state
            else:
                element = self.iterated_value(loop.iter, iterated, env)
                out = self.fixed_point(loop, loop.body, env, lambda s: self.assign(loop.target, element, s))
            for broken in self.breaks:
                out = join_states(out, broken)
        finally:
            self.loops = saved
            self.breaks, self.continues = outer_breaks, outer_continues
        if loop.orelse is not None and out is not None:
            out = self.block(loop.orelse.body, out)
        return out

    def while_loop(self, loop: cst.While, env: dict) -> dict | None:
        outer_breaks, outer_continues = self.breaks, self.continues
        self.breaks, self.continues = [], []
        saved = self.loops
        self.loops = saved + (loop,)
        try:
            out = self.fixed_point(loop, loop.body, env, lambda s: self.ev(loop.test, s))
            for broken in self.breaks:
                out = join_states(out, broken)
        finally:
            self.loops = saved
            self.breaks, self.continues = outer_breaks, outer_continues
        return out

    def fixed_point(self, loop, body, env: dict, enter) -> dict | None:
        """The states at the loop's head after any number of trips, joined; the loop's exit state."""
        head = dict(env)
        applied = self.ctx.applied
        for _ in range(MAX_TRIPS):
            state = self.trip(body, head, enter)
            new_head = join_states(head, state)
            if new_head == head:
                break
            head = new_head
        if self.ctx.applied > applied:
            self.probe_skips(loop, body, head, enter)
        return head

    def trip(self, body, head: dict, enter) -> dict | None:
        state = dict(head)
        enter(state)
        state = self.block(body, state)
        for cont in self.continues:
            state = join_states(state, cont)
        self.continues = []
        return state

    def probe_skips(self, loop, body, head: dict, enter) -> None:
        """One more trip with each carried name marked: a name whose marker reaches the end of the
        trip has a path around the trip's SSM layers (a skip connection, norms or not)."""
        state = dict(head)
        for name, value in head.items():
            if value.data and not name.startswith("self."):
                state[name] = V(value.taint, frozenset({("head", id(loop), name)}), value.mods, value.items,
                                value.const, value.stat, value.inv, value.kernel, value.steps)
        breaks = self.breaks
        self.breaks = []
        end = self.trip(body, state, enter)
        self.breaks = breaks
        for name in head:
            key = (id(loop), name)
            around = end is not None and name in end and ("head", id(loop), name) in flat(end[name]).deps
            self.ctx.skips[key] = self.ctx.skips.get(key, False) or around

    def unrolled(self, iter_expr, iterated: V, env: dict) -> list[V] | None:
        """The values a loop binds, one per trip, where the trips are known: modules of a
        container known one by one, `range(<literal>)`, and enumerate/zip/reversed of those."""
        if isinstance(iter_expr, cst.Call):
            name = dotted(iter_expr.func) if iter_expr.func is not None else None
            args = [a.value for a in iter_expr.args]
            if name == "range" and len(args) == 1 and "range" not in env:
                n = self.ev(args[0], env).const
                if isinstance(n, int) and 0 <= n <= MAX_UNROLL and _literal_count(args[0], self, env):
                    return [const(i) for i in range(n)]
                count = self._len_of(args[0], env)
                return [const(i) for i in range(count)] if count is not None else None
            if name == "enumerate" and args:
                inner = self.unrolled(args[0], self.ev(args[0], env), env)
                return None if inner is None else [V(items=(const(i), v)) for i, v in enumerate(inner)]
            if name in ("reversed",) and args:
                inner = self.unrolled(args[0], self.ev(args[0], env), env)
                return None if inner is None else inner[::-1]
            if name == "zip" and args:
                parts = [self.unrolled(a, self.ev(a, env), env) for a in args]
                if all(p is not None for p in parts) and len({len(p) for p in parts}) == 1:
                    return [V(items=tuple(p[i] for p in parts)) for i in range(len(parts[0]))]
                return None
            if isinstance(iter_expr.func, cst.Attribute) and iter_expr.func.attr.value in ("children", "named_children") \
                    and isinstance(iter_expr.func.value, cst.Name) and iter_expr.func.value.value == "self" and self.inst:
                mods = self.inst.children()
                named = iter_expr.func.attr.value == "named_children"
                return [V(items=(V(), V(mods=frozenset({m})))) if named else V(mods=frozenset({m})) for m in mods]
        if iterated.items is not None and len(iterated.items) <= MAX_UNROLL:  # a literal tuple or list
            return list(iterated.items)
        mods = [m for m in iterated.mods if isinstance(m, Mod)]
        if len(mods) == 1 and mods[0].is_container and mods[0].elements and mods[0].count is not None \
                and len(mods[0].elements) <= MAX_UNROLL and not iterated.data:
            return [V(mods=frozenset({e})) for e in mods[0].elements]
        if len(mods) == 1 and mods[0].is_container and mods[0].repeated is not None and mods[0].count == 1:
            return [V(mods=frozenset({mods[0].repeated}))]
        return None

    def _len_of(self, expr, env: dict) -> int | None:
        """`len(self.layers)` of a container whose length is known."""
        if isinstance(expr, cst.Call) and dotted(expr.func) == "len" and expr.args:
            value = self.ev(expr.args[0], env)
            mods = [m for m in value.mods if isinstance(m, Mod) and m.is_container]
            if len(mods) == 1 and mods[0].count is not None and mods[0].count <= MAX_UNROLL:
                return mods[0].count
        return None

    def iterated_value(self, iter_expr, iterated: V, env: dict) -> V:
        """What a loop binds on a trip that is not known one by one."""
        if isinstance(iter_expr, cst.Call):
            name = dotted(iter_expr.func)
            args = [a.value for a in iter_expr.args]
            if name == "enumerate" and args:
                return V(items=(V(), self.iterated_value(args[0], self.ev(args[0], env), env)))
            if name == "zip" and args:
                return V(items=tuple(self.iterated_value(a, self.ev(a, env), env) for a in args))
            if name in ("reversed", "list", "tuple", "iter", "sorted") and args:
                return self.iterated_value(args[0], self.ev(args[0], env), env)
            if name == "range":
                return V()
            if isinstance(iter_expr.func, cst.Attribute) and iter_expr.func.attr.value == "items":
                return V(items=(V(), self.iterated(self.ev(iter_expr.func.value, env))))
        return self.iterated(iterated)


def _literal_count(expr, ev: Evaluator, env: dict) -> bool:
    """A trip count written as a literal (`range(4)`), not a parameter's default: a count the
    caller sets is not known, whatever its default."""
    return isinstance(expr, cst.Integer) or (isinstance(expr, cst.UnaryOperation) and isinstance(expr.expression, cst.Integer))


def _static(func: cst.FunctionDef) -> bool:
    return any(dotted(d.decorator) == "staticmethod" for d in func.decorators)


def bind_params(ev: Evaluator, func: cst.FunctionDef, args: list[V], kwargs: dict[str, V],
                skip_first: bool) -> dict:
    """The values of a function's parameters at a call: positional, keyword, defaults (literals)."""
    params = func.params
    positional = [*params.posonly_params, *params.params]
    if skip_first:
        positional = positional[1:]
    env: dict = {}
    rest = list(args)
    for param in positional:
        name = param.name.value
        if rest:
            env[name] = rest.pop(0)
        elif name in kwargs:
            env[name] = kwargs[name]
        else:
            env[name] = default_value(param)
    if isinstance(params.star_arg, cst.Param):
        env[params.star_arg.name.value] = V(items=tuple(rest)) if rest else V(items=())
    for param in params.kwonly_params:
        name = param.name.value
        env[name] = kwargs.get(name, default_value(param))
    if isinstance(params.star_kwarg, cst.Param):
        extra = [v for k, v in kwargs.items() if k not in env]
        env[params.star_kwarg.name.value] = union(extra) if extra else V()
    return env


def default_value(param: cst.Param) -> V:
    if param.default is None:
        return NONE_V
    node = param.default
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return const({"True": True, "False": False, "None": None}[node.value])
    value = int_value(node) if isinstance(node, cst.Integer) else NOCONST
    return const(value) if value is not NOCONST and value is not None else NONE_V


_AUG = {
    cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide, cst.MatrixMultiplyAssign: cst.MatrixMultiply, cst.PowerAssign: cst.Power,
}
