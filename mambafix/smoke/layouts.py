"""Input layouts from what the forward does with its input (`smoke.forward_reading`'s events,
read in the parent) and what the built modules accept, in the probe process.

The events of the model's class are replayed on the model instance: an event on the output of
a submodule counts only when that module keeps the layout (dropout, an activation, a class
whose forward returns its input); the first module the input meets that takes a width
(Linear, LayerNorm, Embedding, Conv1d/2d/3d, BatchNorm, GroupNorm, an RNN, an SSM layer, or a
user module with a per-feature weight) says which axis carries which width, through the
transformations on the way (`x.permute(0, 2, 1)` before a LayerNorm puts its width on axis 1 of
the input); a user module's own forward is read the same way, so `self.patch_embed(x)` leads to
the Conv2d inside it. Each rank the events allow gives candidate shapes: the fixed axes from
the widths, the free ones from the names the forward unpacks (B, C, H, W), the constructor's
arguments, and small sizes first; `inputs.choose` confirms one with a bounded trial.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
import inspect

import torch.nn as nn

from mambafix.smoke.input_guesses import CHANNEL_NAMES, IMAGE_NAMES, SEQ_NAMES, WIDTH_NAMES, InputSpec, ints

TRANSPARENT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)
SPATIAL = (32, 64, 128, 224)  # image sides tried, smallest first (with the constructor's own sizes)
ROLES = {
    "channel": {"c", "ch", "chan", "chans", "channel", "channels", "v", "nvars", "vars", "bands", "band", "e", "m",
                "electrodes", "leads", "k", "nc", "cin", "inc", "num_channels", "n_channels", "variates"},
    "space": {"h", "w", "height", "width", "hh", "ww", "x", "y", "z", "hw"},
    "length": {"l", "t", "len", "seq", "seqlen", "seq_len", "n", "s", "time", "length", "samples", "frames", "steps",
               "ntokens", "num_tokens", "tokens", "window", "seq_length", "timesteps", "p"},
    "feature": {"d", "f", "dim", "feat", "features", "hidden", "d_model", "emb", "embed", "dmodel", "nfeat",
                "feature", "c_in", "hidden_size"},
}
MAX_CANDIDATES = 12
MAX_ELEMENTS = 40_000_000  # one trial input's elements at batch 1: far past any probe's need


@dataclass
class Found:
    events: list = field(default_factory=list)  # (event, ops) on the input
    consumer: tuple | None = None  # (module, ops, path)
    reasons: list = field(default_factory=list)


def facts_for(module: nn.Module, facts: dict) -> dict | None:
    for klass in type(module).__mro__:
        if klass is nn.Module:
            return None
        try:
            key = f"{Path(inspect.getsourcefile(klass)).resolve()}::{klass.__name__}"
        except (TypeError, OSError):
            continue
        if key in facts:
            return facts[key]
        if "forward" in vars(klass):
            return None
    return None


def resolve(module, path: str):
    obj = module
    for part in path.split("."):
        if part.isdigit() and isinstance(obj, (nn.ModuleList, nn.Sequential, list, tuple)):
            obj = obj[int(part)] if int(part) < len(obj) else None
        else:
            obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, nn.Module) else None


def _transparent(module, facts) -> bool:
    if isinstance(module, TRANSPARENT) or type(module).__module__ == "torch.nn.modules.activation":
        return True
    own = facts_for(module, facts)
    return bool(own and own.get("transparent"))


def accepts(module, is_layer) -> tuple | None:
    """(ranks it takes or None, {axis: width}, vocabulary or None, its name for the reader)."""
    kind = type(module).__name__
    if isinstance(module, nn.Embedding):  # token ids: (batch, length)
        return {2}, {}, module.num_embeddings, f"Embedding({module.num_embeddings})"
    if isinstance(module, nn.Linear):
        return None, {-1: module.in_features}, None, f"Linear({module.in_features})"
    if isinstance(module, (nn.LayerNorm, getattr(nn, "RMSNorm", nn.LayerNorm))):
        shape = tuple(module.normalized_shape)
        return None, {-len(shape) + i: s for i, s in enumerate(shape)}, None, f"{kind}({', '.join(map(str, shape))})"
    for conv, rank in ((nn.Conv1d, 3), (nn.Conv2d, 4), (nn.Conv3d, 5), (nn.ConvTranspose1d, 3), (nn.ConvTranspose2d, 4)):
        if isinstance(module, conv):
            return {rank}, {1: module.in_channels}, None, f"{kind}({module.in_channels} channels)"
    for norm, ranks in ((nn.BatchNorm1d, {2, 3}), (nn.BatchNorm2d, {4}), (nn.BatchNorm3d, {5}),
                        (nn.InstanceNorm1d, {3}), (nn.InstanceNorm2d, {4})):
        if isinstance(module, norm):
            return ranks, {1: module.num_features}, None, f"{kind}({module.num_features})"
    if isinstance(module, nn.GroupNorm):
        return None, {1: module.num_channels}, None, f"GroupNorm({module.num_channels} channels)"
    if isinstance(module, nn.RNNBase):
        return {3}, {-1: module.input_size}, None, f"{kind}({module.input_size})"
    if isinstance(module, nn.MultiheadAttention):
        return {3}, {-1: module.embed_dim}, None, f"MultiheadAttention({module.embed_dim})"
    if is_layer(module):
        width = getattr(module, "d_model", None)
        if not isinstance(width, int):
            proj = getattr(module, "in_proj", None)
            width = getattr(proj, "in_features", None)
        return {3}, ({-1: width} if isinstance(width, int) else {}), None, f"{kind}(d_model={width})"
    return None


def read(model: nn.Module, facts: dict, is_layer) -> Found:
    found = Found()
    own = facts_for(model, facts)
    if own is not None:
        _walk(model, own, (), facts, is_layer, found, 0)
    return found


def _walk(module, own: dict, prefix: tuple, facts, is_layer, found: Found, depth: int) -> bool:
    """Replay `own`'s events; True once the first module taking a width is found."""
    for event in own["events"]:
        if any(not (m := resolve(module, p)) or not _transparent(m, facts) for p in event["through"]):
            continue
        ops = prefix + tuple(tuple(o) for o in event["ops"])
        if event["kind"] != "module":  # also after the first module: the input's other uses
            found.events.append((event, ops, module))
        elif found.consumer is None and (target := resolve(module, event["path"])) is not None:
            _meet(target, ops, event["path"], facts, is_layer, found, depth)
    return found.consumer is not None


