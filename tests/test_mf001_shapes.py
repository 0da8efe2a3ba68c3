"""MF001: every shape the check issue names, positive and negative."""

import pytest

from conftest import run_check, headline
from shapes import HEADER, NEGATIVE, POSITIVE
from mambafix.checks.base import FixOptions
from mambafix.config import load_config
from mambafix.fix.apply import fix_source

CONFIG = load_config()



def mf001(body: str, header: str = HEADER, **kw):
    return [f for f in run_check(header + body, **kw) if f.code == "MF001"]


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
    assert [headline(f.message) for f in found] == ["M.layers: 4 Mamba layers applied in sequence without normalization"]


def test_message_names_class_attribute_count_and_kind():
    found = mf001(POSITIVE["mamba2"])
    assert headline(found[0].message) == "M.layers: 4 Mamba2 layers applied in sequence without normalization"


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
    assert [headline(f.message) for f in mf001(src)] == [
        "BiMamba.forward_layers: 4 Mamba layers applied in sequence without normalization",
        "BiMamba.backward_layers: 4 Mamba layers applied in sequence without normalization",
    ]


@pytest.mark.parametrize("shape", sorted(NEGATIVE))
def test_not_a_finding(shape):
    assert mf001(NEGATIVE[shape]) == []


def test_unresolved_name_named_like_a_layer_is_not_a_layer():
    src = "import torch.nn as nn\nfrom mylib import Mamba\n" + POSITIVE["listcomp"].replace("import", "")
    assert mf001(src, header="") == []


def test_mf002_off_by_default():
    from conftest import ROOT
    from mambafix.config import load_config
    from mambafix.engine.file import check_source

    src = HEADER + NEGATIVE["zip-norms"]
    assert check_source(src, "m.py", load_config([ROOT])) == []
    found = run_check(src, select=("MF002",))
    assert [f.code for f in found] == ["MF002"]


def test_helper_built_stack_whose_width_cannot_be_read_in_init_gets_a_parameter_free_norm():
    # a width that is one of the helper's parameters is read from the call (shapes
    # helper-method-append, helper-function-list); an attribute of a config object is not, so the
    # norm is one over the last axis with no parameters, after the statement that assigns x
    src = """
def make(cfg, n):
    return nn.ModuleList([Mamba(cfg.width) for _ in range(n)])
class M(nn.Module):
    def __init__(self, cfg, n=4):
        super().__init__()
        self.layers = make(cfg, n)
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
"""
    found = mf001(src)
    assert len(found) == 1 and found[0].fixable
    out = fix_source((HEADER + src).encode(), "m.py", CONFIG, FixOptions()).fixed.decode()
    assert "            x = layer(x)\n            x = nn.functional.layer_norm(x, x.shape[-1:])\n" in out
    assert "self.layers = make(cfg, n)\n    def forward" in out  # nothing built in __init__


def test_a_layer_returning_a_tuple_gets_its_norm_on_the_element_taken():
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
    assert len(found) == 1 and found[0].fixable
    out = fix_source((HEADER + src).encode(), "m.py", CONFIG, FixOptions()).fixed.decode()
    assert "x = norm(layer(x)[0])" in out


def test_unknown_width_gets_a_parameter_free_norm_unless_no_name_holds_the_output():
    src = """
class M(nn.Module):
    def __init__(self, cfg, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(**cfg) for _ in range(n)])
        self.proj = nn.Linear(8, 8)
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
"""
    found = mf001(src)
    assert len(found) == 1 and found[0].fixable
    out = fix_source((HEADER + src).encode(), "m.py", CONFIG, FixOptions()).fixed.decode()
    assert "x = layer(x)\n            x = nn.functional.layer_norm(x, x.shape[-1:])" in out
    nested = src.replace("x = layer(x)", "x = self.proj(layer(x))")  # the output is an operand, not a name
    found = mf001(nested)
    assert len(found) == 1 and not found[0].fixable and "width" in found[0].fix_note

def test_star_import_resolves():
    src = "import torch.nn as nn\nfrom mamba_ssm import *\n" + POSITIVE["listcomp"]
    assert len(mf001(src, header="")) == 1


def test_extra_layer_class_is_a_data_change():
    from conftest import ROOT, dedent
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.file import check_source

    src = dedent(POSITIVE["listcomp"]).replace("Mamba(d)", "S4Layer(d)")
    src = "import torch.nn as nn\nfrom mylib.ssm import S4Layer\n" + src
    config = load_config([ROOT])
    assert check_source(src, "m.py", config) == []
    config = with_cli_overrides(config, layer_classes=["mylib.ssm.S4Layer"])
    assert [f.code for f in check_source(src, "m.py", config)] == ["MF001"]
