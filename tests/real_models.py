"""Real model classes from public Mamba repositories, each reproduced in our own words (no code
copied) with the layout that matters to smoke: how the files import each other, what the
constructor takes, what the forward takes, and where the norms are. `source` cites the
repository and path reproduced. `init` and `shape` are what the authors' own code passes;
`normalizes` says whether the model normalizes between its SSM layers (or has no stack), and
`overflows` whether an unnormalized one is known to overflow within x1-x100.

Materialised in a temporary folder by `write(model, root)`; tests/test_real_models.py probes
each with and without the input shape, and calibrates the verdicts on them.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RealModel:
    name: str
    source: str
    files: dict[str, str]
    target: str  # relative file:Class
    init: dict = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    normalizes: bool = True
    overflows: bool = False
    elsewhere: str = ""  # a folder of the model's files put on PYTHONPATH when probing (another module's home)


def write(model: RealModel, root: Path) -> str:
    """The model's files under root/<name>/; returns the absolute target."""
    base = root / model.name
    for rel, text in model.files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    rel, _, cls = model.target.rpartition(":")
    return f"{base / rel}:{cls}"


MAMBA4REC = RealModel(
    "mamba4rec", "chengkai-liu/Mamba4Rec mamba4rec.py",
    {".git/HEAD": "", "mamba4rec.py": '''
        import torch
        import torch.nn as nn
        from mamba_ssm import Mamba


        class FeedForward(nn.Module):
            def __init__(self, d_model, inner_size, dropout=0.2):
                super().__init__()
                self.w_1, self.w_2 = nn.Linear(d_model, inner_size), nn.Linear(inner_size, d_model)
                self.drop = nn.Dropout(dropout)
                self.LayerNorm = nn.LayerNorm(d_model, eps=1e-12)

            def forward(self, x):
                h = self.drop(self.w_2(self.drop(nn.functional.gelu(self.w_1(x)))))
                return self.LayerNorm(h + x)


        class MambaLayer(nn.Module):
            def __init__(self, d_model, d_state, d_conv, expand, dropout, num_layers):
                super().__init__()
                self.num_layers = num_layers
                self.mamba = Mamba(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand)
                self.dropout = nn.Dropout(dropout)
                self.LayerNorm = nn.LayerNorm(d_model, eps=1e-12)
                self.ffn = FeedForward(d_model, d_model * 4, dropout)

            def forward(self, x):
                h = self.mamba(x)
                if self.num_layers == 1:
                    h = self.LayerNorm(self.dropout(h))
                else:
                    h = self.LayerNorm(self.dropout(h) + x)  # Add & Norm after the mixer
                return self.ffn(h)


        class Mamba4Rec(nn.Module):
            def __init__(self, config, n_items):
                super().__init__()
                self.hidden_size = config["hidden_size"]
                self.num_layers = config["num_layers"]
                self.item_embedding = nn.Embedding(n_items, self.hidden_size, padding_idx=0)
                self.LayerNorm = nn.LayerNorm(self.hidden_size, eps=1e-12)
                self.dropout = nn.Dropout(config["dropout_prob"])
                self.mamba_layers = nn.ModuleList([
                    MambaLayer(self.hidden_size, config["d_state"], config["d_conv"], config["expand"],
                               config["dropout_prob"], self.num_layers) for _ in range(self.num_layers)])

            def gather_indexes(self, output, gather_index):
                index = gather_index.view(-1, 1, 1).expand(-1, -1, output.shape[-1])
                return output.gather(dim=1, index=index).squeeze(1)

            def forward(self, item_seq, item_seq_len):
                emb = self.LayerNorm(self.dropout(self.item_embedding(item_seq)))
                for i in range(self.num_layers):
                    emb = self.mamba_layers[i](emb)
                return self.gather_indexes(emb, item_seq_len - 1)
    '''},
    "mamba4rec.py:Mamba4Rec",
    {"config": {"hidden_size": 16, "num_layers": 2, "dropout_prob": 0.2, "d_state": 8, "d_conv": 4, "expand": 2},
     "n_items": 60},
    (2, 32))

S_D_MAMBA = RealModel(
    "s_d_mamba", "wzhwzhwzh0921/S-D-Mamba model/S_Mamba.py, layers/Mamba_EncDec.py, layers/Embed.py",
    {".git/HEAD": "", "layers/__init__.py": "", "model/__init__.py": "",
     "layers/Embed.py": '''
        import torch
        import torch.nn as nn


        class DataEmbedding_inverted(nn.Module):
            def __init__(self, c_in, d_model, dropout=0.1):
                super().__init__()
                self.value_embedding = nn.Linear(c_in, d_model)
                self.dropout = nn.Dropout(dropout)

            def forward(self, x, x_mark):
                x = x.permute(0, 2, 1)  # [B, L, N] -> [B, N, L]: each variate is a token
                if x_mark is not None:
                    x = torch.cat([x, x_mark.permute(0, 2, 1)], 1)
                return self.dropout(self.value_embedding(x))
     ''',
     "layers/Mamba_EncDec.py": '''
        import torch.nn as nn
        import torch.nn.functional as F


        class EncoderLayer(nn.Module):
            def __init__(self, mixer, mixer_r, d_model, d_ff=None, dropout=0.1, activation="relu"):
                super().__init__()
                d_ff = d_ff or 4 * d_model
                self.mixer, self.mixer_r = mixer, mixer_r
                self.conv1 = nn.Conv1d(d_model, d_ff, kernel_size=1)
                self.conv2 = nn.Conv1d(d_ff, d_model, kernel_size=1)
                self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
                self.dropout = nn.Dropout(dropout)
                self.activation = F.relu if activation == "relu" else F.gelu

            def forward(self, x, attn_mask=None):
                x = x + self.mixer(x) + self.mixer_r(x.flip(dims=[1])).flip(dims=[1])
                y = x = self.norm1(x)
                y = self.dropout(self.activation(self.conv1(y.transpose(-1, 1))))
                y = self.dropout(self.conv2(y).transpose(-1, 1))
                return self.norm2(x + y), None


        class Encoder(nn.Module):
            def __init__(self, layers, norm_layer=None):
                super().__init__()
                self.layers = nn.ModuleList(layers)
                self.norm = norm_layer

            def forward(self, x, attn_mask=None):
                for layer in self.layers:
                    x, _ = layer(x, attn_mask=attn_mask)
                return self.norm(x) if self.norm is not None else x, None
     ''',
     "model/S_Mamba.py": '''
        import torch
        import torch.nn as nn
        from mamba_ssm import Mamba

        from layers.Embed import DataEmbedding_inverted
        from layers.Mamba_EncDec import Encoder, EncoderLayer


        class Model(nn.Module):
            def __init__(self, configs):
                super().__init__()
                self.pred_len = configs.pred_len
                self.use_norm = configs.use_norm
                self.enc_embedding = DataEmbedding_inverted(configs.seq_len, configs.d_model, configs.dropout)
                self.encoder = Encoder([
                    EncoderLayer(Mamba(d_model=configs.d_model, d_state=configs.d_state, d_conv=2, expand=1),
                                 Mamba(d_model=configs.d_model, d_state=configs.d_state, d_conv=2, expand=1),
                                 configs.d_model, configs.d_ff, dropout=configs.dropout, activation=configs.activation)
                    for _ in range(configs.e_layers)], norm_layer=nn.LayerNorm(configs.d_model))
                self.projector = nn.Linear(configs.d_model, configs.pred_len, bias=True)

            def forecast(self, x_enc, x_mark_enc):
                if self.use_norm:
                    means = x_enc.mean(1, keepdim=True).detach()
                    x_enc = x_enc - means
                    stdev = torch.sqrt(torch.var(x_enc, dim=1, keepdim=True, unbiased=False) + 1e-5)
                    x_enc = x_enc / stdev
                n = x_enc.shape[2]
                enc_out, _ = self.encoder(self.enc_embedding(x_enc, x_mark_enc))
                dec_out = self.projector(enc_out).permute(0, 2, 1)[:, :, :n]
                if self.use_norm:
                    dec_out = dec_out * stdev[:, 0, :].unsqueeze(1) + means[:, 0, :].unsqueeze(1)
                return dec_out

            def forward(self, x_enc, x_mark_enc, x_dec, x_mark_dec, mask=None):
                return self.forecast(x_enc, x_mark_enc)[:, -self.pred_len:, :]
     '''},
    "model/S_Mamba.py:Model",
    {"configs": {"seq_len": 48, "pred_len": 12, "d_model": 16, "d_state": 8, "d_ff": 32, "e_layers": 2,
                 "dropout": 0.1, "activation": "gelu", "use_norm": True, "enc_in": 7}},
    (2, 48, 7))

