"""Scopes of a file as the statement-level rules read them: the module's own statements, and
every function's (methods with their class), each walked in source order with what its names
are bound to so far. A name assigned on several paths stands for its last assignment in source
order; a parameter stands for its default until it is assigned."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from mambafix.syntax.nodes import param_defaults
from mambafix.syntax.walk import blocks_of, small_statements, statements, walk


@dataclass
class Scope:
    body: object  # the Module or the function's body block
    func: cst.FunctionDef | None = None
    cls: cst.ClassDef | None = None  # the class a method belongs to
    parent: "Scope | None" = None  # the module's scope, for its constants
    bound: dict[str, cst.BaseExpression] = field(default_factory=dict)  # so far, while walked
    conditions: list = field(default_factory=list)  # the tests of the ifs around the statement walked

    @property
    def defaults(self) -> dict[str, cst.BaseExpression | None]:
        return param_defaults(self.func) if self.func is not None else {}

    def lookup(self, name: str) -> tuple[str, cst.BaseExpression | None]:
        """("bound", expr) for an assignment seen so far, ("param", default) for a parameter not
        assigned yet, ("module", expr) for a module-level name, or ("unknown", None)."""
        if name in self.bound:
            return "bound", self.bound[name]
        defaults = self.defaults
        if name in defaults:
            return "param", defaults[name]
        if self.parent is not None and name in self.parent.bound:
            return "module", self.parent.bound[name]
        return "unknown", None

    def walk(self) -> Iterator[cst.CSTNode]:
        """Every statement of the scope (not inside nested functions or classes), in source order;
        a line's assignments are bound after it is yielded."""
        self.bound = {}
        yield from self._walk(self.body)

    def _walk(self, block) -> Iterator[cst.CSTNode]:
        for stmt in statements(block):
            yield stmt
            if isinstance(stmt, cst.If):
                self.conditions.append(stmt.test)
                for inner in blocks_of(stmt, defs=False):
                    yield from self._walk(inner)
                self.conditions.pop()
            elif isinstance(stmt, cst.For):
                self.bind_loop(stmt.target, stmt.iter)
                for inner in blocks_of(stmt, defs=False):
                    yield from self._walk(inner)
            else:
                for inner in blocks_of(stmt, defs=False):
                    yield from self._walk(inner)
            for small in small_statements(stmt):
                self.bind(small)

    def bind_loop(self, target, iterated) -> None:
        """`for layer in self.layers`: the name stands for an element of what is iterated (written
        as `self.layers[...]`); `enumerate(...)` and `zip(...)` are taken apart."""
        func = iterated.func.value if isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Name) else None
        if func == "enumerate" and iterated.args and isinstance(target, cst.Tuple) and len(target.elements) == 2:
            self.bind_loop(target.elements[1].value, iterated.args[0].value)
        elif func == "zip" and isinstance(target, cst.Tuple) and len(target.elements) == len(iterated.args):
            for element, arg in zip(target.elements, iterated.args):
                self.bind_loop(element.value, arg.value)
        elif isinstance(target, cst.Name):
            self.bound[target.value] = element_of(iterated)

    def bind(self, small) -> None:
        if isinstance(small, cst.Assign):
            for target in small.targets:
                if isinstance(target.target, cst.Name):
                    self.bound[target.target.value] = small.value
                elif isinstance(target.target, (cst.Tuple, cst.List)) and isinstance(small.value, (cst.Tuple, cst.List)) \
                        and len(target.target.elements) == len(small.value.elements):  # `a, b = 2, 64`
                    for name, value in zip(target.target.elements, small.value.elements):
                        if isinstance(name.value, cst.Name) and not isinstance(value, cst.StarredElement):
                            self.bound[name.value.value] = value.value
        elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.value is not None:
            self.bound[small.target.value] = small.value


def module_scope(module: cst.Module) -> Scope:
    """The module's own statements, its names bound as the whole file binds them (a function
    reads the module's constants as they stand once the file has run)."""
    scope = Scope(module)
    for _ in scope.walk():
        pass
    return scope


def scopes(facts) -> list[Scope]:
    """The module scope (first), then every function's at any depth, methods with their class."""
    key = ("scopes",)
    if key in facts.memo:
        return facts.memo[key]
    top = module_scope(facts.module)
    found = [Scope(facts.module)]

    def visit(block, cls) -> None:
        for stmt in statements(block):
            if isinstance(stmt, cst.FunctionDef):
                found.append(Scope(stmt.body, stmt, cls, top))
                visit(stmt.body, None)
            elif isinstance(stmt, cst.ClassDef):
                visit(stmt.body, stmt)
            else:
                for inner in blocks_of(stmt, defs=False):
                    visit(inner, cls)

    visit(facts.module, None)
    facts.memo[key] = found
    return found


@dataclass(frozen=True)
class Each:
    """What a loop's name stands for: any element of the container iterated."""

    container: cst.BaseExpression


def element_of(container: cst.BaseExpression) -> Each:
    return Each(container)


def calls_in(facts, small) -> list[cst.Call]:
    """The calls of a small statement (not inside lambdas), found once per file for every check."""
    key = ("calls", id(small))
    if key not in facts.memo:
        facts.memo[key] = [n for n in walk(small, prune=(cst.Lambda,)) if type(n) is cst.Call]  # libcst's node
        # classes are final; isinstance of one goes through ABCMeta
    return facts.memo[key]
