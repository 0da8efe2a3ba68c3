"""Evaluating expressions over the abstract values: names, attributes, subscripts, operators,
literals and comprehensions. Calls are `calls.CallEval`'s; statements are `interp`'s."""

from __future__ import annotations

import libcst as cst

from mambafix.flow.models import Mod, Ref
from mambafix.flow.values import EMPTY, NOCONST, NONE_V, V, const, flat, join, union, with_step
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import int_value, string_text

_BUILTIN_CONSTS = {"True": True, "False": False, "None": None}
_CMP = {
    cst.Equal: lambda a, b: a == b, cst.NotEqual: lambda a, b: a != b, cst.Is: lambda a, b: a is b,
    cst.IsNot: lambda a, b: a is not b, cst.LessThan: lambda a, b: a < b, cst.GreaterThan: lambda a, b: a > b,
    cst.LessThanEqual: lambda a, b: a <= b, cst.GreaterThanEqual: lambda a, b: a >= b,
    cst.In: lambda a, b: a in b, cst.NotIn: lambda a, b: a not in b,
}


def literal(node: cst.BaseExpression):
    """The value of a literal number or string, else NOCONST."""
    if isinstance(node, cst.Integer):
        value = int_value(node)
        return NOCONST if value is None else value
    if isinstance(node, cst.Float):
        try:
            return float(node.value.replace("_", ""))
        except ValueError:
            return NOCONST
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return string_text(node)
    return NOCONST


