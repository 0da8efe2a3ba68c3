"""GPU checks: run with `pytest -m gpu` on a machine with CUDA. Skipped elsewhere.

The kernel tests need `mamba_ssm` and `causal_conv1d` built for the GPU (see
bench/gpu/run.sh for the build the project ran on an H100); without them they skip.
"""

import shutil

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

from mambafix.smoke.probe import run_probe  # noqa: E402
from mambafix.smoke.reference import Mamba, Mamba2  # noqa: E402

from conftest import EXAMPLE  # noqa: E402

# Relative error bounds of the reference against the kernels, per dtype: float32 differs only by
# summation order; bfloat16 rounds every intermediate of the kernels to 8 mantissa bits.
KERNEL_TOLERANCE = {torch.float32: 2e-3, torch.bfloat16: 6e-2}


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


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm())


def _real_and_reference(kind: str, dtype):
    mamba_ssm = pytest.importorskip("mamba_ssm")
    pytest.importorskip("causal_conv1d")
    torch.manual_seed(0)
    if kind == "Mamba":
        real, ours = mamba_ssm.Mamba(d_model=64), Mamba(d_model=64)
    else:
        real, ours = mamba_ssm.Mamba2(d_model=256, headdim=64), Mamba2(d_model=256, headdim=64)
    state = real.state_dict()
    assert sorted(state) == sorted(ours.state_dict()), "state_dict names differ"
    ours.load_state_dict(state, strict=True)
    real.load_state_dict(ours.state_dict(), strict=True)  # and back: same names and shapes both ways
    return real.cuda().to(dtype), ours.cuda().to(dtype)


@pytest.mark.parametrize("kind", ["Mamba", "Mamba2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_real_kernels_agree_with_reference(kind, dtype):
    real, ours = _real_and_reference(kind, dtype)
    width = 64 if kind == "Mamba" else 256
    x = torch.randn(2, 512, width, device="cuda").to(dtype)
    with torch.no_grad():
        a, b = real(x), ours(x)
    assert a.dtype == b.dtype == dtype and a.shape == b.shape
    err = _relative_error(b, a)
    print(f"\nKERNEL-AGREEMENT {kind} {str(dtype).replace('torch.', '')}: relative error {err:.2e}")
    assert err < KERNEL_TOLERANCE[dtype]


@pytest.mark.parametrize("kind", ["Mamba", "Mamba2"])
def test_real_kernels_and_reference_gradients_agree(kind):
    real, ours = _real_and_reference(kind, torch.float32)
    width = 64 if kind == "Mamba" else 256
    x = torch.randn(2, 256, width, device="cuda")
    real(x).pow(2).mean().backward()
    ours(x).pow(2).mean().backward()
    worst = max(_relative_error(p.grad, q.grad) for (_, p), (_, q) in zip(sorted(ours.named_parameters()),
                                                                          sorted(real.named_parameters())))
    print(f"\nGRADIENT-AGREEMENT {kind} fp32: worst relative error over parameters {worst:.2e}")
    assert worst < 1e-2


def test_probe_verdicts_match_between_backends_on_the_bundled_example(tmp_path):
    """UNSTABLE before and STABLE after `apply --residual`, with the kernels and with the
    reference on the same weights; every layer/scale cell's verdict is compared."""
    pytest.importorskip("mamba_ssm")
    from mambafix.fix.apply import apply_paths
    from mambafix.config import load_config
    from mambafix.checks.base import FixOptions
    from mambafix.smoke.runner import run_smoke

    patched = tmp_path / "seed_model"
    shutil.copytree(EXAMPLE, patched)
    report = apply_paths([patched], load_config([patched]), FixOptions(residual=True))
    assert report.written
    for folder, expect_stable in ((EXAMPLE, False), (patched, True)):
        target = f"{folder / 'bimamba.py'}:BiMamba"
        weights = tmp_path / f"w-{expect_stable}.pt"
        real = run_smoke(target, device="cuda", length=1023, save_weights=str(weights))
        ref = run_smoke(target, device="cuda", length=1023, backend="reference", weights=str(weights))
        assert real.ok and ref.ok, (real.error, ref.error)
        assert real.data["result"]["backend"].startswith("mamba_ssm")
        assert ref.data["result"]["backend"].startswith("reference")
        assert not ref.data.get("missing_keys") and not ref.data.get("unexpected_keys")
        cells = lambda o: {(r["name"], r["scale"]): r["verdict"] for r in o.data["result"]["layers"]}  # noqa: E731
        differ = {k: (v, cells(ref)[k]) for k, v in cells(real).items() if cells(ref).get(k) != v}
        print(f"\nPROBE {'after' if expect_stable else 'before'}: kernels stable={real.stable}, "
              f"reference stable={ref.stable}, cells {len(cells(real))}, differing {differ}")
        assert real.stable == ref.stable == expect_stable
        assert not differ
