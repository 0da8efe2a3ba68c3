"""smoke on real research models: constructors, inputs, home-made layers, the extended shim,
gradient verdicts, error manners, and smoke by path confirming apply's fix.

Each model below is a minimal reproduction, in our own words, of a shape seen in a public
repository (cited per test); none of their code is copied.
"""

import json
import shutil

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from conftest import EXAMPLE  # noqa: E402
from mambafix.cli import app  # noqa: E402
from mambafix.smoke.runner import run_smoke  # noqa: E402

SHORT = {"length": 32, "scales": [1, 100], "timeout": 240}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _mamba_rows(outcome):
    return {r["name"] for r in outcome.data["result"]["layers"] if r["kind"] == "mamba"}


# Modelled on johnma2006/mamba-minimal (model.py): a dataclass of arguments with required fields,
# a language model that starts with nn.Embedding, and its own selective-SSM block (A_log, D,
# x_proj, dt_proj) wrapped in pre-norm residual blocks.
MINIMAL_LM = '''
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Settings:
    d_model: int
    n_layer: int
    vocab_size: int
    d_state: int = 8
    residual: bool = True


class SelectiveBlock(nn.Module):
    def __init__(self, s: Settings):
        super().__init__()
        inner = 2 * s.d_model
        self.in_proj = nn.Linear(s.d_model, 2 * inner)
        self.x_proj = nn.Linear(inner, 1 + 2 * s.d_state, bias=False)
        self.dt_proj = nn.Linear(1, inner)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, s.d_state + 1).float().repeat(inner, 1)))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, s.d_model)

    def forward(self, x):
        u, z = self.in_proj(x).chunk(2, dim=-1)
        u = F.silu(u)
        dt, B, C = self.x_proj(u).split([1, self.A_log.shape[1], self.A_log.shape[1]], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log)
        h = u.new_zeros(u.shape[0], u.shape[2], A.shape[1])
        ys = []
        for t in range(u.shape[1]):
            h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
            ys.append((h * C[:, t, None, :]).sum(-1))
        y = torch.stack(ys, 1) + u * self.D
        return self.out_proj(y * F.silu(z))


class Residual(nn.Module):
    def __init__(self, s: Settings):
        super().__init__()
        self.mixer = SelectiveBlock(s)
        self.norm = nn.LayerNorm(s.d_model)
        self.residual = s.residual

    def forward(self, x):
        return x + self.mixer(self.norm(x)) if self.residual else self.mixer(x)


class Mamba(nn.Module):
    def __init__(self, args: Settings):
        super().__init__()
        self.embedding = nn.Embedding(args.vocab_size, args.d_model)
        self.layers = nn.ModuleList([Residual(args) for _ in range(args.n_layer)])
        self.norm_f = nn.LayerNorm(args.d_model)
        self.lm_head = nn.Linear(args.d_model, args.vocab_size)

    def forward(self, input_ids):
        x = self.embedding(input_ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm_f(x))
'''


def test_dataclass_config_from_init_tokens_and_home_made_ssm_layers(tmp_path):
    path = _write(tmp_path, "lm.py", MINIMAL_LM)
    init = {"args": {"d_model": 16, "n_layer": 3, "vocab_size": 50}}
    outcome = run_smoke(f"{path}:Mamba", init=init, **SHORT)
    assert outcome.ok, outcome.error
    assert outcome.data["input_dtype"] == "long" and outcome.data["input_shape"] == [2, 32]
    # the home-made block is seen by its parameters; the model class named Mamba is not a layer
    assert _mamba_rows(outcome) == {"layers.0.mixer", "layers.1.mixer", "layers.2.mixer"}
    assert outcome.stable, outcome.data["result"]["layers"]
    # the same stack without its norms and residuals: the probe says so (the scale multiplies the embedding)
    bare = run_smoke(f"{path}:Mamba", init={"args": {**init["args"], "residual": False}}, **SHORT)
    assert bare.ok and not bare.stable
    assert any(r["verdict"] != "ok" for r in bare.data["result"]["layers"] if r["kind"] == "mamba")


def test_a_required_config_is_named_in_one_line_with_its_class(tmp_path):
    path = _write(tmp_path, "lm.py", MINIMAL_LM)
    result = CliRunner().invoke(app, ["smoke", f"{path}:Mamba"])
    assert result.exit_code == 2
    assert "missing constructor argument(s) args; pass a Settings with --init '{\"args\": {...}}'" in result.stderr
    assert "Traceback" not in result.output
    bad = CliRunner().invoke(app, ["smoke", f"{path}:Mamba", "--init", '{"args": {"d_model": 8}}'])
    assert bad.exit_code == 2 and "cannot build argument 'args' as Settings" in bad.stderr
    assert "Traceback" not in bad.output


