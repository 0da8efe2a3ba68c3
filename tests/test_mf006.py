"""MF006 half-precision-ssm-parameters: casts and half dtypes of modules that hold SSM layers,
never of tensors or of modules without them, and never autocast; reproductions of real shapes
(in our own words, each citing the repository and path it reproduces)."""

import pytest

from conftest import ROOT, dedent, run_check

HEAD = dedent("""
    import torch
    import torch.nn as nn
    from mamba_ssm import Mamba
    from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel


    class Net(nn.Module):
        def __init__(self, d=64):
            super().__init__()
            self.mixer = Mamba(d)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, 2)

        def forward(self, x):
            return self.head(self.norm(x + self.mixer(x)))


    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(1, 8, 3)

        def forward(self, x):
            return self.conv(x)


""")


def mf006(src: str):
    return [f for f in run_check(HEAD + dedent(src), select=("MF006",)) if f.code == "MF006"]


@pytest.mark.parametrize("lines,dtype", [
    (["model = Net().cuda()", "model = model.to(torch.bfloat16)"], "bfloat16"),
    (["model = Net()", "model.half()"], "float16"),
    (["model = Net().to('cuda', dtype=torch.float16)"], "float16"),
    (["model = torch.compile(Net())", "model.bfloat16()"], "bfloat16"),
    (["dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16", "model = Net().to(dtype=dtype)"], "bfloat16"),
    (["model = Net().to(getattr(torch, 'float16'))"], "float16"),
    (["layer = Mamba(64, dtype=torch.float16)"], "float16"),
    (["lm = MambaLMHeadModel.from_pretrained('state-spaces/mamba-130m', device='cuda', dtype=torch.float16)"], "float16"),
])
def test_casts_of_modules_holding_ssm_layers(lines, dtype):
    body = "".join(f"    {line}\n" for line in lines)
    [finding] = mf006(f"def run():\n{body}")
    assert f"stored in {dtype}" in finding.message and "Troubleshooting > Precision" in finding.message
    assert not finding.fixable


@pytest.mark.parametrize("lines", [
    ["model = Net().cuda()", "x = torch.randn(2, 8, 64).half()", "y = model(x.to(torch.bfloat16))"],
    ["cnn = Cnn().half()"],
    ["model = Net()", "model.front = Cnn().to(torch.float16)"],
    ["model = Net()", "with torch.autocast(device_type='cuda', dtype=torch.bfloat16):", "    y = model(torch.randn(2, 4, 64))"],
    ["model = Net().to(dtype=torch.float32)"],
    ["model = Net().to(getattr(torch, args.dtype))"],
])
def test_not_reported(lines):
    body = "".join(f"    {line}\n" for line in lines)
    assert mf006(f"def run(args=None):\n{body}") == []


def test_a_parameter_default_dtype_and_a_half_default_dtype_before_building():
    [finding] = mf006("def build(dtype=torch.float16):\n    return Net().to(dtype)\n")
    assert "stored in float16" in finding.message
    [finding] = mf006("def build():\n    torch.set_default_dtype(torch.float16)\n    return Net()\n")
    assert "`torch.set_default_dtype(torch.float16)` comes before Net is built" in finding.message
    assert mf006("def build():\n    torch.set_default_dtype(torch.float16)\n    return Cnn()\n") == []


def test_self_cast_inside_a_layer_and_an_attribute_cast():
    src = """
        class Wrapper(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = Net()
                self.cnn = Cnn()

            def to_half(self):
                self.cnn.half()
                self.net.half()
                return self.half()
    """
    found = mf006(src)
    assert len(found) == 2 and all(f.message.startswith("Wrapper: `self") for f in found)


def test_a_model_defined_in_another_file(tmp_path):
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.project import check_paths

    (tmp_path / "models.py").write_text(HEAD)
    (tmp_path / "train.py").write_text(dedent("""
        import torch
        from models import Cnn, Net

        model = Net().cuda()
        frontend = Cnn().half()
        if torch.cuda.is_available():
            model = model.to(dtype=torch.bfloat16)
    """))
    config = with_cli_overrides(load_config([tmp_path]), select=["MF006"])
    found = [f for f in check_paths([tmp_path], config, cache=False).findings if f.code == "MF006"]
    assert [(f.path.rsplit("/", 1)[-1], f.line) for f in found] == [("train.py", 7)]


# ---- reproductions of real shapes --------------------------------------------------------------

def test_chat_fine_tuning_loads_the_language_model_in_bfloat16():
    """havenhq/mamba-chat train_mamba.py: the fine-tuning script loads MambaLMHeadModel with
    `dtype=torch.bfloat16` and hands it to a Hugging Face trainer, so training updates bf16
    parameters; chat.py loads it in float16 for inference."""
    src = """
        def run(args):
            model = MambaLMHeadModel.from_pretrained(args.model, dtype=torch.bfloat16, device="cuda")
            trainer = make_trainer(model, args)
            trainer.train()


        def chat():
            model = MambaLMHeadModel.from_pretrained("havenhq/mamba-chat", device="cuda", dtype=torch.float16)
            return model
    """
    found = mf006(src)
    assert [f.message.split(":")[0] for f in found] == ["run", "chat"]


def test_whole_model_cast_of_a_model_without_ssm_layers():
    """Sam-Fatehmanesh/GBM GenerativeBrainModel/scripts/train_gbm.py: the training script runs the
    whole model in bf16 on CUDA (`model = model.to(dtype=torch.bfloat16)` under a device test);
    the model there is attention-based (no SSM layer), so the cast is no MF006 finding."""
    src = """
        def main(device):
            model = Cnn().to(device)
            if device.type == "cuda":
                model = model.to(dtype=torch.bfloat16)
    """
    assert mf006(src) == []
