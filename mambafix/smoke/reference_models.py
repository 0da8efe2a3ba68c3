"""mamba_ssm's model-level classes for the reference backend: MambaConfig, create_block, MixerModel,
MambaLMHeadModel, GatedMLP and the generation helpers, with the real constructor arguments and
state_dict names (backbone.embedding, backbone.layers.N.norm / .mixer, backbone.norm_f, lm_head).
"""

from __future__ import annotations

import copy
import math
from collections import namedtuple
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from mambafix.smoke.reference import Block, Mamba, Mamba2, UnsupportedArgument


@dataclass
class MambaConfig:
    d_model: int = 2560
    d_intermediate: int = 0
    n_layer: int = 64
    vocab_size: int = 50277
    ssm_cfg: dict = field(default_factory=dict)
    attn_layer_idx: list = field(default_factory=list)
    attn_cfg: dict = field(default_factory=dict)
    rms_norm: bool = True
    residual_in_fp32: bool = True
    fused_add_norm: bool = True
    pad_vocab_size_multiple: int = 8
    tie_embeddings: bool = True


@dataclass
class InferenceParams:
    max_seqlen: int = 0
    max_batch_size: int = 0
    seqlen_offset: int = 0
    batch_size_offset: int = 0
    key_value_memory_dict: dict = field(default_factory=dict)
    lengths_per_sample: torch.Tensor | None = None


class GenerationMixin:
    """Present so that models inheriting it import; generation is not part of a probe."""

    def generate(self, *args, **kwargs):
        raise UnsupportedArgument("generate() is not supported by the reference backend")


class MHA(nn.Module):
    def __init__(self, *args, **kwargs):
        raise UnsupportedArgument("mamba_ssm's MHA (attention layers, attn_layer_idx) is not supported by the reference backend")


class Mamba3(nn.Module):
    def __init__(self, *args, **kwargs):
        raise UnsupportedArgument("Mamba3 is not supported by the reference backend")


