"""smoke imports a target file as Python would: under its package's dotted name (relative imports
work), with the current directory and the repository root on sys.path, and a missing
dependency named without a guessed install hint.

The layouts are reproductions in our own words of public repositories (cited per test)."""

import importlib.util

import pytest

from conftest import dedent
from mambafix.smoke.importing import DISTRIBUTIONS, distribution_for, missing_dependency, plan_import


def _tree(root, files: dict[str, str]):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root


def test_a_file_in_a_package_is_imported_under_its_dotted_name(tmp_path):
    _tree(tmp_path, {"repo/pyproject.toml": "", "repo/look/__init__.py": "", "repo/look/models/__init__.py": "",
                     "repo/look/models/net.py": ""})
    plan = plan_import(tmp_path / "repo/look/models/net.py", cwd=tmp_path)
    assert plan.module == "look.models.net"
    assert plan.paths[0] == str((tmp_path / "repo").resolve())
    assert plan.paths[-1] == str((tmp_path / "repo/look/models").resolve())  # the file's folder last


def test_plain_folders_are_namespace_packages_from_the_repository_root(tmp_path):
    _tree(tmp_path, {"repo/.git/HEAD": "", "repo/models/net.py": "", "repo/models/blocks.py": ""})
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    plan = plan_import(tmp_path / "repo/models/net.py", cwd=elsewhere)
    assert plan.module == "models.net"
    assert str((tmp_path / "repo").resolve()) in plan.paths and str(elsewhere.resolve()) in plan.paths
    # a folder named like a regular package elsewhere (the standard library's `test`) would
    # lose to it: the file is then a top-level module, its folder on sys.path
    _tree(tmp_path, {"repo/test/net.py": ""})
    assert plan_import(tmp_path / "repo/test/net.py", cwd=elsewhere).module == "net"
    # a file right in the current directory, outside any repository, is a top-level module
    _tree(tmp_path, {"plain/net.py": ""})
    assert plan_import(tmp_path / "plain/net.py", cwd=tmp_path / "plain").module == "net"


def test_missing_dependencies_are_named_with_a_known_distribution_or_none(monkeypatch):
    assert DISTRIBUTIONS["sklearn"] == "scikit-learn"
    assert missing_dependency("models.net", "sklearn.metrics") == (
        "models.net imports sklearn.metrics, which is not installed here (pip install scikit-learn)")
    assert missing_dependency("net", "surely_nothing_xyz") == (
        "net imports surely_nothing_xyz, which is not installed here (install the distribution that provides it)")
    # installed metadata wins: typer's distribution is found by its import name
    assert distribution_for("typer.nothing_there") == "typer"


torch = pytest.importorskip("torch")

from mambafix.smoke.runner import run_smoke  # noqa: E402

SHORT = {"length": 16, "scales": [1, 30], "timeout": 240, "gradients": False}

STACK = """
    import torch.nn as nn
    from mamba_ssm import Mamba


    class Stack(nn.Module):
        def __init__(self, d_model=8, n=2):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d_model) for _ in range(n)])
            self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(n)])

        def forward(self, x):
            for layer, norm in zip(self.layers, self.norms):
                x = norm(layer(x))
            return x
"""


def test_relative_imports_inside_a_package_work(tmp_path):
    """Layout of JusperLee/SPMamba look2hear/models/SPMamba.py: the model file imports its
    siblings and its parent package relatively (`from .base_model import BaseModel`,
    `from ..layers import Stft`)."""
    _tree(tmp_path, {
        "repo/setup.py": "",
        "repo/look/__init__.py": "",
        "repo/look/layers/__init__.py": "from .blocks import Stack\n",
        "repo/look/layers/blocks.py": STACK,
        "repo/look/models/__init__.py": "",
        "repo/look/models/base_model.py": """
            import torch.nn as nn


            class BaseModel(nn.Module):
                def describe(self):
                    return type(self).__name__
        """,
        "repo/look/models/net.py": """
            from ..layers import Stack
            from .base_model import BaseModel


            class Net(BaseModel):
                def __init__(self, d_model=8):
                    super().__init__()
                    self.body = Stack(d_model)

                def forward(self, x):
                    return self.body(x)
        """,
    })
    outcome = run_smoke(f"{tmp_path / 'repo/look/models/net.py'}:Net", **SHORT)
    assert outcome.ok, outcome.error
    assert {r["name"] for r in outcome.data["result"]["layers"] if r["kind"] == "mamba"} == {
        "body.layers.0", "body.layers.1"}