TIMEMACHINE = RealModel(
    "timemachine", "Atik-Ahamed/TimeMachine TimeMachine_supervised/models/TimeMachine.py",
    {"pyproject.toml": "", "models/TimeMachine.py": '''
        import torch
        from mamba_ssm import Mamba


        class Model(torch.nn.Module):
            def __init__(self, configs):
                super().__init__()
                self.configs = configs
                self.lin1 = torch.nn.Linear(configs.seq_len, configs.n1)
                self.lin2 = torch.nn.Linear(configs.n1, configs.n2)
                self.drop = torch.nn.Dropout(configs.dropout)
                self.mamba1 = Mamba(d_model=configs.n2, d_state=configs.d_state, d_conv=configs.dconv, expand=configs.e_fact)
                self.mamba2 = Mamba(d_model=configs.n2, d_state=configs.d_state, d_conv=configs.dconv, expand=configs.e_fact)
                self.mamba3 = Mamba(d_model=configs.n1, d_state=configs.d_state, d_conv=configs.dconv, expand=configs.e_fact)
                self.mamba4 = Mamba(d_model=configs.n1, d_state=configs.d_state, d_conv=configs.dconv, expand=configs.e_fact)
                self.lin3 = torch.nn.Linear(configs.n2, configs.n1)
                self.lin4 = torch.nn.Linear(2 * configs.n1, configs.pred_len)

            def forward(self, x):
                means = x.mean(1, keepdim=True).detach()
                x = x - means
                stdev = torch.sqrt(torch.var(x, dim=1, keepdim=True, unbiased=False) + 1e-5)
                x = x / stdev
                x = self.lin1(x.permute(0, 2, 1))
                res1 = x
                x = self.drop(x)
                x34 = self.mamba3(x) + self.mamba4(x)
                x = self.drop(self.lin2(x))
                res2 = x
                x12 = self.mamba1(x) + self.mamba2(x) + res2
                x = self.lin3(x12) + x34 + res1
                x = self.lin4(torch.cat([x, x34], dim=2)).permute(0, 2, 1)
                return x * stdev + means
    '''},
    "models/TimeMachine.py:Model",
    {"configs": {"seq_len": 48, "pred_len": 12, "n1": 32, "n2": 16, "d_state": 8, "dconv": 2, "e_fact": 1,
                 "dropout": 0.1, "enc_in": 7}},
    (2, 48, 7))

WAVEFORM = RealModel(
    "waveform_separator", "JusperLee/SPMamba look2hear/models/SPMamba.py (a package with relative imports; "
    "a [batch, samples] waveform in and out)",
    {"setup.py": "", "look2hear/__init__.py": "", "look2hear/layers/__init__.py": "from .blocks import MambaBlock\n",
     "look2hear/layers/blocks.py": '''
        import torch.nn as nn
        from mamba_ssm import Mamba


        class MambaBlock(nn.Module):
            def __init__(self, channels, n_layer=2):
                super().__init__()
                self.mixers = nn.ModuleList([Mamba(channels, d_state=8) for _ in range(n_layer)])
                self.norms = nn.ModuleList([nn.LayerNorm(channels) for _ in range(n_layer)])

            def forward(self, x):  # pre-norm residual blocks
                for mixer, norm in zip(self.mixers, self.norms):
                    x = x + mixer(norm(x))
                return x
     ''',
     "look2hear/models/__init__.py": "",
     "look2hear/models/base_model.py": '''
        import torch.nn as nn


        class BaseModel(nn.Module):
            def __init__(self, sample_rate):
                super().__init__()
                self.sample_rate = sample_rate
     ''',
     "look2hear/models/separator.py": '''
        import torch
        import torch.nn as nn

        from ..layers import MambaBlock
        from .base_model import BaseModel


        class WaveSeparator(BaseModel):
            def __init__(self, sample_rate=8000, channels=16, kernel=16, n_layer=2, n_src=2):
                super().__init__(sample_rate)
                self.n_src = n_src
                self.encoder = nn.Conv1d(1, channels, kernel, stride=kernel // 2, bias=False)
                self.bottleneck = nn.GroupNorm(1, channels)
                self.blocks = MambaBlock(channels, n_layer)
                self.mask = nn.Linear(channels, channels * n_src)
                self.decoder = nn.ConvTranspose1d(channels, 1, kernel, stride=kernel // 2, bias=False)

            def forward(self, wav):
                scale = wav.std(dim=-1, keepdim=True) + 1e-8  # the waveform's own RMS normalisation
                x = self.encoder((wav / scale).unsqueeze(1))
                h = self.blocks(self.bottleneck(x).transpose(1, 2))
                masks = torch.sigmoid(self.mask(h)).transpose(1, 2).chunk(self.n_src, dim=1)
                return torch.stack([self.decoder(x * m).squeeze(1) for m in masks], 1) * scale.unsqueeze(1)
     '''},
    "look2hear/models/separator.py:WaveSeparator", {"channels": 16}, (2, 2048))

