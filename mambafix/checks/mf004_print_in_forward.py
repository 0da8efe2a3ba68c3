"""MF004 print-in-forward: print and debug-logging calls inside `forward` of an nn.Module."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from mambafix.catalogue import load_rules
from mambafix.checks.base import Applicability, Diagnostic
from mambafix.checks.prints import RemoveStatement, call_name, print_calls
from mambafix.facts.builds import methods_of
from mambafix.flow.file_facts import FileFacts
from mambafix.syntax.names import Family, dotted
from mambafix.syntax.nodes import calls, self_attr
from mambafix.syntax.walk import blocks_of, is_simple, statements

CODE = "MF004"


class PrintInForward:
    code = CODE

    def run(self, facts: FileFacts) -> Iterator[Diagnostic]:
        data = load_rules()[CODE].data
        functions = Family(facts.config.print_functions)
        kept = Family(data["kept_calls"])
        stderr_writers = Family(data["stderr_writers"])
        bases = Family(data["module_bases"])
        for cls in facts.all_classes:
            if not _is_module(facts, cls, bases, set()):
                continue
            methods = methods_of(cls)
            for name in _reached_from_forward(methods):
                for line, in_except in _lines(methods[name].body, False):
                    for found in print_calls(line, functions, facts.resolver):
                        names = facts.resolver.candidates(found.call.func)
                        if kept.match_any(names):
                            continue
                        if in_except and (_to_stderr(found.call) or stderr_writers.match_any(names)):
                            continue
                        yield Diagnostic(CODE, found.small,
                                         (("call", call_name(found.call)), ("where", f"{cls.name.value}.{name}")),
                                         fix=RemoveStatement(found.small), applicability=Applicability.SAFE)


def _is_module(facts: FileFacts, cls: cst.ClassDef, bases: Family, seen: set[int]) -> bool:
    """Whether the class derives from nn.Module (directly, or through a class of this file, or
    through a Mamba-family layer or normalized block)."""
    if id(cls) in seen:
        return False
    seen.add(id(cls))
    for base in cls.bases:
        names = facts.resolver.candidates(base.value)
        if bases.match_any(names) or facts.families.layers.match_any(names) or facts.families.normalized_blocks.match_any(names):
            return True
        local = facts.classes.get(dotted(base.value) or "")
        if local is not None and _is_module(facts, local, bases, seen):
            return True
    return False


def _reached_from_forward(methods: dict[str, cst.FunctionDef]) -> list[str]:
    """`forward` and the methods of the class it calls through `self.`, transitively, in order."""
    if "forward" not in methods:
        return []
    order, todo = [], ["forward"]
    while todo:
        name = todo.pop(0)
        if name in order:
            continue
        order.append(name)
        for call in calls(methods[name].body):
            callee = self_attr(call.func)
            if callee in methods and callee not in order and callee != "__init__":
                todo.append(callee)
    return order


def _lines(block, in_except: bool) -> Iterator[tuple[object, bool]]:
    """The statement lines of a block at any depth (not entering nested functions or classes),
    each with whether it stands inside an `except` handler."""
    for stmt in statements(block):
        if is_simple(stmt):
            yield stmt, in_except
            continue
        handlers = {id(h.body) for h in getattr(stmt, "handlers", ())}
        for inner in blocks_of(stmt, defs=False):
            yield from _lines(inner, in_except or id(inner) in handlers)


def _to_stderr(call: cst.Call) -> bool:
    return any(a.keyword is not None and a.keyword.value == "file" and dotted(a.value) == "sys.stderr"
               for a in call.args)


CHECK = PrintInForward()
