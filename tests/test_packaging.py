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
    assert "LayerNorm" in (example / "bimamba.py").read_text(), fixed.stdout + fixed.stderr
    assert "DEBUG]" not in (example / "s6.py").read_text()
    _git(repo, "add", ".")

    passed = run([*pre_commit, "mambafix-check", "--all-files"], cwd=repo, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


def _readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index(f"<!-- {marker} -->"):text.index(f"<!-- /{marker} -->")]
    return "\n".join(line for line in block.splitlines()[1:] if not line.startswith("```"))


def _fake_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal installable distribution: stands in for a user's own build of a package."""
    import zipfile

    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{name}/__init__.py", f"__version__ = {version!r}\n")
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: mambafix-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return wheel


def test_readme_install_commands_keep_the_users_torch(tmp_path):
    """The README's install lines, as written, in a fresh environment that already holds a
    torch of another version inside the declared range: pip must leave that torch alone."""
    import json

    lines = [line.split("#")[0].strip() for line in _readme_block("install-commands").splitlines()]
    base, smoke = lines[0], lines[1]
    assert base == "pip install ." and smoke == "pip install '.[smoke]'"
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(env_dir), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    users_torch = _fake_wheel(tmp_path, "torch", "2.12.0")  # not the 2.13.0 that CI pins
    assert run(["pip", "install", "-q", "--no-index", str(users_torch)], env=env).returncode == 0
    installed = run(["bash", "-c", f"{base} -q"], cwd=ROOT, env=env)
    assert installed.returncode == 0, installed.stderr
    report = tmp_path / "report.json"
    resolved = run(["bash", "-c", f"{smoke} -q --report {report}"], cwd=ROOT, env=env)
    assert resolved.returncode == 0, resolved.stderr
    installed_now = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                     for item in json.loads(report.read_text())["install"]}
    assert "torch" not in installed_now, installed_now
    assert "matplotlib" in installed_now  # the extra was resolved and installed, not ignored
    ours = next(i for i in json.loads(report.read_text())["install"] if i["metadata"]["name"] == "mambafix")
    torch_requirements = [r.replace(" ", "").split(";")[0] for r in ours["metadata"]["requires_dist"] if r.startswith("torch")]
    assert torch_requirements and all(r.startswith("torch>=") and "==" not in r for r in torch_requirements)
    shown = run(["pip", "show", "torch"], env=env).stdout
    assert "Version: 2.12.0" in shown
    version = run(["mambafix", "--version"], env=env)
    assert version.returncode == 0 and version.stdout.startswith("mambafix ")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_readme_pre_commit_local_hook_as_written(tmp_path):
    repo = tmp_path / "user-project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _copy_example(repo)
    (repo / ".pre-commit-config.yaml").write_text(_readme_block("pre-commit-local") + "\n")
    _git(repo, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "MAMBAFIX_CACHE_DIR": str(tmp_path / "cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    failed = run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "MF001" in failed.stdout and "mambafix check" in failed.stdout


def test_sources_parse_as_python_3_10():
    """requires-python says 3.10: no syntax of a later version in the package."""
    import ast

    for path in (ROOT / "mambafix").rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 10))


def _python_3_10() -> str | None:
    """A working Python 3.10: on PATH, or one that pyenv holds."""
    candidates = [shutil.which("python3.10"), *sorted(map(str, Path.home().glob(".pyenv/versions/3.10*/bin/python3.10")))]
    for candidate in filter(None, candidates):
        if run([candidate, "-c", "import venv"]).returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(_python_3_10() is None, reason="no Python 3.10 interpreter on this machine")
def test_wheel_installs_and_checks_on_python_3_10(tmp_path):
    dist = tmp_path / "dist"
    assert run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)]).returncode == 0
    env_dir = tmp_path / "env310"
    assert run([_python_3_10(), "-m", "venv", str(env_dir)]).returncode == 0
    installed = run([str(env_dir / "bin" / "pip"), "install", "-q", str(next(dist.glob("mambafix-*.whl")))])
    assert installed.returncode == 0, installed.stderr
    checked = run([str(env_dir / "bin" / "mambafix"), "check", str(_copy_example(tmp_path))],
                  env={**os.environ, "MAMBAFIX_CACHE_DIR": str(tmp_path / "cache")})
    assert checked.returncode == 1 and checked.stdout.count(" MF001 ") == 2, checked.stdout + checked.stderr
