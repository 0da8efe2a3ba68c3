"""The facts of one parsed file, computed once (lazily) and read by every check."""

from __future__ import annotations

from functools import cached_property

import libcst as cst

from mambafix.facts import builds, init_scan, installed, order, summaries
from mambafix.facts.applications import StackUse
from mambafix.facts.families import Families
from mambafix.facts.kinds import ClassSummary
from mambafix.facts.naming import ClassIndex
from mambafix.facts.layers import Element, InitInfo
from mambafix.facts.needles import layer_names
from mambafix.flow.classes import ClassFlows, analyze_class
from mambafix.flow.context import Budget
from mambafix.flow.groups import components
from mambafix.flow.plans import plan, residual_uses
from mambafix.syntax.names import NameResolver
from mambafix.syntax.walk import statement_lines, walk_statements


_INSTALLED: dict[tuple, "FileFacts"] = {}  # installed modules read so far, by (module, config)
_INSTALLED_ACTIVE: set[str] = set()  # classes being summarised (a cycle between packages)
# Readings of classes (their __init__, flows, summary) in progress inside one another: a wrapper of
# a wrapper takes about three. Past this, the file's classes are read bottom-up (facts/order.py).
MAX_NESTING = 48


def failure(exc: BaseException) -> str:
    """Why the analysis could not follow something, in a few words."""
    return "nesting too deep" if isinstance(exc, RecursionError) else f"{type(exc).__name__}: {exc}"


class _TooDeep(Exception):
    """A class reading nested past MAX_NESTING: unwound to the outermost reading."""


