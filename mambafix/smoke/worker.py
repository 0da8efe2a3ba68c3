"""Runs in a subprocess: import the target, build it, probe it, write JSON. Executes user code."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from mambafix.smoke.construct import IGNORED, MissingConfigKey, UserError, build, load_target, signature_values


def main(spec_path: str, out_path: str) -> int:
    from mambafix.smoke.inputs import TargetFailed
    from mambafix.smoke.reference import UnsupportedArgument

    spec = json.loads(Path(spec_path).read_text())
    out: dict = {"ok": False}
    try:
        probe(spec, out)
    except UserError as exc:
        out.update(error=str(exc), user_error=True)
    except TargetFailed as exc:
        out.update(error=str(exc), traceback=exc.trace)
    except (UnsupportedArgument, MissingConfigKey) as exc:
        out.update(error=str(exc), user_error=True)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never a crash of mambafix
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    Path(out_path).write_text(json.dumps(out, default=str))
    return 0


def _backend(spec: dict):
    import torch

    from mambafix.smoke import shim

    device = spec.get("device", "auto")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device here (torch.cuda.is_available() is False); use --device cpu")
    real = spec.get("backend", "auto") != "reference" and shim.real_backend_available()
    if device == "auto":
        device = "cuda" if real else "cpu"
    if device == "cpu" or not real:
        shim.install()
        return device, "reference (pure PyTorch, mambafix.smoke.reference)"
    return device, "mamba_ssm CUDA kernels"


def probe(spec: dict, out: dict) -> None:
    import torch
    import torch.nn as nn

    from mambafix.smoke.inputs import choose
    from mambafix.smoke.probe import first_tensor, run_probe

    device, backend = _backend(spec)
    torch.manual_seed(spec.get("seed", 0))
    target = load_target(spec["target"])
    model, kwargs = build(target, spec.get("init", {}))
    out["init"] = kwargs
    out["ignored_init"] = list(IGNORED)
    if spec.get("weights"):
        state = torch.load(spec["weights"], map_location="cpu", weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        out["missing_keys"], out["unexpected_keys"] = list(missing), list(unexpected)
    if spec.get("save_weights"):
        torch.save(model.state_dict(), spec["save_weights"])
    dtype = getattr(torch, spec.get("dtype", "float32"))
    model = model.to(device=device, dtype=dtype)
    chosen = choose(model, spec, signature_values(target, kwargs), device, dtype)
    batch = spec.get("batch", 2) if not spec.get("input_shape") else chosen.shape[0]

    def make(generator):
        return chosen.make(generator, batch)

    if spec.get("train_steps"):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=spec.get("lr", 1e-3))
        g = torch.Generator().manual_seed(spec.get("seed", 0) + 1)
        for _ in range(spec["train_steps"]):
            x = make(g).to(device=device)
            x = x if chosen.tokens else x.to(dtype=dtype)
            loss = first_tensor(model(x)).float().pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    scale_at = None
    if chosen.tokens:
        scale_at = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    result = run_probe(model, make, scales=spec.get("scales", [1, 10, 30, 100]), dtype=dtype, device=device,
                       backend=backend, seed=spec.get("seed", 0), extra_classes=frozenset(spec.get("extra_classes", [])),
                       gradients=spec.get("gradients", True), scale_at=scale_at,
                       **({"signatures": [tuple(s) for s in spec["ssm_signatures"]]} if spec.get("ssm_signatures") else {}))
    if result.errors and not result.stats:
        raise UserError(f"{spec['target']}: {result.errors[0]}")
    out.update(ok=True, result=result.to_dict(), input_shape=[batch, *chosen.shape[1:]],
               input_dtype="long" if chosen.tokens else spec.get("dtype", "float32"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
