"""Reproductions of stacking patterns seen in public Mamba repositories, written for this
project in our own words (no code copied); each names the repository and path it models.

scipi1/proT, proT/baseline/s6/s6_wrapper.py at 2894a5d (the seed's own bug): `Mamba` is
imported from mamba_ssm inside try, and from the repository's pure-PyTorch fallback in the
except branch; the fallback wraps its mixer as x + ssm(norm(x)), the kernel class does not.
Two stacks (forward and backward over a flipped sequence) of layers with only dropout between
them. The authors' fix (eaf9a1e) zips a ModuleList of LayerNorms with each stack.
"""


import pytest

from conftest import dedent, headline
from mambafix.checks.base import FixOptions
from mambafix.config import load_config
from mambafix.engine.project import check_paths
from mambafix.fix.apply import apply_paths

FALLBACK = dedent('''
    import torch
    import torch.nn as nn


    class Mamba(nn.Module):
        """Pure-PyTorch stand-in for mamba_ssm.Mamba, as a pre-norm residual block."""

        def __init__(self, d_model, d_state=16, d_conv=4, expand=2):
            super().__init__()
            self.norm = nn.LayerNorm(d_model)
            self.in_proj = nn.Linear(d_model, 2 * expand * d_model)
            self.A_log = nn.Parameter(torch.zeros(expand * d_model, d_state))
            self.D = nn.Parameter(torch.ones(expand * d_model))
            self.out_proj = nn.Linear(expand * d_model, d_model)

        def forward(self, x):
            return x + self.out_proj(self.in_proj(self.norm(x)).chunk(2, dim=-1)[0])
''')

WRAPPER = dedent('''
    import warnings

    import torch
    import torch.nn as nn

    try:
        from mamba_ssm import Mamba
        BACKEND = "kernels"
    except ImportError:
        from seedpkg.pure import Mamba
        BACKEND = "pure PyTorch"
        warnings.warn("falling back to the pure PyTorch Mamba")


    class BiEncoder(nn.Module):
        def __init__(self, d_model: int, n_layers: int = 4, dropout: float = 0.0):
            super().__init__()
            self.forward_layers = nn.ModuleList([
                Mamba(d_model=d_model, d_state=16) for _ in range(n_layers)
            ])
            self.backward_layers = nn.ModuleList([
                Mamba(d_model=d_model, d_state=16) for _ in range(n_layers)
            ])
            self.dropout = nn.Dropout(p=dropout) if dropout > 0 else nn.Identity()

        def forward(self, x):
            h_fwd = x
            for layer in self.forward_layers:
                h_fwd = layer(h_fwd)
                h_fwd = self.dropout(h_fwd)
            h_bwd = torch.flip(x, dims=[1])
            for layer in self.backward_layers:
                h_bwd = layer(h_bwd)
                h_bwd = self.dropout(h_bwd)
            return torch.cat([h_fwd, torch.flip(h_bwd, dims=[1])], dim=-1)
''')

AUTHORS_FIX = WRAPPER.replace(
    "        self.dropout = nn.Dropout",
    "        self.forward_norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(n_layers)])\n"
    "        self.backward_norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(n_layers)])\n"
    "        self.dropout = nn.Dropout",
).replace(
    "for layer in self.forward_layers:\n            h_fwd = layer(h_fwd)",
    "for layer, norm in zip(self.forward_layers, self.forward_norms):\n            h_fwd = norm(layer(h_fwd))",
).replace(
    "for layer in self.backward_layers:\n            h_bwd = layer(h_bwd)",
    "for layer, norm in zip(self.backward_layers, self.backward_norms):\n            h_bwd = norm(layer(h_bwd))",
)


def _tree(tmp_path, wrapper: str):
    pkg = tmp_path / "seedpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "pure.py").write_text(FALLBACK)
    (pkg / "wrapper.py").write_text(wrapper)
    return pkg


def test_try_except_fallback_import_hides_no_stack(tmp_path):
    pkg = _tree(tmp_path, WRAPPER)
    report = check_paths([pkg], load_config([tmp_path]), cache=False)
    found = [(f.line, f.code, f.message) for f in report.findings]
    loops = [i + 1 for i, line in enumerate(WRAPPER.splitlines()) if line.strip().startswith("for layer in")]
    assert [line for line, _, _ in found] == loops and {code for _, code, _ in found} == {"MF001"}
    assert headline(found[0][2]) == ("BiEncoder.forward_layers: 4 Mamba layers (mamba_ssm.Mamba; the fallback "
                           "seedpkg.pure.Mamba normalizes inside) applied in sequence without normalization")


def test_the_authors_fix_is_clean(tmp_path):
    pkg = _tree(tmp_path, AUTHORS_FIX)
    assert check_paths([pkg], load_config([tmp_path]), cache=False).findings == []


