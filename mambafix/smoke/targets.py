"""What smoke probes: class targets, paths (the stacks check finds there), pyproject entries.

Each job is a target plus its settings, merged as: built-in defaults, then the matching
`[[tool.mambafix.smoke]]` entry, then what the command line gave. Finding classes in a path
reads the files statically (like check); nothing is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULTS = {
    "init": {},
    "scales": [1.0, 10.0, 30.0, 100.0],
    "dtype": "float32",
    "device": "auto",
    "batch": 2,
    "length": 256,
    "width": None,
    "train_steps": 0,
}

# [[tool.mambafix.smoke]] keys -> spec keys
ENTRY_KEYS = {"target", "init", "input-shape", "dtype", "device", "scales", "train-steps"}
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")


class TargetError(ValueError):
    """A target that names nothing probe-able; the CLI exits 2 with this message."""


@dataclass
class SmokeJob:
    target: str
    spec: dict = field(default_factory=dict)


def validate_entry(entry: dict, origin: str) -> dict:
    """Check one [[tool.mambafix.smoke]] table; returns it as spec keys. Raises ValueError naming the key."""
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise ValueError(f"{origin}: unknown key {unknown[0]!r} in [[tool.mambafix.smoke]] (known: {', '.join(sorted(ENTRY_KEYS))})")
    target = entry.get("target")
    if not isinstance(target, str) or ":" not in target:
        raise ValueError(f"{origin}: [[tool.mambafix.smoke]] needs target = \"path/to/file.py:Class\" or \"package.module:Class\"")
    spec: dict = {"target": target}
    if "init" in entry:
        if not isinstance(entry["init"], dict):
            raise ValueError(f"{origin}: smoke.init must be a table of constructor arguments")
        spec["init"] = dict(entry["init"])
    if "input-shape" in entry:
        shape = entry["input-shape"]
        if not (isinstance(shape, list) and len(shape) in (2, 3)
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
            raise ValueError(f"{origin}: smoke.input-shape must be [batch, length] or [batch, length, width], got {shape!r}")
        spec["batch"], spec["length"] = shape[0], shape[1]
        if len(shape) == 3:
            spec["width"] = shape[2]
    if "dtype" in entry:
        if entry["dtype"] not in DTYPES:
            raise ValueError(f"{origin}: smoke.dtype must be one of {', '.join(DTYPES)}, got {entry['dtype']!r}")
        spec["dtype"] = entry["dtype"]
    if "device" in entry:
        if entry["device"] not in DEVICES:
            raise ValueError(f"{origin}: smoke.device must be one of {', '.join(DEVICES)}, got {entry['device']!r}")
        spec["device"] = entry["device"]
    if "scales" in entry:
        scales = entry["scales"]
        if not (isinstance(scales, list) and scales and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in scales)):
            raise ValueError(f"{origin}: smoke.scales must be a list of positive numbers, got {scales!r}")
        spec["scales"] = [float(v) for v in scales]
    if "train-steps" in entry:
        steps = entry["train-steps"]
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"{origin}: smoke.train-steps must be a whole number >= 0, got {steps!r}")
        spec["train_steps"] = steps
    return spec


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


def stack_classes(paths: list[str], config) -> list[str]:
    """file.py:Class for every class in which check finds a Mamba stack (MF001/MF002), in order."""
    from mambafix.analysis import analyze_module
    from mambafix.discovery import discover
    from mambafix.engine import read_sources

    found = discover([Path(p) for p in paths], config)
    errors: list = []
    targets: list[str] = []
    for path, data in read_sources(found.files, config, errors, []):
        try:
            analysis = analyze_module(data, path, config, select=frozenset({"MF001", "MF002"}))
        except Exception:  # noqa: BLE001 - a file check cannot read holds no target
            continue
        for finding in analysis.stack_findings:
            target = f"{path}:{finding.cls.name.value}"
            if target not in targets:
                targets.append(target)
    return targets


def resolve_jobs(targets: list[str], config, given: dict) -> list[SmokeJob]:
    """The jobs for the command line's targets (or the configured entries when it names none).

    `given` holds the options the command line set explicitly; they win over an entry's."""
    entries = {_target_key(e["target"], config.root): e for e in config.smoke}
    names: list[str] = []
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
        found = stack_classes([target], config)
        if not found:
            raise TargetError(f"{target}: check finds no Mamba stack there to probe; name a class as FILE.py:Class")
        names.extend(found)
    jobs = []
    for name in names:
        entry = entries.get(_target_key(name, config.root), {})
        spec = {**DEFAULTS, **{k: v for k, v in entry.items() if k != "target"}, **given}
        jobs.append(SmokeJob(_locate(name, config.root) if entry else name, spec))
    return jobs
