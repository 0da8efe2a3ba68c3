"""MF007 mamba2-shape-rejected-by-kernels: sizes checked where the file fixes them, against the
constraints in rules/MF007.toml; the data's expressions are evaluated, never executed; a vendored
mamba_ssm's version decides the constraints later releases lifted; reproductions of real shapes
(in our own words, each citing the repository and path it reproduces)."""

import pytest

from conftest import dedent, run_check

HEAD = "import torch.nn as nn\nfrom mamba_ssm import Mamba, Mamba2\nfrom mamba_ssm.modules.mamba2_simple import Mamba2Simple\n\n"


def mf007(src: str, path="model.py"):
    return [f for f in run_check(HEAD + dedent(src), select=("MF007",), path=path) if f.code == "MF007"]


@pytest.mark.parametrize("call,expected", [
    ("Mamba2(d_model=100)", "d_ssm = 200 is not a multiple of headdim = 64"),
    ("Mamba2(384, d_state=64, headdim=64)", "= 1676 wide (12 heads)"),
    ("Mamba2(256, d_state=62, headdim=64)", "d_ssm + 2 * ngroups * d_state = 636 channels"),
    ("Mamba2Simple(d_model=256)", "= 1156 wide (4 heads)"),
    ("Mamba2(512, headdim=64, ngroups=3)", "16 heads do not split into ngroups = 3 groups"),
    ("Mamba(d_model=64, d_conv=8)", "d_conv = 8"),
    ("Mamba(d_model=64, d_state=512)", "d_state = 512"),
    ("Mamba2Simple(d_model=96)", "d_ssm = 192 is not a multiple of headdim = 128"),
])
def test_sizes_the_kernels_reject(call, expected):
    [finding] = mf007(f"layer = {call}\n")
    assert expected in finding.message, finding.message


@pytest.mark.parametrize("call", [
    "Mamba2(d_model=256, d_state=64, headdim=64)",
    "Mamba2(512)",
    "Mamba2(d_model=2560, headdim=64, d_state=128, expand=2)",
    "Mamba(d_model=100, d_state=16, d_conv=4)",
    "Mamba2Simple(d_model=512)",
    "Mamba2(d_model=args.d_model, headdim=args.headdim)",
    "Mamba2(**cfg)",
])
def test_sizes_the_kernels_take_or_the_file_does_not_fix(call):
    assert mf007(f"def build(args, cfg):\n    return {call}\n") == []


def test_a_construction_failure_is_reported_alone():
    # d_model 100 breaks the headdim assert; the stride and channel checks never run then
    [finding] = mf007("layer = Mamba2(d_model=100)\n")
    assert "asserts d_ssm % headdim == 0 when the layer is built" in finding.message and "stride" not in finding.message


def test_sizes_from_defaults_constants_arithmetic_and_configs():
    src = """
        WIDTH = 192


        class Config:
            d_state: int = 64
            headdim: int = 64


        class Encoder(nn.Module):
            def __init__(self, cfg: Config, d_model=WIDTH * 2, n=2):
                super().__init__()
                self.layers = nn.ModuleList([Mamba2(d_model, d_state=cfg.d_state, headdim=cfg.headdim) for _ in range(n)])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
    """
    [finding] = mf007(src)
    assert finding.message.startswith("Mamba2(d_model=384, d_state=64, headdim=64): ")


def test_kwargs_leave_the_sizes_they_may_give_unknown():
    assert mf007("def build(**kw):\n    return Mamba2(d_model=100, **kw)\n") == []  # headdim may be in kw
    [finding] = mf007("def build(**kw):\n    return Mamba(d_model=100, d_conv=9, **kw)\n")
    assert "d_conv = 9" in finding.message


def test_a_mamba_config_for_the_language_model():
    [finding] = mf007('from mamba_ssm.models.config_mamba import MambaConfig\ncfg = MambaConfig(d_model=384, '
                      'ssm_cfg={"layer": "Mamba2", "d_state": 64})\n')
    assert finding.message.startswith("Mamba2(d_model=384, d_state=64): ")
    assert mf007('from mamba_ssm.models.config_mamba import MambaConfig\ncfg = MambaConfig(d_model=384)\n') == []


