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

    from mambafix.smoke import reference_models as models
    from mambafix.smoke import reference_ops as ops

    norms = dict(RMSNorm=nn.RMSNorm, LayerNorm=nn.LayerNorm, layer_norm_fn=ops.layer_norm_fn,
                 rms_norm_fn=ops.rms_norm_fn)
    scans = dict(selective_scan_fn=ops.selective_scan_fn, mamba_inner_fn=ops.mamba_inner_fn)
    conv = dict(causal_conv1d_fn=ops.causal_conv1d_fn, causal_conv1d_update=ops.causal_conv1d_update)
    lm = dict(MambaLMHeadModel=models.MambaLMHeadModel, MixerModel=models.MixerModel, create_block=models.create_block,
              _init_weights=models._init_weights)
    module("mamba_ssm", Mamba=reference.Mamba, Mamba2=reference.Mamba2, Mamba3=models.Mamba3, __version__="mambafix-reference",
           MAMBAFIX_REFERENCE=True, MambaLMHeadModel=models.MambaLMHeadModel, **scans)
    module("mamba_ssm.modules")
    module("mamba_ssm.modules.mamba_simple", Mamba=reference.Mamba, Block=reference.Block, **scans, **conv)
    module("mamba_ssm.modules.mamba2", Mamba2=reference.Mamba2, **conv)
    module("mamba_ssm.modules.mamba2_simple", Mamba2Simple=reference.Mamba2Simple, **conv)
    module("mamba_ssm.modules.mamba3", Mamba3=models.Mamba3)
    module("mamba_ssm.modules.block", Block=reference.Block)
    module("mamba_ssm.modules.mlp", GatedMLP=models.GatedMLP)
    module("mamba_ssm.modules.mha", MHA=models.MHA)
    module("mamba_ssm.models")
    module("mamba_ssm.models.config_mamba", MambaConfig=models.MambaConfig)
    module("mamba_ssm.models.mixer_seq_simple", MambaConfig=models.MambaConfig, Block=reference.Block,
           GatedMLP=models.GatedMLP, Mamba=reference.Mamba, Mamba2=reference.Mamba2, **lm, **norms)
    module("mamba_ssm.ops")
    module("mamba_ssm.ops.selective_scan_interface", **scans, **conv)
    module("mamba_ssm.ops.triton")
    module("mamba_ssm.ops.triton.layer_norm", **norms)
    module("mamba_ssm.ops.triton.layernorm", **norms)
    module("mamba_ssm.ops.triton.layernorm_gated", RMSNorm=reference.RMSNormGated, LayerNorm=reference.LayerNormGated)
    module("mamba_ssm.ops.triton.ssd_combined", mamba_chunk_scan_combined=ops.mamba_chunk_scan_combined,
           mamba_split_conv1d_scan_combined=ops.mamba_split_conv1d_scan_combined)
    module("mamba_ssm.ops.triton.selective_state_update", selective_state_update=ops.selective_state_update)
    module("mamba_ssm.utils")
    module("mamba_ssm.utils.generation", GenerationMixin=models.GenerationMixin, InferenceParams=models.InferenceParams)
    module("mamba_ssm.utils.hf", load_config_hf=models.load_config_hf, load_state_dict_hf=models.load_state_dict_hf)
    if not _installed("causal_conv1d"):
        module("causal_conv1d", **conv, __version__="mambafix-reference")
        module("causal_conv1d.causal_conv1d_interface", **conv)


def _installed(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
