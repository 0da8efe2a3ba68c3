"""The probe with the real kernels against the reference backend, forward and backward verdicts.

On the bundled example (BiMamba, d_model 100, length 1023), before and after `apply --residual`
(in a temporary copy): `smoke` runs once with mamba_ssm's CUDA kernels and once with the
reference backend on the same GPU, same seed, same parameters (the kernels' run saves its
state_dict, the reference run loads it), and every layer/scale verdict, activation and gradient,
is compared. Prints one line per case and writes the reports to $OUT (or ./gpu-out).

    python bench/gpu/smoke_agreement.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mambafix.checks.base import FixOptions  # noqa: E402
from mambafix.config import load_config  # noqa: E402
from mambafix.fix.apply import apply_paths  # noqa: E402
from mambafix.smoke.runner import run_smoke  # noqa: E402


def verdicts(outcome) -> dict:
    return {(r["name"], r["scale"]): r["verdict"] for r in outcome.data["result"]["layers"]}


def main() -> int:
    out = Path(os.environ.get("OUT", "gpu-out"))
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if "--cpu" not in sys.argv else "cpu"
    length = 1023 if device == "cuda" else 64
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "seed_model"
        shutil.copytree(ROOT / "examples" / "seed_model", pkg, ignore=shutil.ignore_patterns("__pycache__"))
        for stage in ("before", "after"):
            if stage == "after":
                apply_paths([pkg], load_config([pkg]), FixOptions(residual=True))
            target = f"{pkg / 'bimamba.py'}:BiMamba"
            weights = Path(tmp) / f"{stage}.pt"
            kernels = run_smoke(target, device=device, length=length, save_weights=str(weights), timeout=500)
            reference = run_smoke(target, device=device, length=length, backend="reference", weights=str(weights),
                                  timeout=500)
            for name, o in (("kernels", kernels), ("reference", reference)):
                (out / f"smoke-{stage}-{name}.json").write_text(json.dumps({"ok": o.ok, "error": o.error, **o.data},
                                                                           default=str))
            if not (kernels.ok and reference.ok):
                print(stage, "error:", kernels.error or reference.error)
                ok = False
                continue
            a, b = verdicts(kernels), verdicts(reference)
            same = sum(a[k] == b.get(k) for k in a)
            grads = [(r["name"], r["scale"], r["grad_ratio"]) for r in kernels.data["result"]["layers"]][:4]
            print(f"{stage}: {kernels.data['result']['backend']} stable={kernels.stable} vs reference "
                  f"stable={reference.stable}; {same}/{len(a)} verdicts identical; first gradient ratios {grads}")
            ok = ok and same == len(a) and kernels.stable == reference.stable
    print("AGREE" if ok else "DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
