"""Every check, by rule code. A test matches this table against rules/*.toml.

An entry names the module that defines `CHECK` (imported only when a file is parsed, so the
prefilter runs without libcst), the needles a file must contain for the check to run on it,
and whether the check reads the project-wide class index (a file that names a class the index
knows is then read again in a cross-file round)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from mambafix.checks import needles


@dataclass(frozen=True)
class Entry:
    code: str
    module: str
    needles: Callable[[object], tuple[bytes, ...]] | tuple[bytes, ...]  # from the config, or fixed
    class_index: bool = False
    # groups of byte strings: a file must contain one of each group before its needles are looked for
    gate: tuple[tuple[bytes, ...], ...] = ()
    scripts: bool = False  # findings may stand outside any class: a class-less file is read again too


REGISTRY: dict[str, Entry] = {e.code: e for e in (
    Entry("MF001", "mambafix.checks.mf001_unnormalized_stack", needles.layer_names, class_index=True,
          gate=(needles.LAYER_GATE, needles.CLASS_GATE)),
    Entry("MF002", "mambafix.checks.mf002_stack_without_residual", needles.layer_names, class_index=True,
          gate=(needles.LAYER_GATE, needles.CLASS_GATE)),
    Entry("MF003", "mambafix.checks.mf003_debug_print", needles.markers),
    Entry("MF004", "mambafix.checks.mf004_print_in_forward", (b"forward",)),
    # a model built in another file is read from the class index: a file that names no SSM layer
    # is read (again) in a cross-file round when it imports a class the index knows
    Entry("MF005", "mambafix.checks.mf005_init_hook", needles.layer_names, class_index=True,
          gate=(needles.LAYER_GATE,), scripts=True),
    Entry("MF006", "mambafix.checks.mf006_half_precision", needles.layer_names, class_index=True,
          gate=(needles.LAYER_GATE,), scripts=True),
    Entry("MF007", "mambafix.checks.mf007_kernel_shapes", needles.SIZES, gate=(needles.LAYER_GATE,)),
)}


def needles_for(code: str, config) -> tuple[bytes, ...]:
    found = REGISTRY[code].needles
    return found(config) if callable(found) else found


def load_check(code: str):
    """The check object for a code (imports its module, and with it libcst)."""
    return importlib.import_module(REGISTRY[code].module).CHECK


def class_index_codes() -> frozenset[str]:
    return frozenset(code for code, entry in REGISTRY.items() if entry.class_index)


def script_codes() -> frozenset[str]:
    return frozenset(code for code, entry in REGISTRY.items() if entry.scripts)
