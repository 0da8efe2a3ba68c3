"""A corpus of stacking patterns seen in public Mamba repositories, each rewritten in our own
words as a minimal module (no code copied), with the classes MF001 must report.

`source` names the repository and path the case was modelled on; where only the file was at hand
(its repository not recorded), its stored file id is cited instead. `expected` lists the classes
that apply Mamba-family layers in sequence without normalization (the ground truth, decided by
reading the original's forward; the behaviour of each is confirmed by the probe in
tests/test_repo_corpus.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    code: str
    expected: frozenset[str]
    probe: bool = True  # built and probed by the behaviour harness (False: needs another input or scope)


def _case(name: str, source: str, code: str, *expected: str, probe: bool = True) -> Case:
    return Case(name, source, code.lstrip("\n"), frozenset(expected), probe)


IMPORTS = "import torch\nimport torch.nn as nn\nfrom mamba_ssm import Mamba\n\n\n"

CASES = [
    _case("proT-buggy", "scipi1/proT@2894a5d proT/baseline/s6/s6_wrapper.py", '''
import torch
import torch.nn as nn
try:
    from mamba_ssm import Mamba
except ImportError:
    from local_fallback import Mamba


class BiEncoder(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.fwd = nn.ModuleList([Mamba(d_model=width) for _ in range(depth)])
        self.bwd = nn.ModuleList([Mamba(d_model=width) for _ in range(depth)])

    def forward(self, x):
        a = x
        for m in self.fwd:
            a = m(a)
        b = x.flip(1)
        for m in self.bwd:
            b = m(b)
        return torch.cat([a, b.flip(1)], dim=-1)
''', "BiEncoder"),
    _case("proT-fixed", "scipi1/proT@eaf9a1e proT/baseline/s6/s6_wrapper.py", IMPORTS + '''
class BiEncoder(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.fwd = nn.ModuleList([Mamba(d_model=width) for _ in range(depth)])
        self.fwd_norms = nn.ModuleList([nn.LayerNorm(width) for _ in range(depth)])

    def forward(self, x):
        for m, norm in zip(self.fwd, self.fwd_norms):
            x = norm(m(x))
        return x
'''),
    _case("minimal-residual-blocks", "johnma2006/mamba-minimal model.py", '''
import torch
import torch.nn as nn


class Scan(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.A_log = nn.Parameter(torch.zeros(width, 4))
        self.D = nn.Parameter(torch.ones(width))
        self.x_proj = nn.Linear(width, width)

    def forward(self, x):
        return self.x_proj(x) * self.D * torch.exp(-torch.exp(self.A_log).mean())


class Residual(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.mixer = Scan(width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        return self.mixer(self.norm(x)) + x


class LM(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([Residual(width) for _ in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
'''),
    _case("mambapy-rmsnorm-blocks", "alxndrTL/mamba.py mambapy/mamba.py", '''
import torch
import torch.nn as nn


class RMSNorm(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.A_log = nn.Parameter(torch.zeros(width, 4))
        self.dt_proj = nn.Linear(width, width)

    def forward(self, x):
        return self.dt_proj(x) * torch.exp(-torch.exp(self.A_log).mean())


class ResidualBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.mixer = Block(width)
        self.norm = RMSNorm(width)

    def forward(self, x):
        return self.mixer(self.norm(x)) + x


class Model(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([ResidualBlock(width) for _ in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
'''),
    _case("mixer-model-create-block", "state-spaces/mamba mamba_ssm/models/mixer_seq_simple.py", '''
import torch.nn as nn
from mamba_ssm.modules.block import Block
from mamba_ssm.modules.mamba_simple import Mamba
from functools import partial


def create_block(d_model, layer_idx=None):
    block = Block(d_model, partial(Mamba, layer_idx=layer_idx), norm_cls=nn.LayerNorm)
    block.layer_idx = layer_idx
    return block


class Backbone(nn.Module):
    def __init__(self, d_model, n_layer=4):
        super().__init__()
        self.layers = nn.ModuleList([create_block(d_model, layer_idx=i) for i in range(n_layer)])
        self.norm_f = nn.LayerNorm(d_model)

    def forward(self, x):
        residual = None
        for layer in self.layers:
            x, residual = layer(x, residual)
        return self.norm_f(x + residual)
'''),
    _case("vim-factory-blocks", "hustvl/Vim vim/models_mamba.py", '''
import torch.nn as nn
from mamba_ssm.modules.mamba_simple import Mamba, Block
from functools import partial


def create_block(d_model, drop_path=0.0, layer_idx=None):
    mixer_cls = partial(Mamba, layer_idx=layer_idx)
    block = Block(d_model, mixer_cls, norm_cls=nn.LayerNorm)
    block.layer_idx = layer_idx
    return block


class VisionEncoder(nn.Module):
    def __init__(self, embed_dim=192, depth=4):
        super().__init__()
        self.patch = nn.Conv2d(3, embed_dim, 16, 16)
        self.layers = nn.ModuleList([create_block(embed_dim, layer_idx=i) for i in range(depth)])

    def forward(self, img):
        x = self.patch(img).flatten(2).transpose(1, 2)
        residual = None
        for layer in self.layers:
            x, residual = layer(x, residual)
        return x
''', probe=False),  # an image model
    _case("factory-returns-bare-mamba", "state-spaces/mamba-style create_block returning the mixer itself", IMPORTS + '''
def build_mixer(width, layer_idx=None):
    mixer = Mamba(width)
    mixer.layer_idx = layer_idx
    return mixer


class Stack(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([build_mixer(width, layer_idx=i) for i in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
''', "Stack"),
    _case("bimamba-compound-normalized", "file id 48869216906 (BiMambaEncoder of a network-flow SSL pipeline)", IMPORTS + '''
class FlowEncoder(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.ahead = nn.ModuleList([Mamba(width) for _ in range(depth)])
        self.behind = nn.ModuleList([Mamba(width) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)

    def forward(self, h):
        for a, b in zip(self.ahead, self.behind):
            h = self.norm((a(h) + b(h.flip(1)).flip(1)) / 2 + h)
        return h
'''),
    _case("shared-norm-residual", "file id 48401874087 (UniMambaSSL model notes)", IMPORTS + '''
class Uni(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(width) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)

    def forward(self, h):
        for layer in self.layers:
            h = self.norm(layer(h) + h)
        return h
'''),
    _case("conditional-modulelist", "file id 65880438793 (a basis-coefficient regressor with a CNN fallback)", IMPORTS + '''
class Regressor(nn.Module):
    def __init__(self, width, depth=4, want_mamba=True):
        super().__init__()
        self.embed = nn.Linear(width, width)
        self.mamba_layers = nn.ModuleList([Mamba(d_model=width) for _ in range(depth)]) if want_mamba else None
        self.convs = nn.ModuleList([nn.Conv1d(width, width, 3, padding=1) for _ in range(depth)])

    def forward(self, x):
        h = self.embed(x)
        if self.mamba_layers is not None:
            for layer in self.mamba_layers:
                h = layer(h)
        else:
            for conv in self.convs:
                h = conv(h.transpose(1, 2)).transpose(1, 2)
        return h.mean(1)
''', "Regressor"),
    _case("import-inside-init", "file id 37132734015 (an optional Mamba encoder with a Transformer fallback)", '''
import torch.nn as nn


class OptionalStack(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        try:
            from mamba_ssm import Mamba
            self.layers = nn.ModuleList([Mamba(d_model=width, d_state=64) for _ in range(depth)])
            self.use_mamba = True
        except Exception:
            self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(width, 8, batch_first=True), depth)
            self.use_mamba = False

    def forward(self, x):
        if self.use_mamba:
            for layer in self.layers:
                x = layer(x)
            return x
        return self.enc(x)
''', "OptionalStack"),
    _case("residual-only-stack", "file id 14660187431 (a registry of sequence backbones)", '''
import torch
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self, dim, depth=8):
        super().__init__()
        from mamba_ssm import Mamba
        self.layers = nn.ModuleList([Mamba(d_model=dim) for _ in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return torch.nan_to_num(x)
''', "Backbone"),
    _case("residual-only-pooled", "file id 60287416016 (a temporal state model over pooled latents)", IMPORTS + '''
class Temporal(nn.Module):
    def __init__(self, width, depth=2):
        super().__init__()
        self.mamba = nn.ModuleList([Mamba(width) for _ in range(depth)])

    def forward(self, latents):
        pooled = latents.mean(dim=2)
        for m in self.mamba:
            pooled = pooled + m(pooled)
        return latents + 0.1 * pooled.unsqueeze(2)
''', "Temporal", probe=False),  # a 4-D input
    _case("one-line-loops-reused", "file id 54349865191 (a bidirectional temporal encoder with attention pooling)", IMPORTS + '''
class TemporalEncoder(nn.Module):
    def __init__(self, width, depth=2):
        super().__init__()
        self.blocks = nn.ModuleList([Mamba(d_model=width) for _ in range(depth)])
        self.ln = nn.LayerNorm(width)

    def forward(self, x):
        hf = x
        for blk in self.blocks: hf = blk(hf)
        hf = self.ln(hf)
        hb = x.flip(1)
        for blk in self.blocks: hb = blk(hb)
        hb = self.ln(hb)
        return torch.cat([hf, hb.flip(1)], dim=-1)
''', "TemporalEncoder"),
    _case("class-inside-try", "file id 55625485812 (an ICU time-series model defined only when mamba_ssm imports)", '''
import torch
import torch.nn as nn

try:
    from mamba_ssm import Mamba

    class ICUModel(nn.Module):
        def __init__(self, d_model=64, num_layers=3):
            super().__init__()
            self.proj = nn.Linear(d_model, d_model)
            self.layers = nn.ModuleList([Mamba(d_model=d_model) for _ in range(num_layers)])
            self.norm = nn.LayerNorm(d_model)

        def forward(self, x):
            h = self.proj(x)
            for layer in self.layers:
                h = layer(h)
            return self.norm(h)[:, -1]
except ImportError:
    ICUModel = None
''', "ICUModel"),
    _case("class-inside-factory-function", "file id 26052667061 (a language-model factory with a Mamba branch)", '''
import torch.nn as nn
try:
    from mamba_ssm import Mamba
    HAVE_MAMBA = True
except ImportError:
    HAVE_MAMBA = False


def build_model(vocab_size, d_model=64, n_layer=4):
    if HAVE_MAMBA:
        class Wrapper(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(vocab_size, d_model)
                self.blocks = nn.ModuleList([Mamba(d_model=d_model) for _ in range(n_layer)])
                self.ln_f = nn.LayerNorm(d_model)

            def forward(self, x):
                h = self.emb(x)
                for blk in self.blocks:
                    h = blk(h)
                return self.ln_f(h)

        return Wrapper()
    return nn.Embedding(vocab_size, d_model)
''', "Wrapper", probe=False),  # the class exists only inside the factory
    _case("permuted-views-averaged", "file id 61692930811-era survey: one mixer fed fresh permutations (38-repo study)", IMPORTS + '''
class PermMixer(nn.Module):
    def __init__(self, width, n_perm=4):
        super().__init__()
        self.mixer = Mamba(width)
        self.n_perm = n_perm

    def forward(self, h):
        outs = []
        for _ in range(self.n_perm):
            perm = torch.randperm(h.shape[1])
            dense = h[:, perm]
            dense = self.mixer(dense)
            outs.append(dense[:, perm.argsort()])
        return torch.stack(outs).mean(0)
'''),
    _case("parallel-branches-cat", "bidirectional blocks of Vision Mamba forks (forward and flipped branch, concatenated)", IMPORTS + '''
class BiBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fwd = Mamba(width)
        self.bwd = Mamba(width)
        self.proj = nn.Linear(2 * width, width)

    def forward(self, x):
        return self.proj(torch.cat([self.fwd(x), self.bwd(x.flip(1)).flip(1)], dim=-1))
'''),
    _case("koopman-single-mixer-blocks", "anusridh97/Koopman_Mamba (a Mamba mixer per block, blocks with norms)", IMPORTS + '''
class KoopmanBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.mixer = Mamba(width)
        self.operator = nn.Linear(width, width)

    def forward(self, x):
        return x + self.operator(self.mixer(self.norm(x)))


class KoopmanNet(nn.Module):
    def __init__(self, width, depth=3):
        super().__init__()
        self.blocks = nn.ModuleList([KoopmanBlock(width) for _ in range(depth)])

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x
'''),
    _case("hybrid-alternating-with-norms", "krishankb-de/hybrid_model_mamba_xlstm (alternating Mamba and recurrent blocks, each normalized)", IMPORTS + '''
class Hybrid(nn.Module):
    def __init__(self, width, depth=2):
        super().__init__()
        self.mambas = nn.ModuleList([Mamba(width) for _ in range(depth)])
        self.rnns = nn.ModuleList([nn.GRU(width, width, batch_first=True) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(width) for _ in range(2 * depth)])

    def forward(self, x):
        for i in range(len(self.mambas)):
            x = self.norms[2 * i](x + self.mambas[i](x))
            x = self.norms[2 * i + 1](x + self.rnns[i](x)[0])
        return x
'''),
    _case("unrolled-three", "seed notes: a hand-unrolled encoder (m1, m2, m3) with an activation between", IMPORTS + '''
class Unrolled(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.m1 = Mamba(width)
        self.m2 = Mamba(width)
        self.m3 = Mamba(width)
        self.act = nn.GELU()

    def forward(self, x):
        y = self.m1(x)
        y = self.act(y)
        y = self.m2(y)
        return self.m3(y)
''', "Unrolled"),
    _case("sequential-over-modulelist", "encoder repos that rebuild nn.Sequential(*self.layers) for speed", IMPORTS + '''
class SeqEncoder(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(width) for _ in range(depth)])
        self.run = nn.Sequential(*self.layers)

    def forward(self, x):
        return self.run(x)
''', "SeqEncoder"),
    _case("helper-append-loop", "encoder classes with a _make_layers helper (an append loop returning a ModuleList)", IMPORTS + '''
class HelperEncoder(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.layers = self._make_layers(width, depth)

    def _make_layers(self, width, depth):
        out = nn.ModuleList()
        for _ in range(depth):
            out.append(Mamba(width).float())
        return out

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
''', "HelperEncoder"),
    _case("mamba2-own-norm", "state-spaces/mamba mamba_ssm/modules/mamba2.py (rmsnorm=True by default)", '''
import torch.nn as nn
from mamba_ssm import Mamba2


class M2Stack(nn.Module):
    def __init__(self, width, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba2(d_model=width) for _ in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
'''),
    _case("layers-passed-in", "file id 47558755372 (a Time-Series-Library style Encoder taking its layers)", IMPORTS + '''
class Encoder(nn.Module):
    def __init__(self, mamba_layers, norm_layer=None):
        super().__init__()
        self.mamba_layers = nn.ModuleList(mamba_layers)
        self.norm = norm_layer

    def forward(self, x):
        for layer in self.mamba_layers:
            x = layer(x)
        return self.norm(x) if self.norm is not None else x
''', probe=False),  # built from layers passed in
    _case("tuple-layers-normalized-inside", "file id 21744158419 (encoder layers with two norms, returning (x, None))", IMPORTS + '''
class EncoderLayer(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.mamba = Mamba(width)
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)

    def forward(self, x):
        x = self.norm1(x)
        x = x + self.mamba(x)
        return self.norm2(x), None


class Encoder(nn.Module):
    def __init__(self, width, depth=3):
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(width) for _ in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x, _ = layer(x)
        return x
'''),
    _case("mamba2-residual-in-closure", "file id 69694710555 (a forecaster class built inside a config function)", '''
import torch.nn as nn


def build(config):
    from mamba_ssm import Mamba2

    class Forecaster(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(config.input_dim, config.d_model)
            self.blocks = nn.ModuleList([Mamba2(d_model=config.d_model) for _ in range(config.layers)])
            self.norm = nn.LayerNorm(config.d_model)

        def forward(self, x):
            z = self.inp(x)
            for block in self.blocks:
                z = z + block(z)
            return self.norm(z[:, -1])

    return Forecaster()
''', probe=False),  # the class exists only inside the function
    _case("mamba2-byte-lm", "file id 4702355780 (a byte-level Mamba2 language model with tied embeddings)", '''
import torch.nn as nn
from mamba_ssm import Mamba2


class ByteLM(nn.Module):
    def __init__(self, dim, depth):
        super().__init__()
        self.embed = nn.Embedding(256, dim)
        self.layers = nn.ModuleList([Mamba2(dim, d_state=64, headdim=32) for _ in range(depth)])
        self.norm = nn.RMSNorm(dim)
        self.head = nn.Linear(dim, 256, bias=False)

    def forward(self, x):
        h = self.embed(x)
        for layer in self.layers: h = h + layer(h)
        return self.head(self.norm(h))
''', probe=False),  # token input
    _case("directional-parallel-scans", "file id 547533256 (an omnidirectional 3-D Mamba over D, H and W orderings)", '''
import torch
import torch.nn as nn
from mamba_ssm import Mamba2


class Omni3D(nn.Module):
    def __init__(self, channels, d_state=16):
        super().__init__()
        self.scans = nn.ModuleList([Mamba2(d_model=channels, d_state=d_state, headdim=4) for _ in range(3)])

    def forward(self, x):
        b, c, d, h, w = x.shape
        views = [x.flatten(2).transpose(1, 2), x.permute(0, 1, 3, 4, 2).flatten(2).transpose(1, 2),
                 x.permute(0, 1, 4, 2, 3).flatten(2).transpose(1, 2)]
        outs = [scan(view) for scan, view in zip(self.scans, views)]
        return torch.stack(outs).sum(0)
''', probe=False),  # a 5-D input
    _case("encoder-in-if-block", "file id 52808674722 (an evaluation script that builds its encoder only when mamba_ssm imports)", '''
import torch.nn as nn
try:
    from mamba_ssm import Mamba2
    use_real = True
except ImportError:
    use_real = False

if use_real:
    class Enc(nn.Module):
        def __init__(self, width=128, depth=6):
            super().__init__()
            self.input_proj = nn.Linear(width, width)
            self.layers = nn.ModuleList([Mamba2(d_model=width, d_state=16) for _ in range(depth)])
            self.norm = nn.LayerNorm(width)

        def forward(self, x):
            x = self.input_proj(x)
            for layer in self.layers: x = x + layer(x)
            return self.norm(x)
'''),
    _case("local-block-given-its-mixer", "hustvl/Vim vim/models_mamba.py (its own Block(dim, mixer_cls, norm_cls=nn.LayerNorm))", '''
import torch.nn as nn
from functools import partial
from mamba_ssm.modules.mamba_simple import Mamba


class Block(nn.Module):
    def __init__(self, dim, mixer_cls, norm_cls=nn.LayerNorm):
        super().__init__()
        self.mixer = mixer_cls(dim)
        self.norm = norm_cls(dim)

    def forward(self, hidden, residual=None):
        residual = hidden + residual if residual is not None else hidden
        return self.mixer(self.norm(residual)), residual


def create_block(d_model, d_state=16, layer_idx=None):
    mixer_cls = partial(Mamba, d_state=d_state, layer_idx=layer_idx)
    block = Block(d_model, mixer_cls, norm_cls=nn.LayerNorm)
    block.layer_idx = layer_idx
    return block


class Encoder(nn.Module):
    def __init__(self, embed_dim=32, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([create_block(embed_dim, layer_idx=i) for i in range(depth)])

    def forward(self, x):
        residual = None
        for layer in self.layers:
            x, residual = layer(x, residual)
        return x + residual
'''),
    # -- read while MF001 became a data-flow analysis (issue 20) ------------------------------
    _case("tuple-mixer-with-state", "alxndrTL/mamba.py@2cc168c mambapy/mamba2.py", IMPORTS + """
