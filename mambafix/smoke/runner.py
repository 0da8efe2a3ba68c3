"""The parent side of smoke: run the worker in a subprocess, time it out, render the result."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NOTICE = "smoke imports and executes the target's code (in a subprocess)."


@dataclass
class SmokeOutcome:
    target: str
    ok: bool
    stable: bool = False
    data: dict = field(default_factory=dict)
    error: str | None = None
    trace: str | None = None  # the target's own traceback (its bug); none for a user error

    @property
    def exit_code(self) -> int:
        if not self.ok:
            return 2
        return 0 if self.stable else 1


def _check_layers(target: str) -> list[tuple[str, str]]:
    """The classes of the target's tree that check calls SSM layers (smoke.check_layers)."""
    from mambafix.config import ConfigError, load_config
    from mambafix.smoke.check_layers import ssm_layer_classes

    head = target.rpartition(":")[0]
    if not head.endswith(".py") or not Path(head).is_file():
        return []
    try:
        return ssm_layer_classes(head, load_config([Path(head)]))
    except (ConfigError, OSError):
        return []


def _forward_facts(target: str) -> dict:
    """What the target's forward (and its tree's) does with the input (smoke.forward_reading)."""
    from mambafix.smoke.forward_facts import read_tree
    from mambafix.smoke.importing import plan_import

    head = target.rpartition(":")[0]
    if not head.endswith(".py") or not Path(head).is_file():
        return {}
    return read_tree(head, plan_import(Path(head)).paths)


def run_smoke(target: str, timeout: float = 300, **spec) -> SmokeOutcome:
    from mambafix.smoke.bounds import ceiling_gb, during, watch_process

    if "check_layers" not in spec:
        spec["check_layers"] = _check_layers(target)
    if "forward_facts" not in spec and not spec.get("input_shape"):
        spec["forward_facts"] = _forward_facts(target)
    spec["memory_limit"] = ceiling_gb(spec.get("memory_limit"))
    with tempfile.TemporaryDirectory(prefix="mambafix-smoke-") as tmp:
        spec_path, out_path, progress = Path(tmp) / "spec.json", Path(tmp) / "out.json", Path(tmp) / "progress"
        spec_path.write_text(json.dumps({"target": target, "timeout": timeout, "progress": str(progress), **spec}))
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with tempfile.TemporaryFile("w+") as log:
            proc = subprocess.Popen([sys.executable, "-m", "mambafix.smoke.worker", str(spec_path), str(out_path)],
                                    stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
            killed = watch_process(proc, spec["memory_limit"], timeout, progress)
            log.seek(0)
            tail = log.read()[-4000:]
        if killed:
            return SmokeOutcome(target, False, error=killed)
        if not out_path.exists():
            why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
            return SmokeOutcome(target, False, error=f"the probe process died ({why}{during(progress)}):\n{tail}")
        data = json.loads(out_path.read_text())
    if not data.get("ok"):
        return SmokeOutcome(target, False, data=data, error=data.get("error", "unknown error"),
                            trace=None if data.get("user_error") else data.get("traceback"))
    return SmokeOutcome(target, True, data["result"]["stable"], data)


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    return f"{v:.3g}"


def where_it_failed(trace: str | None) -> str:
    """` (at file.py:12: the line)` from a traceback's last frame, or empty."""
    lines = (trace or "").rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    if not frames:
        return ""
    head = lines[frames[-1]].strip()
    path = head.split('"')[1] if '"' in head else ""
    line_no = head.split("line ")[1].split(",")[0] if "line " in head else "?"
    source = lines[frames[-1] + 1].strip() if frames[-1] + 1 < len(lines) else ""
    return f" (at {Path(path).name}:{line_no}: {source})"


def render_error(outcome: SmokeOutcome, err=print) -> None:
    """A user error is one line; the target's own exception keeps its traceback (it is the user's bug)."""
    err(f"{outcome.target}: error: {outcome.error}")
    if outcome.trace:
        err(outcome.trace.rstrip())


def _cell(row: dict | None) -> str:
    if row is None:
        return "-"
    text = _fmt(row["rms"])
    if row.get("grad_ratio") is not None:
        text += f" g{_fmt(row['grad_ratio'])}"
    return text + (" ok" if row["verdict"] == "ok" else " " + row["verdict"].upper())


def render(outcome: SmokeOutcome, echo=print, err=None) -> None:
    if not outcome.ok:
        render_error(outcome, err or echo)
        return
    result = outcome.data["result"]
    echo(f"{outcome.target}  backend: {result['backend']}  device: {result['device']}  dtype: {result['dtype']}  "
         f"input: {outcome.data['input_shape']}{' tokens' if outcome.data.get('input_dtype') == 'long' else ''}")
    source = outcome.data.get("input_source")
    if source and source != "given":
        failed = outcome.data.get("input_trials_failed") or []
        echo(f"input {outcome.data['input_shape']} from {source}" + ("" if source.startswith("given") else
             " (confirmed by a trial forward pass" + (f", after {len(failed)} that failed: " + "; ".join(
                 f"{shape} {why}" for shape, why in failed[:3]) if failed else "") + ")"))
    if outcome.data.get("forward_arguments"):
        echo("forward's other arguments: " + ", ".join(
            f"{name}={'the full length' if kind == 'lengths' else 'None'}" for name, kind in outcome.data["forward_arguments"].items()))
    if outcome.data.get("guessed_init"):
        echo("constructor values guessed by their names (--init sets them): " + ", ".join(outcome.data["guessed_init"]))
    if outcome.data.get("ignored_init"):
        echo(f"--init keys this model's config classes do not take (left out): {', '.join(outcome.data['ignored_init'])}")
    scales = result["scales"]
    rows: dict[str, dict] = {}
    for row in result["layers"]:
        rows.setdefault(row["name"], {"kind": row["kind"]})[row["scale"]] = row
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_header=True, header_style="bold")
        table.add_column("layer")
        table.add_column("kind")
        gradients = result.get("gradients", False)
        for s in scales:
            table.add_column(f"x{s:g} RMS" + (" g(rel)" if gradients else ""))
        for name, cells in rows.items():
            table.add_row(name, cells["kind"], *(_cell(cells.get(s)) for s in scales))
        console = Console(no_color=bool(os.environ.get("NO_COLOR")), width=160)
        with console.capture() as capture:
            console.print(table)
        echo(capture.get().rstrip())
    except ImportError:
        for name, cells in rows.items():
            echo(name + "  " + "  ".join(f"x{s:g}:{_cell(cells.get(s))}" for s in scales))
    if result.get("gradients"):
        echo("g: the layer's output-gradient RMS x output RMS, relative to the last SSM layer's "
             "(gradient explosion above 1e3, vanishing below 1e-4)")
    bad = [r for r in result["layers"] if r["verdict"] != "ok"]
    verdict = "STABLE" if outcome.stable else f"UNSTABLE ({len(bad)} layer/scale cells: " + ", ".join(sorted({r['verdict'] for r in bad})) + ")"
    echo(f"verdict: {verdict}")


