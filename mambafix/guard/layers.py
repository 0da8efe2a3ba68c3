"""Which modules of a live model the watch hooks: its SSM layers and norms, by qualified name.

The finder is smoke's (mambafix.smoke.probe.layer_kind over probe.all_modules): mamba_ssm's layer
classes, any module owning one of the selective-SSM signatures of rules/families.toml, the
configured `extra-layer-classes`, and every class check's own summaries call an SSM layer
(mambafix.smoke.check_layers, read statically from the source tree of the model's own classes);
norms by class. A wrapper holding another SSM layer is one layer: the innermost is hooked.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

import torch.nn as nn

from mambafix.smoke.probe import all_modules, layer_kind, outermost_dropped

INSTALLED = ("site-packages", "dist-packages")  # installed libraries: not the user's tree


@dataclass(frozen=True)
class Watched:
    name: str  # qualified name in the model ("" for the model itself)
    module: nn.Module
    kind: str  # "mamba" or "norm"


def own_files(model: nn.Module) -> list[Path]:
    """Source files of the model's own classes: not torch's, not mambafix's, not an installed
    library's (a library's layers are known by class name and signature)."""
    skip = (Path(nn.__file__).resolve().parents[1], Path(__file__).resolve().parents[1])
    files: dict[str, Path] = {}
    for _, module in all_modules(model):
        try:
            path = Path(inspect.getsourcefile(type(module)) or "").resolve()
        except (TypeError, OSError):
            continue
        if path.suffix != ".py" or not path.is_file() or any(path.is_relative_to(s) for s in skip) \
                or any(part in path.parts for part in INSTALLED):
            continue
        files.setdefault(str(path), path)
    return list(files.values())


def static_layers(files: list[Path]) -> frozenset[tuple[str, str]]:
    """(file, class) of every class check's summaries call an SSM layer, over the source trees of
    `files` (smoke's seam, smoke.check_layers: torch-free, reads them statically)."""
    from mambafix.config import ConfigError, load_config
    from mambafix.smoke.check_layers import ssm_layer_classes, tree_of

    known: set[tuple[str, str]] = set()
    trees: set[Path] = set()
    for path in files:
        if tree_of(path) in trees:
            continue
        trees.add(tree_of(path))
        try:
            known.update(ssm_layer_classes(path, load_config([path])))
        except (ConfigError, OSError):
            continue
    return frozenset(known)


def _library_names(files: list[Path]) -> bool:
    """Whether mamba_ssm's class names mean mamba_ssm's layers: not where the imported mamba_ssm
    is a package of the model's own tree (a from-scratch implementation), as smoke has it."""
    from mambafix.smoke.check_layers import tree_of

    origin = getattr(sys.modules.get("mamba_ssm"), "__file__", None)
    if not origin:
        return True
    return not any(Path(origin).resolve().is_relative_to(tree_of(f)) for f in files)


def find_layers(model: nn.Module, static: bool = True, config=None) -> list[Watched]:
    """The model's SSM layers and norms, in registration order (the order they run is recorded
    per step). `static=False` skips check's summaries (signatures and class names only)."""
    from mambafix.config import load_config

    files = own_files(model)
    config = config if config is not None else load_config(files[:1] or None)
    known = static_layers(files) if static else frozenset()
    signatures = tuple(tuple(frozenset(part.split("|")) for part in sig) for sig in config.ssm_signatures)
    extra, library = frozenset(config.layer_classes), _library_names(files)
    named = [(n, m, layer_kind(m, extra, signatures, known, library)) for n, m in all_modules(model)]
    named = outermost_dropped([(n, m, k) for n, m, k in named if k is not None])
    return [Watched(n, m, k) for n, m, k in named]