class Mixer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ssm = Mamba(d)

    def forward(self, u, state=None):
        y = self.ssm(u)
        new_state = y.mean(1) if state is None else state + y.mean(1)
        return y, new_state


class Residual(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mixer = Mixer(d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x, state=None):
        out, state = self.mixer(self.norm(x), state)
        return out + x, state


class Stack(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Residual(d) for _ in range(n)])

    def forward(self, x):
        states = [None] * len(self.layers)
        for i, layer in enumerate(self.layers):
            x, states[i] = layer(x, states[i])
        return x
"""),
    _case("masked-residual-stack", "nirbo/HRM@ab1671a hybrid/src/hrm_lm/models/mamba2_layers.py", IMPORTS + """
class MaskedStack(nn.Module):
    def __init__(self, d_model, n_layers=4):
        super().__init__()
        self.mamba = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])
        self.post_norm = nn.LayerNorm(d_model)

    def forward(self, x, pad=None):
        keep = None if pad is None else (~pad).unsqueeze(-1).to(x.dtype)
        for layer in self.mamba:
            skip = x
            step = torch.nan_to_num(layer(x))
            if keep is not None:
                step = step * keep
            x = skip + step
        return self.post_norm(x)
""", "MaskedStack"),
    _case("layers-built-by-an-init-helper", "751K/HS_Image_Classification@c9ce589 src/MambaBase/Canary.py", IMPORTS + """