@pytest.mark.parametrize("residual", [False, True])
def test_apply_writes_the_authors_fix_and_the_notes_option_2(tmp_path, residual):
    pkg = _tree(tmp_path, WRAPPER)
    report = apply_paths([pkg], load_config([tmp_path]), FixOptions(residual=residual))
    assert not report.remaining and report.written == [str(pkg / "wrapper.py")]
    text = (pkg / "wrapper.py").read_text()
    assert "self.forward_norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in self.forward_layers])" in text
    assert "self.backward_norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in self.backward_layers])" in text
    step = "norm(layer(h_fwd) + h_fwd)" if residual else "norm(layer(h_fwd))"
    assert f"h_fwd = {step}" in text
    assert (pkg / "pure.py").read_text() == FALLBACK  # the fallback is not touched
    assert check_paths([pkg], load_config([tmp_path]), cache=False).findings == []


def test_a_single_binding_has_no_fallback_note(tmp_path):
    plain = WRAPPER.replace("    from seedpkg.pure import Mamba\n", "    Mamba = None\n")
    report = check_paths([_tree(tmp_path, plain)], load_config([tmp_path]), cache=False)
    assert [headline(f.message) for f in report.findings][0] == \
        "BiEncoder.forward_layers: 4 Mamba layers applied in sequence without normalization"


# A home-made selective SSM, as public repositories write one when mamba_ssm will not build:
# modelled on a RetinexMamba image-enhancement model's `PurePyTorchMamba` (a public file
# whose repository was not recorded, stored id 26418360241): in_proj, a depthwise conv, x_proj/dt_proj,
# A_log and D, out_proj, and no norm. It names no mamba_ssm class at all.
HOME_MADE = dedent('''
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class ScanMixer(nn.Module):
        def __init__(self, width, state=16, expand=2):
            super().__init__()
            inner = expand * width
            self.in_proj = nn.Linear(width, 2 * inner, bias=False)
            self.x_proj = nn.Linear(inner, 2 * state + 1, bias=False)
            self.dt_proj = nn.Linear(1, inner)
            self.A_log = nn.Parameter(torch.zeros(inner, state))
            self.D = nn.Parameter(torch.ones(inner))
            self.out_proj = nn.Linear(inner, width, bias=False)

        def forward(self, x):
            u, gate = self.in_proj(x).chunk(2, dim=-1)
            u = F.silu(u)
            dt, B, C = self.x_proj(u).split([1, self.A_log.shape[1], self.A_log.shape[1]], dim=-1)
            delta = F.softplus(self.dt_proj(dt))
            A = -torch.exp(self.A_log)
            h, ys = u.new_zeros(u.shape[0], u.shape[2], A.shape[1]), []
            for t in range(u.shape[1]):
                h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
                ys.append((h * C[:, t, None, :]).sum(-1))
            return self.out_proj((torch.stack(ys, dim=1) + u * self.D) * F.silu(gate))
''')

# The same mixer wrapped as a pre-norm residual block, as in a trajectory model that stacks
# `MambaBlock`s built from LayerNorm + selective scan + residual (file id 61692930811).
PRENORM_BLOCK = HOME_MADE.replace(
    "        self.out_proj = nn.Linear(inner, width, bias=False)\n",
    "        self.out_proj = nn.Linear(inner, width, bias=False)\n        self.norm = nn.LayerNorm(width)\n",
).replace(
    "        u, gate = self.in_proj(x).chunk(2, dim=-1)\n",
    "        u, gate = self.in_proj(self.norm(x)).chunk(2, dim=-1)\n",
).replace(
    "        return self.out_proj((torch.stack(ys, dim=1) + u * self.D) * F.silu(gate))",
    "        return x + self.out_proj((torch.stack(ys, dim=1) + u * self.D) * F.silu(gate))",
)
assert PRENORM_BLOCK != HOME_MADE

STACK_OF_MIXERS = dedent('''


    class Tower(nn.Module):
        def __init__(self, width=64, depth=4):
            super().__init__()
            self.mixers = nn.ModuleList([ScanMixer(width) for _ in range(depth)])

        def forward(self, x):
            for mixer in self.mixers:
                x = mixer(x)
            return x
''')


@pytest.mark.parametrize("mixer,expected", [(HOME_MADE, ["MF001"]), (PRENORM_BLOCK, [])], ids=["bare", "prenorm-block"])
def test_home_made_ssm_is_known_by_its_parameters(tmp_path, mixer, expected):
    (tmp_path / "tower.py").write_text(mixer + STACK_OF_MIXERS)
    report = check_paths([tmp_path], load_config([tmp_path]), cache=False)
    assert [f.code for f in report.findings] == expected
    if expected:
        assert headline(report.findings[0].message) == "Tower.mixers: 4 ScanMixer layers applied in sequence without normalization"


def test_home_made_ssm_in_another_file(tmp_path):
    (tmp_path / "mixer.py").write_text(HOME_MADE)
    (tmp_path / "tower.py").write_text("import torch.nn as nn\nfrom mixer import ScanMixer\n" + STACK_OF_MIXERS)
    report = check_paths([tmp_path], load_config([tmp_path]), cache=False)
    assert [(f.path.endswith("tower.py"), f.code) for f in report.findings] == [(True, "MF001")]
    fixed = apply_paths([tmp_path], load_config([tmp_path]))
    assert "self.norms = nn.ModuleList([nn.LayerNorm(width) for _ in self.mixers])" in (tmp_path / "tower.py").read_text()
    assert not fixed.remaining


