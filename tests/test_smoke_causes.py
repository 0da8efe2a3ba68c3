"""The probe's proof of the other causes: SSM initialization overwritten while the model is built
(MF005), half precision beside float32 (MF006), sizes the kernels refuse on a CPU machine
(MF007), and `check --probe` confirming each."""

import json

import pytest

torch = pytest.importorskip("torch")

from conftest import ROOT, dedent  # noqa: E402
from mambafix.smoke.init_watch import line, recording  # noqa: E402
from mambafix.smoke.kernel_limits import NOTES, KernelShapeRejected  # noqa: E402
from mambafix.smoke.probe import layer_kind  # noqa: E402
from mambafix.smoke.reference import Mamba, Mamba2, Mamba2Simple  # noqa: E402

FAST = {"length": 16, "scales": [1.0, 100.0], "gradients": False}

MODEL = dedent('''
    import torch.nn as nn
    from mamba_ssm import Mamba


    class Encoder(nn.Module):
        def __init__(self, d_model=16, n_layers=2):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n_layers)])
            self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(n_layers)])
            self.apply(self._init_weights)

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

        def forward(self, x):
            for layer, norm in zip(self.layers, norms := self.norms):
                x = norm(x + layer(x))
            return x
''')


def _is_layer(module) -> bool:
    return layer_kind(module) == "mamba"


class Zeroing(torch.nn.Module):
    def __init__(self, guard: bool):
        super().__init__()
        self.layers = torch.nn.ModuleList([Mamba(16), Mamba2(32, d_state=16, headdim=16)])
        for m in self.modules():
            if isinstance(m, torch.nn.Linear) and m.bias is not None and not (guard and getattr(m.bias, "_no_reinit", False)):
                torch.nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():
            if name.endswith("dt_bias") and not guard:
                torch.nn.init.zeros_(p)


def test_the_watch_sees_what_construction_overwrote_and_nothing_else():
    torch.manual_seed(0)
    with recording(_is_layer) as watch:
        model = Zeroing(guard=False)
    found = {e["path"]: e for e in watch.report(model)}
    assert sorted(found) == ["layers.0.dt_proj.bias", "layers.1.dt_bias"]
    assert line(found["layers.0.dt_proj.bias"]).startswith(
        "layers.0.dt_proj.bias overwritten after the layer was built: softplus = 0.693 everywhere (its own init: softplus 0.00")
    with recording(_is_layer) as watch:
        model = Zeroing(guard=True)
    assert watch.report(model) == []  # the guard skips the bias Mamba marks _no_reinit


def test_a_layer_built_outside_any_parent_is_judged_by_what_its_init_never_makes():
    with recording(_is_layer) as watch:
        layer = Mamba(16)
    torch.nn.init.zeros_(layer.dt_proj.bias)
    [entry] = watch.report(layer)
    assert entry["path"] == "dt_proj.bias" and entry["before"] is None and "never makes it constant" in line(entry)
    with recording(_is_layer) as watch:
        fresh = Mamba(16)
    assert watch.report(fresh) == []


def test_the_reference_refuses_what_mamba_ssm_and_its_kernels_refuse():
    with pytest.raises(KernelShapeRejected, match="asserts d_ssm % headdim == 0"):
        Mamba2(d_model=100)
    with pytest.raises(KernelShapeRejected, match="the CUDA kernels would reject this.*width between 2 and 4"):
        Mamba(d_model=16, d_conv=8)
    with pytest.raises(KernelShapeRejected, match="d_ssm = 192 is not a multiple of headdim = 128"):
        Mamba2Simple(d_model=96)
    before = len(NOTES)
    Mamba2(d_model=384, d_state=64, headdim=64)  # only releases before 2.2.5 refuse it: noted, built
    assert "1676 wide (12 heads)" in NOTES[before] and "before 2.2.5" in NOTES[before]
    Mamba2(d_model=256, d_state=64, headdim=64)
    assert len(NOTES) == before + 1


