"""The input a model is probed with: given (`--input-shape`, `--input-dtype`), or inferred from the
model's first layer (integer tokens for an embedding, images for a 2-D/3-D convolution, a
(batch, length, width) sequence otherwise), confirmed by one trial forward pass.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import torch
import torch.nn as nn

from mambafix.smoke.construct import D_MODEL_NAMES, UserError
from mambafix.smoke.probe import layer_kind
from mambafix.smoke.reference import UnsupportedArgument

WIDTH_NAMES = ("d_input", "input_dim", "in_dim", "d_in", "input_size", "in_features", "n_features", "enc_in",
               "in_chans", "in_channels", "channels")
IMAGE_NAMES = ("img_size", "image_size", "input_size", "resolution")


class TargetFailed(Exception):
    """The model's own exception in the trial forward pass; carries its formatted traceback."""

    def __init__(self, message: str, trace: str):
        super().__init__(message)
        self.trace = trace


@dataclass
class InputSpec:
    shape: tuple[int, ...]  # batch first
    tokens: int | None = None  # vocabulary size when the input is integer token ids

    def make(self, generator: torch.Generator, batch: int | None = None) -> torch.Tensor:
        shape = (batch or self.shape[0], *self.shape[1:])
        if self.tokens:
            return torch.randint(0, self.tokens, shape, generator=generator)
        return torch.randn(*shape, generator=generator)

    def describe(self) -> list[int]:
        return list(self.shape)


def first_module(model: nn.Module) -> nn.Module | None:
    """The first module, in registration order, that takes the model's input."""
    for module in model.modules():
        if isinstance(module, (nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)) or layer_kind(module) == "mamba":
            return module
    return None


def _ints(kwargs: dict, names) -> list[int]:
    found = []
    for name in names:
        value = kwargs.get(name)
        if isinstance(value, dict):  # a config object given as JSON
            continue
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
            value = value[0]
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            found.append(value)
    for value in kwargs.values():
        if isinstance(value, dict):
            found += _ints(value, names)
    return found


def candidates(model: nn.Module, kwargs: dict, batch: int, length: int) -> list[InputSpec]:
    first = first_module(model)
    if isinstance(first, nn.Embedding):
        return [InputSpec((batch, length), tokens=first.num_embeddings)]
    if isinstance(first, (nn.Conv2d, nn.Conv3d)):
        sizes = list(dict.fromkeys(_ints(kwargs, IMAGE_NAMES) + [224, 64, 32]))
        if isinstance(first, nn.Conv2d):
            return [InputSpec((batch, first.in_channels, s, s)) for s in sizes]
        return [InputSpec((batch, first.in_channels, d, s, s)) for s in sizes for d in (16, 8)]
    widths = _ints(kwargs, WIDTH_NAMES)
    if isinstance(first, nn.Conv1d):
        return [InputSpec((batch, first.in_channels, length)), InputSpec((batch, length, first.in_channels))]
    if isinstance(first, nn.Linear):
        widths.append(first.in_features)
    elif first is not None:
        width = getattr(first, "d_model", None)
        if isinstance(width, int):
            widths.append(width)
    widths += _ints(kwargs, D_MODEL_NAMES)
    return [InputSpec((batch, length, w)) for w in dict.fromkeys(widths)]


def choose(model: nn.Module, spec: dict, kwargs: dict, device, dtype) -> InputSpec:
    """The input to probe with. A given shape is used as it is; inferred candidates are tried with
    one forward pass each, and when none runs the first one's own exception is raised."""
    batch, length = spec.get("batch", 2), spec.get("length", 256)
    if spec.get("input_shape"):
        shape = tuple(spec["input_shape"])
        tokens = None
        if spec.get("input_dtype") == "long":
            tokens = spec.get("vocab_size") or next((m.num_embeddings for m in model.modules()
                                                      if isinstance(m, nn.Embedding)), None)
            if not tokens:
                raise UserError("--input-dtype long needs --vocab-size (the model has no nn.Embedding to read it from)")
        return InputSpec(shape, tokens)
    if spec.get("width"):
        options = [InputSpec((batch, length, spec["width"]))]
    else:
        options = candidates(model, kwargs, batch, length)
    if spec.get("input_dtype") == "long" or spec.get("vocab_size"):
        vocab = spec.get("vocab_size") or next((o.tokens for o in options if o.tokens), None)
        if not vocab:
            raise UserError("--input-dtype long needs --vocab-size (the model has no nn.Embedding to read it from)")
        options = [InputSpec((batch, length), tokens=vocab)]
    if not options:
        raise UserError("cannot infer the model's input: pass --input-shape (e.g. 2,256,64) or --width N")
    first_error = None
    for option in options:
        x = option.make(torch.Generator().manual_seed(0), batch=1)
        x = x.to(device=device) if option.tokens else x.to(device=device, dtype=dtype)
        try:
            with torch.no_grad():
                model.eval()(x)
            return option
        except UnsupportedArgument:
            raise  # a limit of the reference backend, not of this input
        except Exception as exc:  # noqa: BLE001 - the model's own error; kept for the report
            if first_error is None:
                first_error = (option, exc, traceback.format_exc())
    option, exc, trace = first_error
    tried = ", ".join(str(list(o.shape)) for o in options)
    raise TargetFailed(f"the model's forward pass failed on input {list(option.shape)} (tried {tried}): "
                       f"{type(exc).__name__}: {exc}; pass --input-shape if the model expects another input",
                       _last_frames(trace))


def _last_frames(trace: str, frames: int = 6) -> str:
    lines = trace.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    keep = starts[-frames:] if len(starts) > frames else starts
    return "\n".join(lines[keep[0]:] if keep else lines)