def _meet(target, ops, path, facts, is_layer, found: Found, depth: int) -> bool:
    if isinstance(target, TRANSPARENT) or type(target).__module__ == "torch.nn.modules.activation":
        return False
    if accepts(target, is_layer) is not None:
        found.consumer = (target, ops, path)
        return True
    if isinstance(target, (nn.Sequential, nn.ModuleList)):
        for i, child in enumerate(target):
            if _meet(child, ops, f"{path}.{i}", facts, is_layer, found, depth):
                return True
            if not _transparent(child, facts):
                return False
        return False
    own = facts_for(target, facts)
    if own is not None and depth < 8 and _walk(target, own, ops, facts, is_layer, found, depth + 1):
        return True
    weight = target._parameters.get("weight")
    if weight is not None and weight.dim() == 1 and not list(target.children()):  # a per-feature scale: a norm
        found.consumer = (target, ops, path)
        return True
    return False


# ----- axis bookkeeping -----
def apply_ops(rank: int, ops) -> list | None:
    """The input's axes (each a tuple of original axes, () for a new one, None unknown) after `ops`."""
    labels: list = [(i,) for i in range(rank)]
    for op in ops:
        name, args = op[0], op[1:]
        n = len(labels)
        try:
            if name == "permute":
                if len(args) != n:
                    return None
                labels = [labels[i] for i in args]
            elif name == "transpose":
                i, j = (a % n for a in args)
                labels[i], labels[j] = labels[j], labels[i]
            elif name == "unsqueeze":
                labels.insert(args[0] % (n + 1), ())
            elif name == "squeeze":
                labels = [l for l in labels if l != ()] if args[0] is None else labels[:args[0] % n] + labels[args[0] % n + 1:]
            elif name == "select":
                del labels[args[0]]
            elif name == "unknown":
                labels[args[0]] = None
            elif name == "flatten":
                s, e = args[0] % n, args[1] % n
                merged = None if any(l is None for l in labels[s:e + 1]) else tuple(a for l in labels[s:e + 1] for a in l)
                labels = labels[:s] + [merged] + labels[e + 1:]
            elif name == "reshape":
                labels = [labels[0]] + [None] * (args[0] - 1)
            elif name == "rearrange":
                left, right = args
                if len(left) != n:
                    return None
                names = {g[0]: labels[i] for i, g in enumerate(left) if len(g) == 1}
                labels = []
                for group in right:
                    parts = [() if g == "1" else names.get(g) for g in group]
                    labels.append(None if any(p is None for p in parts) else tuple(a for p in parts for a in p))
        except (IndexError, ZeroDivisionError, TypeError):
            return None
    return labels


