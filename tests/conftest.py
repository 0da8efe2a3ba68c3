import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "seed_model"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MAMBAFIX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def dedent(src: str) -> str:
    return textwrap.dedent(src).lstrip("\n")


def run_check(src: str, select=("MF001", "MF002", "MF003"), path="model.py", index=None):
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.file import check_source

    config = with_cli_overrides(load_config([ROOT]), select=list(select))
    return check_source(dedent(src), path, config, index)