def compare_after_apply(report, echo=print, **spec) -> list[tuple[SmokeOutcome, SmokeOutcome]]:
    """Probe each class apply patched: the original bytes (in a temporary copy) against the patched file."""
    pairs = []
    echo(NOTICE)
    for fix in report.changed:
        for cls in fix.patched_classes:
            pairs.append(compare(fix.path, cls, fix.original, echo=echo, **spec))
    return pairs


@contextlib.contextmanager
def copy_with(path: str | Path, data: bytes):
    """A temporary copy of the file's package (or of the file alone) with `data` in its place;
    yields the copied file's path. Relative imports inside the package keep working."""
    import shutil

    path = Path(path).resolve()
    top = path.parent
    while (top.parent / "__init__.py").exists():
        top = top.parent
    with tempfile.TemporaryDirectory(prefix="mambafix-copy-") as tmp:
        if (path.parent / "__init__.py").exists():
            shutil.copytree(top, Path(tmp) / top.name, ignore=shutil.ignore_patterns("__pycache__"))
            copy = Path(tmp) / top.name / path.relative_to(top)
        else:
            copy = Path(tmp) / path.name
        copy.write_bytes(data)
        yield copy


def compare(path: str, cls: str, original: bytes, echo=print, **spec) -> tuple[SmokeOutcome, SmokeOutcome]:
    """Probe `original` (in a temporary copy) and the file at `path`, sharing parameters by name."""
    path = Path(path).resolve()
    with copy_with(path, original) as orig_file:
        weights = orig_file.parent / ".mambafix-original-state.pt"
        before = run_smoke(f"{orig_file}:{cls}", save_weights=str(weights), **spec)
        after = run_smoke(f"{path}:{cls}", weights=str(weights) if weights.exists() else None, **spec)
    before.target, after.target = f"{path.name}:{cls} (before)", f"{path.name}:{cls} (after)"
    render(before, echo)
    render(after, echo)
    echo(f"{cls}: before {'stable' if before.stable else 'UNSTABLE'}, after {'stable' if after.stable else 'UNSTABLE'}")
    return before, after


def compare_patched(target: str, config, echo=print, **spec) -> tuple[SmokeOutcome, SmokeOutcome]:
    """`smoke --compare`: the file as it is against its `apply --residual` version (in a copy)."""
    from mambafix.fix.apply import fix_source
    from mambafix.checks.base import FixOptions

    path_text, _, cls = target.rpartition(":")
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"{target}: --compare needs a file target, path/to/file.py:Class")
    original = path.read_bytes()
    fixed = fix_source(original, str(path), config, FixOptions(residual=True))
    if fixed.error or not fixed.changed:
        raise ValueError(f"nothing to patch in {path} ({fixed.error.message if fixed.error else 'no fixable finding'})")
    with copy_with(path, fixed.fixed) as patched:
        return compare(str(patched), cls, original, echo=echo, **spec)
