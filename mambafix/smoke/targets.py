"""What smoke probes: class or factory targets, paths (every class holding a Mamba stack there,
normalized or not), pyproject entries.

Each job is a target plus its settings, merged as: built-in defaults, then the matching
`[[tool.mambafix.smoke]]` entry, then what the command line gave. Finding classes in a path
reads the files statically through the engine's project API (the same discovery and
cross-file rounds as check); nothing is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mambafix.smoke.settings import DEFAULTS


class TargetError(ValueError):
    """A target that names nothing probe-able; the CLI exits 2 with this message."""


@dataclass
class SmokeJob:
    target: str
    spec: dict = field(default_factory=dict)
    discovered: bool = False  # found in a path: a class that cannot be built is listed, not fatal


def is_class_target(text: str) -> bool:
    head, sep, name = text.rpartition(":")
    return bool(sep and head and name.isidentifier())


def _locate(target: str, root: Path | None) -> str:
    """The target with its file found: as given if it exists there, else relative to the
    pyproject.toml's folder (where an entry's path is written from)."""
    head, _, name = target.rpartition(":")
    path = Path(head)
    if head.endswith(".py") and not path.exists() and not path.is_absolute() and root is not None:
        head = str(root / path)
    return f"{head}:{name}"


def _target_key(target: str, root: Path | None) -> str:
    """Targets compare equal whether the file is named relative to the project or absolutely."""
    head, _, name = _locate(target, root).rpartition(":")
    return f"{Path(head).resolve() if head.endswith('.py') else head}:{name}"


def resolve_jobs(targets: list[str], config, given: dict, select: list[str] | None = None) -> list[SmokeJob]:
    """The jobs for the command line's targets (or the configured entries when it names none).

    `given` holds the options the command line set explicitly; they win over an entry's.
    `select` keeps only the classes (or factories) with those names."""
    from mambafix.engine.project import find_model_classes

    entries = {_target_key(e["target"], config.root): e for e in config.smoke}
    names: list[str] = []
    discovered: set[str] = set()
    if not targets:
        if not config.smoke:
            raise TargetError("no target: give FILE.py:Class, package.module:Class or a path, "
                              "or add [[tool.mambafix.smoke]] entries to pyproject.toml")
        names = [e["target"] for e in config.smoke]
    for target in targets:
        if is_class_target(target):
            names.append(target)
            continue
        if not Path(target).exists():
            raise TargetError(f"{target}: no such file or directory (a class target is path/to/file.py:Class)")
        found = find_model_classes([target], config)
        if not found:
            raise TargetError(f"{target}: no class there holds a stack of Mamba-family layers; "
                              "name the model as FILE.py:Class (or a factory as FILE.py:function)")
        names.extend(found)
        discovered.update(found)
    if select:
        wanted = set(select)
        kept = [n for n in names if n.rpartition(":")[2] in wanted]
        if not kept:
            raise TargetError(f"--select {', '.join(select)}: no such class among "
                              f"{', '.join(dict.fromkeys(n.rpartition(':')[2] for n in names))}")
        names = kept
    jobs = []
    for name in dict.fromkeys(names):
        entry = entries.get(_target_key(name, config.root), {})
        spec = {**DEFAULTS, **{k: v for k, v in entry.items() if k != "target"}, **given}
        spec.setdefault("extra_classes", list(config.layer_classes))
        spec.setdefault("ssm_signatures", [list(sig) for sig in config.ssm_signatures])
        jobs.append(SmokeJob(_locate(name, config.root) if entry else name, spec, name in discovered))
    return jobs
