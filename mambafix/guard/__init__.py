"""`mambafix.watch`: a runtime guard for real training runs (the diagnostics the seed's authors
printed by hand, as hooks that come off again).

- `layers`: which modules of a live model are SSM layers and norms, in the order smoke finds
  them (smoke's structural test plus check's class summaries; no second layer finder).
- `stats`: the per-tensor figures a hook takes (RMS, min, max), without a device sync.
- `record`: one step's depth profile and the rolling history; text and JSON forms. Torch-free.
- `events`: what fires (the first non-finite value; an unbounded SSM layer growing past a factor
  of its input; a non-finite gradient) and the report it carries. Torch-free.
- `advice`: what check says statically about the owner class of the layer that fired, and the
  commands to run next. Torch-free: check's Python API only.
- `watcher`: the `Watcher` (attach / detach, hooks, rolling record, logging) and `watch()`.
- `lightning`: a PyTorch Lightning callback (imports Lightning only when used).

Nothing here is imported by check or apply; `import mambafix` stays torch-free (`watch` is
resolved lazily).
"""

from __future__ import annotations

__all__ = ["watch", "Watcher", "WatchError", "WatchWarning", "Event"]


def __getattr__(name: str):
    if name in ("watch", "Watcher"):
        from mambafix.guard import watcher

        return getattr(watcher, name)
    if name in ("WatchError", "WatchWarning", "Event"):
        from mambafix.guard import events

        return getattr(events, name)
    raise AttributeError(name)
