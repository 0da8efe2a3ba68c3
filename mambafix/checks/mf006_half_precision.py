"""MF006 half-precision-ssm-parameters: a module holding SSM layers gets its parameters in float16
or bfloat16 (a cast, a half `dtype=` at construction, a half default dtype)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import libcst as cst

from mambafix.catalogue import load_rules
from mambafix.checks import needles
from mambafix.checks.base import Diagnostic
from mambafix.facts.holders import held
from mambafix.facts.scopes import Scope, calls_in, scopes
from mambafix.flow.file_facts import FileFacts
from mambafix.syntax.names import Family
from mambafix.syntax.nodes import call_arg, code, string_text
from mambafix.syntax.walk import small_statements

CODE = "MF006"
NO_FIX = "keep the parameters in float32 and run the forward under torch.autocast (the training loop is not in view)"


@lru_cache(maxsize=1)
def _data() -> tuple[dict, frozenset, dict, tuple, Family]:
    data = load_rules()[CODE].data
    half = {}
    for name in data["half_dtypes"]:
        half[name] = "bfloat16" if "bf" in name else "float16"
    return (half, frozenset(n for n in data["half_dtypes"] if "." not in n), dict(data["cast_methods"]),
            tuple(data["dtype_keywords"]), Family(data["default_dtype_setters"]))


class HalfPrecision:
    code = CODE

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        if not needles.holds(facts.source, needles.HALF):
            return
        for scope in scopes(facts):
            owner = scope.cls.name.value if scope.cls is not None else (
                scope.func.name.value if scope.func is not None else "module")
            pending = []  # torch.set_default_dtype(half) calls waiting for an SSM module built after them
            for stmt in scope.walk():
                for small in small_statements(stmt):
                    calls = calls_in(facts, small)
                    for call in calls:
                        if not _may_cast(call):
                            continue
                        found = self._cast(facts, call, scope)
                        if found is not None:
                            yield Diagnostic(CODE, small, (("owner", owner), ("what", found[0]), ("dtype", found[1])),
                                             no_fix=NO_FIX)
                    for setter, dtype in pending[:]:
                        built = next((h for h in (held(facts, c, scope) for c in calls) if h is not None), None)
                        if built is not None:
                            pending.remove((setter, dtype))
                            what = f"`{code(setter.value)}` comes before {built.display} is built"
                            yield Diagnostic(CODE, setter, (("owner", owner), ("what", what), ("dtype", dtype)),
                                             no_fix=NO_FIX)
                    setter = self._default_dtype(facts, small, scope)
                    if setter is not None:
                        pending.append((small, setter))

    def _cast(self, facts, call: cst.Call, scope: Scope) -> tuple[str, str] | None:
        """(what is cast and how, the half dtype) for a cast of an SSM module to half precision."""
        half, _, methods, keywords, _ = _data()
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in methods:
            fixed = methods[func.attr.value]
            dtype = fixed or self._dtype_among(facts, [a.value for a in call.args if a.keyword is None or
                                                       a.keyword.value == "dtype"], scope)
            if dtype is None:
                return None
            module = held(facts, func.value, scope)
            if module is None:
                return None
            cast = f".{func.attr.value}({_args(call)})"
            what = "an SSM layer" if module.layer else "which holds SSM layers"
            return f"`{_shown(func.value)}` ({module.display}, {what}) is cast by `{cast}`", dtype
        for keyword in keywords:
            given = call_arg(call, (keyword,), None)
            if given is None:
                continue
            dtype = self._dtype(facts, given, scope, strings=True)
            if dtype is None:
                continue
            module = held(facts, call, scope)
            if module is not None:
                return f"{module.display} is built with `{keyword}={code(given)}`", dtype
        return None

    def _default_dtype(self, facts, small, scope: Scope) -> str | None:
        call = small.value if isinstance(small, cst.Expr) else None
        if not isinstance(call, cst.Call) or not call.args or not _data()[4].match_any(facts.resolver.candidates(call.func)):
            return None
        return self._dtype(facts, call.args[0].value, scope)

    def _dtype_among(self, facts, exprs, scope: Scope) -> str | None:
        for expr in exprs:
            found = self._dtype(facts, expr, scope)
            if found is not None:
                return found
        return None

    def _dtype(self, facts, expr, scope: Scope | None, strings: bool = False, depth: int = 0) -> str | None:
        """The half dtype an expression may stand for, or None."""
        half, names, *_ = _data()
        if expr is None or depth > 6:
            return None
        if isinstance(expr, cst.IfExp):  # either branch may be the path taken
            return self._dtype(facts, expr.body, scope, strings, depth + 1) or \
                self._dtype(facts, expr.orelse, scope, strings, depth + 1)
        if strings and isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
            text = string_text(expr)
            return half.get(text) if text in names else None
        if isinstance(expr, cst.Call) and facts.resolver.qualify(expr.func) == "getattr" and len(expr.args) == 2 \
                and facts.resolver.qualify(expr.args[0].value) == "torch":
            text = string_text(expr.args[1].value)
            return half.get(text) if text in names else None
        if isinstance(expr, cst.Name) and scope is not None:
            where, bound = scope.lookup(expr.value)
            if where == "bound":
                return self._dtype(facts, bound, scope, strings, depth + 1)
            if where in ("param", "module"):
                return self._dtype(facts, bound, scope.parent, strings, depth + 1)
            return None
        qualified = facts.resolver.qualify(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
        return half.get(qualified) if qualified and "." in qualified else None


def _may_cast(call: cst.Call) -> bool:
    """A method that casts, or a dtype keyword given: the only calls worth reading further."""
    _, _, methods, keywords, _ = _data()
    if isinstance(call.func, cst.Attribute) and call.func.attr.value in methods:
        return True
    return any(a.keyword is not None and a.keyword.value in keywords for a in call.args)


def _args(call: cst.Call) -> str:
    return ", ".join(code(a).strip().rstrip(",").strip() for a in call.args)


def _shown(expr) -> str:
    """An expression as a message shows it: on one line, a long call as `Name(...)`."""
    text = code(expr)
    if "\n" not in text and len(text) <= 60:
        return text
    if isinstance(expr, cst.Call):
        return f"{_shown(expr.func)}(...)"
    return " ".join(text.split())[:57] + "..."


CHECK = HalfPrecision()