MAMBAPY = RealModel(
    "mambapy", "alxndrTL/mamba.py mambapy/mamba.py (a dataclass config; its own selective SSM and RMSNorm)",
    {"setup.py": "", "mambapy/__init__.py": "", "mambapy/mamba.py": '''
        import math
        from dataclasses import dataclass
        from typing import Union

        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        @dataclass
        class MambaConfig:
            d_model: int
            n_layers: int
            dt_rank: Union[int, str] = "auto"
            d_state: int = 16
            expand_factor: int = 2
            d_conv: int = 4

            def __post_init__(self):
                self.d_inner = self.expand_factor * self.d_model
                if self.dt_rank == "auto":
                    self.dt_rank = math.ceil(self.d_model / 16)


        class RMSNorm(nn.Module):
            def __init__(self, d_model, eps=1e-5):
                super().__init__()
                self.eps, self.weight = eps, nn.Parameter(torch.ones(d_model))

            def forward(self, x):
                return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


        class MambaBlock(nn.Module):
            def __init__(self, config: MambaConfig):
                super().__init__()
                self.config = config
                self.in_proj = nn.Linear(config.d_model, 2 * config.d_inner, bias=False)
                self.conv1d = nn.Conv1d(config.d_inner, config.d_inner, config.d_conv, groups=config.d_inner,
                                        padding=config.d_conv - 1)
                self.x_proj = nn.Linear(config.d_inner, config.dt_rank + 2 * config.d_state, bias=False)
                self.dt_proj = nn.Linear(config.dt_rank, config.d_inner, bias=True)
                A = torch.arange(1, config.d_state + 1, dtype=torch.float32).repeat(config.d_inner, 1)
                self.A_log = nn.Parameter(torch.log(A))
                self.D = nn.Parameter(torch.ones(config.d_inner))
                self.out_proj = nn.Linear(config.d_inner, config.d_model, bias=False)

            def forward(self, x):
                L = x.shape[1]
                x, z = self.in_proj(x).chunk(2, dim=-1)
                x = F.silu(self.conv1d(x.transpose(1, 2))[:, :, :L].transpose(1, 2))
                delta, B, C = torch.split(self.x_proj(x), [self.config.dt_rank, self.config.d_state, self.config.d_state], -1)
                delta = F.softplus(self.dt_proj(delta))
                A = -torch.exp(self.A_log)
                h = x.new_zeros(x.shape[0], self.config.d_inner, self.config.d_state)
                ys = []
                for t in range(L):
                    h = torch.exp(delta[:, t, :, None] * A) * h + delta[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
                    ys.append((h @ C[:, t, :, None]).squeeze(-1))
                y = torch.stack(ys, 1) + self.D * x
                return self.out_proj(y * F.silu(z))


        class ResidualBlock(nn.Module):
            def __init__(self, config: MambaConfig):
                super().__init__()
                self.mixer, self.norm = MambaBlock(config), RMSNorm(config.d_model)

            def forward(self, x):
                return self.mixer(self.norm(x)) + x


        class Mamba(nn.Module):
            def __init__(self, config: MambaConfig):
                super().__init__()
                self.layers = nn.ModuleList([ResidualBlock(config) for _ in range(config.n_layers)])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
    '''},
    "mambapy/mamba.py:Mamba", {"config": {"d_model": 16, "n_layers": 2}}, (2, 32, 16))

VIM = RealModel(
    "vim", "hustvl/Vim vim/models_mamba.py (patch embedding, fixed position embedding, add-then-norm blocks)",
    {".git/HEAD": "", "vim/models_mamba.py": '''
        from functools import partial

        import torch
        import torch.nn as nn
        from mamba_ssm.modules.mamba_simple import Mamba


        class PatchEmbed(nn.Module):
            def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
                super().__init__()
                self.num_patches = (img_size // patch_size) ** 2
                self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

            def forward(self, x):
                return self.proj(x).flatten(2).transpose(1, 2)


        class Block(nn.Module):
            def __init__(self, dim, mixer_cls, norm_cls=nn.LayerNorm):
                super().__init__()
                self.mixer, self.norm = mixer_cls(dim), norm_cls(dim)

            def forward(self, hidden_states, residual=None):
                residual = hidden_states if residual is None else residual + hidden_states
                return self.mixer(self.norm(residual)), residual


        class VisionMamba(nn.Module):
            def __init__(self, img_size=224, patch_size=16, depth=24, embed_dim=192, channels=3, num_classes=1000, d_state=16):
                super().__init__()
                self.patch_embed = PatchEmbed(img_size, patch_size, channels, embed_dim)
                self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
                self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
                self.layers = nn.ModuleList([Block(embed_dim, partial(Mamba, d_state=d_state)) for _ in range(depth)])
                self.norm_f = nn.LayerNorm(embed_dim)
                self.head = nn.Linear(embed_dim, num_classes)

            def forward(self, x):
                x = self.patch_embed(x)
                x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
                hidden, residual = x, None
                for layer in self.layers:
                    hidden, residual = layer(hidden, residual)
                return self.head(self.norm_f(residual + hidden)[:, 0])
    '''},
    "vim/models_mamba.py:VisionMamba",
    {"img_size": 32, "patch_size": 8, "depth": 2, "embed_dim": 16, "num_classes": 10, "d_state": 8}, (2, 3, 32, 32))

SEED = RealModel(
    "seed_bimamba", "scipi1/proT proT/baseline/s6/s6_wrapper.py (the bundled example, examples/seed_model/bimamba.py)",
    {".git/HEAD": "", "bimamba.py": (Path(__file__).resolve().parent.parent / "examples/seed_model/bimamba.py").read_text()},
    "bimamba.py:BiMamba", {"d_model": 16, "d_state": 8}, (2, 32, 16), normalizes=False, overflows=True)

