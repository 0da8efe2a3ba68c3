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
}

# [[tool.mambafix.smoke]] keys -> spec keys
ENTRY_KEYS = {"target", "init", "input-shape", "dtype", "device", "scales", "train-steps"}
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")


def validate_entry(entry: dict, origin: str) -> dict:
    """Check one [[tool.mambafix.smoke]] table; returns it as spec keys. Raises ValueError naming the key."""
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise ValueError(f"{origin}: unknown key {unknown[0]!r} in [[tool.mambafix.smoke]] (known: {', '.join(sorted(ENTRY_KEYS))})")
    target = entry.get("target")
    if not isinstance(target, str) or ":" not in target:
        raise ValueError(f"{origin}: [[tool.mambafix.smoke]] needs target = \"path/to/file.py:Class\" or \"package.module:Class\"")
    spec: dict = {"target": target}
    if "init" in entry:
        if not isinstance(entry["init"], dict):
            raise ValueError(f"{origin}: smoke.init must be a table of constructor arguments")
        spec["init"] = dict(entry["init"])
    if "input-shape" in entry:
        shape = entry["input-shape"]
        if not (isinstance(shape, list) and len(shape) in (2, 3)
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
            raise ValueError(f"{origin}: smoke.input-shape must be [batch, length] or [batch, length, width], got {shape!r}")
        spec["batch"], spec["length"] = shape[0], shape[1]
        if len(shape) == 3:
            spec["width"] = shape[2]
    if "dtype" in entry:
        if entry["dtype"] not in DTYPES:
            raise ValueError(f"{origin}: smoke.dtype must be one of {', '.join(DTYPES)}, got {entry['dtype']!r}")
        spec["dtype"] = entry["dtype"]
    if "device" in entry:
        if entry["device"] not in DEVICES:
            raise ValueError(f"{origin}: smoke.device must be one of {', '.join(DEVICES)}, got {entry['device']!r}")
        spec["device"] = entry["device"]
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
