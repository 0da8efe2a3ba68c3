"""The structure itself: imports run one way, the registry matches the catalogue, modules stay
short, and the one statement walker reaches every place a rule can look (match cases, classes
nested in functions or classes, one-line suites)."""

import ast
import sys
from pathlib import Path

import pytest

from conftest import ROOT, dedent, run_check

PACKAGE = ROOT / "mambafix"
MAX_MODULE_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph() -> dict[str, set[str]]:
    """Every import of every mambafix module, also those inside functions (lazy imports)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:  # the module named (a package's own __init__ only if named)
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_imports_have_no_cycle():
    graph = _import_graph()
    assert len(graph) > 30
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_layers_import_downwards_only():
    """syntax knows no rule, facts neither the data flow nor a check, the data flow no check nor
    engine, checks no engine, and config never the probe."""
    graph = _import_graph()
    forbidden = {
        "mambafix.syntax": ("mambafix.facts", "mambafix.checks", "mambafix.engine", "mambafix.fix", "mambafix.config"),
        "mambafix.facts": ("mambafix.flow", "mambafix.checks", "mambafix.engine", "mambafix.fix"),
        "mambafix.flow": ("mambafix.checks", "mambafix.engine", "mambafix.fix", "mambafix.smoke", "mambafix.report",
                          "mambafix.cli"),
        "mambafix.facts.transfer": ("mambafix.",),  # plain data, cached and sent between files
        "mambafix.checks": ("mambafix.engine", "mambafix.fix", "mambafix.smoke"),
        "mambafix.engine": ("mambafix.fix", "mambafix.smoke", "mambafix.cli"),
        "mambafix.config": ("mambafix.smoke.probe", "mambafix.smoke.worker", "mambafix.smoke.targets", "mambafix.engine"),
        "mambafix.smoke.settings": ("mambafix.",),
    }
    for prefix, banned in forbidden.items():
        for module, targets in graph.items():
            if module == prefix or module.startswith(prefix + "."):
                bad = [t for t in targets if t.startswith(banned) and t != "mambafix"]
                assert bad == [], f"{module} imports {bad}"


def test_no_module_is_long():
    long = {p.relative_to(ROOT).as_posix(): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_every_package_says_what_lives_there():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, init


def test_registry_matches_the_catalogue():
    from mambafix.catalogue import load_rules
    from mambafix.checks.registry import REGISTRY, load_check

    assert sorted(REGISTRY) == sorted(load_rules())
    for code in REGISTRY:
        assert load_check(code).code == code


def test_checks_and_the_prefilter_load_without_libcst():
    import subprocess

    code = ("import sys; from mambafix.checks import registry, base; from mambafix.engine import project; "
            "from mambafix.config import load_config; project.Prefilter(load_config()); "
            "print(sorted(m for m in ('libcst', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


MATCH_FORWARD = """
import torch.nn as nn
from mamba_ssm import Mamba


