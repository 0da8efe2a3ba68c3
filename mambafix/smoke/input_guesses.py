"""Candidate inputs for a model nobody described: what its constructor's arguments say, then what
its first layers accept. Each candidate says where it came from; `inputs.choose` confirms one
with a trial forward pass.

Order: (1) the constructor (`vocab_size` -> token ids; `img_size` with `in_chans` -> images;
`seq_len`/`window_size` with `enc_in`/`n_features`/`input_size` -> sequences, both
(batch, length, features) and (batch, channels, length); a length alone -> a raw signal
(batch, samples)); (2) the first layers in registration order (nn.Embedding, Conv1d/2d/3d,
Linear, an SSM layer's d_model); (3) a d_model-like argument; (4) a raw signal at the probe's
length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from mambafix.smoke.construct import D_MODEL_NAMES

VOCAB_NAMES = ("vocab_size", "n_vocab", "num_tokens", "n_tokens", "vocab", "n_items", "num_items", "num_embeddings")
SEQ_NAMES = ("seq_len", "seq_length", "window_size", "window", "input_length", "input_len", "max_len", "max_seq_len",
             "max_length", "context_length", "lookback", "n_samples", "num_samples", "sample_length", "signal_length",
             "n_timesteps", "timesteps", "time_steps", "segment_length", "num_frames")
IMAGE_NAMES = ("img_size", "image_size", "resolution", "input_resolution", "img_dim", "input_size")
CHANNEL_NAMES = ("in_chans", "in_channels", "num_channels", "n_channels", "input_channels", "in_ch", "channels")
WIDTH_NAMES = ("enc_in", "n_features", "num_features", "input_size", "input_dim", "in_dim", "d_input", "d_in",
               "in_features", "feature_dim", "n_vars", "c_in", "n_channels", "num_channels", "in_channels",
               "in_chans", "channels", "n_mels", "n_leads")
FIRST_LAYERS = 3  # how many of the first input-taking modules are asked


@dataclass
class InputSpec:
    shape: tuple[int, ...]  # batch first
    tokens: int | None = None  # vocabulary size when the input is integer token ids
    why: str = ""  # where the shape came from, for the reader
    extra: tuple[str, ...] = field(default=())  # the forward's other required arguments, by what they get
    failed: list = field(default_factory=list)  # (shape, why) of the trials before this one that failed

    def make(self, generator: torch.Generator, batch: int | None = None) -> torch.Tensor:
        shape = (batch or self.shape[0], *self.shape[1:])
        if self.tokens:
            return torch.randint(0, self.tokens, shape, generator=generator)
        return torch.randn(*shape, generator=generator)

    def key(self) -> tuple:
        return (self.shape[1:], self.tokens)


def ints(kwargs: dict, names) -> list[tuple[str, int | tuple[int, ...]]]:
    """(name, value) of the positive whole numbers (or tuples of them) under `names`, looking
    into config objects given as JSON and attribute namespaces too, in the order of `names`."""
    found = []
    scopes = [kwargs] + [v for v in kwargs.values() if isinstance(v, dict)]
    scopes += [vars(v) for v in kwargs.values() if hasattr(v, "__dict__") and not isinstance(v, (type, nn.Module))]
    for name in names:
        for scope in scopes:
            value = scope.get(name) if isinstance(scope, dict) else None
            if isinstance(value, (list, tuple)) and value and all(_whole(v) for v in value):
                found.append((name, tuple(value)))
                break
            if _whole(value):
                found.append((name, value))
                break
    return found


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _first(found):
    name, value = found[0]
    return name, value[0] if isinstance(value, tuple) else value


def from_constructor(kwargs: dict, batch: int, length: int) -> list[InputSpec]:
    out: list[InputSpec] = []
    seq = ints(kwargs, SEQ_NAMES)
    seq_len = _first(seq)[1] if seq else None
    seq_why = f"{seq[0][0]}={seq_len}" if seq else ""
    L = seq_len or length
    vocab = ints(kwargs, VOCAB_NAMES)
    if vocab:
        name, size = _first(vocab)
        out.append(InputSpec((batch, L), tokens=size, why=_join(f"{name}={size}", seq_why)))
    images = [(n, v) for n, v in ints(kwargs, IMAGE_NAMES)]
    channels = ints(kwargs, CHANNEL_NAMES)
    c_name, c = _first(channels) if channels else ("", 3)
    for name, value in images:
        h, w = (value[0], value[-1]) if isinstance(value, tuple) else (value, value)
        if h >= 8:
            out.append(InputSpec((batch, c, h, w), why=_join(f"{name}={value}", f"{c_name}={c}" if c_name else "")))
    for name, width in ints(kwargs, WIDTH_NAMES):
        width = width[0] if isinstance(width, tuple) else width
        why = _join(seq_why, f"{name}={width}")
        out.append(InputSpec((batch, L, width), why=why))
        out.append(InputSpec((batch, width, L), why=why + " (channels first)"))
    if seq_len:
        out.append(InputSpec((batch, seq_len), why=f"{seq_why} (a raw signal)"))
    return [InputSpec(o.shape, o.tokens, "the constructor: " + o.why) for o in out]


def _join(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def input_modules(model: nn.Module, is_layer) -> list[nn.Module]:
    """The first modules, in registration order, that could take the model's input."""
    found = []
    for module in model.modules():
        if isinstance(module, (nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)) or is_layer(module):
            found.append(module)
            if len(found) == FIRST_LAYERS:
                break
    return found


