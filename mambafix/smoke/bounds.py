"""Bounds on what one probe may take: a memory ceiling and a time limit per trial.

The ceiling (`--memory-limit GB`, default half the memory available when smoke starts) is
enforced twice. In the probe process a watcher thread reads the process's resident memory
every 50 ms and, over the ceiling, interrupts the main thread (`OverMemory`, raised between
two Python steps of the model's forward): the trial or the probe in progress fails with that
reason, its tensors are freed, and the next (or no) candidate runs. In the parent, a process
that still grows past 1.25 x the ceiling (a single operation that never returns to Python) is
killed, and the run says so ("killed: over the 6.0 GB memory ceiling during the trial of input
[1, 200, 64, 64]"); the process writes what it is doing to a progress file for that message.
A trial gets `--trial-timeout` seconds (default 30, less when the run's own `--timeout` has
less left), through SIGALRM; a trial past it fails with `TrialTimeout`.

Linux reads resident memory from /proc; elsewhere the ceiling is not enforced (said in the
README). Torch-free: the parent imports it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

DEFAULT_SHARE = 0.5  # of the memory available when smoke starts
HARD_FACTOR = 1.25  # the parent kills past this multiple of the ceiling
TRIAL_SECONDS = 30.0
GB = 1024 ** 3


class TrialTimeout(BaseException):
    """A trial forward pass ran past its time limit (a BaseException: the model's own
    `except Exception` must not swallow it)."""


class OverMemory(BaseException):
    """The probe process went over the memory ceiling."""


def available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def ceiling_gb(given: float | None) -> float | None:
    """The ceiling in GB: as given, else DEFAULT_SHARE of the memory available now."""
    if given:
        return float(given)
    free = available_bytes()
    return round(free * DEFAULT_SHARE / GB, 1) if free else None


def resident_bytes(pid: int | str = "self") -> int | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Watcher:
    """In the probe process: interrupts the main thread when resident memory passes the ceiling."""

    def __init__(self, limit_gb: float | None, progress: str | None = None):
        self.limit = int(limit_gb * GB) if limit_gb else None
        self.progress = progress
        self.tripped = False
        self.armed = True  # once tripped, again only after memory fell below 0.9 x the ceiling
        self._stop = threading.Event()
        self._main = threading.main_thread().ident

    def start(self) -> "Watcher":
        if self.limit and resident_bytes() is not None and hasattr(signal, "pthread_kill"):
            signal.signal(signal.SIGUSR1, self._raise)
            threading.Thread(target=self._run, daemon=True, name="mambafix-memory").start()
        return self

    def _raise(self, *_):
        if self.tripped:
            self.tripped = False
            raise OverMemory()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            rss = resident_bytes()
            if rss is None:
                continue
            if rss < 0.9 * self.limit:
                self.armed = True
            elif rss > self.limit and self.armed:
                self.tripped, self.armed = True, False
                signal.pthread_kill(self._main, signal.SIGUSR1)

    def stage(self, text: str) -> None:
        """What the process is doing now, for the parent's message if it must kill it."""
        if self.progress:
            with contextlib.suppress(OSError):
                Path(self.progress).write_text(text)

    def stop(self) -> None:
        self._stop.set()


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raise TrialTimeout in the main thread after `seconds` (SIGALRM; no limit where absent)."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(*_):
        raise TrialTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Budget:
    """The probe process's share of the run's --timeout: each trial gets at most TRIAL_SECONDS
    (or --trial-timeout) and never more than a third of what is left."""

    def __init__(self, total: float | None, trial: float | None):
        self.start = time.monotonic()
        self.total = total
        self.trial = trial or TRIAL_SECONDS

    def left(self) -> float | None:
        return None if not self.total else self.total - (time.monotonic() - self.start)

    def for_trial(self) -> float:
        left = self.left()
        return self.trial if left is None else max(1.0, min(self.trial, left / 3))


def watch_process(proc, limit_gb: float | None, timeout: float, progress: Path | None) -> str | None:
    """In the parent: wait for `proc`; kill it past HARD_FACTOR x the ceiling or the timeout.
    Returns why it was killed, or None when it ended by itself."""
    deadline = time.monotonic() + timeout
    hard = limit_gb * GB * HARD_FACTOR if limit_gb else None
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            return f"the target did not finish within {timeout:g} s (--timeout){during(progress)}"
        rss = resident_bytes(proc.pid) if hard else None
        if rss is not None and rss > hard:
            proc.kill()
            proc.wait()
            return f"killed: over the {limit_gb:.1f} GB memory ceiling (--memory-limit){during(progress)}"
        time.sleep(0.1)
    return None


def during(progress: Path | None) -> str:
    try:
        text = progress.read_text().strip() if progress else ""
    except OSError:
        text = ""
    return f", during {text}" if text else ""