ICU = RealModel(
    "icu_timeseries", "file id 55625485812 (an ICU time-series model defined only when mamba_ssm imports; "
    "tests/repo_corpus.py class-inside-try)",
    {"pyproject.toml": "", "src/icu_model.py": '''
        import torch.nn as nn

        try:
            from mamba_ssm import Mamba

            class ICUModel(nn.Module):
                def __init__(self, n_features=12, d_model=32, num_layers=4, seq_len=48):
                    super().__init__()
                    self.proj = nn.Linear(n_features, d_model)
                    self.layers = nn.ModuleList([Mamba(d_model=d_model, d_state=8) for _ in range(num_layers)])
                    self.norm = nn.LayerNorm(d_model)
                    self.head = nn.Linear(d_model, 1)

                def forward(self, x):
                    h = self.proj(x)
                    for layer in self.layers:
                        h = layer(h)
                    return self.head(self.norm(h)[:, -1])
        except ImportError:
            ICUModel = None
    '''},
    "src/icu_model.py:ICUModel", {"n_features": 12, "d_model": 16}, (2, 48, 12), normalizes=False, overflows=True)

S6_SCRATCH = RealModel(
    "s6_from_scratch", "clmrie/Mamba-S6-From-Scratch mamba_ssm/model.py, block.py, s6.py, config.py (its own package "
    "named mamba_ssm; residual-only blocks around a home-made S6)",
    {".git/HEAD": "", "mamba_ssm/__init__.py": "", "mamba_ssm/config.py": '''
        import math
        from dataclasses import dataclass


        @dataclass
        class MambaConfig:
            d_model: int = 512
            n_layers: int = 24
            vocab_size: int = 50257
            d_state: int = 16
            expand: int = 2
            d_conv: int = 4

            def __post_init__(self):
                self.d_inner = self.expand * self.d_model
                self.dt_rank = math.ceil(self.d_model / 16)
     ''',
     "mamba_ssm/s6.py": '''
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class S6(nn.Module):
            def __init__(self, config):
                super().__init__()
                self.config = config
                self.x_proj = nn.Linear(config.d_inner, config.dt_rank + 2 * config.d_state, bias=False)
                self.dt_proj = nn.Linear(config.dt_rank, config.d_inner)
                A = torch.arange(1, config.d_state + 1, dtype=torch.float32).repeat(config.d_inner, 1)
                self.A_log = nn.Parameter(torch.log(A))
                self.D = nn.Parameter(torch.ones(config.d_inner))

            def forward(self, x, inference_params=None):
                c = self.config
                dt, B, C = self.x_proj(x).split([c.dt_rank, c.d_state, c.d_state], dim=-1)
                dt = F.softplus(self.dt_proj(dt))
                dA = torch.exp(dt.unsqueeze(-1) * -torch.exp(self.A_log))
                dB = dt.unsqueeze(-1) * B.unsqueeze(2)
                h, ys = x.new_zeros(x.shape[0], c.d_inner, c.d_state), []
                for t in range(x.shape[1]):
                    h = dA[:, t] * h + dB[:, t] * x[:, t, :, None]
                    ys.append((h * C[:, t, None, :]).sum(-1))
                return torch.stack(ys, 1) + x * self.D
     ''',
     "mamba_ssm/block.py": '''
        import torch.nn as nn
        import torch.nn.functional as F

        from .s6 import S6


        class MambaBlock(nn.Module):
            def __init__(self, config):
                super().__init__()
                self.config = config
                self.in_proj = nn.Linear(config.d_model, 2 * config.d_inner, bias=False)
                self.conv1d = nn.Conv1d(config.d_inner, config.d_inner, config.d_conv, groups=config.d_inner,
                                        padding=config.d_conv - 1)
                self.x_proj = S6(config)
                self.out_proj = nn.Linear(config.d_inner, config.d_model, bias=False)

            def forward(self, x, inference_params=None):
                x, res = self.in_proj(x).split([self.config.d_inner, self.config.d_inner], dim=-1)
                x = F.silu(self.conv1d(x.transpose(1, 2))[:, :, :x.shape[1]].transpose(1, 2))
                return self.out_proj(self.x_proj(x, inference_params) * F.silu(res))
     ''',
     "mamba_ssm/model.py": '''
        import torch.nn as nn

        from .block import MambaBlock
        from .config import MambaConfig


        class RMSNorm(nn.Module):
            def __init__(self, d, eps=1e-5):
                super().__init__()
                self.norm = nn.RMSNorm(d, eps=eps)

            def forward(self, x):
                return self.norm(x)


        class Mamba(nn.Module):
            def __init__(self, config: MambaConfig):
                super().__init__()
                self.embedding = nn.Embedding(config.vocab_size, config.d_model)
                self.layers = nn.ModuleList([MambaBlock(config) for _ in range(config.n_layers)])
                self.norm_f = RMSNorm(config.d_model)
                self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

            def forward(self, input_ids, inference_params=None):
                x = self.embedding(input_ids)
                for layer in self.layers:
                    x = x + layer(x, inference_params)
                return self.lm_head(self.norm_f(x))
     '''},
    "mamba_ssm/model.py:Mamba", {"config": {"d_model": 16, "n_layers": 4, "vocab_size": 64, "d_state": 8}}, (2, 32),
    normalizes=False, overflows=True)

EEG = RealModel(
    "eeg_bimamba", "Darakuten/EEGMamba eegMamba.py and bi_mammba.py (an args namespace; EEG as [batch, channels, time]; "
    "script-style sibling imports)",
    {".git/HEAD": "", "bi_mamba.py": '''
        import torch
        import torch.nn as nn
        from mamba_ssm import Mamba


        class BidirectionalMamba(nn.Module):
            def __init__(self, d_model):
                super().__init__()
                self.norm = nn.LayerNorm(d_model)
                self.fwd, self.bwd = Mamba(d_model, d_state=8), Mamba(d_model, d_state=8)

            def forward(self, x):
                h = self.norm(x)
                return x + self.fwd(h) + self.bwd(h.flip(1)).flip(1)
     ''',
     "eeg_mamba.py": '''
        import torch
        import torch.nn as nn

        from bi_mamba import BidirectionalMamba


        class STAdaptive(nn.Module):
            def __init__(self, n_channels, d, kernel=5):
                super().__init__()
                self.conv = nn.Conv1d(n_channels, d, kernel, padding=kernel // 2)
                self.cls = nn.Parameter(torch.zeros(1, 1, d))

            def forward(self, x):
                t = self.conv(x).transpose(1, 2)
                return torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1)


        class EEGMamba(nn.Module):
            def __init__(self, args):
                super().__init__()
                self.st_adaptive = STAdaptive(args.num_channels, args.D)
                self.blocks = nn.ModuleList([
                    nn.Sequential(BidirectionalMamba(args.D), nn.Linear(args.D, args.D)) for _ in range(args.num_blocks)])
                self.classifier = nn.Linear(args.D, args.num_class)

            def forward(self, x):
                t = self.st_adaptive(x)
                for block in self.blocks:
                    t = block(t)
                return self.classifier(t[:, 0])
     '''},
    "eeg_mamba.py:EEGMamba", {"args": {"num_channels": 19, "D": 16, "num_blocks": 2, "num_class": 3}}, (2, 19, 128))