def from_layers(model: nn.Module, is_layer, kwargs: dict, batch: int, length: int) -> list[InputSpec]:
    out: list[InputSpec] = []
    seq = ints(kwargs, SEQ_NAMES)
    L = _first(seq)[1] if seq else length
    sizes = [v[0] if isinstance(v, tuple) else v for _, v in ints(kwargs, IMAGE_NAMES)] + [224, 64, 32]
    for module in input_modules(model, is_layer):
        kind = type(module).__name__
        if isinstance(module, nn.Embedding):
            out.append(InputSpec((batch, L), tokens=module.num_embeddings,
                                 why=f"the first layers: Embedding({module.num_embeddings})"))
        elif isinstance(module, nn.Conv2d):
            out += [InputSpec((batch, module.in_channels, s, s), why=f"the first layers: Conv2d({module.in_channels} channels)")
                    for s in dict.fromkeys(sizes)]
        elif isinstance(module, nn.Conv3d):  # volumes (cubes) first, small ones first; then clips of 16 frames
            why = f"the first layers: Conv3d({module.in_channels} channels)"
            cubes = sorted(s for s in dict.fromkeys(sizes + [32]) if s <= 64)
            out += [InputSpec((batch, module.in_channels, s, s, s), why=why) for s in cubes]
            out += [InputSpec((batch, module.in_channels, 16, s, s), why=why) for s in dict.fromkeys(sizes)]
        elif isinstance(module, nn.Conv1d):
            c, why = module.in_channels, f"the first layers: Conv1d({module.in_channels} channels)"
            out += [InputSpec((batch, c, L), why=why), InputSpec((batch, L, c), why=why)]
            if c == 1:
                out.append(InputSpec((batch, L), why=why + " (a raw signal)"))
        elif isinstance(module, nn.Linear):
            out.append(InputSpec((batch, L, module.in_features), why=f"the first layers: Linear({module.in_features})"))
            if module.in_features == 1:
                out.append(InputSpec((batch, L), why="the first layers: Linear(1) (a raw signal)"))
        else:
            width = getattr(module, "d_model", None)
            if _whole(width):
                out.append(InputSpec((batch, L, width), why=f"the first layers: {kind}(d_model={width})"))
    for name, width in ints(kwargs, D_MODEL_NAMES):
        width = width[0] if isinstance(width, tuple) else width
        out.append(InputSpec((batch, L, width), why=f"the constructor: {name}={width}"))
    out.append(InputSpec((batch, L), why="a raw signal (batch, samples)"))
    return out


def candidates(model: nn.Module, is_layer, kwargs: dict, batch: int, length: int) -> list[InputSpec]:
    """Every candidate, in the order above, each shape once."""
    seen, out = set(), []
    for option in from_constructor(kwargs, batch, length) + from_layers(model, is_layer, kwargs, batch, length):
        if option.key() not in seen:
            seen.add(option.key())
            out.append(option)
    return out
