"""mambafix: audit and patch PyTorch code built on stacked Mamba layers.

The public API is imported lazily so that `mambafix --version` and `mambafix check`
start fast and never import torch (`mambafix.watch`, the runtime guard, imports it when used).
"""

from __future__ import annotations

from mambafix._version import __version__

__all__ = ["__version__", "check_paths", "check_source", "apply_paths", "load_config", "Config", "Report", "watch"]


def __getattr__(name: str):
    if name == "check_paths":
        from mambafix.engine.project import check_paths

        return check_paths
    if name == "Report":
        from mambafix.report.findings import Report

        return Report
    if name == "check_source":
        from mambafix.engine.file import check_source

        return check_source
    if name == "apply_paths":
        from mambafix.fix.apply import apply_paths

        return apply_paths
    if name == "watch":  # imports torch, only when asked for
        from mambafix.guard.watcher import watch

        return watch
    if name in ("load_config", "Config"):
        from mambafix import config

        return getattr(config, name)
    raise AttributeError(name)
