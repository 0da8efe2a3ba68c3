#!/usr/bin/env python3
"""apply over whole repositories, as a new user would: every fetched mirror's newest commit (or the
commits given) written to a temporary tree, `mambafix apply [--residual]` run on it twice, and
every file it changed compiled. Prints per repository: files changed, findings fixed and left,
errors; and a last line with the totals. A file that no longer compiles, a second apply that
changes anything, or an internal error is a failure (exit 1).

    python bench/apply_mirrors.py [--mirrors DIR] [--residual] [--style prenorm] [REPO ...]

Mirrors are bare git repositories under DIR/OWNER+NAME/repo (the search tool's fetch). Nothing
of them is kept: each tree lives in a temporary folder and is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXTENSIONS = (".py", ".ipynb", ".toml")


def extract(git_dir: Path, commit: str, dest: Path) -> int:
    names = subprocess.run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", "--name-only", commit],
                           capture_output=True, text=True).stdout.splitlines()
    n = 0
    for name in names:
        if not name.endswith(EXTENSIONS) or "/." in "/" + name:
            continue
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{name}"], capture_output=True)
        if blob.returncode == 0 and len(blob.stdout) < 2_000_000:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(blob.stdout)
            n += 1
    return n


def snapshot(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in tree.rglob("*.py") if p.is_file()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirrors", default=str(Path.cwd().resolve().parent / ".mirror"))
    ap.add_argument("--mambafix", default=shutil.which("mambafix") or "mambafix")
    ap.add_argument("--residual", action="store_true")
    ap.add_argument("--style", default="postnorm")
    ap.add_argument("repos", nargs="*")
    opts = ap.parse_args()
    mirrors = Path(opts.mirrors)
    repos = opts.repos or sorted(p.name.replace("+", "/", 1) for p in mirrors.iterdir() if (p / "repo").is_dir())
    extra = (["--residual"] if opts.residual else []) + ["--style", opts.style]
    totals = dict(repos=0, changed=0, left=0, broken=0, unstable=0, errors=0)
    failures = []
    with tempfile.TemporaryDirectory(prefix="apply-mirrors-") as tmp:
        env = dict(os.environ, MAMBAFIX_CACHE_DIR=str(Path(tmp) / "cache"))
        for repo in repos:
            git_dir = mirrors / repo.replace("/", "+", 1) / "repo"
            tree = Path(tmp) / repo.replace("/", "+")
            tree.mkdir(parents=True)
            if extract(git_dir, "HEAD", tree) == 0:
                shutil.rmtree(tree)
                continue
            before = snapshot(tree)
            first = subprocess.run([opts.mambafix, "apply", "--no-smoke", *extra, "."], cwd=tree, env=env,
                                   capture_output=True, text=True, timeout=1800)
            after = snapshot(tree)
            changed = [p for p in after if after[p] != before.get(p)]
            broken = []
            for path in changed:
                try:
                    compile(after[path], path, "exec", dont_inherit=True)
                except SyntaxError as exc:
                    broken.append(f"{path}: {exc.msg} (line {exc.lineno})")
            second = subprocess.run([opts.mambafix, "apply", "--no-smoke", *extra, "."], cwd=tree, env=env,
                                    capture_output=True, text=True, timeout=1800)
            again = [p for p, data in snapshot(tree).items() if data != after.get(p)]
            out = first.stdout + first.stderr
            errors = [line for line in out.splitlines() if ": error: " in line and "cannot parse" not in line]
            left = sum(1 for line in out.splitlines() if "(no automatic fix:" in line)
            totals["repos"] += 1
            totals["changed"] += len(changed)
            totals["left"] += left
            totals["broken"] += len(broken)
            totals["unstable"] += len(again)
            totals["errors"] += len(errors)
            print(f"{repo}: {len(changed)} files changed, {left} findings left, {len(errors)} errors"
                  + (f", BROKEN {broken}" if broken else "") + (f", SECOND APPLY CHANGED {again}" if again else ""))
            for line in errors:
                print(f"    {line}")
            if broken or again or errors:
                failures.append(repo)
            shutil.rmtree(tree)
    print(f"apply {' '.join(extra)} over {totals['repos']} repositories: {totals['changed']} files changed, "
          f"{totals['left']} findings left without a fix, {totals['broken']} files broken, "
          f"{totals['unstable']} changed by a second apply, {totals['errors']} internal errors")
    print(json.dumps(totals))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