def test_a_repository_module_imported_from_the_root_is_found(tmp_path):
    """Layout of wzhwzhwzh0921/S-D-Mamba model/S_Mamba.py (`from layers.Mamba_EncDec import
    Encoder`, run from the repository root), here with plain folders (no __init__.py), the
    shape that was reported as 'not installed (pip install layers)'."""
    _tree(tmp_path, {
        "repo/.git/HEAD": "",
        "repo/layers/encdec.py": STACK,
        "repo/model/s_mamba.py": """
            import torch.nn as nn
            from layers.encdec import Stack


            class Model(nn.Module):
                def __init__(self, d_model=8):
                    super().__init__()
                    self.encoder = Stack(d_model)

                def forward(self, x):
                    return self.encoder(x)
        """,
    })
    outcome = run_smoke(f"{tmp_path / 'repo/model/s_mamba.py'}:Model", **SHORT)
    assert outcome.ok, outcome.error
    assert outcome.stable


def test_a_missing_module_of_the_tree_is_the_targets_bug_not_an_install(tmp_path):
    _tree(tmp_path, {
        "repo/pyproject.toml": "",
        "repo/layers/__init__.py": "",
        "repo/model/net.py": "from layers.gone import Stack\n",
    })
    outcome = run_smoke(f"{tmp_path / 'repo/model/net.py'}:Net", **SHORT)
    assert not outcome.ok
    assert "not installed" not in outcome.error and "layers.gone" in outcome.error
    assert outcome.trace and "Traceback" in outcome.trace


def test_a_missing_third_party_module_names_the_distribution_it_knows(tmp_path):
    _tree(tmp_path, {"repo/.git/HEAD": "", "repo/net.py": "from sklearn.metrics import f1_score\n"})
    if importlib.util.find_spec("sklearn") is not None:
        pytest.skip("scikit-learn is installed here")
    outcome = run_smoke(f"{tmp_path / 'repo/net.py'}:Net", **SHORT)
    assert not outcome.ok and outcome.trace is None
    assert outcome.error == "net imports sklearn, which is not installed here (pip install scikit-learn)"


def test_the_trees_own_models_folder_wins_over_another_module_named_models(tmp_path):
    """A time-series library layout (Peilin-FF/exp-LN models/Mamba.py: `from models.ssm... import`
    from the repository root), its models/ a plain folder, and another module named `models` on
    the path before it: Python alone would import the other one ("'models' is not a package")."""
    import subprocess
    import sys

    _tree(tmp_path, {"repo/.git/HEAD": "", "repo/models/ssm/block.py": "WHO = 'the repository'\n",
                     "repo/models/net.py": "from models.ssm.block import WHO\n",
                     "site/models.py": "WHO = 'another module'\n"})
    code = ("import sys; from pathlib import Path; from mambafix.smoke.importing import apply_plan, plan_import; "
            f"sys.path.insert(0, {str(tmp_path / 'site')!r}); plan = plan_import(Path({str(tmp_path / 'repo/models/net.py')!r})); "
            "apply_plan(plan); import importlib; print(plan.module, importlib.import_module(plan.module).WHO)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path / "repo")
    assert out.stdout.strip() == "models.net the repository", out.stderr
    # a standard-library name is left to Python: a folder named logging does not replace it
    _tree(tmp_path, {"repo/logging/handlers_of_ours.py": ""})
    code = ("import sys; from pathlib import Path; from mambafix.smoke.importing import apply_plan, plan_import; "
            f"apply_plan(plan_import(Path({str(tmp_path / 'repo/models/net.py')!r}))); import logging; "
            "print(hasattr(logging, 'getLogger'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == "True", out.stderr
