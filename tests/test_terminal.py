"""Terminal manners: colour and the progress bar only where a person is looking."""

import os
import pty
import subprocess
import sys
import threading

import pytest

from conftest import EXAMPLE
from mambafix.report.terminal import PROGRESS_MIN_FILES, wants_color, wants_progress


class FakeStream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "env, tty, expected",
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),
        ({"TERM": "dumb"}, True, False),
    ],
)
def test_color_follows_no_color_force_color_and_tty(monkeypatch, env, tty, expected):
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert wants_color(FakeStream(tty)) is expected


def test_progress_only_on_a_terminal_and_never_under_ci_or_quiet(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert wants_progress(FakeStream(True), quiet=False)
    assert not wants_progress(FakeStream(False), quiet=False)
    assert not wants_progress(FakeStream(True), quiet=True)
    monkeypatch.setenv("CI", "true")
    assert not wants_progress(FakeStream(True), quiet=False)


def _check_with_stderr_on_a_pty(args, env) -> tuple[int, bytes, bytes]:
    """Run `mambafix check` with stdout piped and stderr on a pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mambafix", "check", *args],
                            stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    terminal = bytearray()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            terminal.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    stdout = proc.stdout.read()
    proc.wait(timeout=120)
    reader.join(5)
    os.close(master)
    return proc.returncode, stdout, bytes(terminal)


def test_cli_colour_and_progress_bar(tmp_path, monkeypatch):
    template = (EXAMPLE / "bimamba.py").read_text()
    for i in range(PROGRESS_MIN_FILES + 10):
        (tmp_path / f"m{i:03d}.py").write_text(template.replace("BiMamba", f"BiMamba{i}"))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm"

    code, stdout, terminal = _check_with_stderr_on_a_pty(["--no-cache", str(tmp_path)], env)
    assert code == 1
    assert b"checking" in terminal and b"/210" in terminal  # the bar, on the terminal
    assert b"checking" not in stdout and b"\x1b[" not in stdout  # a piped report stays plain
    assert stdout.count(b" MF001 ") == 2 * (PROGRESS_MIN_FILES + 10)

    code, _, terminal = _check_with_stderr_on_a_pty(["--no-cache", "--quiet", str(tmp_path)], env)
    assert code == 1 and b"checking" not in terminal
    code, _, terminal = _check_with_stderr_on_a_pty(["--no-cache", str(tmp_path)], {**env, "CI": "true"})
    assert code == 1 and b"checking" not in terminal

    forced = subprocess.run([sys.executable, "-m", "mambafix", "check", str(EXAMPLE)], capture_output=True,
                            env={**env, "FORCE_COLOR": "1"})
    assert b"\x1b[1;31mMF001\x1b[0m" in forced.stdout
    plain = subprocess.run([sys.executable, "-m", "mambafix", "check", str(EXAMPLE)], capture_output=True,
                           env={**env, "FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert b"\x1b[" not in plain.stdout and b" MF001 " in plain.stdout
