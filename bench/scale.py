"""check at scale: cold and warm runs, peak memory and ruff T201 on one large tree, and how each
grows from a quarter to half to the whole of it.

Run:  python bench/scale.py --mirrors DIR [--tree /work/bigtree] [--vs CHECKOUT] [--repeat N]
      python bench/scale.py --dense 820 [--tree /tmp/dense] [--vs CHECKOUT] [--floor]

The big tree: every `.py` file at HEAD of each bare git mirror under --mirrors (`OWNER+NAME/repo`,
as the fetched repositories are kept), written under --tree (built once, reused; outside the
repository: no fetched code is ever committed). With --dense N instead: N generated model files
from tests/corpus.py in 7 packages (820 give the 827-file dense tree of earlier benchmarks).

Printed, for this checkout (A) and, with --vs, another checkout (B) started the same way (the
same interpreter, each with its own cache), interleaved A B A B on the same tree:
- cold: `check --no-cache`; fill: `check` with an empty cache (cold, and the store written); warm:
  `check` again, nothing changed; touched: `check` after one file a check reads gained a comment
  (restored after); on 1/4 and 1/2 of the tree the fill run stands for cold (one run fewer);
- wall and CPU seconds (user + system, workers included), the largest process's peak RSS, and
  the whole process tree's peak PSS (sampled every 0.2 s: workers share their parent's pages);
- ruff (`ruff check --no-cache --select T201`) on the same tree, cold, in the same run;
- with --floor: libcst.parse_module of every file in one process (the one-core parse floor);
- the growth: cold, warm and ruff on whole repositories making up about 1/4 and 1/2 of the files,
  then the whole tree, and the exponent k of time ~ files^k fitted over the three (1.0 is linear);
  with --vs-whole the other checkout runs on the whole tree only, and with --fill-is-cold the
  fill run stands for cold on the whole tree too (where the baseline's cold run is long);
Every figure is a fresh process; medians of --repeat runs, and for --vs the median of the pair
ratios A/B. The machine and what else runs on it bound every figure: say so with them.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bigtree  # noqa: E402 - the tree builders beside this script
from check_speed import launcher  # noqa: E402 - both sides started as check_speed starts them

ROOT = Path(__file__).resolve().parent.parent


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Run:
    """One fresh process: wall and CPU seconds, the largest process's peak RSS (from wait4, which
    covers the workers it reaped) and the process tree's peak PSS (sampled)."""

    def __init__(self, cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> None:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        self.tree_pss_mb = 0.0
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                pids, todo = [], [proc.pid]
                while todo:
                    pid = todo.pop()
                    pids.append(pid)
                    todo += _children(pid)
                self.tree_pss_mb = max(self.tree_pss_mb, sum(_pss_kb(p) for p in pids) / 1024)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        self.wall = time.perf_counter() - start
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime
        self.rss_mb = usage.ru_maxrss / 1024


class Side:
    """One checkout's mambafix on one tree, with its own cache."""

    def __init__(self, name: str, checkout: Path, tmp: Path) -> None:
        self.name = name
        self.cmd = launcher(checkout)
        self.env = dict(os.environ, MAMBAFIX_CACHE_DIR=str(tmp / f"cache-{name}"))
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.runs: dict[str, list[Run]] = {}

    def check(self, paths: list[str], cwd: Path, *extra: str) -> Run:
        return Run([*self.cmd, "check", "--exit-zero", "-q", *extra, *paths], self.env, cwd)

    def record(self, label: str, run: Run) -> None:
        self.runs.setdefault(label, []).append(run)

    def clear_cache(self) -> None:
        shutil.rmtree(self.env["MAMBAFIX_CACHE_DIR"], ignore_errors=True)


def touch_target(tree: Path, paths: list[str]) -> Path:
    """A file a check reads (it builds a Mamba-family layer), among those measured: the one to touch."""
    files = sorted(p for part in paths for p in (tree / part).rglob("*.py"))
    for path in files:
        data = path.read_bytes()
        if b"Mamba(" in data and b"class " in data and len(data) < 200_000:
            return path
    return files[0]


def measure(sides: list[Side], paths: list[str], tree: Path, repeat: int, no_cache: bool = True) -> None:
    """cold, warm, touched for each side, interleaved A B A B. Without `no_cache` the cold figure
    is the run that fills an empty cache (the same parsing, and the store written)."""
    target = touch_target(tree, paths)
    for _ in range(repeat):
        if no_cache:
            for side in sides:
                side.record("cold", side.check(paths, tree, "--no-cache"))
        for side in sides:
            side.clear_cache()
            run = side.check(paths, tree)
            side.record("fill", run)
            if not no_cache:
                side.record("cold", run)
        for side in sides:
            side.record("warm", side.check(paths, tree))
        original = target.read_bytes()
        try:
            for k, side in enumerate(sides):
                target.write_bytes(original + f"\n# touched {time.time_ns()} {k}\n".encode())
                side.record("touched", side.check(paths, tree))
        finally:
            target.write_bytes(original)
        for side in sides:  # the restored file back in each cache
            side.check(paths, tree)


def ruff_time(ruff: str | None, paths: list[str], tree: Path, repeat: int) -> list[Run]:
    if ruff is None:
        return []
    cmd = [ruff, "check", "--no-cache", "--select", "T201", "--exit-zero", "-q", "--output-format", "concise", *paths]
    return [Run(cmd, cwd=tree) for _ in range(repeat)]


def parse_floor(tree: Path) -> float:
    """Seconds to libcst-parse every file of the tree in one process (the one-core floor)."""
    code = ("import libcst, sys, time, pathlib\n"
            "files = sorted(pathlib.Path(sys.argv[1]).rglob('*.py'))\n"
            "start = time.perf_counter()\n"
            "for f in files:\n"
            "    try:\n        libcst.parse_module(f.read_bytes())\n"
            "    except Exception:\n        pass\n"
            "print(time.perf_counter() - start)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tree)], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


def exponent(points: list[tuple[int, float]]) -> float:
    """k of time ~ files^k, least squares over (files, seconds) in logs."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-3)) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def show(label: str, runs: list[Run], base: list[Run] | None = None, ruff: float | None = None) -> None:
    if not runs:
        return
    wall, cpu = median(r.wall for r in runs), median(r.cpu for r in runs)
    rss, pss = max(r.rss_mb for r in runs), max(r.tree_pss_mb for r in runs)
    text = f"  {label:<22} wall {wall:8.2f} s  cpu {cpu:8.2f} s  rss {rss:6.0f} MB  tree pss {pss:6.0f} MB"
    if ruff:
        text += f"  {wall / ruff:6.2f}x ruff"
    if base:
        ratios = [a.wall / b.wall for a, b in zip(runs, base)]
        text += f"  A/B {median(ratios):5.2f} (pairs {min(ratios):.2f}-{max(ratios):.2f}, n={len(ratios)})"
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, help="folder of bare git mirrors (OWNER+NAME/repo)")
    parser.add_argument("--dense", type=int, help="instead: this many generated model files")
    parser.add_argument("--tree", type=Path, help="where the tree is built (default: a temporary folder)")
    parser.add_argument("--vs", type=Path, help="another checkout of mambafix to time against, interleaved")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--floor", action="store_true", help="also the one-core libcst parse floor")
    parser.add_argument("--no-growth", action="store_true", help="the whole tree only")
    parser.add_argument("--fill-is-cold", action="store_true",
                        help="no --no-cache run on the whole tree: the run filling an empty cache stands for cold")
    parser.add_argument("--vs-whole", action="store_true", help="--vs on the whole tree only (the growth is A's)")
    args = parser.parse_args()
    if (args.mirrors is None) == (args.dense is None):
        parser.error("give --mirrors or --dense")
    ruff = shutil.which("ruff") or (str(Path(sys.executable).parent / "ruff")
                                     if (Path(sys.executable).parent / "ruff").exists() else None)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"{platform.python_implementation()} {platform.python_version()}, ruff: {ruff or 'not found'}")
    with tempfile.TemporaryDirectory(prefix="mambafix-scale-") as tmp:
        tmp = Path(tmp)
        if args.dense is not None:
            tree = args.tree or tmp / "dense"
            counts = bigtree.build_dense(tree, args.dense)
        else:
            tree = args.tree or tmp / "big"
            counts = bigtree.build_big(args.mirrors, tree)
        files = sum(counts.values())
        size = sum(p.stat().st_size for p in tree.rglob("*.py"))
        print(f"tree: {tree}, {len(counts)} folders, {files} .py files, {size / 1e6:.0f} MB")
        sides = [Side("A", ROOT, tmp)] + ([Side("B", args.vs.resolve(), tmp)] if args.vs else [])
        for side in sides:  # bytecode written once, outside the timings
            side.check([str(tmp)], tmp)
        if args.floor:
            print(f"  libcst parse, one process (floor): {parse_floor(tree):.2f} s", flush=True)
        growth: dict[str, list[tuple[int, float]]] = {}
        parts = {1: ["."]} if args.no_growth or args.dense is not None else \
            {k: v if k != 1 else ["."] for k, v in bigtree.fractions(counts).items()}
        for k, paths in parts.items():
            n = files if k == 1 else sum(counts[p] for p in paths)
            part = sides if k == 1 or not args.vs_whole else sides[:1]
            for side in sides:
                side.runs = {}
            rounds = args.repeat if k == 1 else 1
            measure(part, paths, tree, rounds, no_cache=k == 1 and not args.fill_is_cold)
            ruff_runs = ruff_time(ruff, paths, tree, max(rounds, 3))
            t_ruff = median(r.wall for r in ruff_runs) if ruff_runs else None
            print(f"\n{'whole tree' if k == 1 else f'1/{k} of the tree'}: {n} files")
            show("ruff T201 cold", ruff_runs)
            for side in part:
                base = sides[1] if side is sides[0] and len(part) > 1 else None
                for label in ("cold", "fill", "warm", "touched"):
                    show(f"{side.name} {label}", side.runs.get(label, []),
                         base.runs.get(label) if base else None, t_ruff)
                for label in ("fill", "warm", "touched"):  # fill: cold, measured alike at every size
                    growth.setdefault(f"{side.name} {label}", []).append((n, median(r.wall for r in side.runs[label])))
            if t_ruff:
                growth.setdefault("ruff T201 cold", []).append((n, t_ruff))
        if len(parts) > 1:
            print("\ngrowth exponent k (time ~ files^k) over 1/4, 1/2, 1:")
            for label, points in growth.items():
                if len(points) < 2:
                    continue
                print(f"  {label:<22} k = {exponent(points):5.2f}   " +
                      "  ".join(f"{n} files {t:.2f} s" for n, t in points))


if __name__ == "__main__":
    main()
