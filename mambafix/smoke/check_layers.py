"""The seam between smoke and check: which classes of a target's tree check calls SSM layers.

`ssm_layer_classes(file, config)` reads the tree the target lives in (its repository root, else
the folder above its package, else its folder) statically, with check's own class summaries
through the engine's project API: `FileResult.summaries`, the data flow's summary of each class
(mambafix/flow/classes.py, read by mambafix/facts/summaries.py: its data input reaches an SSM
input unbounded and what it returns carries an unbounded SSM output, so mamba_ssm's layers,
home-made scans, subclasses and thin wrappers, cross-file rounds included). Every class
summarised as such an SSM layer (`Kind.MAMBA`) is returned as (resolved file, class name), and
the probe process hooks modules of those classes as SSM layers, besides its own structural test
(probe.layer_kind). So a layer check recognises is a layer smoke probes.

Torch-free, never imports the target. This is the one place smoke reads check's facts.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

MAX_FILES = 3000  # a tree larger than this is read from the target's own folder only


def tree_of(file: Path) -> Path:
    """The folder whose files can define the target's layers."""
    from mambafix.smoke.importing import repository_root

    file = file.resolve()
    root = repository_root(file)
    if root is not None:
        return root
    top = file.parent
    while (top / "__init__.py").exists() and (top.parent / "__init__.py").exists():
        top = top.parent
    return top.parent if (top / "__init__.py").exists() else top


def ssm_layer_classes(file: str | Path, config) -> list[tuple[str, str]]:
    """(resolved file, class) for every class of the target's tree that check summarises as an
    unnormalized Mamba-family layer. Empty when the target is not a file."""
    path = Path(file)
    if path.suffix != ".py" or not path.is_file():
        return []
    return list(_classes(str(tree_of(path)), str(path.resolve().parent), config))


@lru_cache(maxsize=32)
def _classes(tree: str, folder: str, config) -> tuple[tuple[str, str], ...]:
    from mambafix.checks.registry import class_index_codes
    from mambafix.engine.discovery import discover
    from mambafix.engine.file import module_name_for
    from mambafix.engine.project import analyze_sources, read_sources
    from mambafix.facts.kinds import Kind
    from mambafix.report.findings import Report

    config = replace(config, select=class_index_codes())
    files = discover([Path(tree)], config).files
    if len(files) > MAX_FILES:
        files = discover([Path(folder)], config).files
    sources = read_sources(files, config, [], [])
    modules = {module_name_for(p, config.root): p for p, _ in sources}
    out = []
    for result in analyze_sources(sources, config, Report(), cache=True):
        for qualified, summary in result.summaries.items():
            if summary.kind != Kind.MAMBA:
                continue
            module, _, cls = qualified.rpartition(".")
            if module in modules:
                out.append((str(Path(modules[module]).resolve()), cls))
    return tuple(dict.fromkeys(out))