class FileFacts:
    """One file: its imports (read in the one pass over its statement lines), its classes at
    any depth, and, per class, what `__init__` builds and how the other methods use it.

    `index` is the project-wide map of qualified class names to summaries (cross-file
    wrappers); names this file uses as layers that neither it nor the index knows are
    collected in `unresolved`, so the engine can run another round once they are known."""

    def __init__(self, module: cst.Module, module_name: str, package: str, config,
                 index: dict[str, ClassSummary] | None = None) -> None:
        self.module = module
        self.module_name = module_name
        self.config = config
        self.families = Families(config)
        self.index = index if isinstance(index, ClassIndex) else ClassIndex(index or {})  # answers by lookup
        self.resolver = NameResolver(package)
        self.lines = statement_lines(module)
        for line in self.lines:
            for small in line.body:
                if isinstance(small, cst.Import):
                    self.resolver.add_import(small)
                elif isinstance(small, cst.ImportFrom):
                    self.resolver.add_import_from(small)
        self.unresolved: set[str] = set()
        self.looked_up: dict[str, str | None] = {}  # each name looked up in the index -> the key found
        self.failed: dict[str, str] = {}  # classes whose reading failed -> why (the rest is still checked)
        self._nesting = 0
        self._inits: dict[int, InitInfo] = {}
        self._summaries: dict[str, ClassSummary | None] = {}
        self._uses: dict[int, list[StackUse]] = {}
        self._flows: dict[int, ClassFlows] = {}
        self.budget = Budget()
        self._needles: tuple | None = None
        self.memo: dict = {}  # the readers' per-file caches (facts.ssm_init, facts.holders), by key
        self.path: str | None = None  # the file, where the engine read one (MF007 finds a vendored mamba_ssm near it)
        self.source: bytes | None = None  # its bytes, where the engine read them (a check's own needles)

    @cached_property
    def top_level_classes(self) -> list[cst.ClassDef]:
        return [s for s in self.module.body if isinstance(s, cst.ClassDef)]

    @cached_property
    def all_classes(self) -> list[cst.ClassDef]:
        """Every class, also those defined inside functions or other classes, in source order."""
        return [s for s in walk_statements(self.module, defs=True) if isinstance(s, cst.ClassDef)]

    @cached_property
    def classes(self) -> dict[str, cst.ClassDef]:
        """Classes by name: a module-level class wins over a nested one of the same name."""
        out = {c.name.value: c for c in self.top_level_classes}
        for cls in self.all_classes:
            out.setdefault(cls.name.value, cls)
        return out

    @cached_property
    def functions(self) -> dict[str, cst.FunctionDef]:
        return {s.name.value: s for s in self.module.body if isinstance(s, cst.FunctionDef)}

    def classify(self, expr: cst.BaseExpression) -> Element:
        return builds.classify(self, expr)

    def init_info(self, cls: cst.ClassDef) -> InitInfo:
        return self._read(self._inits, id(cls), cls.name.value, InitInfo, lambda: init_scan.read_init(self, cls))

    def class_flows(self, cls: cst.ClassDef) -> ClassFlows:
        """The class's data flow: its flows and its transfer (computed once; bottom-up through
        the summaries of the classes it applies)."""
        return self._read(self._flows, id(cls), cls.name.value, lambda: ClassFlows(None),
                          lambda: analyze_class(self, cls, self.budget))

    def class_summary(self, name: str) -> ClassSummary | None:
        return self._read(self._summaries, name, name, lambda: None,
                          lambda: summaries.summarize(self, self.classes[name]))

    def _read(self, store: dict, key, name: str, empty, compute):
        """One reading of a class, computed once. While it is read, a reading of the same class
        gets `empty()` (a cycle). Nested past MAX_NESTING, the outermost reading reads the classes
        this one can reach first, bottom-up, and tries once more; a reading that fails is empty
        and noted in `failed`, and the rest of the file is still read."""
        if key in store:
            return store[key]
        outermost = self._nesting == 0
        for attempt in range(2):
            try:
                return self._compute(store, key, name, empty, compute)
            except _TooDeep:
                if not outermost:
                    raise
                if attempt == 0:
                    for dep in order.bottom_up(self._mentions, name, self.classes.__contains__):
                        self.class_summary(dep)
        self.failed.setdefault(name, f"classes read inside one another more than {MAX_NESTING // 3} deep")
        store[key] = empty()
        return store[key]

    def _compute(self, store: dict, key, name: str, empty, compute):
        if self._nesting >= MAX_NESTING:
            raise _TooDeep
        store[key] = empty()  # recursion guard while it is read
        self._nesting += 1
        try:
            value = compute()
        except _TooDeep:
            del store[key]
            raise
        except Exception as exc:  # noqa: BLE001 - code the analysis cannot follow: no finding from it
            value = empty()
            self.failed.setdefault(name, failure(exc))
        finally:
            self._nesting -= 1
        store[key] = value
        return value

    @cached_property
    def _mentions(self) -> dict[str, set[str]]:
        return order.mention_graph(self.module, self.classes, self.functions)

    def not_followed(self) -> list[str]:
        """What the analysis could not follow, and why: classes whose reading failed, then
        methods it stopped in."""
        out = [f"{name}: {why}" for name, why in self.failed.items()]
        out += [line for flows in self._flows.values() for line in flows.stopped]
        return out

    def summary_for(self, func: cst.BaseExpression) -> ClassSummary | None:
        return summaries.lookup(self, func)

    def summary_by_name(self, qualified: str) -> ClassSummary | None:
        return summaries.by_name(self, qualified)

    def installed_summary(self, qualified: str) -> ClassSummary | None:
        """The summary of a class of an installed package, read from its source (never imported)."""
        if qualified in _INSTALLED_ACTIVE:
            return None
        if self._needles is None:
            self._needles = tuple(layer_names(self.config))
        found = installed.locate_class(qualified, self._needles)
        if found is None:
            return None
        module_name, tree, name, is_package = found
        key = (module_name, id(self.config))
        if key not in _INSTALLED:
            package = module_name if is_package else module_name.rpartition(".")[0]
            _INSTALLED[key] = FileFacts(tree, module_name, package, self.config)
        _INSTALLED_ACTIVE.add(qualified)
        try:
            return _INSTALLED[key].class_summary(name)
        finally:
            _INSTALLED_ACTIVE.discard(qualified)

    def stack_uses(self, cls: cst.ClassDef) -> list[StackUse]:
        """The class's findings: the sites its flows connect, each planned as a fix. A block read
        with its given mixer class taken to be an SSM layer has none of its own."""
        key = id(cls)
        if key not in self._uses:
            flows = self.class_flows(cls)
            given = self.init_info(cls).given is not None
            self._uses[key] = [] if given else [plan(self, cls, group) for group in components(flows.flows)]
        return self._uses[key]

    def residual_uses(self, cls: cst.ClassDef) -> list[StackUse]:
        """Normalized loops over a stack with no skip connection around the layer (MF002)."""
        if self.init_info(cls).given is not None:
            return []
        return residual_uses(self, cls, self.class_flows(cls))

    def all_stack_uses(self) -> list[StackUse]:
        return [use for cls in self.all_classes for use in self.stack_uses(cls)]

    def summaries(self) -> dict[str, ClassSummary]:
        """Summaries of this file's module-level classes that do more than carry every input on
        (layers, blocks, norms, a module that bounds one of its inputs), by qualified name."""
        out = {}
        for cls in self.top_level_classes:
            summary = self.class_summary(cls.name.value)
            if summary is not None:  # layers, blocks, norms, and modules that bound some input
                out[f"{self.module_name}.{cls.name.value}" if self.module_name else cls.name.value] = summary
        return out