SEGMAMBA = RealModel(
    "segmamba", "ge-xing/SegMamba model_segmamba/segmamba.py (a 3-D volume; Mamba over flattened voxels, pre-norm)",
    {".git/HEAD": "", "model_segmamba/__init__.py": "", "model_segmamba/segmamba.py": '''
        import torch.nn as nn
        from mamba_ssm import Mamba


        class MambaLayer(nn.Module):
            def __init__(self, dim, d_state=8):
                super().__init__()
                self.norm = nn.LayerNorm(dim)
                self.mamba = Mamba(d_model=dim, d_state=d_state, d_conv=4, expand=2)

            def forward(self, x):
                b, c = x.shape[:2]
                spatial = x.shape[2:]
                flat = x.reshape(b, c, -1).transpose(-1, -2)
                out = self.mamba(self.norm(flat)) + flat
                return out.transpose(-1, -2).reshape(b, c, *spatial)


        class SegMamba(nn.Module):
            def __init__(self, in_chans=1, out_chans=4, feat=16, depth=2):
                super().__init__()
                self.stem = nn.Conv3d(in_chans, feat, kernel_size=4, stride=4)
                self.stages = nn.Sequential(*[MambaLayer(feat) for _ in range(depth)])
                self.norm = nn.InstanceNorm3d(feat)
                self.head = nn.ConvTranspose3d(feat, out_chans, kernel_size=4, stride=4)

            def forward(self, x):
                return self.head(self.norm(self.stages(self.stem(x))))
    '''},
    "model_segmamba/segmamba.py:SegMamba", {"in_chans": 1, "feat": 16}, (1, 1, 32, 32, 32))

RESIDUAL_ONLY = RealModel(
    "residual_backbone", "file id 14660187431 (a registry of sequence backbones: residual-only Mamba stack; "
    "tests/repo_corpus.py residual-only-stack)",
    {"pyproject.toml": "", "backbones/mamba_backbone.py": '''
        import torch
        import torch.nn as nn


        class Backbone(nn.Module):
            def __init__(self, dim, depth=8, in_dim=6):
                super().__init__()
                from mamba_ssm import Mamba
                self.embed = nn.Linear(in_dim, dim)
                self.layers = nn.ModuleList([Mamba(d_model=dim, d_state=8) for _ in range(depth)])

            def forward(self, x):
                x = self.embed(x)
                for layer in self.layers:
                    x = x + layer(x)
                return torch.nan_to_num(x)
    '''},
    "backbones/mamba_backbone.py:Backbone", {"dim": 16, "depth": 6, "in_dim": 6}, (2, 32, 6),
    normalizes=False, overflows=True)

ECG_RAW = RealModel(
    "ecg_raw", "Rana3112/mamba-ECG-classification src/models/ablation_mamba.py (a single-lead ECG as [batch, samples]; "
    "a Conv1d front end; post-norm Add & Norm blocks)",
    {".git/HEAD": "", "src/__init__.py": "", "src/models/__init__.py": "", "src/models/ecg_mamba.py": '''
        import torch.nn as nn
        from mamba_ssm import Mamba


        class AddNormMamba(nn.Module):
            def __init__(self, d_model, dropout=0.1):
                super().__init__()
                self.mamba = Mamba(d_model=d_model, d_state=8)
                self.norm = nn.LayerNorm(d_model)
                self.drop = nn.Dropout(dropout)

            def forward(self, x):
                return self.norm(x + self.drop(self.mamba(x)))


        class ECGMamba(nn.Module):
            def __init__(self, n_classes=4, d_model=32, n_layers=3, sample_length=3000):
                super().__init__()
                self.front = nn.Sequential(nn.Conv1d(1, d_model, 7, stride=4, padding=3), nn.GELU())
                self.layers = nn.ModuleList([AddNormMamba(d_model) for _ in range(n_layers)])
                self.head = nn.Linear(d_model, n_classes)

            def forward(self, ecg):
                x = self.front(ecg.unsqueeze(1)).transpose(1, 2)
                for layer in self.layers:
                    x = layer(x)
                return self.head(x.mean(1))
    '''},
    "src/models/ecg_mamba.py:ECGMamba", {"d_model": 16, "sample_length": 1024}, (2, 1024))

HOME_MADE_TENSOR = RealModel(
    "s6_buffer", "AlexTitu/mamba_tsad_dcase model_utils/mamba.py (a pure-PyTorch MambaBlock whose A_log is a plain "
    "tensor attribute and whose D is a parameter; post-norm residual layers)",
    {".git/HEAD": "", "model_utils/__init__.py": "", "model_utils/mamba.py": '''
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class MambaBlock(nn.Module):
            def __init__(self, d_model, d_state=8, expand=2):
                super().__init__()
                d_inner = expand * d_model
                self.d_state = d_state
                self.in_proj = nn.Linear(d_model, 2 * d_inner)
                self.proj_bc = nn.Linear(d_inner, 2 * d_state + 1)
                self.delta_scale = nn.Linear(1, d_inner)
                self.A_log = torch.log(torch.arange(1, d_state + 1).float()).repeat(d_inner, 1)  # fixed, not learnt
                self.D = nn.Parameter(torch.ones(d_inner))
                self.out_proj = nn.Linear(d_inner, d_model)

            def forward(self, x):
                u, z = self.in_proj(x).chunk(2, -1)
                u = F.silu(u)
                dt, B, C = self.proj_bc(u).split([1, self.d_state, self.d_state], -1)
                delta = F.softplus(self.delta_scale(dt))
                A = -torch.exp(self.A_log.to(x.device, x.dtype))
                h, ys = u.new_zeros(u.shape[0], u.shape[2], self.d_state), []
                for t in range(u.shape[1]):
                    h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None]
                    ys.append((h * C[:, t, None]).sum(-1))
                return self.out_proj((torch.stack(ys, 1) + u * self.D) * F.silu(z))


        class ResidualLayer(nn.Module):
            def __init__(self, d_model):
                super().__init__()
                self.mixer, self.norm = MambaBlock(d_model), nn.LayerNorm(d_model)

            def forward(self, x):
                return self.norm(x + self.mixer(x))
     ''',
     "model.py": '''
        import torch.nn as nn

        from model_utils.mamba import ResidualLayer


        class AnomalyDetector(nn.Module):
            def __init__(self, input_size=8, d_model=32, n_layers=2, window_size=64):
                super().__init__()
                self.embed = nn.Linear(input_size, d_model)
                self.layers = nn.ModuleList([ResidualLayer(d_model) for _ in range(n_layers)])
                self.recon = nn.Linear(d_model, input_size)

            def forward(self, x):
                h = self.embed(x)
                for layer in self.layers:
                    h = layer(h)
                return self.recon(h)
     '''},
    "model.py:AnomalyDetector", {"input_size": 8, "d_model": 16, "window_size": 32}, (2, 32, 8))

