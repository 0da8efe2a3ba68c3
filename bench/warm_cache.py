"""Warm against cold `mambafix check` on a tree shaped like 38 research repositories.

Run: python bench/warm_cache.py [--repos 38] [--repeat 3]

The tree: per repository about 97 files: 10 generated Mamba model files (`tests/corpus.py`),
a wrapper class in one file stacked in another (so the cross-file rounds run), and 85 plain
Python files copied from the standard library (the rest of a repository: data loading,
training scripts, utilities). 38 repositories give 3,686 files, the size of the tree the
ecosystem issue measured. Each figure is a fresh process (the console script), best of N;
`--verbose` reports how many files each run parsed. The baseline is the cold run of the
same script run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

WRAPPER = '''import torch.nn as nn
from mamba_ssm import Mamba


class Mixer{i}(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.ssm = Mamba(d_model)

    def forward(self, x):
        return self.ssm(x)
'''
STACKED = '''import torch.nn as nn
from repo{i}.wrap import Mixer{i}


class Encoder{i}(nn.Module):
    def __init__(self, d_model=64, n=4):
        super().__init__()
        self.mixers = nn.ModuleList([Mixer{i}(d_model) for _ in range(n)])

    def forward(self, x):
        for mixer in self.mixers:
            x = mixer(x)
        return x
'''


def build(folder: Path, repos: int) -> int:
    from corpus import model_file

    stdlib = sorted(p for p in Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:85]
    count = 0
    for r in range(repos):
        repo = folder / f"repo{r}"
        repo.mkdir(parents=True)
        (repo / "__init__.py").write_text("")
        for k in range(10):
            (repo / f"model_{k}.py").write_text(model_file(r * 10 + k))
        (repo / "wrap.py").write_text(WRAPPER.format(i=r))
        (repo / "encoder.py").write_text(STACKED.format(i=r))
        for k, source in enumerate(stdlib):
            (repo / f"util_{k}_{source.name}").write_bytes(source.read_bytes())
        count += 13 + len(stdlib)
    return count


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=38)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "mambafix"
    mambafix = [str(exe)] if exe.exists() else [sys.executable, "-m", "mambafix"]
    with tempfile.TemporaryDirectory(prefix="mambafix-warm-") as tmp:
        tree = Path(tmp) / "tree"
        files = build(tree, args.repos)
        env = dict(os.environ, MAMBAFIX_CACHE_DIR=str(Path(tmp) / "cache"))
        cmd = [*mambafix, "check", "--exit-zero", "--verbose", str(tree)]
        cold, cold_log = min(timed([*cmd, "--no-cache"], env) for _ in range(args.repeat))
        timed(cmd, env)  # fills the cache
        warm, warm_log = min(timed(cmd, env) for _ in range(args.repeat))
        parsed = lambda log: re.search(r"checked .*", log).group(0) if re.search(r"checked .*", log) else log  # noqa: E731
        print(f"tree: {args.repos} repositories, {files} files")
        print(f"  cold (--no-cache)      {cold:7.3f} s    {parsed(cold_log)}")
        print(f"  warm (cache)           {warm:7.3f} s    {warm / cold:5.2f}x cold    {parsed(warm_log)}")


if __name__ == "__main__":
    main()
