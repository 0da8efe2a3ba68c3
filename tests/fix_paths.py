"""Stacks whose MF001 fix is planned from the finding's path: each shape in our own words, with
the real code it was seen in (repository and path) where there is one. Shared by the text tests
(tests/test_fix_paths.py) and the behaviour harness (tests/test_fix_behaviour.py), which builds
each one before and after every fix style and probes it."""

from conftest import dedent

HEAD = "import torch\nimport torch.nn as nn\nfrom mamba_ssm import Mamba\n\n\n"

# A stack that already has a skip (`x = x + layer(x)`): post-norm reuses it, `--residual` never adds
# a second one. Seen in a patch-based time-series model (Prismadic/simple-CMamba model/c_mamba.py,
# PatchMamba) and in a from-scratch language model (clmrie/Mamba-S6-From-Scratch mamba_ssm/model.py).
SKIP = HEAD + dedent("""
    class SkipStack(nn.Module):
        def __init__(self, d_model=32, n_layers=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])
            self.drop = nn.Dropout(0.1)

        def forward(self, x):
            for layer in self.layers:
                x = x + self.drop(layer(x))
            return x
""")

# The same skip written as an augmented assignment.
AUG_SKIP = HEAD + dedent("""
    class AugSkip(nn.Module):
        def __init__(self, d_model=32, n_layers=4):
            super().__init__()
            self.embed = nn.Linear(d_model, d_model)
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])

        def forward(self, x):
            h = self.embed(x)
            for layer in self.layers:
                h += layer(h)
            return h
""")

# The data given by keyword, with the layer's state beside it (mamba_ssm's own calling convention,
# `mixer(hidden_states, inference_params=...)`).
KEYWORD = HEAD + dedent("""
    class KeywordCalls(nn.Module):
        def __init__(self, d_model=32, n_layers=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])

        def forward(self, hidden, inference_params=None):
            for layer in self.layers:
                hidden = layer(hidden_states=hidden, inference_params=inference_params)
            return hidden
""")

# A layer fed a long parenthesised sum written over several lines (a position term added to the
# stream at every layer).
MULTILINE = HEAD + dedent("""
    class MultiLineInput(nn.Module):
        def __init__(self, d_model=32, n_layers=3):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])
            self.pos = nn.Linear(d_model, d_model)

        def forward(self, x):
            for layer in self.layers:
                x = layer(
                    (x
                     + self.pos(x)
                     - x.mean(dim=1, keepdim=True))
                )
            return x
""")

# A chain written by index into one container.
INDEXED = HEAD + dedent("""
    class IndexedChain(nn.Module):
        def __init__(self, d_model=32):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(3)])
            self.act = nn.SiLU()

        def forward(self, x):
            x = self.layers[0](x)
            x = self.act(x)
            x = self.layers[1](x)
            return self.layers[2](x)
""")

# Two stacks run one after the other: one finding over both, each stack fixed.
TWO_STACKS = HEAD + dedent("""
    class EncoderDecoder(nn.Module):
        def __init__(self, d_model=32):
            super().__init__()
            self.encoder = nn.ModuleList([Mamba(d_model) for _ in range(2)])
            self.decoder = nn.ModuleList([Mamba(d_model) for _ in range(2)])

        def forward(self, x):
            for m in self.encoder:
                x = m(x)
            for m in self.decoder:
                x = m(x)
            return x
""")

# Layers built on two paths of __init__ (a flag chooses the implementation; the width is the same
# expression on both). Seen in a hyperspectral classifier (751K/HS_Image_Classification
# src/MambaBase/Canary.py: Mamba1 or Mamba2 by `mode`, built in a helper method).
ALTERNATIVES = HEAD + dedent("""
    class TwoBuilds(nn.Module):
        def __init__(self, d_model=32, fast=False):
            super().__init__()
            self.width = d_model
            self._build(fast)

        def _build(self, fast):
            if fast:
                self.mixer = Mamba(d_model=self.width, d_state=8)
            else:
                self.mixer = Mamba(d_model=self.width, d_state=16)

        def forward(self, x):
            for _ in range(3):
                x = self.mixer(x)
            return x
""")

# Widths that change along the stack (a pyramid): the norms mirror the comprehension.
PYRAMID = HEAD + dedent("""
    class Pyramid(nn.Module):
        def __init__(self, dims=(32, 32, 32)):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(dims[i]) for i in range(len(dims))])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
""")

# A dict of layers applied by key.
KEYED = HEAD + dedent("""
    class Keyed(nn.Module):
        def __init__(self, d_model=32):
            super().__init__()
            self.mixers = nn.ModuleDict({name: Mamba(d_model) for name in ("a", "b", "c")})

        def forward(self, x):
            for name in ("a", "b", "c"):
                x = self.mixers[name](x)
            return x
""")

# Layers whose width is read from a config object that has no width attribute the tool knows:
# the norm has no parameters. Seen in a from-scratch implementation (clmrie/Mamba-S6-From-Scratch
# mamba_ssm/block.py: MambaBlock(config) reading config.d_model only through its projections).
CONFIG_WIDTH = HEAD + dedent("""
    class Scan(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.in_proj = nn.Linear(cfg.n_in, 2 * cfg.d_inner)
            self.A_log = nn.Parameter(torch.zeros(cfg.d_inner, 4))
            self.D = nn.Parameter(torch.ones(cfg.d_inner))
            self.out_proj = nn.Linear(cfg.d_inner, cfg.n_in)

        def forward(self, x):
            h, g = self.in_proj(x).chunk(2, dim=-1)
            return self.out_proj(h * torch.exp(-torch.exp(self.A_log[:, 0])) * self.D * g * 20.0)


    class Config:
        n_in = 32
        d_inner = 64


    class ScanStack(nn.Module):
        def __init__(self, d_model=32, n_layers=4):
            super().__init__()
            self.layers = nn.ModuleList([Scan(Config()) for _ in range(n_layers)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
""")