POST_NORM = RealModel(
    "post_norm_bimamba", "XsChen524/mode-mamba-ts src/mamba_mode/modules/mamba_replacement.py (SMambaBlock: a "
    "forward and a flipped Mamba summed, then Add & Norm, then an FFN with Add & Norm), stacked on the raw features",
    {"pyproject.toml": "", "src/mamba_mode/__init__.py": "", "src/mamba_mode/modules/__init__.py": "",
     "src/mamba_mode/modules/mamba_replacement.py": '''
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from mamba_ssm import Mamba


        class FFN(nn.Module):
            def __init__(self, d_model, d_ff=None, dropout=0.1):
                super().__init__()
                self.fc1, self.fc2 = nn.Linear(d_model, d_ff or 4 * d_model), nn.Linear(d_ff or 4 * d_model, d_model)
                self.dropout = nn.Dropout(dropout)

            def forward(self, x):
                return self.fc2(self.dropout(F.gelu(self.fc1(x))))


        class SMambaBlock(nn.Module):
            def __init__(self, d_model, d_state, d_conv=2, expand=2, dropout=0.1):
                super().__init__()
                self.mamba_fwd = Mamba(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand, use_fast_path=True)
                self.mamba_bwd = Mamba(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand, use_fast_path=True)
                self.ffn = FFN(d_model, dropout=dropout)
                self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
                self.dropout = nn.Dropout(dropout)

            def forward(self, x):
                mixed = self.mamba_fwd(x) + torch.flip(self.mamba_bwd(torch.flip(x, dims=[1])), dims=[1])
                x = self.norm1(x + self.dropout(mixed))
                return self.norm2(x + self.dropout(self.ffn(x)))


        class Encoder(nn.Module):
            def __init__(self, n_features, e_layers=3, d_state=16, pred_len=12):
                super().__init__()
                self.blocks = nn.ModuleList([SMambaBlock(n_features, d_state) for _ in range(e_layers)])
                self.head = nn.Linear(n_features, pred_len)

            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                return self.head(x.mean(1))
     '''},
    "src/mamba_mode/modules/mamba_replacement.py:Encoder", {"n_features": 16, "e_layers": 3}, (2, 32, 16))

# ----- layouts smoke infers from the forward's own code -----

IMAGE_RESTORATION = RealModel(
    "image_restoration", "csguoh/MambaIR basicsr/archs/mambair_arch.py (MambaIR: a [batch, 3, H, W] image, mean "
    "shift, conv_first, tokens by flatten(2).transpose(1, 2), pre-norm state-space groups, pixel shuffle)",
    {".git/HEAD": "", "archs/__init__.py": "", "archs/restore.py": '''
        import torch
        import torch.nn as nn
        from mamba_ssm import Mamba


        class ToTokens(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.norm = nn.LayerNorm(dim)

            def forward(self, x):
                return self.norm(x.flatten(2).transpose(1, 2))


        class StateSpaceGroup(nn.Module):
            def __init__(self, dim, depth):
                super().__init__()
                self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
                self.mixers = nn.ModuleList([Mamba(dim, d_state=8) for _ in range(depth)])
                self.conv = nn.Conv2d(dim, dim, 3, padding=1)

            def forward(self, tokens, size):
                h = tokens
                for norm, mixer in zip(self.norms, self.mixers):
                    h = h + mixer(norm(h))
                grid = h.transpose(1, 2).reshape(h.shape[0], -1, size[0], size[1])
                return self.conv(grid).flatten(2).transpose(1, 2) + tokens


        class Restorer(nn.Module):
            def __init__(self, img_size=64, in_chans=3, embed_dim=16, depths=(2, 2), upscale=2, img_range=1.0):
                super().__init__()
                self.img_range = img_range
                self.mean = torch.zeros(1, in_chans, 1, 1)
                self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, padding=1)
                self.to_tokens = ToTokens(embed_dim)
                self.groups = nn.ModuleList([StateSpaceGroup(embed_dim, d) for d in depths])
                self.norm = nn.LayerNorm(embed_dim)
                self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)
                self.upsample = nn.Sequential(nn.Conv2d(embed_dim, in_chans * upscale ** 2, 3, padding=1),
                                              nn.PixelShuffle(upscale))

            def features(self, x):
                size = (x.shape[2], x.shape[3])
                t = self.to_tokens(x)
                for group in self.groups:
                    t = group(t, size)
                return self.norm(t).transpose(1, 2).reshape(x.shape[0], -1, size[0], size[1])

            def forward(self, x):
                self.mean = self.mean.type_as(x)
                x = (x - self.mean) * self.img_range
                x = self.conv_first(x)
                x = self.conv_after_body(self.features(x)) + x
                return self.upsample(x) / self.img_range + self.mean
     '''},
    "archs/restore.py:Restorer", {}, (1, 3, 32, 32))

