"""Runs in a subprocess: import the target, build it, probe it, write JSON. Executes user code."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from mambafix.smoke.construct import GUESSED, IGNORED, MissingConfigKey, UserError, build, load_target, signature_values


def main(spec_path: str, out_path: str) -> int:
    from mambafix.smoke.inputs import TargetFailed
    from mambafix.smoke.kernel_limits import KernelShapeRejected
    from mambafix.smoke.reference import UnsupportedArgument

    from mambafix.smoke.bounds import OverMemory, Watcher

    spec = json.loads(Path(spec_path).read_text())
    out: dict = {"ok": False}
    watcher = Watcher(spec.get("memory_limit"), spec.get("progress")).start()
    try:
        probe(spec, out, watcher)
    except OverMemory:
        out.update(error=f"over the {spec.get('memory_limit')} GB memory ceiling (--memory-limit) during "
                         f"{out.get('stage', 'the build')}", user_error=True)
    except UserError as exc:
        out.update(error=str(exc), user_error=True)
    except TargetFailed as exc:
        out.update(error=str(exc), traceback=exc.trace)
    except KernelShapeRejected as exc:  # the sizes mamba_ssm or its kernels refuse (MF007's proof)
        out.update(error=str(exc), user_error=True, kernel_rejected=True)
    except (UnsupportedArgument, MissingConfigKey) as exc:
        out.update(error=str(exc), user_error=True)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never a crash of mambafix
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    Path(out_path).write_text(json.dumps(out, default=str))
    return 0


def _own_mamba_ssm(target: str) -> bool:
    """Whether the target's tree has a package of its own named mamba_ssm (a from-scratch
    implementation): then it is imported as it is, not replaced by the reference shim."""
    from mambafix.smoke.importing import in_tree, plan_import

    head = target.rpartition(":")[0]
    if not head.endswith(".py") or not Path(head).exists():
        return False
    return in_tree("mamba_ssm", plan_import(Path(head)).paths) is not None


def _backend(spec: dict):
    import torch

    from mambafix.smoke import shim

    device = spec.get("device", "auto")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device here (torch.cuda.is_available() is False); use --device cpu")
    real = spec.get("backend", "auto") != "reference" and shim.real_backend_available()
    if device == "auto":
        device = "cuda" if real else "cpu"
    if _own_mamba_ssm(spec["target"]):
        return ("cuda" if device == "auto" and torch.cuda.is_available() else device if device != "auto" else "cpu"),\
            "the target tree's own mamba_ssm package"
    if device == "cpu" or not real:
        shim.install()
        return device, "reference (pure PyTorch, mambafix.smoke.reference)"
    return device, "mamba_ssm CUDA kernels"


def probe(spec: dict, out: dict, watcher=None) -> None:
    import torch
    import torch.nn as nn

    from mambafix.smoke.bounds import Budget

    from mambafix.smoke.inputs import choose, extra_arguments
    from mambafix.smoke.probe import SSM_SIGNATURES, first_tensor, layer_kind, run_probe

    from mambafix.smoke import diagnoses

    device, backend = _backend(spec)
    torch.manual_seed(spec.get("seed", 0))
    target = load_target(spec["target"])
    with diagnoses.building(spec, library=not backend.startswith("the target tree's own")) as found:
        model, kwargs = build(target, spec.get("init", {}))
    out.update(found.result(model))
    out["init"] = kwargs
    out["ignored_init"] = list(IGNORED)
    out["guessed_init"] = GUESSED
    if spec.get("weights"):
        state = torch.load(spec["weights"], map_location="cpu", weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        out["missing_keys"], out["unexpected_keys"] = list(missing), list(unexpected)
    if spec.get("save_weights"):
        torch.save(model.state_dict(), spec["save_weights"])
    dtype = getattr(torch, spec.get("dtype", "float32"))
    model = model.to(device=device, dtype=dtype)
    extra_classes = frozenset(spec.get("extra_classes", []))
    signatures = [tuple(s) for s in spec.get("ssm_signatures") or ()] or None
    known = frozenset(tuple(k) for k in spec.get("check_layers") or ())
    library = not backend.startswith("the target tree's own")

    def is_layer(module):
        return layer_kind(module, extra_classes, signatures or SSM_SIGNATURES, known, library) == "mamba"

    budget = Budget(spec.get("timeout"), spec.get("trial_timeout"))
    chosen = choose(model, spec, signature_values(target, kwargs), device, dtype, is_layer, watcher, budget)
    batch = spec.get("batch", 2) if not spec.get("input_shape") else chosen.shape[0]
    out["stage"] = f"the probe at input {[batch, *chosen.shape[1:]]}"
    if watcher is not None:
        watcher.stage(out["stage"])

    def make(generator):
        return chosen.make(generator, batch)

    def call(m, x):
        return m(x, *extra_arguments(chosen.extra, x))

    if spec.get("train_steps"):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=spec.get("lr", 1e-3))
        g = torch.Generator().manual_seed(spec.get("seed", 0) + 1)
        for _ in range(spec["train_steps"]):
            x = make(g).to(device=device)
            x = x if chosen.tokens else x.to(dtype=dtype)
            loss = first_tensor(call(model, x)).float().pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    scale_at = None
    if chosen.tokens:
        scale_at = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    result = run_probe(model, make, scales=spec.get("scales", [1, 10, 30, 100]), dtype=dtype, device=device,
                       backend=backend, seed=spec.get("seed", 0), extra_classes=extra_classes,
                       gradients=spec.get("gradients", True), scale_at=scale_at, call=call, known=known, library=library,
                       **({"signatures": signatures} if signatures else {}))
    if result.errors and not result.stats:
        raise UserError(f"{spec['target']}: {result.errors[0]}")
    out.update(ok=True, result=result.to_dict(), input_shape=[batch, *chosen.shape[1:]],
               input_dtype="long" if chosen.tokens else spec.get("dtype", "float32"), input_source=chosen.why,
               forward_arguments={e.split(":", 1)[1]: e.split(":", 1)[0] for e in chosen.extra},
               input_trials_failed=chosen.failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
