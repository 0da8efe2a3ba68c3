"""Every MF001 shape the check issue names, as class sources: positive and negative.

Shared by the shape tests, the property tests and the dense benchmark tree.
Each source defines one class `M` and assumes HEADER's imports.
"""

HEADER = "import torch\nimport torch.nn as nn\nfrom mamba_ssm import Mamba, Mamba2\n"

POSITIVE = {
    "listcomp": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "generator": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList(Mamba(d) for _ in range(n))
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "append-loop": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(n):
            self.layers.append(Mamba(d_model=d))
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "local-append-list": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        layers = []
        for _ in range(n):
            layers.append(Mamba(d))
        self.layers = nn.ModuleList(layers)
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "sequential-star": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.net = nn.Sequential(*[Mamba(d) for _ in range(n)])
    def forward(self, x):
        return self.net(x)
""",
    "sequential-literal-with-linear-tail": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = nn.Sequential(Mamba(d), Mamba(d), nn.Linear(d, 1))
    def forward(self, x):
        return self.net(x)
""",
    "sequential-literal-named": """
from collections import OrderedDict


class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = nn.Sequential(OrderedDict([("ssm1", Mamba(d)), ("act", nn.GELU()), ("ssm2", Mamba(d))]))
    def forward(self, x):
        return self.net(x)
""",
    "enumerate": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
        return x
""",
    "zip-without-norms": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
        self.drops = nn.ModuleList([nn.Dropout(0.1) for _ in range(n)])
    def forward(self, x):
        for layer, drop in zip(self.layers, self.drops):
            x = drop(layer(x))
        return x
""",
    "index-loop": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        for i in range(len(self.layers)):
            x = self.layers[i](x)
        return x
""",
    "unrolled-chain": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.m1 = Mamba(d)
        self.m2 = Mamba(d)
        self.drop = nn.Dropout(0.1)
    def forward(self, x):
        x = self.m1(x)
        x = self.drop(x)
        x = self.m2(x)
        return x
""",
    "nested-chain": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.m1 = Mamba(d)
        self.m2 = Mamba(d)
    def forward(self, x):
        x = self.m2(self.m1(x))
        return x
""",
    "tied-module-in-loop": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mixer = Mamba(d)
    def forward(self, x):
        for _ in range(3):
            x = self.mixer(x)
        return x
""",
    "checkpoint": """
from torch.utils.checkpoint import checkpoint
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = checkpoint(layer, x, use_reentrant=False)
        return x
""",
    "checkpoint-module-path": """
import torch.utils.checkpoint
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = torch.utils.checkpoint.checkpoint(layer, x)
        return x
""",
    "mamba2": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba2(d_model=d, rmsnorm=False) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "reversed-iteration": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        for layer in reversed(self.layers):
            x = layer(x)
        return x
""",
    "local-subclass": """
class MyMamba(Mamba):
    pass
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([MyMamba(d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "local-wrapper": """
class Wrap(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.inner = Mamba(d_model)
        self.drop = nn.Dropout(0.1)
    def forward(self, x):
        return self.drop(self.inner(x))
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Wrap(d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "literal-list": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d), Mamba(d), Mamba(d)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    # Modelled on hustvl/Vim (vim/models_mamba.py) and state-spaces/mamba (mixer_seq_simple.py):
    # a module-level factory builds each layer and the class keeps them in a ModuleList
    "factory-function-element": """
def create_layer(d_model, layer_idx=None):
    layer = Mamba(d_model)
    layer.layer_idx = layer_idx
    return layer
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([create_layer(d, layer_idx=i) for i in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    # a helper method that appends to a ModuleList and returns it (common in encoder classes)
    "helper-method-append": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = self._make_layers(d, n)
    def _make_layers(self, width, depth):
        out = nn.ModuleList()
        for _ in range(depth):
            out.append(Mamba(width))
        return out
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "helper-function-list": """
def make_layers(width, depth):
    layers = []
    for _ in range(depth):
        layers.append(Mamba(d_model=width))
    return nn.ModuleList(layers)
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = make_layers(d, n)
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    # nn.Sequential(*self.layers) over a ModuleList built just above (reported; no automatic fix)
    "sequential-over-modulelist": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
        self.net = nn.Sequential(*self.layers)
    def forward(self, x):
        return self.net(x)
""",
}

NEGATIVE = {
    # parallel branches on one input, concatenated or summed: no layer feeds another
    "parallel-branches-cat": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fwd = Mamba(d)
        self.bwd = Mamba(d)
    def forward(self, x):
        return torch.cat([self.fwd(x), self.bwd(x.flip(1)).flip(1)], dim=-1)
""",
    "parallel-branches-sum-loop": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.branches = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        y = 0
        for branch in self.branches:
            y = y + branch(x)
        return y
""",
    "parallel-branches-comprehension": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.branches = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        return torch.stack([branch(x) for branch in self.branches]).mean(0)
""",
    # mamba_ssm.Mamba2 applies a gated RMSNorm before out_proj unless rmsnorm=False: the probe
    # finds a bare stack of them stable, so it is not an unnormalized stack
    "mamba2-own-rmsnorm": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba2(d_model=d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "norm-module-in-body": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
        self.norm = nn.LayerNorm(d)
    def forward(self, x):
        for layer in self.layers:
            x = self.norm(layer(x))
        return x
""",
    "rmsnorm": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
        self.norms = nn.ModuleList([nn.RMSNorm(d) for _ in range(n)])
    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = self.norms[i](layer(x))
        return x
""",
    "functional-layer-norm": """
import torch.nn.functional as F
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.d = d
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = F.layer_norm(layer(x), (self.d,))
        return x
""",
    "zip-norms": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(n)])
    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = norm(layer(x))
        return x
""",
    "per-layer-sequential-with-norm": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([nn.Sequential(Mamba(d), nn.LayerNorm(d)) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "prenorm-local-blocks": """
class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.mixer = Mamba(d)
    def forward(self, x):
        return x + self.mixer(self.norm(x))
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.blocks = nn.ModuleList([Block(d) for _ in range(n)])
    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x
""",
    "mamba-ssm-block": """
from mamba_ssm.modules.block import Block
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.blocks = nn.ModuleList([Block(d, Mamba) for _ in range(n)])
    def forward(self, x):
        residual = None
        for block in self.blocks:
            x, residual = block(x, residual)
        return x + residual
""",
    "single-layer": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mixer = Mamba(d)
    def forward(self, x):
        return self.mixer(x)
""",
    "stack-of-one": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(1)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "non-mamba-stack": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(d, d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "parallel-not-sequential": """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.heads = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        outs = [head(x) for head in self.heads]
        return torch.stack(outs).sum(0)
""",
    "interleaved-literal": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d), nn.LayerNorm(d), Mamba(d), nn.LayerNorm(d)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
""",
    "chain-with-norm-between": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.m1 = Mamba(d)
        self.n1 = nn.LayerNorm(d)
        self.m2 = Mamba(d)
    def forward(self, x):
        x = self.m1(x)
        x = self.n1(x)
        x = self.m2(x)
        return x
""",
    "chain-on-different-tensors": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.m1 = Mamba(d)
        self.m2 = Mamba(d)
    def forward(self, x, y):
        a = self.m1(x)
        b = self.m2(y)
        return a + b
""",
    "sequential-with-norms": """
class M(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = nn.Sequential(Mamba(d), nn.LayerNorm(d), Mamba(d), nn.LayerNorm(d))
    def forward(self, x):
        return self.net(x)
""",
    "no-mamba-import-same-name": """
class Mamba(nn.Module):
    def forward(self, x):
        return x
""",
}