STFT_SEPARATOR = RealModel(
    "stft_separator", "JusperLee/SPMamba look2hear/models/SPMamba.py and look2hear/layers (SPMamba: a raw mixture "
    "[batch, samples] through an STFT encoder module (torch.stft, n_fft from the constructor), real and imaginary "
    "parts as the two channels of a Conv2d, Mamba over frames, pre-norm)",
    {"setup.py": "", "sep/__init__.py": "", "sep/stft.py": '''
        import torch
        import torch.nn as nn


        class STFTEncoder(nn.Module):
            def __init__(self, n_fft, hop):
                super().__init__()
                self.n_fft, self.hop = n_fft, hop
                self.register_buffer("window", torch.hann_window(n_fft))

            def forward(self, wav):
                spec = torch.stft(wav, self.n_fft, hop_length=self.hop, window=self.window, return_complex=True)
                return spec.transpose(1, 2)  # [B, frames, freqs]
     ''',
     "sep/separator.py": '''
        import torch
        import torch.nn as nn
        from mamba_ssm import Mamba

        from .stft import STFTEncoder


        class FrameBlock(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.norm = nn.LayerNorm(dim)
                self.mixer = Mamba(dim, d_state=8)

            def forward(self, x):  # [B, C, T, F]: Mamba over frames, one sequence per frequency
                b, c, t, f = x.shape
                seq = x.permute(0, 3, 2, 1).reshape(b * f, t, c)
                seq = seq + self.mixer(self.norm(seq))
                return seq.reshape(b, f, t, c).permute(0, 3, 2, 1)


        class Separator(nn.Module):
            def __init__(self, input_dim=1, n_srcs=2, n_fft=64, stride=32, emb_dim=8, n_layers=2):
                super().__init__()
                self.enc = STFTEncoder(n_fft, stride)
                self.conv = nn.Conv2d(2 * input_dim, emb_dim, 3, padding=1)
                self.blocks = nn.ModuleList([FrameBlock(emb_dim) for _ in range(n_layers)])
                self.deconv = nn.Conv2d(emb_dim, 2 * n_srcs, 3, padding=1)

            def forward(self, mixture):
                if mixture.dim() == 1:
                    mixture = mixture.unsqueeze(0)
                scale = mixture.std(dim=-1, keepdim=True)
                spec = self.enc(mixture / scale)
                x = torch.stack([spec.real, spec.imag], 1)  # [B, 2, T, F]
                x = self.conv(x)
                for block in self.blocks:
                    x = block(x)
                return self.deconv(x)
     '''},
    "sep/separator.py:Separator", {}, (2, 2048))

EEG_CHANNELS_FIRST = RealModel(
    "eeg_channels_first", "latka-krystof/eeg-mamba models/mamba_eeg.py (MambaEEG: [batch, electrodes, samples] "
    "transposed into Linear(electrodes); a norm over (samples, hidden) after each Mamba fixes the window at 250)",
    {".git/HEAD": "", "models/eeg.py": '''
        import torch
        import torch.nn as nn
        from mamba_ssm import Mamba


        class MambaEEG(nn.Module):
            def __init__(self, input_dim=22, hidden_dim=8, d_state=8, num_classes=4):
                super().__init__()
                self.embedding = nn.Linear(input_dim, hidden_dim)
                self.mamba1, self.mamba2 = Mamba(hidden_dim, d_state=d_state), Mamba(hidden_dim, d_state=d_state)
                self.ln1, self.ln2 = nn.LayerNorm((250, hidden_dim)), nn.LayerNorm((250, hidden_dim))
                self.drop = nn.Dropout(0.5)
                self.fc = nn.Linear(hidden_dim, num_classes)

            def forward(self, x):
                x = torch.transpose(x, 1, 2)
                x = self.drop(self.embedding(x))
                x = self.ln1(self.mamba1(x))
                x = self.ln2(self.mamba2(x))
                return self.fc(x.mean(1))
     '''},
    "models/eeg.py:MambaEEG", {}, (2, 22, 250))

HYPERSPECTRAL = RealModel(
    "hyperspectral_cube", "751K/HS_Image_Classification src/MambaBase/STMamba.py (STMamba: a hyperspectral patch "
    "[batch, 1, bands, patch, patch] into Conv3d, einops 'b c h w y -> b (c h) w y', a Conv2d over 8 x bands "
    "channels, a centre-first scan of the patch, a position embedding of patch**2 + 1 tokens)",
    {".git/HEAD": "", "src/__init__.py": "", "src/cube.py": '''
        import torch
        import torch.nn as nn
        from einops import rearrange
        from mamba_ssm import Mamba


        class CubeNet(nn.Module):
            def __init__(self, input_channels=30, num_classes=8, patch_size=9, depth=2):
                super().__init__()
                self.conv3d = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU())
                self.conv2d = nn.Sequential(nn.Conv2d(4 * input_channels, num_classes, 3, padding=1),
                                            nn.BatchNorm2d(num_classes), nn.ReLU())
                self.pos = nn.Parameter(torch.zeros(1, patch_size ** 2 + 1, num_classes))
                self.cls = nn.Parameter(torch.zeros(1, 1, num_classes))
                self.norms = nn.ModuleList([nn.LayerNorm(num_classes) for _ in range(depth)])
                self.mixers = nn.ModuleList([Mamba(num_classes, d_state=8) for _ in range(depth)])

            def scan(self, x):  # the centre pixel first, then the rows of the patch
                b, c, h, w = x.shape
                centre = x[:, :, h // 2, w // 2].unsqueeze(1)
                return torch.cat([centre, rearrange(x, "b c h w -> b (h w) c")], 1)[:, : h * w]

            def forward(self, cube):
                x = self.conv3d(cube)
                x = rearrange(x, "b c h w y -> b (c h) w y")
                x = self.scan(self.conv2d(x))
                x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
                for norm, mixer in zip(self.norms, self.mixers):
                    x = x + mixer(norm(x))
                return x[:, 0]
     '''},
    "src/cube.py:CubeNet", {"input_channels": 30, "patch_size": 9}, (2, 1, 30, 9, 9))

