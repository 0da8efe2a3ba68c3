"""Smoke settings: built-in defaults and the validation of `[[tool.mambafix.smoke]]` entries.

Plain data and checks; imports nothing else of mambafix (the configuration imports this)."""

from __future__ import annotations

DEFAULTS = {
    "init": {},
    "scales": [1.0, 10.0, 30.0, 100.0],
    "dtype": "float32",
    "device": "auto",
    "batch": 2,
    "length": 256,
    "width": None,
    "train_steps": 0,
    "gradients": True,
}

# [[tool.mambafix.smoke]] keys -> spec keys
ENTRY_KEYS = {"target", "factory", "init", "input-shape", "input-dtype", "vocab-size", "dtype", "device", "scales",
              "train-steps", "gradients", "memory-limit", "trial-timeout"}
INPUT_DTYPES = ("float", "long")
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")


def validate_entry(entry: dict, origin: str) -> dict:
    """Check one [[tool.mambafix.smoke]] table; returns it as spec keys. Raises ValueError naming the key."""
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise ValueError(f"{origin}: unknown key {unknown[0]!r} in [[tool.mambafix.smoke]] (known: {', '.join(sorted(ENTRY_KEYS))})")
    if "target" in entry and "factory" in entry:
        raise ValueError(f"{origin}: a [[tool.mambafix.smoke]] entry has target or factory, not both")
    target = entry.get("target", entry.get("factory"))
    if not isinstance(target, str) or ":" not in target:
        raise ValueError(f"{origin}: [[tool.mambafix.smoke]] needs target = \"path/to/file.py:Class\" or \"package.module:Class\" "
                         "(or factory = \"package.module:function\" returning the model)")
    spec: dict = {"target": target}
    if "init" in entry:
        if not isinstance(entry["init"], dict):
            raise ValueError(f"{origin}: smoke.init must be a table of constructor arguments")
        spec["init"] = dict(entry["init"])
    if "input-shape" in entry:
        try:
            spec.update(shape_spec(entry["input-shape"]))
        except ValueError as exc:
            raise ValueError(f"{origin}: smoke.input-shape {exc}") from None
    for key, choices in (("input-dtype", INPUT_DTYPES), ("dtype", DTYPES), ("device", DEVICES)):
        if key in entry:
            if entry[key] not in choices:
                raise ValueError(f"{origin}: smoke.{key} must be one of {', '.join(choices)}, got {entry[key]!r}")
            spec[key.replace("-", "_")] = entry[key]
    if "vocab-size" in entry:
        vocab = entry["vocab-size"]
        if not isinstance(vocab, int) or isinstance(vocab, bool) or vocab < 1:
            raise ValueError(f"{origin}: smoke.vocab-size must be a whole number >= 1, got {vocab!r}")
        spec["vocab_size"] = vocab
    if "gradients" in entry:
        if not isinstance(entry["gradients"], bool):
            raise ValueError(f"{origin}: smoke.gradients must be true or false, got {entry['gradients']!r}")
        spec["gradients"] = entry["gradients"]
    for key in ("memory-limit", "trial-timeout"):
        if key in entry:
            value = entry[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{origin}: smoke.{key} must be a positive number, got {value!r}")
            spec[key.replace("-", "_")] = float(value)
    if "scales" in entry:
        scales = entry["scales"]
        if not (isinstance(scales, list) and scales and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in scales)):
            raise ValueError(f"{origin}: smoke.scales must be a list of positive numbers, got {scales!r}")
        spec["scales"] = [float(v) for v in scales]
    if "train-steps" in entry:
        steps = entry["train-steps"]
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"{origin}: smoke.train-steps must be a whole number >= 0, got {steps!r}")
        spec["train_steps"] = steps
    return spec


INFER = "..."  # `--input-shape 2,256,...`: batch and length given, the rest inferred


def shape_spec(shape) -> dict:
    """Spec keys for an input shape: the exact shape of any rank, batch first (`[2, 16000]` is a
    2-D raw signal), or batch and length followed by "..." (the rest inferred from the model).
    Raises ValueError."""
    shape = list(shape) if isinstance(shape, (list, tuple)) else shape
    infer = isinstance(shape, list) and len(shape) == 3 and shape[-1] == INFER
    numbers = shape[:-1] if infer else shape
    if not (isinstance(numbers, list) and len(numbers) >= 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in numbers)):
        raise ValueError("must be the full input shape [batch, ...] of positive whole numbers, or "
                         f"[batch, length, \"...\"] to infer the rest, got {shape!r}")
    if infer:
        return {"batch": numbers[0], "length": numbers[1]}
    return {"batch": numbers[0], "input_shape": numbers}


def parse_shape(text: str) -> dict:
    """`--input-shape`'s value: `2,3,224,224`, `2,16000`, or `2,256,...`. Raises ValueError."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return shape_spec([p if p == INFER else int(p) for p in parts])
    except ValueError as exc:
        if "must be" in str(exc):
            raise
        raise ValueError(f"--input-shape must be whole numbers separated by commas (or end with ,...), got {text!r}") from None
