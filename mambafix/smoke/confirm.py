"""`check --probe`: one step from a finding to its proof. Every class with an MF001 finding is
probed (the same subprocess, init and input options as `smoke`), and each finding gets what the
probe saw: "confirmed: UNSTABLE at x30 (forward_layers.2 overflow)", "not confirmed: STABLE at
x1-x100", or "not probed: <why>". MF005-MF007 findings are judged by `confirm_causes`.

The finding's class is the innermost class around its line (read with `ast`, never imported
here), its stack the `self.<attr>` the flagged statement names; the confirmation is read from
that stack's layers when it names one. Torch is imported only by the probe's subprocess.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

SEVERITY = ("overflow", "explosion", "gradient explosion", "collapse", "vanishing gradient")


def finding_owner(tree: ast.AST, line: int) -> tuple[str | None, tuple[str, ...]]:
    """(innermost class containing `line`, the self attributes the statement at `line` names:
    the stack a loop iterates, or the one an assignment builds)."""
    owner, attrs = None, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if owner is None or node.lineno >= owner.lineno:
                owner = node
        if isinstance(node, ast.stmt) and node.lineno == line:
            head = node.iter if isinstance(node, ast.For) else node
            attrs += [n.attr for n in ast.walk(head) if isinstance(n, ast.Attribute)
                      and isinstance(n.value, ast.Name) and n.value.id == "self"]
    return (owner.name if owner else None), tuple(dict.fromkeys(attrs))


def describe(outcome, attrs: tuple[str, ...] = ()) -> tuple[str, str]:
    """(status, text) for one finding from its class's probe; constructor values smoke guessed
    by their names are said after it."""
    if not outcome.ok:
        return "not_probed", f"not probed: {outcome.error.splitlines()[0] if outcome.error else 'unknown error'}"
    status, text = _verdict(outcome, attrs)
    guessed = outcome.data.get("guessed_init")
    return status, text + (f" (constructor values guessed: {', '.join(guessed)})" if guessed else "")


def _verdict(outcome, attrs: tuple[str, ...]) -> tuple[str, str]:
    result = outcome.data["result"]
    span = f"x{result['scales'][0]:g}-x{result['scales'][-1]:g}"
    bad = [r for r in result["layers"] if r["verdict"] != "ok"]
    mine = [r for r in bad if not attrs or r["name"] in attrs
            or r["name"].startswith(tuple(f"{a}{sep}" for a in attrs for sep in ".["))]
    if not mine:
        if bad:
            other = min(bad, key=_rank)
            return "not_confirmed", (f"not confirmed: this stack is STABLE at {span} (the model is UNSTABLE elsewhere: "
                                     f"{other['name']} {other['verdict']} at x{other['scale']:g})")
        return "not_confirmed", f"not confirmed: STABLE at {span}"
    worst = min(mine, key=_rank)  # the most severe verdict, at the lowest scale it appears
    return "confirmed", f"confirmed: UNSTABLE at x{worst['scale']:g} ({worst['name']} {worst['verdict']})"


def _rank(row: dict):
    return (SEVERITY.index(row["verdict"]) if row["verdict"] in SEVERITY else len(SEVERITY), row["scale"])


def probe_findings(report, config, given: dict, *, timeout: float = 300, progress=None):
    """Probe every class with a finding the probe can judge (MF001, MF005-MF007) and annotate the
    findings in place; sets `report.probe` to the counts. `given` holds smoke's command-line
    settings (init, inputs)."""
    from mambafix.smoke import confirm_causes
    from mambafix.smoke.runner import run_smoke
    from mambafix.smoke.targets import resolve_jobs

    counts = {"confirmed": 0, "not_confirmed": 0, "not_probed": 0}
    outcomes: dict[tuple, object] = {}

    def probed(path: str, cls: str, dtype: str | None = None):
        key = (path, cls, dtype)
        if key not in outcomes:
            if progress is not None:
                progress(f"probing {path}:{cls}" + (f" in {dtype}" if dtype else ""))
            job = resolve_jobs([f"{path}:{cls}"], config, dict(given, **({"dtype": dtype} if dtype else {})))[0]
            outcomes[key] = run_smoke(job.target, timeout=timeout, **job.spec)
        return outcomes[key]

    annotated = []
    for finding in report.findings:
        if finding.code not in ("MF001", *confirm_causes.CODES):
            annotated.append(finding)
            continue
        cls, attrs = None, ()
        if finding.cell is None and finding.path.endswith(".py"):
            try:
                tree = ast.parse(Path(finding.path).read_bytes())
                cls, attrs = finding_owner(tree, finding.line)
                if cls is None and finding.code in ("MF006", "MF007"):  # a script building a model of the file
                    cls = confirm_causes.named_class(tree, finding.message)
            except (OSError, SyntaxError, ValueError):
                pass
        if cls is None and finding.code == "MF005":
            status, text = "not_probed", ("not probed: the hook runs outside any class (a script); the probe builds "
                                          "classes, not scripts")
        elif cls is None:
            status, text = "not_probed", "not probed: no class around this finding in a .py file"
        elif finding.code == "MF001":
            status, text = describe(probed(finding.path, cls), attrs)
        elif finding.code == "MF006":
            dtype = confirm_causes.dtype_of(finding)
            status, text = confirm_causes.describe("MF006", probed(finding.path, cls, dtype),
                                                   probed(finding.path, cls, "float32"), dtype)
        else:
            status, text = confirm_causes.describe(finding.code, probed(finding.path, cls))
        counts[status] += 1
        annotated.append(replace(finding, probe=text))
    report.findings = annotated
    report.probe = counts
    return counts
