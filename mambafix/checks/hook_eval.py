"""Whether an init hook's body writes one SSM parameter (MF005): the body evaluated with its
module variable bound to the module that owns the parameter (the nn.Linear of a projection's
bias, or the SSM layer) and its parameter and name variables bound to the parameter and its path.

Tests are three-valued. One that the bindings decide (`isinstance(m, nn.Linear)`,
`m.bias is not None`, `getattr(m.bias, "_no_reinit", False)`, `p.dim() > 1`, `"bias" in name`)
takes its branch; one that mentions the module, the parameter or its name but cannot be decided
is a guard that may skip it (a write under it is not certain: no finding); one that mentions
none of them is configuration (`if self.zero_init:`): both branches are possible, as MF001
reads configuration. A `continue` or `return` under a decided test ends the walk."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from mambafix.checks.hook_values import PathVal, contains, how_written, member, path_equal, string_test
from mambafix.facts.ssm_init import LINEAR_CLASSES, written_tensor
from mambafix.facts.ssm_params import LINEAR, InitParam
from mambafix.syntax.nodes import names_in, self_attr, string_text
from mambafix.syntax.walk import small_statements, statements

MAX_CALL_DEPTH = 3
CONFIG = "config"  # a test that reads neither the module, nor the parameter, nor its name
MODULE_CLASS = "torch.nn.Module"


@dataclass(frozen=True)
class ModuleVal:
    """The module that owns the parameter."""


@dataclass(frozen=True)
class ParamVal:
    """The parameter itself."""


@dataclass(frozen=True)
class Write:
    node: cst.CSTNode  # the small statement that writes
    how: str  # "zeroes", "sets", "re-draws", "overwrites", "rescales"
    constant: float | None  # the value written, where one constant is
    tests: tuple  # the tests of the ifs around it, innermost last (the fix reads them)


@dataclass
class Run:
    """One evaluation of a hook for one parameter."""

    facts: object
    target: InitParam
    env: dict = field(default_factory=dict)
    derived: set = field(default_factory=set)  # names whose value comes from the bound variables
    writes: list = field(default_factory=list)
    methods: dict = field(default_factory=dict)  # the class's methods, for `self.helper(m)`
    depth: int = 0

    # ---- statements ----------------------------------------------------------------------
    def block(self, block, tests: tuple = ()) -> str:
        """Walk a block: "ok", or "stop" where it certainly ends here, "maybe" where a guard may end it."""
        for stmt in statements(block):
            result = self.statement(stmt, tests)
            if result != "ok":
                return result
        return "ok"

    def statement(self, stmt, tests: tuple) -> str:
        if isinstance(stmt, cst.If):
            return self._if(stmt, tests)
        if isinstance(stmt, cst.For):
            return self._for(stmt, tests)
        if isinstance(stmt, (cst.With, cst.Try, cst.While)):
            result = self.block(stmt.body, tests)
            return "ok" if isinstance(stmt, cst.While) else result
        for small in small_statements(stmt):
            if isinstance(small, (cst.Continue, cst.Return, cst.Break)):
                return "stop"
            self.small(small, tests)
        return "ok"

    def _if(self, stmt: cst.If, tests: tuple) -> str:
        decided = self.test(stmt.test)
        guard = decided is None
        decided = None if decided is CONFIG else decided
        results = []
        if decided is not False:
            results.append(self._branch(stmt.body, tests + (stmt.test,), guard))
        if decided is not True and stmt.orelse is not None:
            orelse = stmt.orelse
            body = orelse if isinstance(orelse, cst.If) else orelse.body
            results.append(self._branch(body, tests + (stmt.test,), guard))
        elif decided is not True:
            results.append("ok")
        if decided is None and not guard:  # configuration: a path that goes on is enough
            return "ok" if "ok" in results else ("maybe" if "maybe" in results else "stop")
        if all(r == "stop" for r in results):
            return "stop"
        return "maybe" if any(r != "ok" for r in results) else "ok"

    def _branch(self, body, tests: tuple, guard: bool) -> str:
        if not guard:
            return self.statement(body, tests) if isinstance(body, cst.If) else self.block(body, tests)
        before = len(self.writes)
        result = self.statement(body, tests) if isinstance(body, cst.If) else self.block(body, tests)
        del self.writes[before:]  # under a test the facts cannot decide: not certain
        return "maybe" if result != "ok" else "ok"

    def _for(self, stmt: cst.For, tests: tuple) -> str:
        it = stmt.iter
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) \
                and isinstance(self.value(it.func.value), ModuleVal) \
                and it.func.attr.value in ("parameters", "named_parameters"):
            saved = dict(self.env)
            self._bind_loop(stmt.target, it.func.attr.value == "named_parameters", self.target.name)
            self.block(stmt.body, tests)
            self.env = saved
            return "ok"
        self.block(stmt.body, tests)
        return "ok"

    def _bind_loop(self, target, named: bool, path: str) -> None:
        names = [e.value for e in target.elements] if isinstance(target, cst.Tuple) else [target]
        if named and len(names) == 2:
            self._set(names[0], PathVal(path))
            self._set(names[1], ParamVal())
        elif not named:
            self._set(names[0], ParamVal())

    def _set(self, target, value) -> None:
        if isinstance(target, cst.Name):
            self.env[target.value] = value
            self.derived.add(target.value)

    def small(self, small, tests: tuple) -> None:
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            self._call(small, small.value, tests)
        elif isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if isinstance(target, cst.Name):
                if self.mentions(small.value):
                    self.env[target.value] = self.value(small.value)
                    self.derived.add(target.value)
                else:
                    self.env.pop(target.value, None)
                    self.derived.discard(target.value)
            elif self._is_target(target) or (isinstance(target, cst.Attribute) and target.attr.value == "data"
                                             and self._is_target(target.value)):
                self.writes.append(Write(small, "overwrites", None, tests))
        elif isinstance(small, cst.AugAssign) and self._is_target(small.target):
            self.writes.append(Write(small, "rescales", None, tests))

    def _call(self, small, call: cst.Call, tests: tuple) -> None:
        written, how, constant = self._written(call)
        if written is not None and self._is_target(written):
            self.writes.append(Write(small, how, constant, tests))
            return
        self._helper(call, tests)

    def _written(self, call: cst.Call):
        """(tensor written, how, constant) for an in-place call, else (None, "", None)."""
        tensor = written_tensor(self.facts, call)
        if tensor is None:
            return None, "", None
        func = call.func
        method = isinstance(func, cst.Attribute) and tensor is func.value
        last = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
        args = [a.value for a in call.args]
        return (tensor, *how_written(last, args if method else args[1:]))

    def _helper(self, call: cst.Call, tests: tuple) -> None:
        """`self.helper(m)` or `helper(m)`: the callee's body, its parameter bound to the module."""
        if self.depth >= MAX_CALL_DEPTH:
            return
        helper = self_attr(call.func)
        func = self.methods.get(helper) if helper is not None else (
            self.facts.functions.get(call.func.value) if isinstance(call.func, cst.Name) else None)
        if func is None:
            return
        params = [p.name.value for p in func.params.params]
        if helper is not None and params[:1] == ["self"] and not _static(func):
            params = params[1:]
        bound = {}
        for i, arg in enumerate(a for a in call.args if a.keyword is None):
            if i < len(params) and self.mentions(arg.value):
                bound[params[i]] = self.value(arg.value)
        if not bound:
            return
        inner = Run(self.facts, self.target, bound, set(bound), [], self.methods, self.depth + 1)
        inner.block(func.body, tests)
        self.writes.extend(inner.writes)

    # ---- values and tests ------------------------------------------------------------------
    def mentions(self, expr) -> bool:
        return bool(names_in(expr) & self.derived)

    def value(self, expr):
        if isinstance(expr, cst.Name):
            return self.env.get(expr.value)
        if isinstance(expr, cst.Attribute):
            base = self.value(expr.value)
            attr = expr.attr.value
            if isinstance(base, ModuleVal):
                if attr == "__class__":
                    return ("class",)
                return ParamVal() if attr == self.target.name else ("other",)
            if base == ("class",) and attr == "__name__":
                return self._class_name()
            if isinstance(base, ParamVal) and attr == "data":
                return ParamVal()
            if isinstance(base, ParamVal) and attr == "ndim":
                return self.target.rank
            if isinstance(base, ParamVal) and attr == "requires_grad":
                return True
            if isinstance(base, ParamVal) and attr == "_no_reinit":
                return self.target.no_reinit
            return None
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
            return string_text(expr)
        if isinstance(expr, cst.Integer):
            return int(expr.value.replace("_", ""), 0)
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus) \
                and isinstance(expr.expression, cst.Integer):
            return -int(expr.expression.value.replace("_", ""), 0)
        if isinstance(expr, cst.Name) or not isinstance(expr, cst.Call):
            return None
        return self._call_value(expr)

    def _class_name(self) -> str:
        return "Linear" if self.target.owner == LINEAR else self.target.layer

    def _call_value(self, call: cst.Call):
        func, args = call.func, [a.value for a in call.args]
        name = self.facts.resolver.qualify(func) or ""
        if name == "type" and len(args) == 1 and isinstance(self.value(args[0]), ModuleVal):
            return ("class",)
        if name in ("getattr", "hasattr") and len(args) >= 2:
            base, attr = self.value(args[0]), string_text(args[1])
            if isinstance(base, ModuleVal):
                if attr == self.target.name:
                    return True if name == "hasattr" else ParamVal()
                if self.target.owner == LINEAR and attr in ("weight", "in_features", "out_features"):
                    return True if name == "hasattr" else ("other",)
                return None
            if isinstance(base, ParamVal) and attr == "_no_reinit":
                return self.target.no_reinit
            return None
        if name == "len" and len(args) == 1 and isinstance(args[0], cst.Attribute) and args[0].attr.value == "shape" \
                and isinstance(self.value(args[0].value), ParamVal):
            return self.target.rank
        if isinstance(func, cst.Attribute):
            base = self.value(func.value)
            method = func.attr.value
            if isinstance(base, ParamVal) and method in ("dim", "ndimension"):
                return self.target.rank
            if isinstance(base, (str, PathVal)) and method in ("startswith", "endswith", "find") and args:
                return string_test(base, method, self.value(args[0]))
        if name in ("any", "all") and len(args) == 1 and isinstance(args[0], (cst.GeneratorExp, cst.ListComp)):
            return self._any_all(name, args[0])
        return None

    def _any_all(self, name: str, comp) -> bool | None:
        items = comp.for_in.iter
        if not isinstance(items, (cst.List, cst.Tuple)) or not isinstance(comp.for_in.target, cst.Name):
            return None
        results = []
        var = comp.for_in.target.value
        for element in items.elements:
            self.env[var] = self.value(element.value)
            results.append(self.test(comp.elt))
        self.env.pop(var, None)
        results = [None if r is CONFIG else r for r in results]
        if name == "any":
            return True if True in results else (None if None in results else False)
        return False if False in results else (None if None in results else True)

    def test(self, expr):
        """The test's truth under the bindings: True, False, None where they do not decide a test
        of the module, the parameter or its name (a guard), CONFIG where the test reads none of them."""
        if isinstance(expr, cst.BooleanOperation):
            left, right = self.test(expr.left), self.test(expr.right)
            both = (left, right)
            if isinstance(expr.operator, cst.And):
                return False if False in both else None if None in both else CONFIG if CONFIG in both else True
            return True if True in both else CONFIG if CONFIG in both else None if None in both else False
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
            inner = self.test(expr.expression)
            return inner if inner is None or inner is CONFIG else not inner
        if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
            found = self._compare(expr.left, expr.comparisons[0].operator, expr.comparisons[0].comparator)
        elif isinstance(expr, cst.Call) and self.facts.resolver.qualify(expr.func) == "isinstance" and len(expr.args) == 2:
            found = self._isinstance(expr.args[0].value, expr.args[1].value)
        else:
            found = self.value(expr)
            found = found if isinstance(found, bool) else None
        return CONFIG if found is None and not self.mentions(expr) else found

    def _compare(self, left, op, right) -> bool | None:
        if isinstance(op, (cst.Is, cst.IsNot)) and isinstance(right, cst.Name) and right.value == "None":
            base = self.value(left)
            if isinstance(base, ParamVal):
                return isinstance(op, cst.IsNot)
            return None
        if isinstance(op, (cst.Is, cst.IsNot, cst.Equal, cst.NotEqual)) and self.value(left) == ("class",):
            same = self._isinstance(None, right, exact=True)
            return None if same is None else same == isinstance(op, (cst.Is, cst.Equal))
        a, b = self.value(left), self.value(right)
        if isinstance(op, (cst.In, cst.NotIn)):
            found = contains(b, a) if not isinstance(right, (cst.List, cst.Tuple, cst.Set)) else \
                member(a, [self.value(e.value) for e in right.elements])
            return None if found is None else found == isinstance(op, cst.In)
        if isinstance(a, PathVal) or isinstance(b, PathVal):
            return path_equal(a, b, op)
        if isinstance(a, (int, str)) and isinstance(b, (int, str)) and type(a) is type(b):
            compare = {cst.Equal: a == b, cst.NotEqual: a != b}
            if isinstance(a, int):
                compare.update({cst.GreaterThan: a > b, cst.GreaterThanEqual: a >= b, cst.LessThan: a < b,
                                cst.LessThanEqual: a <= b})
            return compare.get(type(op))
        return None

    def _isinstance(self, subject, classes, exact: bool = False) -> bool | None:
        if subject is not None and not isinstance(self.value(subject), ModuleVal):
            return True if isinstance(self.value(subject), ParamVal) and not exact else None
        options = [e.value for e in classes.elements] if isinstance(classes, cst.Tuple) else [classes]
        results = [self._is_class(option, exact) for option in options]
        return True if True in results else (None if None in results else False)

    def _is_class(self, expr, exact: bool) -> bool | None:
        names = self.facts.resolver.candidates(expr)
        if not names:
            return None
        if names[0] == MODULE_CLASS:
            return not exact
        if self.target.owner == LINEAR:
            return any(n in LINEAR_CLASSES for n in names)
        return any(n.rsplit(".", 1)[-1] == self.target.layer for n in names)

    def _is_target(self, expr) -> bool:
        return isinstance(self.value(expr), ParamVal)


def _static(func: cst.FunctionDef) -> bool:
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in func.decorators)