class Spectral(nn.Module):
    def __init__(self, d, n=4, mode=1):
        super().__init__()
        self.depth = n
        self._build(mode, d)

    def _build(self, mode, d):
        if mode == 1:
            self.along_features = Mamba(d_model=d)
            self.along_length = Mamba(d_model=d)
        else:
            self.along_features = Mamba(d_model=d, d_state=8)
            self.along_length = Mamba(d_model=d, d_state=8)

    def forward(self, x):
        for _ in range(self.depth):
            x = self.along_features(x)
            x = x.transpose(1, 2)
            x = self.along_length(x)
            x = x.transpose(1, 2)
        return x
""", "Spectral"),
    _case("mixer-choice-by-string-default", "XsChen524/mode-mamba-ts@ab4424a src/model/Mode.py", IMPORTS + """
class Forecaster(nn.Module):
    def __init__(self, d_model, n_layers=4, block="mamba"):
        super().__init__()
        if block == "mamba":
            self.encoder = nn.ModuleList([Mamba(d_model=d_model) for _ in range(n_layers)])
        elif block == "linear":
            self.encoder = nn.ModuleList([nn.Linear(d_model, d_model) for _ in range(n_layers)])
        else:
            raise ValueError(block)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x):
        for layer in self.encoder:
            x = layer(x)
        return self.norm(x)