# A block that returns its output with a second value, unpacked at the call.
UNPACKED = HEAD + dedent("""
    class Cell(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.mixer = Mamba(d)
            self.gate = nn.Linear(d, d)

        def forward(self, x):
            return self.mixer(x), torch.sigmoid(self.gate(x))


    class Cells(nn.Module):
        def __init__(self, d_model=32, n_layers=3):
            super().__init__()
            self.cells = nn.ModuleList([Cell(d_model) for _ in range(n_layers)])

        def forward(self, x):
            for cell in self.cells:
                y, gate = cell(x)
                x = y
            return x
""")

# Layers whose width the tool cannot read (hidden in keyword arguments), each followed by a
# projection in the same statement: the output reaches the next layer only as the projection's
# result, so the parameter-free norm goes after the statement, on the name it assigns.
PROJECTED = HEAD + dedent("""
    class Projected(nn.Module):
        def __init__(self, d_model=32, n_layers=3):
            super().__init__()
            cfg = {"d_model": d_model, "d_state": 8}
            self.layers = nn.ModuleList([Mamba(**cfg) for _ in range(n_layers)])
            self.proj = nn.Linear(d_model, d_model)

        def forward(self, x):
            for layer in self.layers:
                x = self.proj(layer(x))
            return x
""")

# Layers kept in pairs with a projection, a ModuleList per pair, unpacked by the loop (the pattern of
# tdkhoa1212/MAMBA_model mamba/mamba.py, there with a norm as the pair's second module).
PAIRS = HEAD + dedent("""
    class Pairs(nn.Module):
        def __init__(self, d_model=32, n_layers=3):
            super().__init__()
            self.layers = nn.ModuleList([nn.ModuleList([Mamba(d_model), nn.Linear(d_model, d_model)])
                                         for _ in range(n_layers)])

        def forward(self, x):
            for mamba, proj in self.layers:
                x = proj(mamba(x))
            return x
""")

# A skip written over several statements: the stream kept under another name before the layer,
# the output masked, then added back (nirbo/HRM hybrid/src/hrm_lm/models/mamba2_layers.py,
# MambaStack). The norm goes on the sum; `--residual` adds no second skip.
SPREAD_SKIP = HEAD + dedent("""
    class SpreadSkip(nn.Module):
        def __init__(self, d_model=32, n_layers=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])

        def forward(self, x, mask=None):
            for layer in self.layers:
                residual = x
                updated = layer(x)
                if mask is not None:
                    updated = updated * mask
                x = residual + updated
            return x
""")

# A block that returns its hidden states beside its output only when asked; the loop asks the last
# layer and adds the output back to the stream in its own statement, on both branches
# (mrcha033/YunMin-mamba-v1 models/baseline_ssm.py, BaselineSSM): which element is the output is
# known from the sum that adds it back.
ASKED_TUPLE = HEAD + dedent("""
    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.mixer = Mamba(d)

        def forward(self, x, return_hidden=False):
            y = self.mixer(x)
            if return_hidden:
                return y, x
            return y


    class AskedTuple(nn.Module):
        def __init__(self, d_model=32, n_layers=4):
            super().__init__()
            self.layers = nn.ModuleList([Block(d_model) for _ in range(n_layers)])

        def forward(self, x, keep_last=True):
            last = None
            for i, layer in enumerate(self.layers):
                if keep_last and i == len(self.layers) - 1:
                    y, last = layer(x, return_hidden=True)
                    x = x + y
                else:
                    y = layer(x)
                    x = x + y
            return x
""")

# A skip around a scaled branch (`x + alpha * layer(x)`, a learnable or constant scale): the
# product keeps the layout, so the skip is found and reused; a gated output likewise.
SCALED_SKIP = HEAD + dedent("""
    class ScaledSkip(nn.Module):
        def __init__(self, d_model=32, n_layers=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])
            self.alpha = nn.Parameter(torch.ones(1))

        def forward(self, x):
            for layer in self.layers:
                x = x + self.alpha * layer(x)
            return x
""")

# Every shape, by name, with the class the harness builds.
SHAPES = {
    "skip": (SKIP, "SkipStack"), "aug-skip": (AUG_SKIP, "AugSkip"), "keyword": (KEYWORD, "KeywordCalls"),
    "multiline": (MULTILINE, "MultiLineInput"), "indexed": (INDEXED, "IndexedChain"),
    "two-stacks": (TWO_STACKS, "EncoderDecoder"), "alternatives": (ALTERNATIVES, "TwoBuilds"),
    "pyramid": (PYRAMID, "Pyramid"), "keyed": (KEYED, "Keyed"), "config-width": (CONFIG_WIDTH, "ScanStack"),
    "unpacked": (UNPACKED, "Cells"), "projected": (PROJECTED, "Projected"),
    "pairs": (PAIRS, "Pairs"), "spread-skip": (SPREAD_SKIP, "SpreadSkip"),
    "asked-tuple": (ASKED_TUPLE, "AskedTuple"), "scaled-skip": (SCALED_SKIP, "ScaledSkip"),
}