# Modelled on time-series forecasting repos that build `Model(configs)` from an argparse namespace
# (e.g. the S-Mamba / Time-series-Library style `class Model(nn.Module): def __init__(self, configs)`).
NAMESPACE_MODEL = '''
import torch.nn as nn
from mamba_ssm import Mamba


class Model(nn.Module):
    def __init__(self, configs):
        super().__init__()
        self.embed = nn.Linear(configs.enc_in, configs.d_model)
        self.layers = nn.ModuleList([Mamba(configs.d_model, d_state=configs.d_state) for _ in range(configs.e_layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(configs.d_model) for _ in range(configs.e_layers)])

    def forward(self, x):
        x = self.embed(x)
        for layer, norm in zip(self.layers, self.norms):
            x = norm(layer(x))
        return x
'''


def test_an_unannotated_configs_argument_becomes_a_namespace(tmp_path):
    path = _write(tmp_path, "model.py", NAMESPACE_MODEL)
    init = {"configs": {"enc_in": 7, "d_model": 16, "d_state": 8, "e_layers": 2}}
    outcome = run_smoke(f"{path}:Model", init=init, **SHORT)
    assert outcome.ok and outcome.stable, outcome.error or outcome.data["result"]["layers"]
    assert outcome.data["input_shape"] == [2, 32, 7]  # the first layer's width, not d_model
    missing = run_smoke(f"{path}:Model", init={"configs": {"enc_in": 7, "d_model": 16, "d_state": 8}}, **SHORT)
    assert not missing.ok and missing.trace is None
    assert "reads 'e_layers' from its config" in missing.error


# Modelled on alxndrTL/mamba.py (mambapy/mamba.py): a config dataclass whose fields all have defaults.
DEFAULTS_MODEL = '''
from dataclasses import dataclass

import torch.nn as nn
from mamba_ssm import Mamba


@dataclass
class NetConfig:
    d_model: int = 16
    n_layers: int = 2


class Net(nn.Module):
    def __init__(self, config: NetConfig):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(config.d_model) for _ in range(config.n_layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(config.d_model) for _ in range(config.n_layers)])

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = norm(x + layer(x))
        return x


def build_model(depth=3):
    return Net(NetConfig(n_layers=depth))
'''


def test_all_default_config_needs_no_init_and_factories_return_the_model(tmp_path):
    path = _write(tmp_path, "net.py", DEFAULTS_MODEL)
    outcome = run_smoke(f"{path}:Net", **SHORT)
    assert outcome.ok and outcome.stable and outcome.data["init"] == {"config": {"d_model": 16, "n_layers": 2}}
    made = run_smoke(f"{path}:build_model", init={"depth": 4}, **SHORT)
    assert made.ok and len(_mamba_rows(made)) == 4
    init_file = _write(tmp_path, "init.json", '{"depth": 1}')
    result = CliRunner().invoke(app, ["smoke", "--factory", f"{path}:build_model", "--init", f"@{init_file}",
                                      "--length", "16", "--scales", "1"])
    assert result.exit_code == 0, result.output
    assert "layers.0" in result.output and "layers.1" not in result.output
    result = CliRunner().invoke(app, ["smoke", f"{path}:Net", "--init", "@missing.json"])
    assert result.exit_code == 2 and "cannot read missing.json" in result.stderr


# The extended shim: mamba_ssm's own language model built from its MambaConfig, on CPU.
LM_HEAD = '''
from mamba_ssm.models.config_mamba import MambaConfig
from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel


def tiny_lm():
    return MambaLMHeadModel(MambaConfig(d_model=32, n_layer=2, vocab_size=60, d_intermediate=64))
'''


