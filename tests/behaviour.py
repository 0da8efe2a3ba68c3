"""The behaviour judge for fixes, run in its own process (the reference Mamba is registered under
mamba_ssm's names there, never in the test process).

Input: a JSON list of cases, each {"id", "variants": {name: source}, "classes": [...]}, where
variant "original" is the source as written and the others are apply's output per style.
Output: per case, per variant, per class: whether it compiled and built, the output shape, the
parameters that got no gradient from one forward/backward pass, and the probe's verdict.
The patched model starts from the original's parameters (shared by name, strict=False).

    python tests/behaviour.py cases.json out.json
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import tempfile
import traceback
from pathlib import Path

WIDTH_NAMES = ("d", "d_model", "dim", "hidden", "width", "d_hidden", "hidden_dim", "embed_dim", "channels", "hidden_size")
DEPTH_NAMES = ("n", "n_layers", "depth", "num_layers", "n_layer", "layers")
WIDTH, DEPTH, BATCH, LENGTH = 32, 4, 2, 32  # 32: Mamba2's heads of 64 need expand * width >= 64
SCALES = (1.0, 30.0, 100.0)


def _load(source: str, name: str, folder: Path):
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arguments(cls) -> dict | None:
    kwargs = {}
    for name, param in list(inspect.signature(cls.__init__).parameters.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in WIDTH_NAMES:
            kwargs[name] = WIDTH
        elif param.default is not param.empty:
            continue
        elif name in WIDTH_NAMES:
            kwargs[name] = WIDTH
        elif name in DEPTH_NAMES:
            kwargs[name] = DEPTH
        else:
            return None
    return kwargs


def _judge_class(module, cls_name: str, original_state: dict | None):
    import torch

    from mambafix.smoke.probe import first_tensor, run_probe

    cls = getattr(module, cls_name)
    kwargs = _arguments(cls)
    if kwargs is None:
        return {"skipped": "constructor arguments the harness cannot fill"}
    if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        return {"skipped": "not an nn.Module"}
    torch.manual_seed(0)
    model = Inputs(cls(**kwargs))
    if original_state is not None:
        model.load_state_dict(original_state, strict=False)
    x = torch.randn(BATCH, LENGTH, WIDTH, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    model.train()
    out = first_tensor(model(x))
    dead = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    if out.requires_grad:
        direction = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
        (out * direction).mean().backward()
        dead = sorted(n for n, p in model.named_parameters() if p.requires_grad and p.grad is None)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.zero_grad(set_to_none=True)
    result = run_probe(model, lambda g: torch.randn(BATCH, LENGTH, WIDTH, generator=g), scales=SCALES,
                       gradients=False)
    bad = sorted({f"{s.name}@x{s.scale:g}:{s.verdict}" for s in result.stats if s.verdict != "ok"})
    return {"shape": list(out.shape), "dead": dead, "stable": result.stable, "bad": bad[:6],
            "no_ssm": bool(result.errors and not result.stats), "state": state}


def Inputs(model):
    """The model, called with as many copies of the input as its forward requires."""
    import torch

    params = [p for p in list(inspect.signature(model.forward).parameters.values())
              if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]

    class Fed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(*[x if i == 0 else x.flip(1) for i in range(len(params))])

    return Fed()


def judge(cases: list[dict]) -> dict:
    from mambafix.smoke import shim
    from mambafix.smoke.kernel_limits import KernelShapeRejected

    shim.install()
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="mambafix-behaviour-") as tmp:
        folder = Path(tmp)
        for n, case in enumerate(cases):
            verdicts: dict = {}
            states: dict = {}
            for variant, source in case["variants"].items():
                row: dict = {}
                try:
                    compile(source, f"{case['id']}:{variant}", "exec")
                    module = _load(source, f"case{n}_{variant}", folder)
                except Exception as exc:  # noqa: BLE001 - reported per variant
                    verdicts[variant] = {"error": f"does not load: {type(exc).__name__}: {exc}"}
                    continue
                for cls_name in case["classes"]:
                    try:
                        got = _judge_class(module, cls_name, states.get(cls_name) if variant != "original" else None)
                    except KernelShapeRejected as exc:  # an MF007 example: sizes the kernels refuse
                        got = {"skipped": f"the CUDA kernels would reject its sizes: {exc}"}
                    except Exception as exc:  # noqa: BLE001
                        got = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-1500:]}
                    if variant == "original" and "state" in got:
                        states[cls_name] = got["state"]
                    got.pop("state", None)
                    row[cls_name] = got
                verdicts[variant] = row
            out[case["id"]] = verdicts
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    Path(sys.argv[2]).write_text(json.dumps(judge(json.loads(Path(sys.argv[1]).read_text()))))
