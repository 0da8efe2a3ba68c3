"""Where init hooks run over a module that holds SSM layers (MF005), and what each writes.

A site is `X.apply(fn)` (fn a method, a function of the file, a nested function, a lambda, a
`functools.partial` of one, or a library init function known as data), or a loop `for m in
X.modules()` / `for n, m in X.named_modules()` / `for p in X.parameters()` / `for n, p in
X.named_parameters()`, where X is or holds SSM layers (`facts.holders`). Inside a class's
`__init__`, `self` holds only what is built before the site."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import libcst as cst

from mambafix.catalogue import load_rules
from mambafix.checks.hook_eval import ModuleVal, ParamVal, PathVal, Run, Write
from mambafix.facts.builds import _partial_of, methods_of
from mambafix.facts.holders import Held, held
from mambafix.facts.init_scan import local_bases
from mambafix.facts.scopes import Scope
from mambafix.facts.ssm_params import LINEAR, InitParam
from mambafix.syntax.names import Family
from mambafix.syntax.nodes import code, self_attr
from mambafix.syntax.walk import small_statements, statements, walk_statements

MODULE_LOOPS = {"modules": False, "named_modules": True}
PARAMETER_LOOPS = {"parameters": False, "named_parameters": True}


@dataclass
class Site:
    node: cst.CSTNode  # the statement to report at
    text: str  # the site as written, for the message
    held: Held
    body: object  # the hook's body (a block), or a library entry (dict), or a lambda's call
    env: dict  # variable -> "module" | "param" | "name"
    methods: dict  # methods a `self.helper(m)` call in the hook can reach


@lru_cache(maxsize=1)
def _library_hooks() -> list[tuple[Family, dict]]:
    return [(Family(e["functions"]), e) for e in load_rules()["MF005"].data.get("library_init_hooks", ())]


def sites_at(facts, scope: Scope, stmt) -> list[Site]:
    """The init hooks the statement runs over modules that hold SSM parameters."""
    out = []
    if isinstance(stmt, cst.For) and isinstance(stmt.iter, cst.Call) and isinstance(stmt.iter.func, cst.Attribute):
        method = stmt.iter.func.attr.value
        if method in MODULE_LOOPS or method in PARAMETER_LOOPS:
            found = _receiver(facts, scope, stmt.iter.func.value, stmt)
            env = _loop_env(stmt.target, method)
            if found is not None and env:
                text = f"for {code(stmt.target)} in {code(stmt.iter)}"
                out.append(Site(stmt, text, found, stmt.body, env, _methods(facts, scope)))
    for small in small_statements(stmt):
        call = getattr(small, "value", None)
        if not (isinstance(small, cst.Expr) and isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "apply" and len(call.args) == 1):
            continue
        found = _receiver(facts, scope, call.func.value, stmt)
        if found is None:
            continue
        hook = _hook(facts, scope, call.args[0].value)
        if hook is not None:
            body, env, methods = hook
            out.append(Site(small, code(call), found, body, env, methods))
    return out


def _receiver(facts, scope: Scope, expr, stmt) -> Held | None:
    found = held(facts, expr, scope)
    if found is None or not found.params:
        return None
    if isinstance(expr, cst.Name) and expr.value == "self" and scope.func is not None \
            and scope.func.name.value == "__init__":
        later = _built_after(scope.func, stmt)
        params = tuple(p for p in found.params if p.path.split(".", 1)[0] not in later)
        return Held(found.ssm, found.display, params, found.call) if params else None
    return found


def _built_after(init: cst.FunctionDef, site) -> set[str]:
    """Attributes `__init__` assigns only after the site."""
    before, after, seen = set(), set(), False
    for stmt in walk_statements(init.body):
        if stmt is site or any(s is site for s in small_statements(stmt)):
            seen = True
        for small in small_statements(stmt):
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else []
            for target in targets:
                attr = self_attr(target)
                if attr:
                    (after if seen else before).add(attr)
    return after - before


def _loop_env(target, method: str) -> dict:
    names = [e.value for e in target.elements] if isinstance(target, cst.Tuple) else [target]
    if not all(isinstance(n, cst.Name) for n in names):
        return {}
    role = "module" if method in MODULE_LOOPS else "param"
    named = MODULE_LOOPS.get(method, PARAMETER_LOOPS.get(method))
    if named and len(names) == 2:
        return {names[0].value: "name", names[1].value: role}
    return {names[0].value: role} if not named and len(names) == 1 else {}


def _methods(facts, scope: Scope) -> dict:
    if scope.cls is None:
        return {}
    methods = {}
    for base in reversed(local_bases(facts, scope.cls)):
        methods.update(methods_of(base))
    methods.update(methods_of(scope.cls))
    return methods


def _hook(facts, scope: Scope, expr, depth: int = 0):
    """(body, env, methods) of the function `apply` is given, or None where it is not in view."""
    if depth > 4:
        return None
    partial = _partial_of(facts, expr)
    if partial is not None:
        return _hook(facts, scope, partial, depth + 1)
    if isinstance(expr, cst.Lambda):
        params = [p.name.value for p in expr.params.params]
        return (expr.body, {params[0]: "module"}, _methods(facts, scope)) if params else None
    methods = _methods(facts, scope)
    helper = self_attr(expr)
    if helper is not None:
        func = methods.get(helper)
        if func is None:
            return None
        params = [p.name.value for p in func.params.params]
        static = any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in func.decorators)
        params = params if static or params[:1] != ["self"] else params[1:]
        return (func.body, {params[0]: "module"}, methods) if params else None
    if isinstance(expr, cst.Name):
        func = _nested(scope, expr.value) or facts.functions.get(expr.value)
        if func is not None and expr.value not in facts.resolver.aliases:
            params = [p.name.value for p in func.params.params]
            return (func.body, {params[0]: "module"}, methods) if params else None
        if scope.lookup(expr.value)[0] == "bound":
            bound = scope.lookup(expr.value)[1]
            return _hook(facts, scope, bound, depth + 1) if bound is not None else None
    names = facts.resolver.candidates(expr)
    for family, entry in _library_hooks():
        if family.match_any(names):
            return entry, {}, {}
    return None


def _nested(scope: Scope, name: str) -> cst.FunctionDef | None:
    if scope.func is None:
        return None
    return next((s for s in statements(scope.func.body) if isinstance(s, cst.FunctionDef) and s.name.value == name), None)


def writes(facts, site: Site, target: InitParam) -> list[Write]:
    """The certain writes of the site's hook to one SSM parameter."""
    if isinstance(site.body, dict):  # a library init function: what the data says it writes
        out = []
        for write in site.body.get("writes", ()):
            if target.owner == LINEAR and target.name == write["attribute"] \
                    and not (write.get("unless_marked") == "_no_reinit" and target.no_reinit):
                out.append(Write(site.node, write["how"], 0.0 if write["how"] == "zeroes" else None, ()))
        return out
    env = {}
    for name, role in site.env.items():
        env[name] = ModuleVal() if role == "module" else ParamVal() if role == "param" else PathVal(
            target.owner_path if "module" in site.env.values() else target.path)
    run = Run(facts, target, env, set(env), [], site.methods)
    if isinstance(site.body, cst.BaseExpression):  # a lambda's body
        if isinstance(site.body, cst.Call):
            run._call(site.node, site.body, ())
    else:
        run.block(site.body)
    return run.writes
