"""One `mambafix smoke` run over its jobs: probe each, render, write the report and plot, decide the exit code.

Classes found in a path that cannot be built or run are listed with the reason and do not stop
the others; the exit code is then decided by the classes that were probed (2 when none was).
"""

from __future__ import annotations

import json
from pathlib import Path

from mambafix.smoke import diagnoses
from mambafix.smoke.plotting import plot
from mambafix.smoke.runner import (
    NOTICE, SmokeOutcome, compare_patched, render, render_error, run_smoke, where_it_failed,
)

SCHEMA_VERSION = 2


def run_session(jobs, config, *, compare: bool = False, weights: Path | None = None, timeout: float = 300,
                report: Path | None = None, plot_file: Path | None = None, echo=print, err=print) -> int:
    echo(NOTICE)
    if compare:
        outcomes = []
        for job in jobs:
            outcomes.extend(compare_patched(job.target, config, echo=echo, timeout=timeout, **job.spec))
        failed = [o for o in outcomes if not o.ok]
        code = 2 if failed else (0 if all(o.stable for o in outcomes[1::2]) else 1)
    else:
        outcomes, skipped = [], []
        for job in jobs:
            outcome = run_smoke(job.target, timeout=timeout, weights=str(weights) if weights else None, **job.spec)
            outcomes.append(outcome)
            if outcome.ok:
                render(outcome, echo)
                for line in diagnoses.findings(outcome.data):
                    echo(line)
                if diagnoses.wants_float32_twin(job.spec):  # the same model in float32, beside it
                    twin = run_smoke(job.target, timeout=timeout, weights=str(weights) if weights else None,
                                     **{**job.spec, "dtype": "float32"})
                    twin.target = f"{job.target} (float32)"
                    render(twin, echo)
                    echo(diagnoses.precision_line(outcome, twin))
                    outcome.data["float32"] = {"ok": twin.ok, "stable": twin.stable, "error": twin.error,
                                               **{k: v for k, v in twin.data.items() if k not in ("ok", "error")}}
            elif job.discovered and len(jobs) > 1:
                skipped.append(outcome)
                err(f"{outcome.target}: not probed: {outcome.error}{where_it_failed(outcome.trace)}")
            else:
                render_error(outcome, err)
        code = _exit_code(outcomes, skipped)
        if len(jobs) > 1:
            probed = [o for o in outcomes if o.ok]
            echo(f"{sum(o.stable for o in probed)} of {len(probed)} probed targets stable"
                 + (f"; {len(skipped)} not probed (reasons above)" if skipped else ""))
    if report is not None:
        report.write_text(json.dumps(report_data(outcomes), indent=2, default=str))
    if plot_file is not None and any(o.ok for o in outcomes):
        plot([o for o in outcomes if o.ok], plot_file)
    return code


def _exit_code(outcomes: list[SmokeOutcome], skipped: list[SmokeOutcome]) -> int:
    counted = [o for o in outcomes if not any(o is s for s in skipped)]
    if not counted:
        return 2
    return max(max(o.exit_code, 1 if o.ok and diagnoses.findings(o.data) else 0) for o in counted)


def report_data(outcomes: list[SmokeOutcome]) -> dict:
    return {"schema_version": SCHEMA_VERSION,
            "targets": [{"target": o.target, "ok": o.ok, "stable": o.stable, "error": o.error, "traceback": o.trace,
                         **{k: v for k, v in o.data.items() if k not in ("ok", "error", "traceback")}}
                        for o in outcomes]}
