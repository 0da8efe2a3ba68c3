"""GPU checks: run with `pytest -m gpu` on a machine with CUDA. Skipped elsewhere."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

from mambafix.smoke.probe import run_probe  # noqa: E402
from mambafix.smoke.reference import Mamba, Mamba2  # noqa: E402


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_reference_backend_on_cuda_agrees_with_cpu(dtype):
    torch.manual_seed(0)
    layer = Mamba(64)
    x = torch.randn(2, 300, 64)
    with torch.no_grad():
        cpu = layer(x)
        gpu = layer.cuda().to(dtype)(x.cuda().to(dtype)).float().cpu()
    tol = 1e-4 if dtype == torch.float32 else 5e-2
    assert torch.allclose(gpu, cpu, rtol=tol, atol=tol * cpu.abs().max().item())


def test_probe_on_cuda_flags_the_unnormalized_stack():
    torch.manual_seed(0)
    stack = torch.nn.Sequential(*[Mamba(100) for _ in range(4)])
    result = run_probe(stack, lambda g: torch.randn(2, 256, 100, generator=g), scales=[1, 30], device="cuda")
    assert not result.stable and result.device == "cuda"


def test_real_kernels_agree_with_reference_when_installed():
    mamba_ssm = pytest.importorskip("mamba_ssm")
    torch.manual_seed(0)
    real = mamba_ssm.Mamba(d_model=64).cuda()
    ours = Mamba(d_model=64).cuda()
    ours.load_state_dict(real.state_dict())
    x = torch.randn(2, 256, 64, device="cuda")
    with torch.no_grad():
        a, b = real(x), ours(x)
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-3 * b.abs().max().item())


def test_mamba2_reference_on_cuda():
    torch.manual_seed(0)
    m = Mamba2(64, d_state=32, headdim=32)
    x = torch.randn(2, 200, 64)
    with torch.no_grad():
        cpu = m(x)
        gpu = m.cuda()(x.cuda()).cpu()
    assert torch.allclose(gpu, cpu, rtol=1e-4, atol=1e-4)
