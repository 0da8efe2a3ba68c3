"""check speed: sparse tree (standard library copy), dense tree (generated models), start-up.

Run:  python bench/check_speed.py [--peers DIR] [--repeat N] [--skip-slow-peers]

Every figure is wall time of a fresh process, best of N runs, with the baselines run in the
same script: ruff (`ruff check --no-cache --select T201`) for both trees, and on the dense
tree Fixit (`fixit lint`) and TorchFix (`torchfix`), found on PATH or in --peers (a folder of
executables, e.g. a virtualenv's bin: `python -m venv /tmp/peers && /tmp/peers/bin/pip
install ruff fixit torchfix`). The peers run once: they take minutes.
Also printed: the floor that bounds a cold dense run, libcst.parse_module of every dense
file in a pool of as many processes as mambafix uses.

With `--vs CHECKOUT` (another checkout of this repository, e.g. `git worktree add /tmp/base
<commit>`), its mambafix is run on the same trees with the same interpreter, interleaved with this
one (A B A B ...), and the medians and the median of the paired ratios A/B are printed: sparse
cold, dense cold, dense warm (each side with its own cache).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

DENSE_FILES = 300


def timed(cmd: list[str], env: dict | None = None, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def find_tool(name: str, peers: Path | None) -> str | None:
    if peers is not None and (peers / name).exists():
        return str(peers / name)
    return shutil.which(name)


def _parse_all(paths: list[str]) -> None:
    import libcst

    for path in paths:
        libcst.parse_module(Path(path).read_bytes())


def parse_floor(files: list[Path], jobs: int) -> float:
    """Seconds to libcst-parse every file, split over `jobs` processes (start-up excluded)."""
    from concurrent.futures import ProcessPoolExecutor

    import libcst  # noqa: F401 - imported before the clock starts, as forked workers inherit it

    chunks = [[str(p) for p in files[i::jobs]] for i in range(jobs)]
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_parse_all, [[]] * jobs))  # warm the workers
        start = time.perf_counter()
        list(pool.map(_parse_all, chunks))
        return time.perf_counter() - start


def paired(label: str, cmd_a: list[str], cmd_b: list[str], env_a: dict, env_b: dict, n: int, reset=None) -> None:
    """Run A and B in turn n times; print both medians and the median ratio A/B."""
    from statistics import median

    a_times, b_times = [], []
    for _ in range(n):
        for cmd, env, out in ((cmd_a, env_a, a_times), (cmd_b, env_b, b_times)):
            if reset is not None:
                reset()
            out.append(timed(cmd, env))
    ratios = [a / b for a, b in zip(a_times, b_times)]
    print(f"  {label:<34} A {median(a_times):7.3f} s   B {median(b_times):7.3f} s   A/B {median(ratios):5.2f}"
          f" (pairs {min(ratios):.2f}-{max(ratios):.2f}, n={n})")


def launcher(checkout: Path) -> list[str]:
    """The mambafix of a checkout, started the same way for both sides of a comparison."""
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(checkout)!r}); sys.argv[0] = 'mambafix'; "
                                  "from mambafix.cli import main; main()"]


def versus(checkout: Path, stdlib: Path, dense: Path, tmp: Path, env: dict, n: int) -> None:
    """This checkout's mambafix (A) against another's (B), interleaved, on the same trees."""
    mambafix, base = launcher(ROOT), launcher(checkout)
    env_a, env_b = dict(env, MAMBAFIX_CACHE_DIR=str(tmp / "cache-a")), dict(env, MAMBAFIX_CACHE_DIR=str(tmp / "cache-b"))
    print(f"\nA = this checkout, B = {checkout}")
    paired("sparse cold", mambafix + ["check", "--no-cache", "--exit-zero", str(stdlib)],
           base + ["check", "--no-cache", "--exit-zero", str(stdlib)], env_a, env_b, n)
    paired("dense cold", mambafix + ["check", "--no-cache", "--exit-zero", str(dense)],
           base + ["check", "--no-cache", "--exit-zero", str(dense)], env_a, env_b, n)
    timed(mambafix + ["check", "--exit-zero", str(dense)], env_a)  # fill each side's cache
    timed(base + ["check", "--exit-zero", str(dense)], env_b)
    paired("dense warm", mambafix + ["check", "--exit-zero", str(dense)], base + ["check", "--exit-zero", str(dense)],
           env_a, env_b, 3 * n)


def row(label: str, seconds: float | None, base: float | None = None, base_name: str = "") -> None:
    if seconds is None:
        print(f"  {label:<34} not installed")
        return
    ratio = f"   {seconds / base:6.2f}x {base_name}" if base else ""
    print(f"  {label:<34} {seconds:8.3f} s{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, help="folder holding ruff / fixit / torchfix executables")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-slow-peers", action="store_true", help="do not run Fixit and TorchFix")
    parser.add_argument("--vs", type=Path, help="another checkout of mambafix to time against, interleaved")
    args = parser.parse_args()
    from corpus import write_tree

    jobs = os.cpu_count() or 1
    print(f"machine: {platform.machine()}, {jobs} CPUs, {platform.python_implementation()} {platform.python_version()}, {platform.platform()}")
    ruff = find_tool("ruff", args.peers)
    fixit = None if args.skip_slow_peers else find_tool("fixit", args.peers)
    torchfix = None if args.skip_slow_peers else find_tool("torchfix", args.peers)
    mambafix = [str(Path(sys.executable).parent / "mambafix")]  # the console script, as users run it
    if not Path(mambafix[0]).exists():
        mambafix = [sys.executable, "-m", "mambafix"]
    with tempfile.TemporaryDirectory(prefix="mambafix-bench-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, MAMBAFIX_CACHE_DIR=str(tmp / "cache"))
        env.pop("NO_COLOR", None)
        # An installed package has its bytecode compiled; an environment that forbids writing it
        # (PYTHONDONTWRITEBYTECODE, set on some CI images) would time the compiler instead.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        empty = tmp / "empty"
        empty.mkdir()
        timed(mambafix + ["check", str(empty)], env)  # writes the bytecode once

        stdlib = tmp / "stdlib"
        shutil.copytree(sysconfig.get_paths()["stdlib"], stdlib, symlinks=True,
                        ignore=shutil.ignore_patterns("site-packages", "__pycache__"))
        n_std = sum(1 for _ in stdlib.rglob("*.py"))
        print(f"\nsparse tree: copy of the standard library, {n_std} files, no Mamba code")
        t_ruff = timed([ruff, "check", "--no-cache", "--select", "T201", "--exit-zero", "-q", str(stdlib)], repeat=args.repeat) if ruff else None
        t_cold = timed(mambafix + ["check", "--no-cache", "--exit-zero", str(stdlib)], env, args.repeat)
        row("ruff --select T201 (baseline)", t_ruff)
        row("mambafix check (cold, no cache)", t_cold, t_ruff, "ruff")

        dense = tmp / "dense"
        files = write_tree(dense, DENSE_FILES)
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        print(f"\ndense tree: {len(files)} generated Mamba model files, {lines} lines")
        t_cold = float("inf")
        for _ in range(args.repeat):
            shutil.rmtree(tmp / "cache", ignore_errors=True)
            t_cold = min(t_cold, timed(mambafix + ["check", "--exit-zero", str(dense)], env))
        t_warm = timed(mambafix + ["check", "--exit-zero", str(dense)], env, args.repeat)
        t_floor = parse_floor(files, jobs)
        t_ruff = timed([ruff, "check", "--no-cache", "--select", "T201", "--exit-zero", "-q", str(dense)], repeat=args.repeat) if ruff else None
        t_fixit = timed([fixit, "lint", str(dense)]) if fixit else None
        t_torchfix = timed([torchfix, str(dense)]) if torchfix else None
        row("mambafix check cold", t_cold)
        row("mambafix check warm (cache)", t_warm, t_cold, "cold")
        row(f"libcst parse only, {jobs} processes", t_floor, t_cold, "mambafix cold")
        row("ruff --select T201", t_ruff, t_cold, "mambafix cold")
        row("fixit lint", t_fixit, t_cold, "mambafix cold")
        row("torchfix", t_torchfix, t_cold, "mambafix cold")

        if args.vs is not None:
            versus(args.vs, stdlib, dense, tmp, env, max(args.repeat, 5))

        print("\nstart-up")
        row("python -c pass (baseline)", timed([sys.executable, "-c", "pass"], env, args.repeat))
        row("mambafix --version", timed(mambafix + ["--version"], env, args.repeat))
        row("mambafix check <empty folder>", timed(mambafix + ["check", str(empty)], env, args.repeat))


if __name__ == "__main__":
    main()