def test_mamba_lm_head_model_from_mamba_config_probes_on_cpu(tmp_path):
    path = _write(tmp_path, "lm.py", LM_HEAD)
    outcome = run_smoke(f"{path}:tiny_lm", **SHORT)
    assert outcome.ok and outcome.stable, outcome.error
    assert outcome.data["input_dtype"] == "long"
    assert _mamba_rows(outcome) == {"backbone.layers.0.mixer", "backbone.layers.1.mixer"}
    from mambafix.smoke import shim

    shim.install()
    from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel
    from mamba_ssm.models.config_mamba import MambaConfig

    names = set(MambaLMHeadModel(MambaConfig(d_model=32, n_layer=1, vocab_size=64, d_intermediate=64)).state_dict())
    assert {"backbone.embedding.weight", "backbone.layers.0.norm.weight", "backbone.layers.0.mixer.A_log",
            "backbone.layers.0.norm2.weight", "backbone.layers.0.mlp.fc1.weight", "backbone.norm_f.weight",
            "lm_head.weight"} <= names


def test_the_kernel_functions_of_the_shim_agree_with_the_reference_layer():
    from mambafix.smoke import shim
    from mambafix.smoke.reference import Mamba

    shim.install()
    from causal_conv1d import causal_conv1d_fn
    from mamba_ssm.ops.selective_scan_interface import mamba_inner_fn

    torch.manual_seed(0)
    layer = Mamba(24, d_state=8)
    x = torch.randn(2, 40, 24)
    xz = layer.in_proj(x).transpose(1, 2)
    with torch.no_grad():
        fused = mamba_inner_fn(xz, layer.conv1d.weight, layer.conv1d.bias, layer.x_proj.weight, layer.dt_proj.weight,
                               layer.out_proj.weight, layer.out_proj.bias, -torch.exp(layer.A_log.float()), D=layer.D.float(),
                               delta_bias=layer.dt_proj.bias.float(), delta_softplus=True)
        assert torch.allclose(fused, layer(x), atol=1e-5)
        u = xz[:, :48]
        conv = causal_conv1d_fn(u, layer.conv1d.weight.squeeze(1), layer.conv1d.bias, activation="silu")
        assert torch.allclose(conv, torch.nn.functional.silu(layer.conv1d(u)[..., :40]), atol=1e-6)
        # causal: the first step sees nothing of the second
        v = u.clone()
        v[..., 1:] += 1.0
        assert torch.allclose(causal_conv1d_fn(v, layer.conv1d.weight.squeeze(1))[..., 0],
                              causal_conv1d_fn(u, layer.conv1d.weight.squeeze(1))[..., 0])


# Modelled on hustvl/Vim (vim/models_mamba.py): a patch-embedding Conv2d in front of Mamba layers,
# built with a fork's keyword (`bimamba_type`).
VISION = '''
import torch.nn as nn
from mamba_ssm import Mamba


class TinyVision(nn.Module):
    def __init__(self, img_size=32, patch=8, dim=16, depth=2, fork=False):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        extra = {"bimamba_type": "v2"} if fork else {}
        self.layers = nn.ModuleList([Mamba(dim, **extra) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])

    def forward(self, img):
        x = self.patch_embed(img).flatten(2).transpose(1, 2)
        for layer, norm in zip(self.layers, self.norms):
            x = norm(x + layer(x))
        return x.mean(1)
'''


def test_image_models_get_images_and_fork_arguments_are_named(tmp_path):
    path = _write(tmp_path, "vision.py", VISION)
    outcome = run_smoke(f"{path}:TinyVision", **SHORT)
    assert outcome.ok and outcome.stable, outcome.error
    assert outcome.data["input_shape"] == [2, 3, 32, 32]  # img_size from the constructor
    result = CliRunner().invoke(app, ["smoke", f"{path}:TinyVision", "--init", '{"fork": true}'])
    assert result.exit_code == 2
    assert "fork argument `bimamba_type` of Mamba not supported by the reference backend" in result.stderr
    assert "Traceback" not in result.output
    shaped = run_smoke(f"{path}:TinyVision", input_shape=[1, 3, 16, 16], **SHORT)
    assert shaped.ok and shaped.data["input_shape"] == [1, 3, 16, 16]


def test_a_failing_trial_forward_reports_the_models_own_exception(tmp_path):
    path = _write(tmp_path, "fussy.py", '''
import torch.nn as nn
from mamba_ssm import Mamba


class Fussy(nn.Module):
    def __init__(self, d_model=16):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d_model) for _ in range(2)])

    def forward(self, x):
        assert x.shape[1] % 100 == 0, "sequence length must be a multiple of 100"
        for layer in self.layers:
            x = layer(x)
        return x
''')
    outcome = run_smoke(f"{path}:Fussy", **SHORT)
    assert not outcome.ok and "sequence length must be a multiple of 100" in outcome.error
    assert outcome.trace and "fussy.py" in outcome.trace  # the user's own frames
    fixed = run_smoke(f"{path}:Fussy", length=200, scales=[1], timeout=240)
    assert fixed.ok


