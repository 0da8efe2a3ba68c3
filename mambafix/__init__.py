"""mambafix: audit and patch PyTorch code built on stacked Mamba layers.

The public API is imported lazily so that `mambafix --version` and `mambafix check`
start fast and never import torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "check_paths", "check_source", "apply_paths", "load_config", "Config", "Report"]


def __getattr__(name: str):
    if name in ("check_paths", "Report"):
        from mambafix import engine

        return getattr(engine, name)
    if name == "check_source":
        from mambafix.analysis import check_source

        return check_source
    if name == "apply_paths":
        from mambafix.apply import apply_paths

        return apply_paths
    if name in ("load_config", "Config"):
        from mambafix import config

        return getattr(config, name)
    raise AttributeError(name)