class ExprEval:
    """Expressions; the subclass supplies `call`, `facts`, `inst`, `ctx`, `stmt`."""

    def ev(self, node: cst.BaseExpression, env: dict) -> V:
        self.ctx.tick()
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            return handler(self, node, env)
        value = literal(node)
        return const(value) if value is not NOCONST else NONE_V

    def _name(self, node: cst.Name, env: dict) -> V:
        return self.name(node.value, env)

    def unary(self, node: cst.UnaryOperation, env: dict) -> V:
        value = self.ev(node.expression, env)
        if isinstance(node.operator, cst.Not):
            return const(not value.const) if value.const is not NOCONST else V()
        if isinstance(node.operator, cst.Minus) and isinstance(value.const, (int, float)):
            return const(-value.const)
        return union([value])

    def if_expression(self, node: cst.IfExp, env: dict) -> V:
        test = self.ev(node.test, env)
        if test.const is not NOCONST:
            return self.ev(node.body if test.const else node.orelse, env)
        return join(self.ev(node.body, env), self.ev(node.orelse, env))

    def _elements(self, node, env: dict) -> V:
        return self.sequence(node.elements, env)

    def _values(self, node, env: dict) -> V:  # a set or dict literal: its values together
        return union([self.ev(e.value, env) for e in node.elements])

    def _walrus(self, node: cst.NamedExpr, env: dict) -> V:
        value = self.ev(node.value, env)
        self.assign(node.target, value, env)
        return value

    # -- names ------------------------------------------------------------------------------
    def name(self, name: str, env: dict) -> V:
        if name in env:
            return env[name]
        if name in _BUILTIN_CONSTS:
            return const(_BUILTIN_CONSTS[name])
        return self.global_name(name)

    def attribute(self, node: cst.Attribute, env: dict) -> V:
        attr = node.attr.value
        if isinstance(node.value, cst.Name) and node.value.value == "self" and "self" not in env:
            key = f"self.{attr}"
            if key in env:
                return env[key]
            if self.inst is not None and self.inst.is_ssm and self.facts.families.word("ssm_kernel_attributes", attr):
                return V(kernel=True)
            found = self.inst.attr(attr) if self.inst is not None else None
            return found if found is not None else V()
        if self.is_global_path(node, env):
            return V(mods=frozenset({Ref(node)}))
        base = self.ev(node.value, env)
        if base.mods and not base.data:
            return V()  # a sub-module or attribute of a module: not followed
        if self.facts.families.word("fresh_attributes", attr) or not base.data:
            return V()
        return with_step(union([base]), self.stmt, f".{attr}") if attr in ("T", "mT", "H") else union([base])

    @staticmethod
    def is_global_path(node: cst.BaseExpression, env: dict) -> bool:
        """`torch.nn.functional.gelu`, `F.gelu`: a dotted name whose head no local binds."""
        text = dotted(node)
        if text is None:
            return False
        head = text.split(".", 1)[0]
        return head != "self" and head not in env

    # -- subscripts -------------------------------------------------------------------------
    def subscript(self, node: cst.Subscript, env: dict) -> V:
        base = self.ev(node.value, env)
        index = None
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            index = self.ev(node.slice[0].slice.value, env).const
        else:
            for element in node.slice:  # evaluate the slice's parts (a walrus, a call)
                if isinstance(element.slice, cst.Index):
                    self.ev(element.slice.value, env)
        if base.mods:
            return V(mods=frozenset(m for mod in base.mods for m in self.indexed(mod, index)))
        if base.items is not None:
            if isinstance(index, int) and -len(base.items) <= index < len(base.items):
                return base.items[index]
            return flat(base)
        return union([base]) if base.data else V()

    def indexed(self, mod, index) -> tuple:
        if not isinstance(mod, Mod) or not mod.is_container:
            return (mod,)
        members = mod.members()
        if isinstance(index, int) and mod.elements and -len(mod.elements) <= index < len(mod.elements):
            return (mod.elements[index],)
        if index is NOCONST or isinstance(index, (int, str)):  # a position, or a key of a ModuleDict
            return members
        return (mod,)  # a slice: the container itself

    # -- operators --------------------------------------------------------------------------
    def binary(self, node: cst.BinaryOperation, env: dict) -> V:
        left, right = self.ev(node.left, env), self.ev(node.right, env)
        op = type(node.operator)
        if left.const is not NOCONST and right.const is not NOCONST:
            try:
                return const(_ARITH[op](left.const, right.const))
            except Exception:  # noqa: BLE001 - an odd constant is only unknown
                return V()
        if left.kernel or right.kernel:
            return self.kernel_meets(node, [left, right])
        if op in (cst.Multiply, cst.Divide, cst.Power, cst.MatrixMultiply):
            return scaled(op, left, right)
        out = union([left, right])
        if not (left.data and right.data):  # `var + eps` is still a statistic
            data = left if left.data else right
            return V(out.taint, out.deps, stat=data.stat, inv=data.inv, steps=out.steps)
        return with_step(out, self.stmt, "+") if op is cst.Add else out

    def boolean(self, node: cst.BooleanOperation, env: dict) -> V:
        left = self.ev(node.left, env)
        if left.const is not NOCONST:
            is_and = isinstance(node.operator, cst.And)
            if bool(left.const) != is_and:
                return left
            return self.ev(node.right, env)
        return join(left, self.ev(node.right, env))

    def comparison(self, node: cst.Comparison, env: dict) -> V:
        left = self.ev(node.left, env)
        result = True
        for target in node.comparisons:
            right = self.ev(target.comparator, env)
            left_c = _const_of(left)
            right_c = _const_of(right)
            if result is NOCONST or left_c is NOCONST or right_c is NOCONST:
                result = NOCONST
            else:
                try:
                    result = result and _CMP[type(target.operator)](left_c, right_c)
                except Exception:  # noqa: BLE001
                    result = NOCONST
            left = right
        return const(result) if result is not NOCONST else V()

    # -- literals ---------------------------------------------------------------------------
    def sequence(self, elements, env: dict) -> V:
        items = []
        starred = False
        for element in elements:
            value = self.ev(element.value, env)
            starred = starred or isinstance(element, cst.StarredElement)
            items.append(value)
        if starred:
            return union(items)
        mods = frozenset(m for v in items for m in v.mods)
        out = V(items=tuple(items))
        return V(mods=mods, items=out.items) if mods else out

    def comprehension(self, node, elt, env: dict) -> V:
        """Each element computed from the iterated value: parallel, never fed to the next."""
        local = dict(env)
        clause = node.for_in
        while clause is not None:
            self.assign(clause.target, self.iterated(self.ev(clause.iter, local)), local)
            for cond in clause.ifs:
                self.ev(cond.test, local)
            clause = clause.inner_for_in
        value = self.ev(elt, local)
        return V(value.taint, value.deps, value.mods, steps=value.steps)

    def iterated(self, value: V) -> V:
        """What iterating over a value gives (a container's elements; a tensor's slices)."""
        if value.mods:
            return V(mods=frozenset(m for mod in value.mods for m in self.indexed(mod, NOCONST)))
        if value.items is not None:
            return flat(value)
        return union([value]) if value.data else V()


