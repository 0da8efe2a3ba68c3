"""The input a model is probed with: given (`--input-shape`, any rank), or inferred (`layouts`:
what the forward does with its input; then `input_guesses`: the constructor's arguments, the
first layers) and confirmed by one bounded trial forward pass; the choice says where it came from
and which trials failed. A forward with other required arguments
(`forward(x_enc, x_mark_enc, ...)`, `forward(item_seq, item_seq_len)`) gets None for each, or
the full length for a length-like one (`*_len`, `lengths`).
"""

from __future__ import annotations

import gc
import inspect
import traceback

import torch
import torch.nn as nn

from mambafix.smoke.construct import UserError
from mambafix.smoke.input_guesses import InputSpec, candidates
from mambafix.smoke.reference import UnsupportedArgument

__all__ = ["InputSpec", "TargetFailed", "choose", "extra_arguments", "forward_extras"]


class TargetFailed(Exception):
    """The model's own exception in the trial forward pass; carries its formatted traceback."""

    def __init__(self, message: str, trace: str):
        super().__init__(message)
        self.trace = trace


def forward_extras(model: nn.Module) -> tuple[str, ...]:
    """The forward's required arguments after the input, each as "lengths" or "none"."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return ()
    out = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or p.default is not p.empty:
            break
        name = p.name.lower()
        out.append(f"lengths:{p.name}" if name.endswith(("len", "lens", "length", "lengths")) else f"none:{p.name}")
    return tuple(out)


def extra_arguments(extras: tuple[str, ...], x: torch.Tensor) -> list:
    """The values of the forward's other arguments for input `x`."""
    values = []
    for extra in extras:
        if extra.startswith("lengths:"):
            values.append(torch.full((x.shape[0],), x.shape[1] if x.dim() > 1 else 1, dtype=torch.long, device=x.device))
        else:
            values.append(None)
    return values


def _given(model: nn.Module, spec: dict) -> InputSpec:
    shape = tuple(spec["input_shape"])
    tokens = None
    embedding = next((m.num_embeddings for m in model.modules() if isinstance(m, nn.Embedding)), None)
    if spec.get("input_dtype") == "long":
        tokens = spec.get("vocab_size") or embedding
        if not tokens:
            raise UserError("--input-dtype long needs --vocab-size (the model has no nn.Embedding to read it from)")
    elif spec.get("input_dtype") is None and len(shape) == 2 and isinstance(_first_input_module(model), nn.Embedding):
        tokens = spec.get("vocab_size") or embedding  # a 2-D shape into an embedding: token ids
    return InputSpec(shape, tokens, "given" + (" (token ids: the model starts with nn.Embedding)" if tokens and
                                                spec.get("input_dtype") is None else ""))


def _first_input_module(model: nn.Module):
    return next((m for m in model.modules() if isinstance(m, (nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))), None)


def choose(model: nn.Module, spec: dict, kwargs: dict, device, dtype, is_layer=lambda m: False,
           watcher=None, budget=None) -> InputSpec:
    """The input to probe with. A given shape is used as it is; inferred candidates (what the
    forward does with its input, `layouts`, then `input_guesses`) are tried smallest first within
    each layout, one forward pass each at batch 1, each bounded in time (`budget`) and memory
    (`watcher`); a trial that fails says why, and when none runs the first one's own exception
    is raised."""
    from mambafix.smoke.bounds import Budget, OverMemory, TrialTimeout, time_limit
    from mambafix.smoke.layouts import candidates as from_forward

    extras = forward_extras(model)
    batch, length = spec.get("batch", 2), spec.get("length", 256)
    if spec.get("input_shape"):
        chosen = _given(model, spec)
        chosen.extra = extras
        return chosen
    if spec.get("width"):
        options = [InputSpec((batch, length, spec["width"]), why="--width")]
    else:
        options, ranks = from_forward(model, spec.get("forward_facts") or {}, is_layer, kwargs, batch, length)
        seen = {o.key() for o in options}
        options += [o for o in candidates(model, is_layer, kwargs, batch, length)  # those the forward allows
                    if o.key() not in seen and (ranks is None or len(o.shape) in ranks)]
    if spec.get("input_dtype") == "long" or spec.get("vocab_size"):
        vocab = spec.get("vocab_size") or next((o.tokens for o in options if o.tokens), None)
        if not vocab:
            raise UserError("--input-dtype long needs --vocab-size (the model has no nn.Embedding to read it from)")
        options = [InputSpec((batch, length), tokens=vocab, why="--input-dtype long")]
    budget = budget or Budget(None, spec.get("trial_timeout"))
    first_error, failed = None, []
    for option in options:
        left = budget.left()
        if left is not None and left < 5:
            break  # leave the rest of --timeout to the probe's report
        option.extra = extras
        shape = [1, *option.shape[1:]]
        if watcher is not None:
            watcher.stage(f"the trial of input {shape}")
        seconds = budget.for_trial()
        try:
            x = option.make(torch.Generator().manual_seed(0), batch=1)
            x = x.to(device=device) if option.tokens else x.to(device=device, dtype=dtype)
            with torch.no_grad(), time_limit(seconds):
                model.eval()(x, *extra_arguments(extras, x))
            option.failed = failed
            return option
        except UnsupportedArgument:
            raise  # a limit of the reference backend, not of this input
        except TrialTimeout:
            failed.append((shape, f"did not finish within {seconds:g} s (--trial-timeout)"))
        except OverMemory:
            failed.append((shape, f"went over the {spec.get('memory_limit')} GB memory ceiling (--memory-limit)"))
        except Exception as exc:  # noqa: BLE001 - the model's own error; kept for the report
            failed.append((shape, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"))
            if first_error is None:
                first_error = (option, exc, traceback.format_exc())
        finally:
            x = None
            gc.collect()
    if first_error is None:
        reasons = "; ".join(f"{s} {why}" for s, why in failed[:4]) or "no time left for a trial"
        raise UserError(f"no input could be confirmed within the bounds: {reasons}; pass --input-shape, "
                        "or raise --trial-timeout / --memory-limit")
    option, exc, trace = first_error
    tried = "; ".join(f"{shape} {why}" for shape, why in failed[:6]) + (
        f"; and {len(failed) - 6} more" if len(failed) > 6 else "")
    raise TargetFailed(f"the model's forward pass failed on input {list(option.shape)}: {type(exc).__name__}: {exc} "
                       f"(trials at batch 1: {tried}); pass --input-shape if the model expects another input",
                       _last_frames(trace))


def _last_frames(trace: str, frames: int = 6) -> str:
    lines = trace.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    keep = starts[-frames:] if len(starts) > frames else starts
    return "\n".join(lines[keep[0]:] if keep else lines)
