"""Runs in a subprocess: import the target, build it, probe it, write JSON. Executes user code."""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import traceback
from pathlib import Path

D_MODEL_NAMES = ("d_model", "dim", "hidden_size", "d_hidden", "embed_dim", "hidden_dim")
INPUT_NAMES = ("d_input", "input_dim", "in_dim", "d_in", "input_size", "in_features", "n_features")


def load_class(target: str):
    spec, _, cls_name = target.rpartition(":")
    if not spec or not cls_name:
        raise ValueError(f"target {target!r} must be path/to/file.py:ClassName or package.module:ClassName")
    path = Path(spec)
    if spec.endswith(".py") or path.exists():
        path = path.resolve()
        root = path.parent
        while (root / "__init__.py").exists():
            root = root.parent
        sys.path.insert(0, str(root))
        module_name = ".".join(path.with_suffix("").relative_to(root).parts)
    else:
        sys.path.insert(0, str(Path.cwd()))
        module_name = spec
    module = importlib.import_module(module_name)
    try:
        return getattr(module, cls_name)
    except AttributeError:
        raise ValueError(f"{module_name} has no class {cls_name!r}") from None


def build(cls, init: dict):
    kwargs = dict(init)
    signature = inspect.signature(cls.__init__)
    missing = []
    for name, param in list(signature.parameters.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or name in kwargs:
            continue
        if param.default is param.empty:
            if name in D_MODEL_NAMES:
                kwargs[name] = 64
            else:
                missing.append(name)
    if missing:
        raise ValueError(f"cannot build {cls.__name__}: missing constructor argument(s) {', '.join(missing)}; "
                         f"pass them with --init '{{\"{missing[0]}\": ...}}'")
    return cls(**kwargs), kwargs


def input_widths(model, kwargs: dict) -> list[int]:
    import torch.nn as nn

    widths = [kwargs[n] for n in INPUT_NAMES if isinstance(kwargs.get(n), int)]
    for module in model.modules():
        if isinstance(module, nn.Linear):
            widths.append(module.in_features)
            break
        if hasattr(module, "d_model") and isinstance(module.d_model, int):
            widths.append(module.d_model)
            break
    widths += [kwargs[n] for n in D_MODEL_NAMES if isinstance(kwargs.get(n), int)]
    return list(dict.fromkeys(widths))


def main(spec_path: str, out_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    out: dict = {"ok": False}
    try:
        import torch

        from mambafix.smoke import shim
        from mambafix.smoke.probe import run_probe

        device = spec.get("device", "auto")
        real = spec.get("backend", "auto") != "reference" and shim.real_backend_available()
        if device == "auto":
            device = "cuda" if real else "cpu"
        if device == "cpu" or not real:
            shim.install()
            backend = "reference (pure PyTorch, mambafix.smoke.reference)"
        else:
            backend = "mamba_ssm CUDA kernels"
        torch.manual_seed(spec.get("seed", 0))
        cls = load_class(spec["target"])
        model, kwargs = build(cls, spec.get("init", {}))
        if spec.get("weights"):
            state = torch.load(spec["weights"], map_location="cpu", weights_only=True)
            missing, unexpected = model.load_state_dict(state, strict=False)
            out["missing_keys"], out["unexpected_keys"] = list(missing), list(unexpected)
        if spec.get("save_weights"):
            torch.save(model.state_dict(), spec["save_weights"])
        dtype = getattr(torch, spec.get("dtype", "float32"))
        batch, length = spec.get("batch", 2), spec.get("length", 256)
        model = model.to(device=device, dtype=dtype)
        width = None
        for w in ([spec["width"]] if spec.get("width") else input_widths(model, kwargs)):
            try:
                with torch.no_grad():
                    model.eval()(torch.zeros(1, 8, w, device=device, dtype=dtype))
                width = w
                break
            except Exception:  # noqa: BLE001 - try the next candidate width
                continue
        if width is None:
            raise ValueError("cannot infer the input width; pass --width N")
        if spec.get("train_steps"):
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=spec.get("lr", 1e-3))
            g = torch.Generator().manual_seed(spec.get("seed", 0) + 1)
            for _ in range(spec["train_steps"]):
                x = torch.randn(batch, length, width, generator=g).to(device=device, dtype=dtype)
                loss = model(x).float().pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        result = run_probe(model, lambda gen: torch.randn(batch, length, width, generator=gen),
                           scales=spec.get("scales", [1, 10, 30, 100]), dtype=dtype, device=device,
                           backend=backend, seed=spec.get("seed", 0))
        out.update(ok=True, result=result.to_dict(), init=kwargs, input_shape=[batch, length, width])
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never a crash of mambafix
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    Path(out_path).write_text(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
