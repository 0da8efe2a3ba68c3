#!/usr/bin/env python3
"""How many real model classes `mambafix smoke` probes with the input inferred, and with it given.

    python bench/smoke_inputs.py --mirrors DIR [--targets bench/smoke_inputs.tsv] [--mambafix CMD] [--only NAME]

Each row of the targets file (tab-separated: repo, commit, path, class, init as JSON, the input
shape the authors use, their input's layout in words) names a model class of a public
repository. The repository at that commit is written to a temporary tree (its .py files) from
its bare mirror (DIR/OWNER+NAME/repo), and `mambafix smoke path:Class --init ...` runs from the
tree's root twice: with `--input-shape` and without it (inferred). Printed per class: the
outcome of each (STABLE / UNSTABLE / not probed: why) and the inferred input; then the counts,
and how many runs were killed or timed out. `--mambafix` runs another build (a checkout's
`python -m mambafix`), so a baseline can be measured on the same machine in the same way.
"""

import argparse
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

here = pathlib.Path(__file__).resolve().parent
ap = argparse.ArgumentParser()
ap.add_argument("--mirrors", required=True)
ap.add_argument("--targets", default=str(here / "smoke_inputs.tsv"))
ap.add_argument("--mambafix", default="mambafix")
ap.add_argument("--only", nargs="*")
ap.add_argument("--timeout", type=float, default=240)
opts = ap.parse_args()


def extract(repo: str, commit: str, dest: pathlib.Path) -> bool:
    git_dir = pathlib.Path(opts.mirrors) / repo.replace("/", "+") / "repo"
    if not git_dir.exists():
        return False
    names = subprocess.run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", "--name-only", commit],
                           capture_output=True, text=True).stdout.splitlines()
    for name in names:
        if name.endswith((".py", ".yaml", ".yml", ".json", ".toml")):
            blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{name}"], capture_output=True)
            if blob.returncode == 0 and len(blob.stdout) < 2_000_000:
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                (dest / name).write_bytes(blob.stdout)
    (dest / ".git").mkdir(exist_ok=True)  # the repository root, as a clone has it
    return True


def smoke(tree: pathlib.Path, target: str, init: str, shape: str | None) -> tuple[str, str, float]:
    report = tree / f".smoke-{os.getpid()}.json"
    cmd = [*shlex.split(opts.mambafix), "smoke", target, "--device", "cpu", "--length", "64",
           "--timeout", str(opts.timeout), "--report", str(report)]
    if init:
        cmd += ["--init", init]
    if shape:
        cmd += ["--input-shape", shape]
    started = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, timeout=opts.timeout + 120)
    elapsed = time.perf_counter() - started
    try:
        data = json.loads(report.read_text())["targets"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return "not probed", (run.stderr or run.stdout).strip().splitlines()[-1][:200] if (run.stderr or run.stdout) else "", elapsed
    if not data["ok"]:
        return "not probed", (data.get("error") or "").splitlines()[0][:200], elapsed
    verdict = "STABLE" if data["stable"] else "UNSTABLE"
    return verdict, f"{data.get('input_shape')} {data.get('input_source', '')[:150]}", elapsed


rows = []
for line in pathlib.Path(opts.targets).read_text().splitlines()[1:]:
    if line.strip() and not line.startswith("#"):
        rows.append(dict(zip(("repo", "commit", "path", "cls", "init", "shape", "layout"), line.split("\t"))))
if opts.only:
    rows = [r for r in rows if r["cls"] in opts.only or r["repo"] in opts.only]
tmp = pathlib.Path(tempfile.mkdtemp(prefix="smoke-inputs-"))
counts = {"given": 0, "inferred": 0, "killed or timed out": 0, "UNSTABLE": 0}
for row in rows:
    tree = tmp / f"{row['repo'].replace('/', '+')}@{row['commit'][:7]}"
    if not tree.exists() and not extract(row["repo"], row["commit"], tree):
        print(f"missing mirror  {row['repo']}")
        continue
    target = f"{row['path']}:{row['cls']}"
    out = {}
    for mode, shape in (("given", row["shape"]), ("inferred", None)):
        verdict, detail, elapsed = smoke(tree, target, row["init"], shape)
        out[mode] = (verdict, detail, elapsed)
        counts[mode] += verdict != "not probed"
        counts["UNSTABLE"] += verdict == "UNSTABLE"
        counts["killed or timed out"] += any(w in detail for w in ("killed", "did not finish", "died"))
    print(f"{row['repo']} {target} [{row['layout']}]")
    for mode, (verdict, detail, elapsed) in out.items():
        print(f"    {mode:9s} {verdict:10s} {elapsed:6.1f}s  {detail}")
    sys.stdout.flush()
print(f"{len(rows)} classes: probed with the input given {counts['given']}, inferred {counts['inferred']}; "
      f"killed or timed out {counts['killed or timed out']}; UNSTABLE verdicts {counts['UNSTABLE']}")
