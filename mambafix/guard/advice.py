"""What the static side says about the layer a watch named, and what to run next. Torch-free:
check's and apply's Python APIs, reading the source as check does (never importing it).

The layer's owners are the modules above it, nearest first, whose class is the user's own (a
container such as nn.ModuleList is skipped): for `forward_layers.2` the model holding
`forward_layers`. Check runs over the owner's source tree (smoke.check_layers.tree_of: its
repository root, cross-file summaries included) and the MF001 findings on an owner's class are
matched to the layer by the stack attribute the finding's statement names (smoke.confirm's
reading of a finding). The fix is apply's own description of the change, computed without
writing; the command to confirm is smoke on that class, with the constructor arguments the live
module still shows and the weights saved at the event when a snapshot folder was given.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Owner:
    path: str  # qualified name of the owner module in the model ("" for the model)
    cls: str
    file: Path | None
    rel: str  # the layer's name below the owner (`forward_layers.2`)
    init: dict = field(default_factory=dict)  # constructor arguments the instance still shows
    missing: tuple[str, ...] = ()  # required constructor arguments it does not show
    weights: str | None = None  # the owner's state_dict saved at the event


def init_arguments(module) -> tuple[dict, tuple[str, ...]]:
    """Constructor arguments a module still shows as plain attributes of the same name (d_model
    kept as self.d_model), and the required ones it does not show."""
    import inspect

    try:
        params = list(inspect.signature(type(module).__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return {}, ()
    found, missing = {}, []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = vars(module).get(p.name)
        if isinstance(value, (bool, int, float, str)) and value != p.default:
            found[p.name] = value
        elif value is None and p.default is p.empty:
            missing.append(p.name)
    return found, tuple(missing)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _tree(file: Path) -> Path:
    from mambafix.engine.discovery import discover
    from mambafix.smoke.check_layers import MAX_FILES, tree_of
    from mambafix.config import load_config

    tree = tree_of(file)
    if len(discover([tree], load_config([file])).files) > MAX_FILES:
        return file.parent
    return tree


def _findings(file: Path) -> list:
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths

    config = load_config([file])
    report = check_paths([_tree(file)], config)
    return [f for f in report.findings if f.code == "MF001" and Path(f.path).resolve() == file.resolve()]


def _matching(owner: Owner, findings: list) -> list:
    """The owner class's MF001 findings, the one naming the layer's stack first."""
    import ast

    from mambafix.smoke.confirm import finding_owner

    head = owner.rel.split(".")[0].split("[")[0]
    mine = []
    tree = ast.parse(owner.file.read_bytes())
    for finding in findings:
        cls, attrs = finding_owner(tree, finding.line)
        if cls == owner.cls:
            mine.append((head not in attrs, finding))
    return [f for _, f in sorted(mine, key=lambda pair: pair[0])]


def _fix_text(owner: Owner, finding) -> str:
    if not finding.fixable:
        return f"  no automatic fix: {finding.fix_note}" if finding.fix_note else "  no automatic fix"
    from mambafix.config import load_config
    from mambafix.fix.apply import apply_paths

    stack = owner.rel.split(".")[0].split("[")[0]
    changes = [c for fix in apply_paths([owner.file], load_config([owner.file]), write=False).changed
               for part in fix.changes for c in part.split("; ") if c.startswith(f"{owner.cls}.")]
    changes = [c for c in changes if c.startswith(f"{owner.cls}.{stack}:")] or changes
    what = f" ({'; '.join(changes)})" if changes else ""
    return f"  fix: mambafix apply {shlex.quote(_shown(owner.file))}{what}"


def smoke_command(owner: Owner) -> str:
    parts = ["mambafix", "smoke", f"{_shown(owner.file)}:{owner.cls}"]
    if owner.init:
        parts += ["--init", json.dumps(owner.init)]
    if owner.weights:
        parts += ["--weights", owner.weights]
    text = " ".join(shlex.quote(p) for p in parts)
    if owner.missing:
        text += f"   (add to --init: {', '.join(owner.missing)})"
    elif owner.weights and not owner.init:
        text += "   (with --init the constructor arguments of the run, so the weights fit)"
    return text


def advice(owners: list[Owner]) -> str:
    """The static section of a watch report: the MF001 finding on the nearest owner class that
    has one (its fix, if apply has one), and the smoke command that confirms it."""
    owners = [o for o in owners if o.file is not None and o.file.is_file()]
    if not owners:
        return "What check says: nothing (no class of this model has a source file to read)."
    checked = []
    for owner in owners:
        findings = _matching(owner, _findings(owner.file))
        checked.append(f"{owner.cls} ({_shown(owner.file)})")
        if findings:
            finding = findings[0]
            return "\n".join([f"What check says about {owner.cls}, which holds {owner.rel}:",
                              f"  {_shown(Path(finding.path))}:{finding.line}:{finding.col}: MF001 {finding.message}",
                              _fix_text(owner, finding),
                              f"Confirm with the probe: {smoke_command(owner)}"])
    return "\n".join([f"What check says: no MF001 finding on {', '.join(checked)}: statically a norm bounds "
                      f"this stack, so look at what the profile shows before it, the learning rate and the data.",
                      f"Probe it: {smoke_command(owners[-1])}"])
