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


def headline(message: str) -> str:
    """An MF001 message without its data-flow path (the last parenthesis: what reaches what)."""
    return message.rsplit(" (", 1)[0] if message.endswith(", no norm between)") else message


def run_check(src: str, select=("MF001", "MF002", "MF003"), path="model.py", index=None):
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.file import check_source

    config = with_cli_overrides(load_config([ROOT]), select=list(select))
    return check_source(dedent(src), path, config, index)