def test_no_ssm_layer_is_a_clear_error_not_an_empty_verdict(tmp_path):
    path = _write(tmp_path, "plain.py", "import torch.nn as nn\n\nclass Plain(nn.Module):\n"
                  "    def __init__(self, d_model=8):\n        super().__init__()\n        self.proj = nn.Linear(d_model, d_model)\n\n"
                  "    def forward(self, x):\n        return self.proj(x)\n")
    result = CliRunner().invoke(app, ["smoke", f"{path}:Plain", "--length", "8"])
    assert result.exit_code == 2 and "no SSM layer found" in result.stderr
    # a class named in extra-layer-classes is one
    (tmp_path / "pyproject.toml").write_text('[tool.mambafix]\nextra-layer-classes = ["Plain"]\n')
    result = CliRunner().invoke(app, ["smoke", f"{path}:Plain", "--length", "8", "--scales", "1"])
    assert result.exit_code == 0, result.output


# A constructed case: every layer is bounded going forward (it normalizes its output) but its
# backward pass multiplies the gradient, as a norm with a vanishing epsilon can. Only the
# gradient verdict can see it.
BACKWARD_ONLY = '''
import torch
import torch.nn as nn


class Amplify(torch.autograd.Function):
    GAIN = 1e4

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * Amplify.GAIN


class Layer(nn.Module):
    def __init__(self, d, amplify):
        super().__init__()
        self.A_log = nn.Parameter(torch.zeros(d, 4))
        self.D = nn.Parameter(torch.ones(d))
        self.proj = nn.Linear(d, d)
        self.amplify = amplify

    def forward(self, x):
        y = torch.nn.functional.layer_norm(self.proj(x) * self.D, x.shape[-1:])
        return Amplify.apply(y) if self.amplify else y


class Deep(nn.Module):
    def __init__(self, d_model=16, amplify=True, gain=1e4):
        super().__init__()
        Amplify.GAIN = gain
        self.layers = nn.ModuleList([Layer(d_model, amplify) for _ in range(4)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
'''


def test_gradient_explosion_seen_only_in_the_backward_pass(tmp_path):
    path = _write(tmp_path, "deep.py", BACKWARD_ONLY)
    outcome = run_smoke(f"{path}:Deep", **SHORT)
    assert outcome.ok and not outcome.stable
    rows = outcome.data["result"]["layers"]
    assert all(r["rms"] < 2 for r in rows)  # the forward pass is bounded everywhere
    verdicts = {r["verdict"] for r in rows}
    assert verdicts == {"ok", "gradient explosion"}
    calm = run_smoke(f"{path}:Deep", init={"amplify": False}, **SHORT)
    assert calm.ok and calm.stable, calm.data["result"]["layers"]
    fading = run_smoke(f"{path}:Deep", init={"gain": 1e-4}, **SHORT)
    assert fading.ok and {r["verdict"] for r in fading.data["result"]["layers"]} == {"ok", "vanishing gradient"}
    off = run_smoke(f"{path}:Deep", gradients=False, **SHORT)
    assert off.ok and off.stable and all(r["grad_rms"] is None for r in off.data["result"]["layers"])


def test_user_errors_are_one_line_and_the_targets_own_bug_keeps_its_traceback(tmp_path):
    path = _write(tmp_path, "boom.py", "import torch.nn as nn\n\nclass Boom(nn.Module):\n"
                  "    def __init__(self):\n        super().__init__()\n        raise RuntimeError('kaboom')\n")
    result = CliRunner().invoke(app, ["smoke", f"{path}:Boom"])
    assert result.exit_code == 2 and "kaboom" in result.stderr and "Traceback" in result.stderr
    if not torch.cuda.is_available():
        result = CliRunner().invoke(app, ["smoke", f"{EXAMPLE / 'bimamba.py'}:BiMamba", "--device", "cuda"])
        assert result.exit_code == 2 and "--device cuda: no CUDA device here" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    missing = _write(tmp_path, "needs.py", "import not_a_real_dependency_xyz\n")
    result = CliRunner().invoke(app, ["smoke", f"{missing}:M"])
    assert result.exit_code == 2 and "imports not_a_real_dependency_xyz, which is not installed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_apply_then_smoke_by_path_confirms_the_fix(tmp_path):
    """The mission's loop on the bundled example: smoke fails, apply --residual, smoke passes."""
    target = tmp_path / "seed_model"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    args = ["--length", "64", "--scales", "1,30"]
    before = CliRunner().invoke(app, ["smoke", str(target), *args])
    assert before.exit_code == 1, before.output
    assert CliRunner().invoke(app, ["apply", "--residual", str(target)]).exit_code == 0
    report = tmp_path / "after.json"
    after = CliRunner().invoke(app, ["smoke", str(target), *args, "--report", str(report)])
    assert after.exit_code == 0, after.output
    targets = {t["target"].rpartition(":")[2]: t for t in json.loads(report.read_text())["targets"]}
    assert {"BiMamba", "PreNormEncoder"} <= set(targets) and all(t["stable"] for t in targets.values())
    names = {r["name"] for r in targets["BiMamba"]["result"]["layers"]}
    assert {"forward_norms.0", "backward_norms.3"} <= names


