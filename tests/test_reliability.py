"""Reliability: never lose or corrupt a file, on any input (see docs/RELIABILITY.md)."""

import ast
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from conftest import EXAMPLE
from mambafix.fix.apply import apply_paths, fix_source
from mambafix.config import load_config, with_cli_overrides
from mambafix.engine.project import check_paths
from mambafix.checks.base import FixOptions
from mambafix.source import TEMP_SUFFIX


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every regular file under root: (sha256, mtime_ns); symlinks and special files by name."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink() or not path.is_file():
            out[rel] = ("special", 0)
            continue
        out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return out


# -- the whole standard library ---------------------------------------------------------


@pytest.fixture(scope="module")
def stdlib_copy(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("stdlib") / "lib"
    shutil.copytree(sysconfig.get_paths()["stdlib"], target, symlinks=True,
                    ignore=shutil.ignore_patterns("site-packages", "__pycache__"))
    return target


def _parse_failures(root: Path) -> set[str]:
    import warnings

    failures = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in root.rglob("*.py"):
            try:
                ast.parse(path.read_bytes(), str(path))
            except (SyntaxError, ValueError):
                failures.add(str(path))
    return failures


@pytest.mark.slow
def test_check_over_the_standard_library_with_and_without_prefilter(stdlib_copy):
    config = load_config([stdlib_copy])
    fast = check_paths([stdlib_copy], config, cache=False)
    assert fast.files_checked > 500 and not fast.findings and not fast.errors
    assert fast.files_parsed < fast.files_checked / 10  # the prefilter keeps the parser away

    full = check_paths([stdlib_copy], with_cli_overrides(config, no_prefilter=True), cache=False)
    assert full.files_parsed == full.files_checked and not full.findings
    failed = {e.path for e in full.errors}
    assert all(e.message.startswith(("cannot parse", "cannot decode", "unknown encoding", "file contains NUL")) for e in full.errors), full.errors
    rejected = _parse_failures(stdlib_copy)
    assert rejected <= failed, sorted(rejected - failed)  # every file Python's parser rejects is reported, per file
    assert len(failed) < full.files_checked / 50


@pytest.mark.slow
def test_apply_over_the_standard_library_without_prefilter_changes_no_byte(stdlib_copy):
    before = snapshot(stdlib_copy)
    config = with_cli_overrides(load_config([stdlib_copy]), no_prefilter=True)
    report = apply_paths([stdlib_copy], config, FixOptions(residual=True))
    assert snapshot(stdlib_copy) == before  # no byte and no mtime changed, no file left behind
    assert not report.written and not report.changed and not report.remaining
    assert len(report.files) > 500  # every parsable file went through the parser and printer
    errors = [f.error for f in report.files if f.error] + report.errors
    expected = ("cannot parse", "cannot decode", "unknown encoding", "file contains NUL", "libcst does not print")
    assert all(e.message.startswith(expected) for e in errors), errors


# -- bad input ----------------------------------------------------------------------------


def _bad_tree(root: Path) -> None:
    root.mkdir()
    tagged = 'print("[S6 DEBUG] x")\n'
    (root / "good.py").write_text(tagged)
    (root / "syntax.py").write_text('print("[S6 DEBUG] x"\n')
    (root / "nul.py").write_bytes(b'print("[S6 DEBUG]")\x00\n')
    (root / "latin.py").write_bytes(b'# -*- coding: latin-1 -*-\nprint("[S6 DEBUG] \xe9")\n')
    (root / "bad_utf8.py").write_bytes(b'print("[S6 DEBUG] \xff")\n')
    (root / "bom.py").write_bytes(b'\xef\xbb\xbfprint("[S6 DEBUG] x")\r\n')
    (root / "crlf.py").write_bytes(b'x = 1\r\nprint("[S6 DEBUG] x")\r\n')
    (root / "cr.py").write_bytes(b'x = 1\rprint("[S6 DEBUG] x")\r')
    (root / "tabs.py").write_bytes(b'if True:\n\tprint("[S6 DEBUG] x")\n\ty = 2\n')
    (root / "empty.py").write_bytes(b"")
    (root / "binary.py").write_bytes(bytes(random.Random(0).randrange(256) for _ in range(4096)) + b"DEBUG]")
    (root / "huge.py").write_bytes(tagged.encode() * (10_500_000 // len(tagged)))  # about 10 MB
    (root / "dir.py").mkdir()
    os.mkfifo(root / "fifo.py")
    (root / "broken_link.py").symlink_to(root / "missing.py")
    (root / "loop").symlink_to(root)


def test_bad_input_is_per_file_for_check_and_apply_writes_only_good_files(tmp_path):
    from typer.testing import CliRunner

    from mambafix.cli import app

    root = tmp_path / "tree"
    _bad_tree(root)
    result = CliRunner().invoke(app, ["check", "--no-cache", "--output-format", "json", str(root)])
    assert result.exit_code == 2  # per-file errors; the run still reported every good file
    report = json.loads(result.stdout)
    errors = {Path(e["path"]).name: e["message"] for e in report["errors"]}
    assert set(errors) == {"syntax.py", "nul.py", "bad_utf8.py", "binary.py", "fifo.py"}, errors
    assert "NUL" in errors["nul.py"] and errors["syntax.py"].startswith("cannot parse")
    assert [Path(s["path"]).name for s in report["skipped"]] == ["huge.py"]
    found = sorted({Path(f["path"]).name for f in report["findings"]})
    assert found == ["bom.py", "cr.py", "crlf.py", "good.py", "latin.py", "tabs.py"]
    assert next(f for f in report["findings"] if f["path"].endswith("/cr.py"))["line"] == 2  # bare CR ends a line

    before = snapshot(root)
    applied = apply_paths([root], load_config([root]))
    after = snapshot(root)
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == ["bom.py", "cr.py", "crlf.py", "good.py", "latin.py", "tabs.py"]
    assert set(after) == set(before)  # nothing created, nothing removed
    bom = (root / "bom.py").read_bytes()  # its only statement went; the BOM and line ending stay
    assert bom.startswith(b"\xef\xbb\xbf") and bom[3:].strip() == b"" and b"\n" not in bom.replace(b"\r\n", b"")
    assert (root / "crlf.py").read_bytes() == b"x = 1\r\n"
    assert (root / "latin.py").read_bytes() == b"# -*- coding: latin-1 -*-\n"
    assert (root / "tabs.py").read_bytes() == b"if True:\n\ty = 2\n"
    # libcst drops a final bare CR: the fix is spliced into the file's own lines instead
    assert (root / "cr.py").read_bytes() == b"x = 1\r"
    apply_errors = {Path(e.path).name: e.message for e in [*applied.errors, *(f.error for f in applied.files if f.error)]}
    assert set(apply_errors) == set(errors)


def test_a_file_deleted_between_discovery_and_read_is_a_per_file_error(tmp_path, monkeypatch):
    import mambafix.engine.discovery as discovery

    (tmp_path / "a.py").write_text('print("[S6 DEBUG] a")\n')
    (tmp_path / "b.py").write_text('print("[S6 DEBUG] b")\n')
    real = discovery.discover

    def discover_then_delete(paths, config):
        found = real(paths, config)
        (tmp_path / "a.py").unlink()
        return found

    monkeypatch.setattr(discovery, "discover", discover_then_delete)
    report = check_paths([tmp_path], load_config([tmp_path]), cache=False)
    assert [(Path(e.path).name, e.message) for e in report.errors] == [("a.py", "file disappeared before it could be read")]
    assert [Path(f.path).name for f in report.findings] == ["b.py"]


# -- kill -9 and concurrent runs -------------------------------------------------------------


def _model_tree(root: Path, count: int) -> dict[Path, tuple[bytes, bytes]]:
    """`count` small model files: path -> (original bytes, fully patched bytes)."""
    template = (EXAMPLE / "bimamba.py").read_text()
    config = load_config([root])
    expected = {}
    for i in range(count):
        package = root / f"pkg{i % 5}"
        package.mkdir(parents=True, exist_ok=True)
        path = package / f"model_{i:03d}.py"
        data = template.replace("BiMamba", f"BiMamba{i}").encode()
        path.write_bytes(data)
        fixed = fix_source(data, str(path), config, FixOptions(residual=True)).fixed
        assert fixed != data
        expected[path] = (data, fixed)
    return expected


def _apply_cmd(root: Path) -> list[str]:
    return [sys.executable, "-m", "mambafix", "apply", "--residual", "--quiet", str(root)]


def _assert_each_original_or_patched(expected) -> int:
    patched = 0
    for path, (original, fixed) in expected.items():
        data = path.read_bytes()
        assert data in (original, fixed), f"{path} is neither the original nor the patched version"
        patched += data == fixed
    return patched


def _temp_files(root: Path) -> list[Path]:
    return list(root.rglob(f"*{TEMP_SUFFIX}"))


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_every_file_original_or_patched(tmp_path):
    root = tmp_path / "tree"
    expected = _model_tree(root, 240)
    env = {**os.environ, "MAMBAFIX_CACHE_DIR": str(tmp_path / "cache")}
    subprocess.run(_apply_cmd(root), env=env, capture_output=True, check=False)  # fills the cache
    assert _assert_each_original_or_patched(expected) == len(expected)
    for path, (original, _) in expected.items():
        path.write_bytes(original)
    start = time.perf_counter()
    subprocess.run(_apply_cmd(root), env=env, capture_output=True, check=False)
    duration = time.perf_counter() - start  # a run like those below: the cache is warm for them too
    rng = random.Random(1234)
    kills = partial = 0
    for _ in range(12):
        for path, (original, _) in expected.items():
            path.write_bytes(original)
        proc = subprocess.Popen(_apply_cmd(root), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(0.1, 0.95 * duration))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its pool workers, mid-write
            kills += 1
        proc.wait()
        patched = _assert_each_original_or_patched(expected)
        partial += 0 < patched < len(expected)
    assert kills >= 6 and partial >= 1, (kills, partial)  # the kills did land mid-run
    final = subprocess.run(_apply_cmd(root), env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert _assert_each_original_or_patched(expected) == len(expected)
    assert _temp_files(root) == []  # whatever a killed run left, the next run removed


@pytest.mark.slow
def test_two_concurrent_applies_do_not_corrupt_a_file(tmp_path):
    root = tmp_path / "tree"
    expected = _model_tree(root, 120)
    for round_ in range(3):
        for path, (original, _) in expected.items():
            path.write_bytes(original)
        procs = [subprocess.Popen(_apply_cmd(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "MAMBAFIX_CACHE_DIR": str(tmp_path / f"cache{round_}{i}")})
                 for i in range(2)]
        outputs = [p.communicate(timeout=300) for p in procs]
        for proc, (_, err) in zip(procs, outputs):
            assert proc.returncode in (0, 2), err  # 2: files the other run had already changed
            for line in err.splitlines():
                assert "changed on disk while it was being fixed" in line or not line.strip(), line
        assert _assert_each_original_or_patched(expected) == len(expected)
        assert _temp_files(root) == []


# -- never runs what it reads ------------------------------------------------------------------

HOSTILE_PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "evil_backend"
backend-path = ["."]

[tool.mambafix]
extra-layer-classes = ["__import__('os').system('touch {marker}')", "evil_backend.Layer"]
extra-markers = ["{{exec(open('payload.py').read())}}"]
extend-exclude = ["$(touch {marker})"]
"""

PAYLOAD = "open({marker!r}, 'w').write('ran')\n"


def _hostile_tree(root: Path, marker: Path) -> None:
    root.mkdir()
    shutil.copytree(EXAMPLE, root / "seed_model", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text(HOSTILE_PYPROJECT.format(marker=marker))
    for name in ("evil_backend.py", "setup.py", "conftest.py", "sitecustomize.py", "payload.py", "mambafix.py"):
        (root / name).write_text(PAYLOAD.format(marker=str(marker)))
    (root / "seed_model" / "__init__.py").write_text(PAYLOAD.format(marker=str(marker)))
    with (root / "seed_model" / "bimamba.py").open("a") as handle:
        handle.write("\n" + PAYLOAD.format(marker=str(marker)))


@pytest.mark.parametrize("command", [["check"], ["apply", "--residual"], ["apply", "--diff"]])
def test_check_and_apply_never_import_or_run_the_target_even_with_a_hostile_pyproject(tmp_path, command):
    root = tmp_path / "project"
    marker = tmp_path / "MARKER"
    _hostile_tree(root, marker)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MAMBAFIX_CACHE_DIR"] = str(tmp_path / "cache")
    # the console script, from inside the hostile project, as a pre-commit hook runs it
    # (`python -m mambafix` there would import the project's own mambafix.py: Python puts the
    # working directory first on sys.path for -m)
    proc = subprocess.run([str(Path(sys.executable).parent / "mambafix"), *command, "."], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert not marker.exists(), proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), proc.stderr  # the data-only configuration loads fine
    if command[0] == "check":
        assert " MF001 " in proc.stdout
    elif "--residual" in command:
        assert "LayerNorm" in (root / "seed_model" / "bimamba.py").read_text()


def test_unknown_configuration_keys_are_refused_not_interpreted(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.mambafix]\nplugins = ["os:system"]\n')
    (tmp_path / "m.py").write_text("x = 1\n")
    proc = subprocess.run([sys.executable, "-m", "mambafix", "check", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown key 'plugins'" in proc.stderr
