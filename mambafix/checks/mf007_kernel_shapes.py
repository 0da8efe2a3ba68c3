"""MF007 mamba2-shape-rejected-by-kernels: a mamba_ssm layer built with sizes that mamba_ssm or its
CUDA kernels reject, where the file fixes the sizes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import libcst as cst

from mambafix.checks.base import Diagnostic
from mambafix.facts import kernels
from mambafix.facts.installed import find_module
from mambafix.facts.numbers import UNKNOWN, value
from mambafix.facts.scopes import Scope, calls_in, scopes
from mambafix.flow.file_facts import FileFacts
from mambafix.syntax.nodes import call_arg, string_text
from mambafix.syntax.walk import small_statements

CODE = "MF007"


class KernelShapes:
    code = CODE

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        names = _local_names(facts)
        if facts.source is not None and not any(f"{name}(".encode() in facts.source for name in names):
            return  # no construction of a layer or config of the data in this file
        for scope in scopes(facts):
            for stmt in scope.walk():
                for small in small_statements(stmt):
                    for call in calls_in(facts, small):
                        if _callee(call) not in names:
                            continue
                        found = check_call(facts, call, scope)
                        if found is not None:
                            layer, values, broken = found
                            yield _diagnostic(small, layer, values, broken)


def _local_names(facts) -> frozenset[str]:
    """The names a call of a layer or config of the data can go by in this file: the classes'
    own names, and the local names imports bind to them."""
    key = ("MF007-names",)
    if key not in facts.memo:
        known = {c.rsplit(".", 1)[-1] for layer in kernels.catalogue()[0] for c in layer.classes}
        known |= {c.rsplit(".", 1)[-1] for config in kernels.catalogue()[2] for c in config["classes"]}
        local = {name for name, full in facts.resolver.aliases.items() if full.rsplit(".", 1)[-1] in known}
        facts.memo[key] = frozenset(known | local)
    return facts.memo[key]


def _callee(call: cst.Call) -> str | None:
    func = call.func
    return func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None


def check_call(facts, call: cst.Call, scope: Scope):
    """(layer, sizes, violations) for a construction that breaks a constraint, else None."""
    names = facts.resolver.candidates(call.func)
    if not names:
        return None
    layer = kernels.layer_for(names)
    given = None
    if layer is not None:
        given = arguments(facts, call, layer.params, scope)
    else:
        layer, given = _config(facts, call, names, scope)
    if layer is None or given is None:
        return None
    values = kernels.sizes(layer, given)
    broken = kernels.violations(layer, values)
    if any(v.constraint.before for v in broken):  # lifted by a later release: which one is in view?
        version = package_version(facts, names)
        broken = [v for v in broken
                  if not (v.constraint.before and version and not kernels.release_before(version, v.constraint.before))]
    shown = {name: values[name] for name in layer.params if given.get(name, kernels.DEFAULT) is not kernels.DEFAULT}
    return (layer, shown, broken) if broken else None


MAX_UP = 6  # folders above the file searched for a vendored mamba_ssm
_VERSION = re.compile(rb"""__version__\s*=\s*["']([^"']+)["']""")


def package_version(facts, names: list[str]) -> str | None:
    """The version of the mamba_ssm the call uses where it is in view: a copy vendored beside the
    file (the package's folder found from the file's folder or one above it; its `__init__.py`'s
    `__version__`), else the installed package; None if neither."""
    for name in names:
        parts = name.split(".")
        if "mamba_ssm" not in parts:
            continue
        package = tuple(parts[: parts.index("mamba_ssm") + 1])
        here = Path(facts.path).resolve().parent if getattr(facts, "path", None) else None
        vendored = _vendored(str(here), package[-3:]) if here is not None else None
        return _read_version(vendored or find_module(".".join(package)))
    return None


@lru_cache(maxsize=256)
def _vendored(folder: str, package: tuple[str, ...]) -> str | None:
    """`<ancestor>/<tail of the package path>/__init__.py` nearest to the folder."""
    here = Path(folder)
    for ancestor in (here, *list(here.parents)[:MAX_UP]):
        for start in range(len(package)):
            candidate = ancestor.joinpath(*package[start:], "__init__.py")
            if candidate.is_file():
                return str(candidate)
    return None


@lru_cache(maxsize=64)
def _read_version(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        found = _VERSION.search(Path(path).read_bytes()[:20000])
    except OSError:
        return None
    return found.group(1).decode("ascii", "replace") if found else None


def arguments(facts, call: cst.Call, params: tuple[str, ...], scope: Scope) -> dict:
    """Each size parameter's value at the call: a known number, DEFAULT where the call leaves it
    out, absent where it is unknown (also every parameter a `*args`/`**kwargs` may give)."""
    starred = any(a.star for a in call.args)
    positional = []
    for arg in call.args:
        if arg.star or arg.keyword is not None:
            break
        positional.append(arg.value)
    given: dict = {}
    for i, name in enumerate(params):
        expr = call_arg(call, (name,), None)
        if expr is None and i < len(positional):
            expr = positional[i]
        if expr is None:
            if not starred:
                given[name] = kernels.DEFAULT
            continue
        found = value(facts, expr, scope)
        if found is None:
            given[name] = kernels.DEFAULT
        elif found is not UNKNOWN and isinstance(found, (int, float)) and not isinstance(found, bool):
            given[name] = found
    return given


def _config(facts, call: cst.Call, names: list[str], scope: Scope):
    """`MambaConfig(d_model=..., ssm_cfg={"layer": "Mamba2", ...})`: the layer its model builds."""
    for config in kernels.catalogue()[2]:
        if not any(name in config["classes"] for name in names):
            continue
        options = call_arg(call, (config["options"],), None)
        if options is not None and not isinstance(options, cst.Dict):
            return None, None
        entries = {string_text(e.key): e.value for e in (options.elements if options is not None else ())
                   if isinstance(e, cst.DictElement)}
        if options is not None and len(entries) != len(options.elements):
            return None, None  # `**defaults` inside the dict: the options are not all known
        kind = config["default_layer"]
        if config["layer_key"] in entries:
            kind = value(facts, entries.pop(config["layer_key"]), scope)
        layer = kernels.layer_for([config["layers"].get(kind, "")]) if isinstance(kind, str) else None
        if layer is None:
            return None, None
        width = call_arg(call, (config["width"],), None)
        d_model = config["width_default"] if width is None else value(facts, width, scope)
        given = {name: kernels.DEFAULT for name in layer.params}
        for name, expr in entries.items():
            if name in given:
                found = value(facts, expr, scope)
                if isinstance(found, (int, float)) and not isinstance(found, bool):
                    given[name] = found
                else:
                    given.pop(name)
        if isinstance(d_model, int) and not isinstance(d_model, bool):
            given["d_model"] = d_model
        else:
            given.pop("d_model", None)
        return layer, given
    return None, None


def _diagnostic(small, layer, values: dict, broken: list) -> Diagnostic:
    shown = ", ".join(f"{name}={value}" for name, value in values.items() if value is not None)
    problem = "; ".join(v.problem for v in broken)
    fails = "; ".join(dict.fromkeys(v.fails for v in broken))
    return Diagnostic(CODE, small, (("layer", layer.display), ("args", shown), ("problem", problem), ("fails", fails)),
                      no_fix="the sizes are a modelling choice (see the message for what the kernels accept)")


CHECK = KernelShapes()
