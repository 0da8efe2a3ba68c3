"""Packaging as a user meets it: the wheel in a fresh virtualenv, and the real pre-commit.

Both build the project and install its base dependencies from the package index, as a user's
machine would; neither installs torch.
"""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conftest import EXAMPLE, ROOT

pytestmark = pytest.mark.slow


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


def _copy_example(dest: Path) -> Path:
    target = dest / "seed_model"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_wheel_installs_without_torch_and_checks_the_example(tmp_path):
    dist = tmp_path / "dist"
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)])
    assert built.returncode == 0, built.stderr
    wheel = next(dist.glob("mambafix-*.whl"))
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = run([str(python), "-m", "pip", "install", "-q", str(wheel)])
    assert installed.returncode == 0, installed.stderr
    listed = run([str(python), "-m", "pip", "list", "--format=freeze"]).stdout.lower()
    assert "torch" not in listed and "mamba-ssm" not in listed and "pydantic" not in listed
    example = _copy_example(tmp_path)
    env = {**os.environ, "MAMBAFIX_CACHE_DIR": str(tmp_path / "cache")}
    checked = run([str(env_dir / "bin" / "mambafix"), "check", str(example)], cwd=tmp_path, env=env)
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.count(" MF001 ") == 2 and " MF003 " in checked.stdout
    # the rule catalogue came with the wheel, not from this checkout
    where = run([str(python), "-c", "import mambafix.catalogue as c; print(c.rules_dir())"], cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert str(env_dir) in where.stdout and (Path(where.stdout.strip()) / "MF001.toml").is_file()


def _git(repo: Path, *args: str) -> None:
    result = run(["git", *args], cwd=repo)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pre_commit_try_repo_check_fails_then_passes_after_apply(tmp_path):
    repo = tmp_path / "user-project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "config", "user.name", "test")
    example = _copy_example(repo)
    _git(repo, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "MAMBAFIX_CACHE_DIR": str(tmp_path / "cache")}
    pre_commit = [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT)]

    failed = run([*pre_commit, "mambafix-check", "--all-files"], cwd=repo, env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "MF001" in failed.stdout and "MF003" in failed.stdout

    fixed = run([*pre_commit, "mambafix-apply", "--all-files"], cwd=repo, env=env)
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr  # files were modified
    assert "LayerNorm" in (example / "bimamba.py").read_text()
    assert "DEBUG]" not in (example / "s6.py").read_text()
    _git(repo, "add", ".")

    passed = run([*pre_commit, "mambafix-check", "--all-files"], cwd=repo, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
