"""MF001: every shape the check issue names, positive and negative."""

import pytest

from conftest import run_check

HEADER = "import torch\nimport torch.nn as nn\nfrom mamba_ssm import Mamba, Mamba2\n"


def mf001(body: str, header: str = HEADER, **kw):
    return [f for f in run_check(header + body, **kw) if f.code == "MF001"]


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
        self.layers = nn.ModuleList([Mamba2(d_model=d) for _ in range(n)])
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
}

ALIAS_HEADERS = {
    "as-alias": "import torch.nn as nn\nfrom mamba_ssm import Mamba as SSM\n",
    "module-attribute": "import torch.nn as nn\nimport mamba_ssm\n",
    "deep-module": "import torch.nn as nn\nfrom mamba_ssm.modules.mamba_simple import Mamba as SSM\n",
    "try-except": "import torch.nn as nn\ntry:\n    from mamba_ssm import Mamba as SSM\nexcept ImportError:\n    SSM = None\n",
    "from-torch-import-nn": "from torch import nn\nfrom mamba_ssm import Mamba as SSM\n",
}

ALIAS_BODY = """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([{ctor}(d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
"""


@pytest.mark.parametrize("shape", sorted(POSITIVE))
def test_shape_is_found(shape):
    found = mf001(POSITIVE[shape])
    assert len(found) == 1, found
    assert found[0].message.startswith("M.")
    assert "applied in sequence without normalization" in found[0].message


@pytest.mark.parametrize("name", sorted(ALIAS_HEADERS))
def test_aliases_resolve(name):
    ctor = "mamba_ssm.Mamba" if name == "module-attribute" else "SSM"
    found = mf001(ALIAS_BODY.format(ctor=ctor), header=ALIAS_HEADERS[name])
    assert [f.message for f in found] == ["M.layers: 4 Mamba layers applied in sequence without normalization"]


def test_message_names_class_attribute_count_and_kind():
    found = mf001(POSITIVE["mamba2"])
    assert found[0].message == "M.layers: 4 Mamba2 layers applied in sequence without normalization"


def test_bidirectional_stacks_around_flip_are_two_findings():
    src = """
class BiMamba(nn.Module):
    def __init__(self, d_model=100, n_layers=4):
        super().__init__()
        self.forward_layers = nn.ModuleList([Mamba(d_model=d_model) for _ in range(n_layers)])
        self.backward_layers = nn.ModuleList([Mamba(d_model=d_model) for _ in range(n_layers)])
    def forward(self, x):
        h_f = x
        for layer in self.forward_layers:
            h_f = layer(h_f)
        h_b = torch.flip(x, dims=[1])
        for layer in self.backward_layers:
            h_b = layer(h_b)
        return h_f + torch.flip(h_b, dims=[1])
"""
    assert [f.message for f in mf001(src)] == [
        "BiMamba.forward_layers: 4 Mamba layers applied in sequence without normalization",
        "BiMamba.backward_layers: 4 Mamba layers applied in sequence without normalization",
    ]


NEGATIVE = {
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
        for block in self.blocks:
            x = block(x)
        return x
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


@pytest.mark.parametrize("shape", sorted(NEGATIVE))
def test_not_a_finding(shape):
    assert mf001(NEGATIVE[shape]) == []


def test_unresolved_name_named_like_a_layer_is_not_a_layer():
    src = "import torch.nn as nn\nfrom mylib import Mamba\n" + POSITIVE["listcomp"].replace("import", "")
    assert mf001(src, header="") == []


def test_mf002_off_by_default():
    from conftest import ROOT
    from mambafix.config import load_config
    from mambafix.engine import check_source

    src = HEADER + NEGATIVE["zip-norms"]
    assert check_source(src, "m.py", load_config([ROOT])) == []
    found = run_check(src, select=("MF002",))
    assert [f.code for f in found] == ["MF002"]


def test_helper_built_stack_is_reported_without_fix():
    src = """
def make(d, n):
    return nn.ModuleList([Mamba(d) for _ in range(n)])
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = make(d, n)
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
"""
    found = mf001(src)
    assert len(found) == 1 and not found[0].fixable
    assert "make()" in found[0].fix_note


def test_tuple_returning_layer_has_no_fix():
    src = """
class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)[0]
        return x
"""
    found = mf001(src)
    assert len(found) == 1 and not found[0].fixable and "tuple" in found[0].fix_note


def test_unknown_width_has_no_fix():
    src = """
class M(nn.Module):
    def __init__(self, cfg, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(**cfg) for _ in range(n)])
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
"""
    found = mf001(src)
    assert len(found) == 1 and not found[0].fixable and "d_model" in found[0].fix_note


def test_star_import_resolves():
    src = "import torch.nn as nn\nfrom mamba_ssm import *\n" + POSITIVE["listcomp"]
    assert len(mf001(src, header="")) == 1


def test_extra_layer_class_is_a_data_change():
    from conftest import ROOT, dedent
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine import check_source

    src = dedent(POSITIVE["listcomp"]).replace("Mamba(d)", "S4Layer(d)")
    src = "import torch.nn as nn\nfrom mylib.ssm import S4Layer\n" + src
    config = load_config([ROOT])
    assert check_source(src, "m.py", config) == []
    config = with_cli_overrides(config, layer_classes=["mylib.ssm.S4Layer"])
    assert [f.code for f in check_source(src, "m.py", config)] == ["MF001"]
