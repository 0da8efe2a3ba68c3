"""Whether the model's construction overwrote an SSM layer's own initialization (MF005's proof).

While the target is built, every SSM layer is photographed the moment it is registered in its
parent (its own `__init__` is over then): its state parameters (`A_log`, `D`, `dt_bias`, ...,
rules/MF005.toml and rules/models.toml name them) and the biases of its nn.Linear children that
its initialization set (values outside PyTorch's default range, U(+-1/sqrt(fan_in)): the dt
projection's inverse-softplus bias). Once the model is built, each photographed parameter that
changed was overwritten by something that ran later: an init hook. A layer never registered in
a parent (the target is the layer itself) is judged by what its init never produces: a dt bias
or `A_log` equal on every channel."""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn as nn
from torch.nn.modules.module import register_module_module_registration_hook

from mambafix.catalogue import load_models, load_rules


def _own_names() -> frozenset:
    return frozenset(load_models().get("ssm_kernel_attributes", ())) | frozenset(
        load_rules()["MF005"].data.get("own_parameters", ()))


def _linear_owners() -> frozenset:
    """The nn.Linear children whose bias a library layer initializes (`dt_proj`), from the data."""
    return frozenset(p["path"].rsplit(".", 1)[0] for entry in load_rules()["MF005"].data.get("ssm_init_layers", ())
                     for p in entry["params"] if p.get("owner") == "linear")


class Watch:
    def __init__(self, is_layer) -> None:
        self.is_layer = is_layer
        self.names = _own_names()
        self.photos: dict[int, dict[str, torch.Tensor]] = {}

    def registered(self, parent, name, module) -> None:
        if id(module) in self.photos or not self._layer(module):
            return
        photo = {}
        for pname, param in module.named_parameters(recurse=False):
            if pname in self.names:
                photo[pname] = param.detach().clone()
        for cname, child in module.named_children():
            bias = getattr(child, "bias", None)
            if isinstance(child, nn.Linear) and isinstance(bias, torch.Tensor) and _set_by_layer(child):
                photo[f"{cname}.bias"] = bias.detach().clone()
        if photo:
            self.photos[id(module)] = photo

    def _layer(self, module) -> bool:
        try:
            return bool(self.is_layer(module))
        except Exception:  # noqa: BLE001 - a module the test cannot read is not a layer
            return False

    def report(self, model: nn.Module) -> list[dict]:
        """One entry per SSM parameter the construction overwrote after its layer was built."""
        out = []
        for path, module in model.named_modules():
            photo = self.photos.get(id(module))
            if photo is None:
                if self._layer(module):
                    out += _constant(path, module, self.names)
                continue
            for pname, before in photo.items():
                now = _param(module, pname)
                if now is None or (now.shape == before.shape and torch.equal(now.detach().to(before.dtype), before)):
                    continue
                out.append(_entry(path, module, pname, before, now.detach()))
        return out


def _set_by_layer(linear: nn.Linear) -> bool:
    bound = 1.0 / math.sqrt(max(linear.in_features, 1))
    return bool(linear.bias.detach().abs().max() > bound * 1.0001)


def _param(module, dotted: str):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, torch.Tensor) else None


def _constant(path: str, module, names) -> list[dict]:
    """A layer photographed never: a dt bias or A_log its init would never make equal everywhere."""
    out = []
    candidates = [(n, p) for n, p in module.named_parameters(recurse=False) if n in names and n != "D"]
    owners = _linear_owners()
    candidates += [(f"{c}.bias", getattr(m, "bias")) for c, m in module.named_children()
                   if isinstance(m, nn.Linear) and isinstance(getattr(m, "bias", None), torch.Tensor) and c in owners]
    for name, param in candidates:
        values = param.detach().float().reshape(-1)
        if values.numel() > 1 and float(values.max() - values.min()) <= 1e-6 * max(1.0, float(values.abs().max())):
            out.append(_entry(path, module, name, None, param.detach()))
    return out


def _entry(path: str, module, pname: str, before, now) -> dict:
    where = f"{path}.{pname}" if path else pname
    return {"layer": path, "class": type(module).__name__, "param": pname, "path": where,
            "now": _describe(pname, now), "before": _describe(pname, before) if before is not None else None}


def _describe(pname: str, tensor: torch.Tensor) -> str:
    values = tensor.detach().float().reshape(-1)
    if pname.endswith("bias"):
        label, shown = "softplus", torch.nn.functional.softplus(values)
    elif "log" in pname:
        label, shown = "exp", values.exp()
    else:
        label, shown = "value", values
    low, high = float(shown.min()), float(shown.max())
    if high - low <= 1e-6 * max(1.0, abs(high)):
        return f"{label} = {low:.3g} everywhere"
    return f"{label} {low:.3g}-{high:.3g}"


def line(entry: dict) -> str:
    """`layers.0.mixer.dt_proj.bias overwritten: softplus = 0.693 everywhere (its own init: softplus 0.0011-0.098)`."""
    own = f" (its own init: {entry['before']})" if entry.get("before") else " (its own init never makes it constant)"
    return f"{entry['path']} overwritten after the layer was built: {entry['now']}{own}"


@contextlib.contextmanager
def recording(is_layer):
    """Photograph every SSM layer as it is registered while the block runs."""
    watch = Watch(is_layer)
    handle = register_module_module_registration_hook(watch.registered)
    try:
        yield watch
    finally:
        handle.remove()
