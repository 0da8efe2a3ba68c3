"""Terminal manners: colour only where a person reads it, a progress bar only on long runs.

Colour follows the conventions of https://no-color.org and of most CLIs: off when NO_COLOR
is set (to anything), off when the stream is not a terminal, forced on by FORCE_COLOR.
The progress bar draws on standard error, only on a terminal, never under CI or --quiet,
and disappears when done, so it never mixes with the report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

PROGRESS_MIN_FILES = 200  # a run that parses fewer files is over before a bar helps

Progress = Callable[..., None]  # progress(advance=0, add_total=0)

_STYLES = {"path": "1", "code": "1;31", "fixable": "32", "error": "1;31", "dim": "2"}


def wants_color(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return _is_terminal(stream)


def paint(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if color else text


def wants_progress(stream, quiet: bool) -> bool:
    if quiet or os.environ.get("CI"):
        return False
    return _is_terminal(stream)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Progress | None]:
    """A `progress(advance=, add_total=)` callable drawing a transient rich bar, or None."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

    state = {"task": None, "total": 0, "done": 0}
    console = Console(stderr=True)
    bar = RichProgress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=console, transient=True)

    def update(advance: int = 0, add_total: int = 0) -> None:
        state["total"] += add_total
        state["done"] += advance
        if state["task"] is None:
            if state["total"] < PROGRESS_MIN_FILES:
                return
            bar.start()
            state["task"] = bar.add_task(label, total=state["total"])
        bar.update(state["task"], total=state["total"], completed=state["done"])

    try:
        yield update
    finally:
        if state["task"] is not None:
            bar.stop()