HEADER = "import copy\n\nimport torch\nimport torch.nn as nn\nfrom mamba_ssm import Mamba\n\n\n"


def _mf001(tmp_path, body: str):
    (tmp_path / "m.py").write_text(HEADER + dedent(body))
    return [f for f in check_paths([tmp_path], load_config([tmp_path]), cache=False).findings if f.code == "MF001"]


def test_one_mixer_fed_fresh_permutations_is_not_a_stack(tmp_path):
    """The false positive the issue measured on 38 repositories at HEAD: one module called in a
    loop on an input recomputed from a loop-invariant tensor each trip, outputs averaged."""
    body = """
    class PermutedMixer(nn.Module):
        def __init__(self, d, n_perms=4):
            super().__init__()
            self.mixer = Mamba(d)
            self.n_perms = n_perms

        def forward(self, h):
            outs = []
            for _ in range(self.n_perms):
                perm = torch.randperm(h.shape[1])
                dense = h[:, perm]
                dense = self.mixer(dense)
                outs.append(dense[:, perm.argsort()])
            return torch.stack(outs).mean(0)
    """
    assert _mf001(tmp_path, body) == []


def test_a_carried_value_in_the_same_loop_is_still_a_stack(tmp_path):
    body = """
    class Tied(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.mixer = Mamba(d)

        def forward(self, h):
            for _ in range(4):
                h = self.mixer(h)
            return h
    """
    assert [headline(f.message) for f in _mf001(tmp_path, body)] == ["Tied.mixer: 4 Mamba layers applied in sequence without normalization"]


@pytest.mark.parametrize("ctor", ['Mamba(d).to("cuda")', "Mamba(d).cuda().float()", "copy.deepcopy(block)"])
def test_wrapped_and_copied_constructors_are_layers(tmp_path, ctor):
    body = f"""
    class Deep(nn.Module):
        def __init__(self, d, n=3):
            super().__init__()
            block = Mamba(d)
            self.layers = nn.ModuleList([{ctor} for _ in range(n)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    """
    found = _mf001(tmp_path, body)
    assert [headline(f.message) for f in found] == ["Deep.layers: 3 Mamba layers applied in sequence without normalization"]
    report = apply_paths([tmp_path], load_config([tmp_path]))
    text = (tmp_path / "m.py").read_text()
    moved = ctor[len("Mamba(d)"):] if ctor.startswith("Mamba(d)") else ""
    assert f"nn.ModuleList([nn.LayerNorm(d){moved} for _ in self.layers])" in text  # norms go where the layers go
    assert not report.remaining


# Two container shapes the real-code issue lists: layers kept in a plain Python list, and an
# nn.Sequential that unpacks a comprehension of layers followed by other modules.
PLAIN_AND_MIXED = """
class PlainList(nn.Module):
    def __init__(self, d=32, n=3):
        super().__init__()
        self.layers = [Mamba(d) for _ in range(n)]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Mixed(nn.Module):
    def __init__(self, d=32, n=3, k=8):
        super().__init__()
        self.net = nn.Sequential(*[Mamba(d_model=d) for _ in range(n)], nn.Linear(d, k))

    def forward(self, x):
        return self.net(x)
"""


def test_plain_lists_and_mixed_sequentials_are_stacks_and_get_fixed(tmp_path):
    found = _mf001(tmp_path, PLAIN_AND_MIXED)
    assert [headline(f.message) for f in found] == ["PlainList.layers: 3 Mamba layers applied in sequence without normalization",
                                          "Mixed.net: 3 Mamba layers applied in sequence without normalization"]
    report = apply_paths([tmp_path], load_config([tmp_path]))
    text = (tmp_path / "m.py").read_text()
    assert not report.remaining
    assert "self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in self.layers])" in text
    assert "nn.Sequential(*[nn.Sequential(Mamba(d_model=d), nn.LayerNorm(d)) for _ in range(n)], nn.Linear(d, k))" in text
    assert _mf001(tmp_path, text[len(HEADER):]) == []


def test_the_mixed_sequential_fix_is_judged_stable_by_the_probe(tmp_path):
    pytest.importorskip("torch")
    from mambafix.smoke.runner import run_smoke

    (tmp_path / "m.py").write_text(HEADER + dedent(PLAIN_AND_MIXED))
    spec = dict(length=128, scales=[1.0, 10.0, 30.0, 100.0], device="cpu", width=32)
    before = run_smoke(f"{tmp_path / 'm.py'}:Mixed", **spec)
    apply_paths([tmp_path], load_config([tmp_path]))
    after = run_smoke(f"{tmp_path / 'm.py'}:Mixed", **spec)
    assert before.ok and after.ok, (before.error, after.error)
    assert not before.stable and after.stable
