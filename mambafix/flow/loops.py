"""Evaluating loops: `for` over a container, a range, enumerate/zip/reversed of those, or a tuple
of modules (unrolled where the trips are known one by one), `while`, each otherwise iterated to
a fixed point of the states at its head; and the probe trip that finds a loop's skip connections."""

from __future__ import annotations

import libcst as cst

from mambafix.flow.models import Mod
from mambafix.flow.values import V, const, flat, join_states
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import literal_count

MAX_TRIPS = 8  # fixed-point iterations of one loop
MAX_UNROLL = 16  # a loop over this many known modules is evaluated module by module


class LoopEval:
    """Loops; the evaluator supplies `block`, `assign`, `ev` and its state (loops, breaks, continues)."""

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
                if isinstance(n, int) and 0 <= n <= MAX_UNROLL and literal_count(iter_expr):
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
