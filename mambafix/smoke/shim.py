"""Register the reference Mamba under mamba_ssm's import names, for the probe process only."""

from __future__ import annotations

import sys
import types


def real_backend_available() -> bool:
    try:
        import torch

        if not torch.cuda.is_available():
            return False
        import mamba_ssm  # noqa: F401
    except Exception:  # noqa: BLE001 - any failure means: no real kernels here
        return False
    return True


def install() -> None:
    """Make `import mamba_ssm...` resolve to mambafix's pure-PyTorch modules."""
    import torch.nn as nn

    from mambafix.smoke import reference

    def module(name: str, **attrs) -> types.ModuleType:
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        mod.__path__ = []  # a package, so submodules import
        sys.modules[name] = mod
        return mod

    layer_norm = dict(RMSNorm=nn.RMSNorm, LayerNorm=nn.LayerNorm)
    module("mamba_ssm", Mamba=reference.Mamba, Mamba2=reference.Mamba2, __version__="mambafix-reference",
           MAMBAFIX_REFERENCE=True)
    module("mamba_ssm.modules")
    module("mamba_ssm.modules.mamba_simple", Mamba=reference.Mamba, Block=reference.Block)
    module("mamba_ssm.modules.mamba2", Mamba2=reference.Mamba2)
    module("mamba_ssm.modules.mamba2_simple", Mamba2Simple=reference.Mamba2)
    module("mamba_ssm.modules.block", Block=reference.Block)
    module("mamba_ssm.ops")
    module("mamba_ssm.ops.triton")
    module("mamba_ssm.ops.triton.layer_norm", **layer_norm)
    module("mamba_ssm.ops.triton.layernorm", **layer_norm)
    module("mamba_ssm.ops.triton.layernorm_gated", RMSNorm=reference.RMSNormGated)