def test_the_data_expressions_are_evaluated_not_executed():
    from mambafix.facts.kernels import Unknown, evaluate

    assert evaluate("2 <= d_conv <= 4", {"d_conv": 4}) is True
    assert evaluate("d_inner if d_ssm is None else d_ssm", {"d_inner": 8, "d_ssm": None}) == 8
    with pytest.raises(Unknown):
        evaluate("d_ssm % headdim == 0", {"d_ssm": 8})
    with pytest.raises(ValueError):
        evaluate("__import__('os').system('true')", {})


def test_a_vendored_mamba_ssm_of_a_release_that_copies_instead_of_failing(tmp_path):
    """VanhhNe/sound_segmentation src/models/mamba_ssm/test.py: a test script inside a vendored
    copy of mamba_ssm 2.2.6.post3 builds Mamba2(d_model=16, d_state=64, headdim=32) — one head, an
    in_proj row of 193 — which releases from 2.2.5 on accept (they copy x, B and C). The same call
    next to a vendored release before 2.2.5 is reported."""
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.project import check_paths

    script = "from .modules.mamba2 import Mamba2\n\nmodel = Mamba2(d_model=16, d_state=64, d_conv=4, expand=2, headdim=32)\n"
    for version, expected in (("2.2.6.post3", 0), ("2.2.2", 1)):
        pkg = tmp_path / version / "src" / "mamba_ssm"
        (pkg / "modules").mkdir(parents=True)
        (pkg / "__init__.py").write_text(f'__version__ = "{version}"\n')
        (pkg / "modules" / "__init__.py").write_text("")
        (pkg / "test.py").write_text(script)
        config = with_cli_overrides(load_config([tmp_path / version]), select=["MF007"])
        found = [f for f in check_paths([pkg / "test.py"], config, cache=False).findings if f.code == "MF007"]
        assert len(found) == expected, (version, found)


# ---- reproductions of real shapes --------------------------------------------------------------

def test_rppg_models_with_long_convolutions():
    """GongJae00/rppg2ppg models/rhythmmamba.py and models/physmamba_td.py: blocks of mamba_ssm
    Mamba layers built with the constructor's defaults d_conv=12 and d_conv=8 (the model registry
    repeats them), which causal_conv1d refuses (width 2 to 4) on a GPU with it installed."""
    src = """
        class RhythmBlocks(nn.Module):
            def __init__(self, d_model: int = 160, d_state: int = 64, d_conv: int = 12, n_blocks: int = 8):
                super().__init__()
                self.blocks = nn.ModuleList([
                    nn.Sequential(nn.LayerNorm(d_model), Mamba(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=2))
                    for _ in range(n_blocks)
                ])


        class BiBlock(nn.Module):
            def __init__(self, d_model: int = 128, d_state: int = 32, d_conv: int = 8):
                super().__init__()
                self.mamba_f = Mamba(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=2)
                self.mamba_b = Mamba(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=2)
    """
    found = mf007(src)
    assert [f.message.split(")")[0] for f in found] == [
        "Mamba(d_model=160, d_state=64, d_conv=12, expand=2", "Mamba(d_model=128, d_state=32, d_conv=8, expand=2",
        "Mamba(d_model=128, d_state=32, d_conv=8, expand=2"]
    assert all("causal_conv1d only supports width between 2 and 4" in f.message for f in found)


def test_the_readme_usage_with_a_small_width():
    """state-spaces/mamba issues #351 and #643 (the README's Mamba2 example with dim 64, or with
    headdim = d_model): d_model 64 and d_state 64 give two heads and an in_proj row of 386."""
    [finding] = mf007("import torch\nbatch, length, dim = 2, 64, 64\nmodel = Mamba2(d_model=dim, d_state=64, d_conv=4, expand=2).to('cuda')\n")
    assert "= 386 wide (2 heads)" in finding.message and "before 2.2.5" in finding.message
