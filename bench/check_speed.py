"""check speed on a sparse tree (a copy of the standard library) and a dense generated tree.

Run: python bench/check_speed.py
Baselines in the same run: ruff (if installed: `pip install ruff`), cold and warm mambafix.
"""

import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = (ROOT / "examples" / "seed_model" / "bimamba.py").read_text()


def timed(cmd, env=None):
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, env=env)
    return time.perf_counter() - t


def main():
    import os

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stdlib = tmp / "stdlib"
        shutil.copytree(sysconfig.get_paths()["stdlib"], stdlib, ignore=shutil.ignore_patterns("site-packages", "__pycache__", "test", "tests"))
        dense = tmp / "dense"
        dense.mkdir()
        for i in range(300):
            (dense / f"model_{i:03d}.py").write_text(TEMPLATE.replace("BiMamba", f"BiMamba{i}"))
        env = dict(os.environ, MAMBAFIX_CACHE_DIR=str(tmp / "cache"))
        mf = [sys.executable, "-m", "mambafix", "check", "--exit-zero"]
        n_std = sum(1 for _ in stdlib.rglob("*.py"))
        print(f"sparse tree: {n_std} files")
        t_mf = timed(mf + ["--no-cache", str(stdlib)], env)
        ruff = shutil.which("ruff")
        t_ruff = timed([ruff, "check", "--no-cache", "--select", "T201", "--exit-zero", str(stdlib)]) if ruff else None
        print(f"  mambafix cold {t_mf:.2f} s" + (f", ruff T201 {t_ruff:.2f} s, ratio {t_mf / t_ruff:.2f}" if t_ruff else ""))
        print("dense tree: 300 files")
        cold = timed(mf + [str(dense)], env)
        warm = timed(mf + [str(dense)], env)
        print(f"  mambafix cold {cold:.2f} s, warm (cache) {warm:.2f} s"
              + (f", ruff T201 {timed([ruff, 'check', '--no-cache', '--select', 'T201', '--exit-zero', str(dense)]):.2f} s" if ruff else ""))
        print(f"start-up: mambafix --version {timed([sys.executable, '-m', 'mambafix', '--version']):.3f} s")


if __name__ == "__main__":
    main()
