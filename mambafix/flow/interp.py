"""Evaluating statements: assignments (tuple unpacking, augmented, attribute and item stores),
branches (joined, or chosen where the test is a known constant), loops (iterated to a fixed
point, or unrolled over modules known one by one), try/with/match, returns, and calls of the
class's own methods and of functions, evaluated inline."""

from __future__ import annotations

import libcst as cst

from mambafix.flow.calls import CallEval
from mambafix.flow.loops import LoopEval
from mambafix.flow.context import MAX_DEPTH, Context
from mambafix.flow.models import Func, Mod
from mambafix.flow.values import NOCONST, NONE_V, V, const, flat, join, join_states, union
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import int_value



class Evaluator(LoopEval, CallEval):
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
            members = None if starred or value.items is not None else unpacked_modules(value, len(elements))
            if value.items is not None and len(value.items) == len(elements) and not starred:
                for element, item in zip(elements, value.items):
                    self.assign(element.value, item, env)
            elif members is not None:  # `mixer, proj = self.blocks[i]`: a ModuleList's modules, one by one
                for element, member in zip(elements, members):
                    self.assign(element.value, member, env)
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


def unpacked_modules(value: V, n: int) -> list[V] | None:
    """What unpacking a value into `n` names gives where it holds only containers whose `n`
    modules are known one by one: the k-th module of each, per name; None otherwise."""
    mods = [m for m in value.mods if isinstance(m, Mod)]
    if not mods or len(mods) != len(value.mods) or value.data \
            or not all(m.is_container and len(m.elements) == n for m in mods):
        return None
    return [V(mods=frozenset(m.elements[k] for m in mods)) for k in range(n)]