SESSION_RECOMMENDER = RealModel(
    "session_recommender", "haisuchao/DualMamba4Rec model/dual_mamba4rec.py and model/cmamba_block.py "
    "(DualMamba4Rec in its mamba_only mode: item ids [batch, length] with item_seq_len, a position embedding of "
    "max_seq_length + 1 rows, a config read as a dict, n_items from the dataset)",
    {".git/HEAD": "", "model/__init__.py": "", "model/blocks.py": '''
        import torch.nn as nn
        from mamba_ssm import Mamba


        class ConvMambaBlock(nn.Module):
            def __init__(self, d_model, d_state, dropout):
                super().__init__()
                self.norm = nn.LayerNorm(d_model)
                self.mamba = Mamba(d_model, d_state=d_state)
                self.ffn = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                         nn.Linear(4 * d_model, d_model))
                self.drop = nn.Dropout(dropout)

            def forward(self, x):
                x = x + self.drop(self.mamba(self.norm(x)))
                return x + self.drop(self.ffn(x))
     ''',
     "model/recommender.py": '''
        import torch
        import torch.nn as nn

        from model.blocks import ConvMambaBlock


        class SessionRecommender(nn.Module):
            def __init__(self, config, n_items):
                super().__init__()
                d = config["embedding_size"]
                self.item_embedding = nn.Embedding(n_items + 1, d, padding_idx=0)
                self.position_embedding = nn.Embedding(config["max_seq_length"] + 1, d)
                self.drop = nn.Dropout(config["dropout_prob"])
                self.blocks = nn.ModuleList([ConvMambaBlock(d, config["d_state"], config["dropout_prob"])
                                             for _ in range(config["n_layers"])])
                self.final_norm = nn.LayerNorm(d)

            def forward(self, item_seq, item_seq_len):
                B, L = item_seq.shape
                positions = torch.arange(L, device=item_seq.device).unsqueeze(0).expand(B, -1)
                h = self.drop(self.item_embedding(item_seq) + self.position_embedding(positions))
                for block in self.blocks:
                    h = block(h)
                last = h.gather(1, (item_seq_len - 1).view(-1, 1, 1).expand(-1, -1, h.shape[-1])).squeeze(1)
                return self.final_norm(last)
     '''},
    "model/recommender.py:SessionRecommender",
    {"config": {"embedding_size": 16, "max_seq_length": 50, "dropout_prob": 0.1, "d_state": 8, "n_layers": 2},
     "n_items": 100},
    (2, 50))

SHADOWED_MODELS = RealModel(
    "shadowed_models_folder", "Peilin-FF/exp-LN models/Mamba.py, layers/Mamba_Family.py, layers/Embed.py, "
    "models/mamba_ssm/Mamba1.py (a time-series library layout: models/ and layers/ folders imported from the "
    "repository root, a pure-PyTorch Mamba vendored under models/, forward(x_dec, x_mark_dec), a configs object); "
    "here models/ is a plain folder and another module named models is on the path",
    {".git/HEAD": "", "layers/embed.py": '''
        import torch.nn as nn


        class DataEmbedding(nn.Module):
            def __init__(self, c_in, d_model, dropout=0.1):
                super().__init__()
                self.value = nn.Linear(c_in, d_model)
                self.drop = nn.Dropout(dropout)

            def forward(self, x, x_mark):
                return self.drop(self.value(x))
     ''',
     "layers/mamba_family.py": '''
        import torch.nn as nn


        class MambaLayer(nn.Module):
            def __init__(self, mixer, d_model):
                super().__init__()
                self.mixer, self.norm = mixer, nn.LayerNorm(d_model)

            def forward(self, x):
                return self.norm(x + self.mixer(x))
     ''',
     "models/ssm/mamba1.py": '''
        import math

        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class Mamba(nn.Module):  # a selective scan written out step by step
            def __init__(self, d_model, d_state=8, d_conv=4, expand=2):
                super().__init__()
                inner = expand * d_model
                self.dt_rank = math.ceil(d_model / 16)
                self.in_proj = nn.Linear(d_model, 2 * inner)
                self.conv1d = nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1)
                self.x_proj = nn.Linear(inner, self.dt_rank + 2 * d_state, bias=False)
                self.dt_proj = nn.Linear(self.dt_rank, inner)
                self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1).float()).repeat(inner, 1))
                self.D = nn.Parameter(torch.ones(inner))
                self.out_proj = nn.Linear(inner, d_model)

            def forward(self, x):
                b, l, _ = x.shape
                u, z = self.in_proj(x).chunk(2, dim=-1)
                u = F.silu(self.conv1d(u.transpose(1, 2))[..., :l].transpose(1, 2))
                dt, B, C = self.x_proj(u).split([self.dt_rank, self.A_log.shape[1], self.A_log.shape[1]], dim=-1)
                dt = F.softplus(self.dt_proj(dt))
                A = -torch.exp(self.A_log)
                h = torch.zeros(b, u.shape[-1], A.shape[1], device=x.device, dtype=x.dtype)
                ys = []
                for t in range(l):
                    h = torch.exp(dt[:, t, :, None] * A) * h + dt[:, t, :, None] * B[:, t, None, :] * u[:, t, :, None]
                    ys.append((h * C[:, t, None, :]).sum(-1))
                y = torch.stack(ys, 1) + u * self.D
                return self.out_proj(y * F.silu(z))
     ''',
     "models/mamba_model.py": '''
        import torch.nn as nn

        from layers.embed import DataEmbedding
        from layers.mamba_family import MambaLayer
        from models.ssm.mamba1 import Mamba


        class Model(nn.Module):
            def __init__(self, configs):
                super().__init__()
                self.configs = configs
                self.dec_embedding = DataEmbedding(configs.dec_in, configs.d_model, configs.dropout)
                self.mamba_layers = nn.ModuleList([MambaLayer(Mamba(configs.d_model, d_state=configs.d_state),
                                                              configs.d_model) for _ in range(configs.d_layers)])
                self.out_proj = nn.Linear(configs.d_model, configs.c_out)

            def forward(self, x_dec, x_mark_dec):
                x = self.dec_embedding(x_dec, x_mark_dec)
                for i in range(self.configs.d_layers):
                    x = self.mamba_layers[i](x)
                return self.out_proj(x)
     ''',
     "site/models.py": "NAME = 'another module named models, not the repository folder'\n"},
    "models/mamba_model.py:Model",
    {"configs": {"dec_in": 7, "d_model": 16, "dropout": 0.1, "d_state": 8, "d_layers": 2, "c_out": 1}}, (2, 32, 7),
    elsewhere="site")

INFERRED = [IMAGE_RESTORATION, STFT_SEPARATOR, EEG_CHANNELS_FIRST, HYPERSPECTRAL, SESSION_RECOMMENDER, SHADOWED_MODELS]

MODELS = [MAMBA4REC, S_D_MAMBA, TIMEMACHINE, WAVEFORM, MAMBAPY, VIM, SEED, ICU, S6_SCRATCH, EEG, SEGMAMBA,
          RESIDUAL_ONLY, ECG_RAW, HOME_MADE_TENSOR, POST_NORM, *INFERRED]