def _rank_fits(rank: int, found: Found) -> tuple[bool, int]:
    exact = [(e, ops) for e, ops, _ in found.events if "exact" in e]
    hits = 0
    for event, ops, _ in found.events:
        labels = apply_ops(rank, ops)
        if labels is None:
            continue
        if "at_least" in event and len(labels) < event["at_least"]:
            return False, 0
        if "exact" in event and len(labels) == event["exact"]:
            hits += 1
        if event["kind"] == "stft" and len(labels) > 2:
            return False, 0
    if exact and not hits:
        return False, 0
    return True, hits


def _axis_names(rank: int, found: Found) -> dict[int, str]:
    names: dict[int, str] = {}
    for event, ops, _ in found.events:
        labels = apply_ops(rank, ops)
        if labels is None or "names" not in event or len(labels) != len(event["names"]):
            continue
        for label, name in zip(labels, event["names"]):
            if label and len(label) == 1 and name not in ("_",) and " " not in name:
                names.setdefault(label[0], name)
    return names


def _role(name: str | None, axis: int, rank: int, fixed: dict, lengths=()) -> str:
    """What a free axis holds: by the name the forward unpacks it under, else by its place (a
    sequence's other axis is its length when the first module fixed one of the two with a
    width, its features when the fixed one is a length the constructor names)."""
    if name:
        key = name.lower().strip("_")
        if rank == 5 and key in ("d", "t", "depth", "frames", "bands"):
            return "depth"
        for role, words in ROLES.items():
            if key in words or key.rstrip("0123456789") in words:
                return role
    if rank == 3:
        other = fixed.get(3 - axis)
        if other is not None:
            return "feature" if other in lengths else "length"
        return "length" if axis == 1 else "feature"
    if rank == 4:
        return "channel" if axis == 1 else "space"
    if rank == 5:
        return ("channel", "depth", "space", "space")[axis - 1]
    return "length"


def length_hints(model: nn.Module) -> list[int]:
    """Lengths the model's own sizes fix: a norm over (length, width) (`nn.LayerNorm((250, d))`),
    a position embedding parameter of shape (1, length, width) (also less one class token)."""
    out = []
    for name, module in model.named_modules():
        shape = getattr(module, "normalized_shape", None)
        if isinstance(module, nn.LayerNorm) and shape is not None and len(shape) >= 2:
            out.append(int(shape[0]))
    for name, param in model.named_parameters():
        if param.dim() == 3 and param.shape[0] == 1 and "pos" in name.rsplit(".", 1)[-1].lower() and param.shape[1] > 1:
            out += [int(param.shape[1]), int(param.shape[1]) - 1]
    return list(dict.fromkeys(out))


def candidates(model: nn.Module, facts: dict, is_layer, kwargs: dict, batch: int,
               length: int) -> tuple[list[InputSpec], set[int] | None]:
    """(shapes the forward's own code allows, the rank with the most evidence first, small first;
    the ranks it allows, None when nothing it does says)."""
    found = read(model, facts, is_layer)
    if not found.events and found.consumer is None:
        return [], None
    consumer = accepts(found.consumer[0], is_layer) if found.consumer else None
    stft = next((e for e, _, _ in found.events if e["kind"] == "stft"), None)
    ranked = []
    for rank in range(1, 6):
        fits, hits = _rank_fits(rank, found)
        fixed, note = _fixed(rank, found, consumer)
        if not fits or fixed is None:
            continue
        evidence = hits + (1 if consumer and consumer[0] else 0) + (1 if stft else 0)
        ranked.append((-evidence, (3, 2, 4, 5, 1).index(rank), rank, fixed, note))
    out: list[InputSpec] = []
    for _, _, rank, fixed, note in sorted(ranked):
        out += _shapes(rank, fixed, note, found, consumer, stft, model, kwargs, batch, length)
    said = stft or any("exact" in e for e, _, _ in found.events) or (consumer and consumer[0])
    return out[:MAX_CANDIDATES], ({r for _, _, r, _, _ in ranked} if said else None)