def test_smoke_reports_an_overwritten_dt_bias_and_exits_1(tmp_path):
    from mambafix.smoke.session import run_session
    from mambafix.smoke.targets import resolve_jobs
    from mambafix.config import load_config

    (tmp_path / "enc.py").write_text(MODEL.replace(", norms := self.norms", ", self.norms"))
    lines = []
    config = load_config([tmp_path])
    jobs = resolve_jobs([f"{tmp_path / 'enc.py'}:Encoder"], config, dict(FAST))
    code = run_session(jobs, config, echo=lines.append, err=lines.append, report=tmp_path / "r.json")
    init = [entry for entry in lines if entry.startswith("init: ")]
    assert code == 1 and len(init) == 2
    assert init[0].startswith("init: layers.0.dt_proj.bias overwritten after the layer was built: softplus = 0.693 everywhere")
    data = json.loads((tmp_path / "r.json").read_text())
    assert [e["path"] for e in data["targets"][0]["init_overwritten"]] == ["layers.0.dt_proj.bias", "layers.1.dt_proj.bias"]


def test_smoke_in_half_precision_probes_a_float32_twin_beside_it(tmp_path):
    from mambafix.smoke.session import run_session
    from mambafix.smoke.targets import resolve_jobs
    from mambafix.config import load_config

    (tmp_path / "enc.py").write_text(MODEL.replace(", norms := self.norms", ", self.norms")
                                     .replace("        self.apply(self._init_weights)\n", ""))
    lines = []
    config = load_config([tmp_path])
    jobs = resolve_jobs([f"{tmp_path / 'enc.py'}:Encoder"], config, dict(FAST, dtype="bfloat16"))
    run_session(jobs, config, echo=lines.append, err=lines.append, report=tmp_path / "r.json")
    heads = [entry.split("  ")[0] for entry in lines if "backend:" in entry]
    assert heads == [f"{tmp_path / 'enc.py'}:Encoder", f"{tmp_path / 'enc.py'}:Encoder (float32)"]
    assert any(entry.startswith("float32 (same model, same input): ") for entry in lines)
    target = json.loads((tmp_path / "r.json").read_text())["targets"][0]
    assert target["result"]["dtype"] == "bfloat16" and target["float32"]["result"]["dtype"] == "float32"


def test_smoke_says_the_kernels_would_reject_a_layer_on_a_cpu_machine(tmp_path):
    from mambafix.smoke.runner import run_smoke

    (tmp_path / "conv.py").write_text(dedent('''
        import torch.nn as nn
        from mamba_ssm import Mamba


        class LongConv(nn.Module):
            def __init__(self, d_model=16):
                super().__init__()
                self.ssm = Mamba(d_model=d_model, d_conv=8)

            def forward(self, x):
                return self.ssm(x)
    '''))
    outcome = run_smoke(f"{tmp_path / 'conv.py'}:LongConv", **FAST)
    assert not outcome.ok and outcome.data.get("kernel_rejected") and outcome.trace is None
    assert outcome.error.startswith("Mamba(d_model=16, d_state=16, d_conv=8, expand=2): d_conv = 8: the CUDA kernels would reject this")


def test_check_probe_confirms_the_other_causes(tmp_path):
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.project import check_paths
    from mambafix.smoke.confirm import probe_findings

    (tmp_path / "enc.py").write_text(MODEL.replace(", norms := self.norms", ", self.norms") + dedent('''


        class Shapes(nn.Module):
            def __init__(self):
                super().__init__()
                self.ssm = Mamba(d_model=16, d_conv=8)

            def forward(self, x):
                return self.ssm(x)


        def train():
            model = Encoder().half()
            return model
    '''))
    config = with_cli_overrides(load_config([tmp_path]), select=["MF005", "MF006", "MF007"])
    report = check_paths([tmp_path], config, cache=False)
    counts = probe_findings(report, config, dict(FAST), timeout=240)
    probes = {f.code: f.probe for f in report.findings}
    assert sorted(probes) == ["MF005", "MF006", "MF007"], report.findings
    assert probes["MF005"].startswith("confirmed: layers.0.dt_proj.bias overwritten after the layer was built")
    assert probes["MF007"].startswith("confirmed: Mamba(d_model=16") and "would reject this" in probes["MF007"]
    assert probes["MF006"].split(":")[0] in ("confirmed", "not confirmed") and "float32" in probes["MF006"]
    assert counts["not_probed"] == 0