class Switch(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

    def forward(self, x, mode="seq"):
        match mode:
            case "seq":
                for layer in self.layers:
                    x = layer(x)
                print("[BiMamba DEBUG] seq done")
            case _:
                pass
        return x
"""


def test_stack_loop_and_print_inside_a_match_case_are_found():
    codes = sorted(f.code for f in run_check(MATCH_FORWARD))
    assert codes == ["MF001", "MF003"]


@pytest.mark.parametrize("where", ["function", "class"])
def test_classes_nested_in_functions_and_classes_are_analysed(where):
    inner = dedent("""
        class Inner(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.blocks = nn.ModuleList([Mamba(d) for _ in range(3)])

            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                    print("[S6 DEBUG] block")
                return x
    """)
    body = "\n".join("    " + line if line else line for line in inner.splitlines())
    outer = "def build(d):\n" + body + "\n    return Inner(d)\n" if where == "function" else "class Outer:\n" + body + "\n"
    src = "import torch.nn as nn\nfrom mamba_ssm import Mamba\n\n\n" + outer
    found = run_check(src)
    assert sorted(f.code for f in found) == ["MF001", "MF003"]
    assert next(f for f in found if f.code == "MF001").message.startswith("Inner.blocks: 3 Mamba layers")


def test_a_one_line_loop_is_a_stack():
    src = """
import torch.nn as nn
from mamba_ssm import Mamba


class OneLine(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(4)])

    def forward(self, x):
        for layer in self.layers: x = layer(x)
        return x
"""
    assert [f.code for f in run_check(src)] == ["MF001"]


def test_smoke_path_finds_a_wrapper_defined_in_another_file(tmp_path):
    """check and smoke find classes through the same project API, cross-file rounds included."""
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths
    from mambafix.smoke.targets import resolve_jobs

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "wrap.py").write_text(dedent("""
        import torch.nn as nn
        from mamba_ssm import Mamba


        class Mixer(nn.Module):
            def __init__(self, d_model):
                super().__init__()
                self.ssm = Mamba(d_model)

            def forward(self, x):
                return self.ssm(x)
    """))
    (pkg / "enc.py").write_text(dedent("""
        import torch.nn as nn
        from pkg.wrap import Mixer


        class Encoder(nn.Module):
            def __init__(self, d_model=32, n=3):
                super().__init__()
                self.mixers = nn.ModuleList([Mixer(d_model) for _ in range(n)])

            def forward(self, x):
                for mixer in self.mixers:
                    x = mixer(x)
                return x
    """))
    config = load_config([tmp_path])
    report = check_paths([pkg], config, cache=False)
    assert [(Path(f.path).name, f.code) for f in report.findings] == [("enc.py", "MF001")]
    jobs = resolve_jobs([str(pkg)], config, {})
    assert [j.target for j in jobs] == [f"{pkg / 'enc.py'}:Encoder"]


@pytest.mark.parametrize("names_mamba", [False, True])
def test_a_warm_run_over_an_unchanged_tree_parses_no_file(tmp_path, monkeypatch, names_mamba):
    """Cross-file rounds are cached by content and by the class index they read."""
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths

    monkeypatch.setenv("MAMBAFIX_CACHE_DIR", str(tmp_path / "cache"))
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "wrap.py").write_text("import torch.nn as nn\nfrom mamba_ssm import Mamba\n\n\nclass Mixer(nn.Module):\n"
                                 "    def __init__(self, d):\n        super().__init__()\n        self.ssm = Mamba(d)\n\n"
                                 "    def forward(self, x):\n        return self.ssm(x)\n")
    comment = "# a stack of Mamba mixers\n" if names_mamba else ""
    (pkg / "enc.py").write_text(comment + "import torch.nn as nn\nfrom pkg.wrap import Mixer\n\n\nclass Enc(nn.Module):\n"
                                "    def __init__(self, d):\n        super().__init__()\n"
                                "        self.mixers = nn.ModuleList([Mixer(d) for _ in range(3)])\n\n"
                                "    def forward(self, x):\n        for m in self.mixers:\n            x = m(x)\n        return x\n")
    config = load_config([tmp_path])
    cold = check_paths([pkg], config, jobs=1)
    # without the word Mamba the prefilter passes enc.py over and only the round reads it;
    # with it, enc.py is read once alone, then again with the index
    assert (cold.files_parsed, cold.files_reread, len(cold.findings)) == (2, int(names_mamba), 1)
    warm = check_paths([pkg], config, jobs=1)
    assert (warm.files_parsed, warm.files_reread, warm.files_cached) == (0, 0, 2)
    assert warm.findings == cold.findings
    (pkg / "enc.py").write_text((pkg / "enc.py").read_text().replace("range(3)", "range(5)"))
    edited = check_paths([pkg], config, jobs=1)
    assert (edited.files_parsed, edited.files_reread, edited.files_cached) == (1, int(names_mamba), 1)
    assert "5 Mixer layers" in edited.findings[0].message


@pytest.mark.parametrize("wrapper", ["Mixer", "ssm_block"])
def test_a_file_that_only_names_a_wrapper_is_read_in_a_round(tmp_path, wrapper):
    """Files the prefilter passed over are matched to the class index by their identifiers
    (capitalised ones only while every indexed class name is capitalised)."""
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths

    (tmp_path / "wrap.py").write_text(f"import torch.nn as nn\nfrom mamba_ssm import Mamba\n\n\nclass {wrapper}(nn.Module):\n"
                                      "    def __init__(self, d):\n        super().__init__()\n        self.ssm = Mamba(d)\n\n"
                                      "    def forward(self, x):\n        return self.ssm(x)\n")
    (tmp_path / "enc.py").write_text(f"import torch.nn as nn\nfrom wrap import {wrapper}\n\n\nclass Enc(nn.Module):\n"
                                     "    def __init__(self, d):\n        super().__init__()\n"
                                     f"        self.blocks = nn.ModuleList([{wrapper}(d) for _ in range(2)])\n\n"
                                     "    def forward(self, x):\n        for b in self.blocks:\n            x = b(x)\n        return x\n")
    report = check_paths([tmp_path], load_config([tmp_path]), cache=False)
    assert [(f.path.endswith("enc.py"), f.code) for f in report.findings] == [(True, "MF001")]