""", "Forecaster"),
    _case("norm-class-as-a-default-argument", "YumDreaming/TSIBiMamba@8fd7fec muban/muban02.py", IMPORTS + """
class PreNormBlock(nn.Module):
    def __init__(self, dim, norm_layer=nn.LayerNorm, act_layer=nn.GELU):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.mixer = Mamba(d_model=dim)
        self.norm2 = norm_layer(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), act_layer(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        keep = x
        x = self.norm1(x)
        x = keep + self.mixer(x)
        return x + self.mlp(self.norm2(x))


class Stage(nn.Module):
    def __init__(self, dim, depth=4):
        super().__init__()
        self.blocks = nn.ModuleList([PreNormBlock(dim) for _ in range(depth)])

    def forward(self, x):
        for _, blk in enumerate(self.blocks):
            x = blk(x)
        return x
"""),
    _case("norms-appended-under-a-default-flag", "GiovanniCanali/devtools_scicomp_project_2025@2c2c9e1 ssm/model/mamba.py",
          IMPORTS + """
class Interleaved(nn.Module):
    def __init__(self, d, n=4, normalization=True):
        super().__init__()
        parts = []
        for _ in range(n):
            if normalization:
                parts.append(nn.LayerNorm(d))
            parts.append(Mamba(d))
        self.net = nn.Sequential(*parts)

    def forward(self, x):
        return self.net(x)


class InterleavedOff(nn.Module):
    def __init__(self, d, n=4, normalization=False):
        super().__init__()
        parts = []
        for _ in range(n):
            if normalization:
                parts.append(nn.LayerNorm(d))
            parts.append(Mamba(d))
        self.net = nn.Sequential(*parts)

    def forward(self, x):
        return self.net(x)
""", "InterleavedOff"),
    _case("sequential-cast-with-settable-depth", "dadadabobosha/Mamba_ECG_Classification@fe3c727 src/modules/mamba.py",
          IMPORTS + """
class Beat(nn.Module):
    def __init__(self, d_model, n_layers=1):
        super().__init__()
        self.layers = nn.Sequential(*[Mamba(d_model) for _ in range(n_layers)]).float()
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x):
        x = self.layers(x.float())[:, -1]
        return self.norm(x)