def _fixed(rank: int, found: Found, consumer) -> tuple[dict | None, str]:
    """{original axis: width} the first module fixes for this rank (None: the rank cannot be)."""
    if consumer is None:
        return {}, ""
    ranks, widths, _, label = consumer
    labels = apply_ops(rank, found.consumer[1])
    if labels is None:
        return {}, ""
    if ranks and len(labels) not in ranks:
        return None, ""
    fixed, said = {}, []
    moved = bool(found.consumer[1])
    for axis, width in widths.items():
        if not -len(labels) <= axis < len(labels):
            return None, ""
        label = labels[axis]
        own = "last axis" if axis % len(labels) == len(labels) - 1 else f"axis {axis % len(labels)}"
        where = (f"axis {label[0]} of the input (its {own} after the forward's transposes)" if moved and label
                 and len(label) == 1 else ("the " if own == "last axis" else "") + own)
        if label == ():
            if width != 1:
                return None, ""
        elif label is not None and len(label) == 1:
            if label[0] == 0 or fixed.get(label[0], width) != width:
                return None, ""
            fixed[label[0]] = width
            said.append(f"{width} on {where}")
    path = found.consumer[2]
    return fixed, f"{path} ({consumer[3]}) expects " + " and ".join(said) if said else f"it meets {path} ({consumer[3]})"


def _shapes(rank, fixed, note, found, consumer, stft, model, kwargs, batch, length) -> list[InputSpec]:
    """The shapes of one rank, smallest first; each says where every free size came from."""
    names = _axis_names(rank, found)
    tokens = consumer[2] if consumer else None
    options = []
    unpacked = [e.get("why") for e, _, _ in found.events if e.get("why") and "exact" in e and e.get("names")]
    seq = [v for _, v in _flat(ints(kwargs, SEQ_NAMES))]
    for axis in range(1, rank):
        if axis in fixed:
            options.append([(fixed[axis], "")])
            continue
        letter = names.get(axis) or f"axis {axis}"
        role = _role(names.get(axis), axis, rank, fixed, seq)
        if stft and rank <= 2:
            n_fft = stft.get("n_fft") or _attr_int(found, stft)
            values = ([(max(length, 8 * n_fft), f"a raw signal for torch.stft of {max(length, 8 * n_fft)} samples "
                                                f"(8 x n_fft={n_fft})")] if n_fft else
                      [(length, "a raw signal for torch.stft (--length)"), (16000, "a raw signal for torch.stft")])
        elif role in ("channel", "depth", "feature", "space"):
            names_for = {"channel": CHANNEL_NAMES + WIDTH_NAMES, "depth": CHANNEL_NAMES + WIDTH_NAMES + SEQ_NAMES,
                         "feature": WIDTH_NAMES + ("d_model", "dim", "hidden_size"),
                         "space": IMAGE_NAMES + ("patch_size", "window_size")}[role]
            own = [(v, f"{letter} = {v} ({n})") for n, v in _flat(ints(kwargs, names_for)) if v >= (4 if role == "space" else 1)]
            default = {"channel": [3, 1], "depth": [16, 32], "feature": [64], "space": list(SPATIAL)}[role]
            values = own[:2] + [(v, f"{letter} = {v}, small first") for v in default if role in ("space", "depth") or not own]
        else:
            values = ([(v, f"{letter} = {v} ({n})") for n, v in _flat(ints(kwargs, SEQ_NAMES))][:1]
                      + [(length, f"{letter} = {length} (--length)")]
                      + [(v, f"{letter} = {v}, fixed by the model's sizes") for v in length_hints(model)[:2]])
        options.append(list({v: (v, why) for v, why in reversed(values)}.values())[::-1])
    spatial = [a for a in range(1, rank) if a not in fixed and _role(names.get(a), a, rank, fixed, seq) == "space"]
    shapes = []
    for combo in itertools.product(*options):
        shape = (batch, *(v for v, _ in combo))
        if len(spatial) > 1 and len({shape[a] for a in spatial}) > 1:
            continue  # square images and cubes
        if math.prod(shape[1:]) <= MAX_ELEMENTS:
            said = list(dict.fromkeys(why for _, why in combo if why))
            shapes.append((shape, said))
    shapes.sort(key=lambda item: math.prod(item[0]))
    head = [w for w in unpacked if w][:1] + ([note] if note else [])
    return [InputSpec(shape, tokens or None, "the forward: " + "; ".join(head + said) if head + said else f"rank {rank}")
            for shape, said in shapes[:6]]


def _flat(found):
    return [(n, v[0] if isinstance(v, tuple) else v) for n, v in found]


def _attr_int(found: Found, stft: dict) -> int | None:
    for event, _, owner in found.events:
        if event is stft and stft.get("n_fft_attr"):
            value = owner
            for part in stft["n_fft_attr"].split("."):
                value = getattr(value, part, None)
            return value if isinstance(value, int) and value > 0 else None
    return None