def scaled(op, left: V, right: V) -> V:
    """Products, quotients and powers. A value times the inverse of its own scale statistic
    (`x * rsqrt(mean(x ** 2) + eps)`, `(x - mu) / sqrt(var + eps)`, `x / x.norm()`) is normalized:
    the labels it divides out leave its taint."""
    if op is cst.Power:
        power = right.const
        if isinstance(power, (int, float)):
            stat, inv = (left.inv, left.stat) if power < 0 else (left.stat, left.inv)
            return V(left.taint, left.deps, stat=stat, inv=inv, steps=left.steps)
        return union([left, right])
    out = union([left, right])
    if op is cst.Multiply:
        cancel = (left.taint & right.inv) | (right.taint & left.inv)
        stat = (EMPTY if right.data else left.stat) | (EMPTY if left.data else right.stat)
        inv = (EMPTY if right.data else left.inv) | (EMPTY if left.data else right.inv)
    elif op is cst.Divide:
        cancel = left.taint & right.stat
        stat = EMPTY if right.data else left.stat
        inv = EMPTY if left.data else right.stat  # 1 / std
    else:
        cancel = stat = inv = EMPTY
    taint = out.taint - cancel
    return V(taint, out.deps, stat=stat, inv=inv, steps=tuple(p for p in out.steps if p[0] in taint))


_HANDLERS = {
    cst.Name: ExprEval._name, cst.Attribute: ExprEval.attribute,
    cst.Call: lambda self, n, env: self.call(n, env), cst.Subscript: ExprEval.subscript,  # call: CallEval's
    cst.BinaryOperation: ExprEval.binary, cst.UnaryOperation: ExprEval.unary, cst.BooleanOperation: ExprEval.boolean,
    cst.Comparison: ExprEval.comparison, cst.IfExp: ExprEval.if_expression, cst.Tuple: ExprEval._elements,
    cst.List: ExprEval._elements, cst.Set: ExprEval._values, cst.Dict: ExprEval._values,
    cst.ListComp: lambda self, n, env: self.comprehension(n, n.elt, env),
    cst.GeneratorExp: lambda self, n, env: self.comprehension(n, n.elt, env),
    cst.SetComp: lambda self, n, env: self.comprehension(n, n.elt, env),
    cst.DictComp: lambda self, n, env: self.comprehension(n, n.value, env),
    cst.NamedExpr: ExprEval._walrus, cst.StarredElement: lambda self, n, env: self.ev(n.value, env),
    cst.Await: lambda self, n, env: self.ev(n.expression, env),
}


def _const_of(v: V):
    if v.const is not NOCONST:
        return v.const
    if v.mods and not v.data:
        return object()  # a module: not None, not equal to any constant
    return NOCONST


_ARITH = {
    cst.Add: lambda a, b: a + b, cst.Subtract: lambda a, b: a - b, cst.Multiply: lambda a, b: a * b,
    cst.Divide: lambda a, b: a / b, cst.FloorDivide: lambda a, b: a // b, cst.Modulo: lambda a, b: a % b,
    cst.Power: lambda a, b: a ** b,
}