""", "Beat", probe=False),  # the harness builds it with its default depth of one: nothing to probe
    _case("gated-scan-blocks-with-a-skip", "kyegomez/zeta@fe82c50 examples/models/cobra.py", IMPORTS + """
class GatedBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.ssm = Mamba(dim)

    def forward(self, x):
        skip = x
        path = torch.nn.functional.silu(self.proj(x))
        gate = torch.nn.functional.silu(self.proj(x))
        out = self.ssm(path) * gate
        return self.proj(out + skip)


class Tower(nn.Module):
    def __init__(self, dim, depth=4):
        super().__init__()
        self.layers = nn.ModuleList([GatedBlock(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.norm(x)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)
""", "Tower", probe=False),  # its first LayerNorm takes the sweep's input scale away before the stack
    _case("permutation-average", "bowang-lab/Graph-Mamba@acb4a23 graphgps/layer/gps_layer.py", IMPORTS + """
class PermutedAverage(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mixer = Mamba(d)
        self.trials = 5

    def forward(self, h):
        outs = []
        for _ in range(self.trials):
            order = torch.randperm(h.shape[1], device=h.device)
            mixed = self.mixer(h[:, order])
            outs.append(mixed[:, torch.argsort(order)])
        return sum(outs) / self.trials
"""),
    _case("home-made-ssm-log-a-real", "Olympe19100/Market@3e82108 models/mamba.py", """
import torch
import torch.nn as nn


class Selective(nn.Module):
    def __init__(self, d_model, d_state=4):
        super().__init__()
        self.x_proj = nn.Linear(d_model, 2 * d_state + 1)
        self.dt_proj = nn.Linear(1, d_model)
        self.log_A_real = nn.Parameter(torch.zeros(d_model, d_state))
        self.D = nn.Parameter(torch.ones(d_model))
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        n = self.log_A_real.shape[1]
        dt, b, c = self.x_proj(x).split([1, n, n], dim=-1)
        dt = torch.nn.functional.softplus(self.dt_proj(dt))
        decay = torch.exp(dt.unsqueeze(-1) * -torch.exp(self.log_A_real))
        state = torch.zeros(x.shape[0], x.shape[2], n, device=x.device)
        ys = []
        for t in range(x.shape[1]):
            state = decay[:, t] * state + (dt[:, t] * x[:, t]).unsqueeze(-1) * b[:, t].unsqueeze(1)
            ys.append((state * c[:, t].unsqueeze(1)).sum(-1))
        return self.out_proj(torch.stack(ys, dim=1) + x * self.D)


class Net(nn.Module):
    def __init__(self, d_model, n_layers=4):
        super().__init__()
        self.layers = nn.ModuleList([Selective(d_model) for _ in range(n_layers)])

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return x
""", "Net"),
    _case("simplified-ssm-a-b-c-d", "arashi0-git/machine_learning_mamba@b933d4b mamba_model.py", """
import torch
import torch.nn as nn


class Simple(nn.Module):
    def __init__(self, d_model, d_state=4):
        super().__init__()
        self.in_proj = nn.Linear(d_model, d_model)
        self.A = nn.Parameter(torch.zeros(d_state))
        self.B_proj = nn.Linear(d_model, d_state)
        self.C_proj = nn.Linear(d_model, d_state)
        self.D = nn.Parameter(torch.ones(d_model))
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        u = self.in_proj(x)
        b, c = self.B_proj(u), self.C_proj(u)
        decay = torch.exp(-torch.nn.functional.softplus(self.A))
        state = torch.zeros_like(b[:, 0])
        ys = []
        for t in range(u.shape[1]):
            state = state * decay + b[:, t]
            ys.append((state * c[:, t]).sum(-1, keepdim=True) * u[:, t])
        return self.out_proj(torch.stack(ys, dim=1) + u * self.D)


class Model(nn.Module):
    def __init__(self, d_model, n_layers=4):
        super().__init__()
        self.layers = nn.ModuleList([Simple(d_model) for _ in range(n_layers)])
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)
""", "Model"),
    _case("norm-written-out-in-a-local-class", "dadadabobosha/Mamba_ECG_Classification@fe3c727 src/modules/mamba.py",
          IMPORTS + """
class Rescale(nn.Module):
    def __init__(self, size, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Encoder(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
        self.rescales = nn.ModuleList([Rescale(d) for _ in range(n)])

    def forward(self, x):
        for layer, rescale in zip(self.layers, self.rescales):
            x = rescale(layer(x))
        return x
"""),
    _case("stage-run-by-a-nested-helper", "MzeroMiko/VMamba@2ed52ea classification/models/vmamba.py", IMPORTS + """
class Backbone(nn.Module):
    def __init__(self, dim, depth=4):
        super().__init__()
        self.blocks = nn.Sequential(*[Mamba(dim) for _ in range(depth)])
        self.head = nn.Linear(dim, dim)

    def forward(self, x):
        def run_stage(stage, value):
            return stage(value)

        x = run_stage(self.blocks, x)
        return self.head(x)
""", "Backbone"),
    _case("layers-named-by-setattr", "described pattern: layers registered by name in a loop", IMPORTS + """
class Named(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.n = n
        for i in range(n):
            setattr(self, f"mamba{i}", Mamba(d))

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"mamba{i}")(x)
        return x
""", "Named"),
    _case("conditioned-norm-before-each-mixer", "Axect/VaTD_impl@92c3f79 model_mamba.py", IMPORTS + """
class ConditionedNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.to_scale_shift = nn.Linear(d, 2 * d)

    def forward(self, x, cond):
        scale, shift = self.to_scale_shift(cond).chunk(2, dim=-1)
        return (1.0 + scale.unsqueeze(1)) * self.norm(x) + shift.unsqueeze(1)


class Backbone(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.mixers = nn.ModuleList([Mamba(d) for _ in range(n)])
        self.conds = nn.ModuleList([ConditionedNorm(d) for _ in range(n)])
        self.final = nn.LayerNorm(d)

    def forward(self, x, cond=None):
        cond = x.mean(1) if cond is None else cond
        for adapt, mixer in zip(self.conds, self.mixers):
            x = x + mixer(adapt(x, cond))
        return self.final(x)
"""),
    _case("block-subclass-norms-built-by-its-base", "geniegeist/ts_mamba@086b730 ts_mamba/model.py", IMPORTS + """
from functools import partial

from mamba_ssm.modules.block import Block


class DroppedBlock(Block):
    def __init__(self, *args, p=0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.drop = nn.Dropout(p)

    def forward(self, hidden, residual=None):
        residual = hidden + residual if residual is not None else hidden
        hidden = self.norm(residual)
        return self.drop(self.mixer(hidden)), residual


class Backbone(nn.Module):
    def __init__(self, d_model, n_layer=4):
        super().__init__()
        self.layers = nn.ModuleList([DroppedBlock(d_model, partial(Mamba), nn.Identity, norm_cls=nn.LayerNorm)
                                     for _ in range(n_layer)])
        self.norm_f = nn.LayerNorm(d_model)

    def forward(self, x):
        residual = None
        for layer in self.layers:
            x, residual = layer(x, residual)
        return self.norm_f(x + residual)
"""),
    _case("layer-named-before-it-is-appended", "supreme-gg-gg/psc-iv-curves-attention-tcn@7dac7e9 src/models/mamba.py",
          IMPORTS + """
class Curves(nn.Module):
    def __init__(self, d_model, num_layers=4):
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range(num_layers):
            layer = Mamba(d_model=d_model)
            layer.layer_idx = i
            self.layers.append(layer)
        self.head = nn.Linear(d_model, 2)

    def forward(self, x):
        h = x
        for layer in self.layers:
            h = layer(h, inference_params=None)
        return self.head(h)
""", "Curves"),
    _case("layer-built-by-a-helper-method", "mrcha033/YunMin-mamba-v1@ae83175 models/sgh_peft.py", IMPORTS + """
class Adapted(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range(n):
            self.layers.append(self._make(d, i))

    def _make(self, d, index):
        block = Mamba(d_model=d)
        block.layer_idx = index
        return block

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return x
""", "Adapted"),
    _case("module-list-extended", "described pattern: an empty ModuleList extended, or added to", IMPORTS + """
class Extended(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList()
        self.layers.extend([Mamba(d) for _ in range(n)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Added(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList()
        self.layers += [Mamba(d) for _ in range(n)]
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(n)])

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = norm(layer(x))
        return x
""", "Extended"),
]