class GatedMLP(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, activation=F.silu, bias=False,
                 multiple_of=128, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        out_features = in_features if out_features is None else out_features
        hidden = int(8 * in_features / 3) if hidden_features is None else hidden_features
        hidden = -(-hidden // multiple_of) * multiple_of
        self.fc1 = nn.Linear(in_features, 2 * hidden, bias=bias, **factory)
        self.activation = activation
        self.fc2 = nn.Linear(hidden, out_features, bias=bias, **factory)

    def forward(self, x):
        y, gate = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(y * self.activation(gate))


SSM_LAYERS = {"Mamba1": Mamba, "Mamba2": Mamba2, "Mamba3": Mamba3}


def _norm_class(rms_norm: bool):
    return nn.RMSNorm if rms_norm else nn.LayerNorm


def create_block(d_model, d_intermediate, ssm_cfg=None, attn_layer_idx=None, attn_cfg=None, norm_epsilon=1e-5,
                 rms_norm=False, residual_in_fp32=False, fused_add_norm=False, layer_idx=None, device=None, dtype=None):
    factory = {"device": device, "dtype": dtype}
    if layer_idx in (attn_layer_idx or []):
        mixer_cls = partial(MHA, layer_idx=layer_idx, **(attn_cfg or {}), **factory)
    else:
        cfg = copy.deepcopy(ssm_cfg or {})
        layer = cfg.pop("layer", "Mamba1")
        if layer not in SSM_LAYERS:
            raise ValueError(f"Invalid ssm_layer: {layer}, only support Mamba1, Mamba2, and Mamba3")
        mixer_cls = partial(SSM_LAYERS[layer], layer_idx=layer_idx, **cfg, **factory)
    norm_cls = partial(_norm_class(rms_norm), eps=norm_epsilon, **factory)
    mlp_cls = nn.Identity if d_intermediate == 0 else partial(GatedMLP, hidden_features=d_intermediate,
                                                             out_features=d_model, **factory)
    block = Block(d_model, mixer_cls, mlp_cls, norm_cls=norm_cls, fused_add_norm=fused_add_norm,
                  residual_in_fp32=residual_in_fp32)
    block.layer_idx = layer_idx
    return block


def _init_weights(module, n_layer, initializer_range=0.02, rescale_prenorm_residual=True, n_residuals_per_layer=1):
    """The GPT-2 style initialisation mamba_ssm applies (out projections scaled by 1/sqrt(layers))."""
    if isinstance(module, nn.Linear) and module.bias is not None and not getattr(module.bias, "_no_reinit", False):
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=initializer_range)
    if rescale_prenorm_residual:
        for name, p in module.named_parameters():
            if name in ("out_proj.weight", "fc2.weight"):
                nn.init.kaiming_uniform_(p, a=math.sqrt(5))
                with torch.no_grad():
                    p /= math.sqrt(n_residuals_per_layer * n_layer)


class MixerModel(nn.Module):
    def __init__(self, d_model, n_layer, d_intermediate, vocab_size, ssm_cfg=None, attn_layer_idx=None, attn_cfg=None,
                 norm_epsilon=1e-5, rms_norm=False, initializer_cfg=None, fused_add_norm=False, residual_in_fp32=False,
                 device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.residual_in_fp32 = residual_in_fp32
        self.fused_add_norm = fused_add_norm  # the reference adds and normalizes in two steps: same result
        self.embedding = nn.Embedding(vocab_size, d_model, **factory)
        self.layers = nn.ModuleList([
            create_block(d_model, d_intermediate=d_intermediate, ssm_cfg=ssm_cfg, attn_layer_idx=attn_layer_idx,
                         attn_cfg=attn_cfg, norm_epsilon=norm_epsilon, rms_norm=rms_norm,
                         residual_in_fp32=residual_in_fp32, fused_add_norm=fused_add_norm, layer_idx=i, **factory)
            for i in range(n_layer)])
        self.norm_f = _norm_class(rms_norm)(d_model, eps=norm_epsilon, **factory)
        self.apply(partial(_init_weights, n_layer=n_layer, **(initializer_cfg or {}),
                           n_residuals_per_layer=1 if d_intermediate == 0 else 2))

    def forward(self, input_ids, inference_params=None, **mixer_kwargs):
        hidden, residual = self.embedding(input_ids), None
        for layer in self.layers:
            hidden, residual = layer(hidden, residual, inference_params=inference_params, **mixer_kwargs)
        residual = hidden + residual if residual is not None else hidden
        return self.norm_f(residual.to(dtype=self.norm_f.weight.dtype))


CausalLMOutput = namedtuple("CausalLMOutput", ["logits"])


class MambaLMHeadModel(nn.Module, GenerationMixin):
    def __init__(self, config: MambaConfig, initializer_cfg=None, device=None, dtype=None):
        super().__init__()
        self.config = config
        factory = {"device": device, "dtype": dtype}
        vocab = config.vocab_size
        if vocab % config.pad_vocab_size_multiple:
            vocab += config.pad_vocab_size_multiple - vocab % config.pad_vocab_size_multiple
        self.backbone = MixerModel(d_model=config.d_model, n_layer=config.n_layer, d_intermediate=config.d_intermediate,
                                   vocab_size=vocab, ssm_cfg=config.ssm_cfg, attn_layer_idx=config.attn_layer_idx,
                                   attn_cfg=config.attn_cfg, rms_norm=config.rms_norm, initializer_cfg=initializer_cfg,
                                   fused_add_norm=config.fused_add_norm, residual_in_fp32=config.residual_in_fp32,
                                   **factory)
        self.lm_head = nn.Linear(config.d_model, vocab, bias=False, **factory)
        self.apply(partial(_init_weights, n_layer=config.n_layer, **(initializer_cfg or {})))
        self.tie_weights()

    def tie_weights(self):
        if self.config.tie_embeddings:
            self.lm_head.weight = self.backbone.embedding.weight

    def forward(self, input_ids, position_ids=None, inference_params=None, num_last_tokens=0, **mixer_kwargs):
        hidden = self.backbone(input_ids, inference_params=inference_params, **mixer_kwargs)
        if num_last_tokens > 0:
            hidden = hidden[:, -num_last_tokens:]
        return CausalLMOutput(logits=self.lm_head(hidden))

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        raise UnsupportedArgument("from_pretrained downloads weights; build the model from a MambaConfig instead")


def load_config_hf(*args, **kwargs):
    raise UnsupportedArgument("load_config_hf downloads a config; pass the config's fields with --init")


def load_state_dict_hf(*args, **kwargs):
    raise UnsupportedArgument("load_state_dict_hf downloads weights; pass a local state_dict with --weights")
