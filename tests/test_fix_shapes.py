"""The three apply shapes the behaviour issue reported as patched wrongly, written for this
project: an unrolled chain whose first layer reads another variable, a compound bidirectional
step, and a layer built from a config object. Each is fixed so that the probe says STABLE, or
declined with the reason, never rewritten into a model that is still unstable or cannot build."""

import pytest

from conftest import dedent, run_check, headline
from mambafix.checks.base import FixOptions
from mambafix.config import load_config
from mambafix.engine.file import check_source
from mambafix.fix.apply import fix_source
from test_apply import CONFIG, OPTIONS

UNROLLED = dedent("""
    import torch.nn as nn
    from mamba_ssm import Mamba


    class Unrolled(nn.Module):
        def __init__(self, d=64):
            super().__init__()
            self.m1 = Mamba(d)
            self.act = nn.GELU()
            self.m2 = Mamba(d)
            self.m3 = Mamba(d)

        def forward(self, x):
            y = self.m1(x)
            y = self.act(y)
            y = self.m2(y)
            y = self.m3(y)
            return y
""")

BIDIRECTIONAL_STEP = dedent("""
    import torch.nn as nn
    from mamba_ssm import Mamba


    class BiStep(nn.Module):
        def __init__(self, d=64, n=4):
            super().__init__()
            self.f = nn.ModuleList([Mamba(d) for _ in range(n)])
            self.b = nn.ModuleList([Mamba(d) for _ in range(n)])

        def forward(self, x):
            for f, b in zip(self.f, self.b):
                x = f(x) + b(x.flip(1)).flip(1)
            return x
""")

CONFIG_OBJECT = dedent("""
    import torch
    import torch.nn as nn


    class MambaBlock(nn.Module):
        def __init__(self, args):
            super().__init__()
            self.in_proj = nn.Linear(args.d_model, 2 * args.d_inner)
            self.A_log = nn.Parameter(torch.zeros(args.d_inner, 16))
            self.D = nn.Parameter(torch.ones(args.d_inner))
            self.out_proj = nn.Linear(args.d_inner, args.d_model)

        def forward(self, x):
            return self.out_proj(self.in_proj(x).chunk(2, -1)[0] * self.D)


    class Model(nn.Module):
        def __init__(self, args):
            super().__init__()
            self.layers = nn.ModuleList([MambaBlock(args) for _ in range(4)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
""")


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_unrolled_chain_gets_a_norm_after_every_layer_whose_output_reaches_another(option):
    """Post-norm: a norm on each source's output (m1, m2; m3's output reaches no layer). Pre-norm:
    a norm on each layer's input, m3's too, with the skip around each."""
    found = [f for f in run_check(UNROLLED) if f.code == "MF001"]
    assert [headline(f.message) for f in found] == ["Unrolled.m1, m2, m3: 3 Mamba layers applied in sequence without normalization"]
    result = fix_source(UNROLLED.encode(), "m.py", CONFIG, OPTIONS[option])
    out = result.fixed.decode()
    assert result.error is None and not result.remaining
    for name in ("m1", "m2"):
        assert f"self.{name}_norm = nn." in out
    assert ("self.m3_norm" in out) == (option == "prenorm")
    first = {"postnorm": "y = self.m1_norm(self.m1(x))", "rmsnorm": "y = self.m1_norm(self.m1(x))",
             "residual": "y = self.m1_norm(self.m1(x) + x)", "prenorm": "y = x + self.m1(self.m1_norm(x))"}[option]
    assert first in out


def test_unrolled_chain_fix_is_judged_stable_by_the_probe(tmp_path):
    pytest.importorskip("torch")
    from mambafix.smoke.runner import run_smoke

    before, after = tmp_path / "before.py", tmp_path / "after.py"
    before.write_text(UNROLLED)
    after.write_bytes(fix_source(UNROLLED.encode(), "m.py", CONFIG, FixOptions()).fixed)
    spec = dict(length=128, scales=[1.0, 10.0, 30.0, 100.0], device="cpu")
    unstable, stable = run_smoke(f"{before}:Unrolled", **spec), run_smoke(f"{after}:Unrolled", **spec)
    assert unstable.ok and stable.ok, (unstable.error, stable.error)
    assert not unstable.stable and stable.stable


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_a_compound_bidirectional_step_gets_one_norm_per_step(option):
    """Issue 12's shape: both stacks of the step are fixed by one norm over the step's result (the
    value the statement carries on); the residual adds the step's own (unflipped) input; every
    added norm is used. Pre-norm puts a norm inside each branch, on each layer's own input, and
    one skip around the step. (The behaviour harness probes it: unstable before, stable after.)"""
    result = fix_source(BIDIRECTIONAL_STEP.encode(), "m.py", CONFIG, OPTIONS[option])
    out = result.fixed.decode()
    assert not result.remaining
    if option == "prenorm":
        assert "for f, b, norm, norm2 in zip(self.f, self.b, self.f_norms, self.b_norms):" in out
        assert "x = x + f(norm(x)) + b(norm2(x.flip(1))).flip(1)" in out
        return
    norm = "RMSNorm" if option == "rmsnorm" else "LayerNorm"
    assert f"self.f_norms = nn.ModuleList([nn.{norm}(d) for _ in self.f])" in out and "b_norms" not in out
    assert "for f, b, norm in zip(self.f, self.b, self.f_norms):" in out
    step = "f(x) + b(x.flip(1)).flip(1)"
    assert (f"x = norm({step} + x)" if option == "residual" else f"x = norm({step})") in out
    assert result.remaining == [] and check_source(out, "m.py", CONFIG) == []


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_a_config_object_gives_the_width_attribute_its_block_reads(option, tmp_path):
    """Issue 12: `MambaBlock(args)` whose constructor reads `args.d_model` has the width
    `args.d_model` at the call; the norms are built with it (never `nn.LayerNorm(args)`), the
    patched model builds from a config namespace, every norm gets a gradient, and it probes stable."""
    result = fix_source(CONFIG_OBJECT.encode(), "m.py", load_config(), OPTIONS[option])
    out = result.fixed.decode()
    norm = "RMSNorm" if option == "rmsnorm" else "LayerNorm"
    assert f"self.norms = nn.ModuleList([nn.{norm}(args.d_model) for _ in self.layers])" in out
    assert result.remaining == [] and f"nn.{norm}(args)" not in out
    pytest.importorskip("torch")
    from mambafix.smoke.runner import run_smoke

    patched = tmp_path / "patched.py"
    patched.write_text(out)
    outcome = run_smoke(f"{patched}:Model", init={"args": {"d_model": 16, "d_inner": 32}}, length=32,
                        scales=[1.0, 100.0], timeout=240)
    assert outcome.ok and outcome.stable, outcome.error or outcome.data["result"]["layers"]
    assert {r["name"] for r in outcome.data["result"]["layers"] if r["kind"] == "norm"} >= {"norms.0", "norms.3"}


def test_a_config_object_without_a_width_attribute_gets_a_parameter_free_norm():
    src = CONFIG_OBJECT.replace("args.d_model", "args.n_in")
    result = fix_source(src.encode(), "m.py", load_config(), FixOptions())
    out = result.fixed.decode()
    assert not result.remaining and "x = nn.functional.layer_norm(x, x.shape[-1:])" in out
    assert "LayerNorm(" not in out  # no module: the state_dict is unchanged
    assert result.changes == ["Model.layers: added a parameter-free norm after layers[i] (the width could not be "
                              "read) (post-norm, LayerNorm)"]