def test_smoke_by_path_probes_healthy_classes_and_lists_the_unbuildable(tmp_path):
    (tmp_path / "healthy.py").write_text((EXAMPLE / "prenorm.py").read_text())
    _write(tmp_path, "lm.py", MINIMAL_LM)  # needs --init for its Settings: listed, not fatal
    result = CliRunner().invoke(app, ["smoke", str(tmp_path), "--length", "32", "--scales", "1,100"])
    assert result.exit_code == 0, result.output
    assert "healthy.py:PreNormEncoder" in result.output and "verdict: STABLE" in result.output
    assert "lm.py:Mamba: not probed: cannot build Mamba: missing constructor argument(s) args" in result.stderr
    assert "1 of 1 probed targets stable; 1 not probed" in result.output
    narrowed = CliRunner().invoke(app, ["smoke", str(tmp_path), "--select", "Nope"])
    assert narrowed.exit_code == 2 and "no such class among PreNormEncoder, Mamba" in narrowed.stderr


# Modelled on alxndrTL/mamba.py (mambapy/): several model classes in one package, each with its
# own config dataclass, probed by path with one --init.
TWO_CONFIGS = '''
from dataclasses import dataclass

import torch.nn as nn
from mamba_ssm import Mamba


@dataclass
class SmallConfig:
    d_model: int
    n_layers: int = 2


@dataclass
class HeadConfig:
    d_model: int
    n_layers: int = 2
    d_head: int = 8


class Small(nn.Module):
    def __init__(self, config: SmallConfig):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(config.d_model) for _ in range(config.n_layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(config.d_model) for _ in range(config.n_layers)])

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = norm(layer(x))
        return x


class Headed(nn.Module):
    def __init__(self, config: HeadConfig):
        super().__init__()
        assert config.d_model % config.d_head == 0, "d_model must divide into heads"
        self.layers = nn.ModuleList([Mamba(config.d_model) for _ in range(config.n_layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
'''


def test_one_init_serves_classes_with_different_configs_and_failures_say_where(tmp_path):
    _write(tmp_path, "models.py", TWO_CONFIGS)
    result = CliRunner().invoke(app, ["smoke", str(tmp_path), "--length", "16", "--scales", "1",
                                      "--init", '{"config": {"d_model": 16, "d_head": 8}}'])
    assert result.exit_code == 0, result.output
    assert "left out): SmallConfig.d_head" in result.output and "2 of 2 probed targets stable" in result.output
    result = CliRunner().invoke(app, ["smoke", str(tmp_path), "--length", "16", "--scales", "1",
                                      "--init", '{"config": {"d_model": 16, "d_head": 7}}'])
    assert "Headed: not probed: AssertionError: d_model must divide into heads (at models.py:" in result.stderr
    assert result.exit_code == 0, result.output  # the class that was probed is stable


def test_pyproject_factory_entry_and_token_inputs(tmp_path, monkeypatch):
    _write(tmp_path, "lm.py", LM_HEAD)
    (tmp_path / "pyproject.toml").write_text('[[tool.mambafix.smoke]]\nfactory = "lm.py:tiny_lm"\n'
                                             'input-shape = [1, 24]\ninput-dtype = "long"\nvocab-size = 30\nscales = [1]\n')
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["smoke", "--report", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())["targets"][0]
    assert data["input_shape"] == [1, 24] and data["input_dtype"] == "long"
