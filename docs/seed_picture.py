"""Draws the README's before/after picture of the bundled example (docs/images/seed_before_after.png).

The seed's BiMamba (examples/seed_model/bimamba.py) as it is, and its `apply --residual`
version, probed on the same seeds and parameters (`mambafix smoke --compare`), drawn by
`mambafix.smoke.plotting`. Needs the smoke extra (torch, matplotlib). Run from anywhere:

    python docs/seed_picture.py [OUT.png]
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mambafix.config import load_config  # noqa: E402
from mambafix.smoke.plotting import plot  # noqa: E402
from mambafix.smoke.runner import compare_patched  # noqa: E402
from mambafix.smoke.settings import DEFAULTS  # noqa: E402


def main(out: Path) -> None:
    target = f"{ROOT / 'examples/seed_model/bimamba.py'}:BiMamba"
    spec = {**DEFAULTS, "length": 128}
    before, after = compare_patched(target, load_config([ROOT / "examples/seed_model"]), echo=lambda *a: None, **spec)
    plot([before, after], out)
    print(f"{out}: before {'STABLE' if before.stable else 'UNSTABLE'}, after {'STABLE' if after.stable else 'UNSTABLE'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/images/seed_before_after.png")
