"""Scale: the class index answers by lookup, a warm run reads what changed, and what the analysis
cannot follow is said as such while the rest of the file is still checked (issue 27)."""

import random
from pathlib import Path

import pytest

from conftest import dedent, run_check

HEADER = "import torch.nn as nn\nfrom mamba_ssm import Mamba\n\n\n"


# -- the index answers by lookup ------------------------------------------------------------
def test_the_name_index_gives_what_a_scan_with_names_match_gives():
    """Every kind of match (the same path from another root, a re-export above the module, the
    key as a suffix of the name, an undotted name), and the first key in order where several do."""
    from mambafix.facts.naming import NameIndex, names_match

    rng = random.Random(27)
    parts, classes = ["pkg", "models", "blocks", "s4", "layers", "a"], ["Wrap", "S4", "Block"]

    def name():
        return ".".join([rng.choice(parts) for _ in range(rng.randint(0, 4))] + [rng.choice(classes)])

    for _ in range(1500):
        keys = list(dict.fromkeys(name() for _ in range(rng.randint(0, 10))))
        index = NameIndex(keys)
        for _ in range(12):
            query = name()
            assert index.find(query) == next((k for k in keys if names_match(k, query)), None), (keys, query)


def test_the_names_a_file_can_look_up_cover_what_the_resolver_qualifies(tmp_path):
    """A file no check wanted is read in a round only where the index answers a name it can look
    up: every dotted name the libcst resolver gives its chains is among those read off its bytes."""
    import libcst as cst

    from mambafix.engine.imports import qualified_names
    from mambafix.syntax.names import NameResolver, dotted
    from mambafix.syntax.walk import walk

    source = dedent("""
        import torch.nn as nn
        import models.blocks
        from .blocks import Wrap as W, Other
        from ..shared import layers
        try:
            from fast.kernels import (Fused,  # a fallback below
                                      Gate as G)
        except ImportError:
            from slow import Fused
        x = 1; import extra.mod as em

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = W(3)
                self.b = layers.norms.RMSNorm(2)
                self.c = models.blocks.Deep(4)
                self.d = nn.LayerNorm(3)
                self.e = (em
                          .Thing)(1)
                self.f = G(Fused(2))
    """).encode()
    module = cst.parse_module(source)
    resolver = NameResolver("top.sub")
    for node in walk(module):
        if isinstance(node, cst.Import):
            resolver.add_import(node)
        elif isinstance(node, cst.ImportFrom):
            resolver.add_import_from(node)
    looked_up = set()
    for node in walk(module):
        if isinstance(node, (cst.Name, cst.Attribute)) and dotted(node):
            looked_up.update(q for q in resolver.candidates(node) if "." in q and q.rpartition(".")[2][:1].isupper())
    read = qualified_names(source, "top.sub", lambda n: n[:1].isupper())
    assert looked_up <= read
    assert {"top.sub.blocks.Wrap", "top.shared.layers.norms.RMSNorm", "models.blocks.Deep", "fast.kernels.Gate",
            "slow.Fused", "extra.mod.Thing"} <= read


# -- bounded recursion; what is not followed is said ------------------------------------------
def _chain(n: int) -> str:
    """n wrapper classes, each defined before the class it wraps, and a stack of the outermost."""
    blocks = ["class C0(nn.Module):\n    def __init__(self, d):\n        super().__init__()\n"
              "        self.m = Mamba(d)\n\n    def forward(self, x):\n        return self.m(x)\n"]
    for i in range(1, n):
        blocks.append(f"class C{i}(nn.Module):\n    def __init__(self, d):\n        super().__init__()\n"
                      f"        self.inner = C{i - 1}(d)\n\n    def forward(self, x):\n        return self.inner(x)\n")
    stack = (f"class Stack(nn.Module):\n    def __init__(self, d, n=4):\n        super().__init__()\n"
             f"        self.layers = nn.ModuleList([C{n - 1}(d) for _ in range(n)])\n\n"
             "    def forward(self, x):\n        for layer in self.layers:\n            x = layer(x)\n        return x\n")
    return HEADER + stack + "\n\n" + "\n\n".join(reversed(blocks))


def test_a_deep_chain_of_wrappers_is_read_bottom_up_not_by_the_stack():
    """100 wrappers, each defined above the class it wraps: read by recursion this was ~1,300
    frames deep and reported 'cannot parse: nesting too deep' for a file Python parses."""
    findings = run_check(_chain(100), select=("MF001",))
    assert [(f.code, f.message.split(":")[0]) for f in findings] == [("MF001", "Stack.layers")]
    assert "4 C99 layers" in findings[0].message


def test_a_name_assigned_from_itself_is_read_to_its_end(tmp_path):
    """Reproductions of files reported 'cannot parse: nesting too deep' on a large tree, in short:
    a helper rebinding a local inside a Sequential around itself (state-spaces/s4,
    models/s4/s4.py, LinearActivation), a default read from itself (NVIDIA/NeMo,
    nemo/collections/diffusion/vae/blocks.py: `out_channels = in_channels if out_channels is None
    else out_channels`), a module moved from itself (`block = block.to(device)`), a helper that
    returns its own call. The stack in the same file is still found."""
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths

    (tmp_path / "m.py").write_text(HEADER + dedent("""
        def activation_linear(d, act):
            linear = nn.Linear(d, d)
            linear = nn.Sequential(linear, act)
            return linear

        def again(d):
            return again(d)

        class Odd(nn.Module):
            def __init__(self, d, out=None, flag=False):
                super().__init__()
                out = d if out is None else out
                self.out = out
                block = Mamba(d)
                block = block.to("cpu")
                self.block = block
                head = nn.Linear(d, d)
                head = nn.Sequential(head, nn.GELU()) if flag else head
                self.head = head
                self.proj = activation_linear(d, nn.GELU())
                self.rec = again(d)

            def forward(self, x):
                return self.head(self.block(x))

        class Stack(nn.Module):
            def __init__(self, d, n=3):
                super().__init__()
                self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
    """))
    report = check_paths([tmp_path], load_config([tmp_path]), cache=False, jobs=1)
    assert report.errors == [] and report.not_followed == []
    assert [f.message.split(":")[0] for f in report.findings] == ["Stack.layers"]


def test_a_class_the_analysis_fails_on_is_not_followed_and_the_rest_is_checked(tmp_path, monkeypatch):
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths
    from mambafix.facts import init_scan

    read_init = init_scan.read_init

    def failing(facts, cls):
        if cls.name.value == "Broken":
            raise RecursionError("maximum recursion depth exceeded")
        return read_init(facts, cls)

    monkeypatch.setattr(init_scan, "read_init", failing)
    (tmp_path / "m.py").write_text(HEADER + dedent("""
        class Broken(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.layers = nn.ModuleList([Mamba(d) for _ in range(3)])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x

        class Fine(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.layers = nn.ModuleList([Mamba(d) for _ in range(3)])

            def forward(self, x):
                print("[S6 DEBUG]", x.shape)
                for layer in self.layers:
                    x = layer(x)
                return x
    """))
    report = check_paths([tmp_path], load_config([tmp_path]), cache=False, jobs=1)
    assert report.errors == []
    assert [(Path(e.path).name, e.message) for e in report.not_followed] == [("m.py", "Broken: nesting too deep")]
    assert sorted((f.code, f.message.split(":")[0]) for f in report.findings)[0] == ("MF001", "Fine.layers")
    assert "MF003" in {f.code for f in report.findings}


def _wrapper_tree(folder: Path, depth: int) -> None:
    """A chain of wrappers across files: w0 wraps Mamba, w{i} wraps w{i-1}; a stack of the last."""
    pkg = folder / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "w0.py").write_text(HEADER + "class W0(nn.Module):\n    def __init__(self, d):\n        super().__init__()\n"
                               "        self.m = Mamba(d)\n\n    def forward(self, x):\n        return self.m(x)\n")
    for i in range(1, depth):
        # no needle of MF001 in these files: only the class index brings them in
        (pkg / f"w{i}.py").write_text(f"import torch.nn as nn\nfrom pkg.w{i - 1} import W{i - 1}\n\n\n"
                                      f"class W{i}(nn.Module):\n    def __init__(self, d, out=None):\n"
                                      "        super().__init__()\n        out = d if out is None else out\n"
                                      f"        self.width = out\n        self.inner = W{i - 1}(out)\n\n"
                                      "    def forward(self, x):\n        return self.inner(x)\n")
    (pkg / "stack.py").write_text(f"import torch.nn as nn\nfrom pkg.w{depth - 1} import W{depth - 1}\n\n\n"
                                  "class Stack(nn.Module):\n    def __init__(self, d):\n        super().__init__()\n"
                                  f"        self.layers = nn.ModuleList([W{depth - 1}(d) for _ in range(3)])\n\n"
                                  "    def forward(self, x):\n        for layer in self.layers:\n"
                                  "            x = layer(x)\n        return x\n")


@pytest.mark.parametrize("depth, found", [(3, True), (6, False)])
def test_wrappers_across_files_are_followed_a_bounded_number_of_rounds(tmp_path, depth, found):
    """Each round reads the files that can use what the last one learnt (an explicit worklist of
    at most MAX_ROUNDS rounds), never a recursion across files; a file a round reads that defines
    a name from itself is read to its end (before, 'cannot parse: nesting too deep' in a round)."""
    from mambafix.config import load_config
    from mambafix.engine.project import check_paths
    from mambafix.engine.rounds import MAX_ROUNDS

    assert MAX_ROUNDS == 3
    _wrapper_tree(tmp_path, depth)
    report = check_paths([tmp_path / "pkg"], load_config([tmp_path]), cache=False, jobs=1)
    assert report.errors == [] and report.not_followed == []
    assert bool(report.findings) == found
    if found:
        assert [Path(f.path).name for f in report.findings] == ["stack.py"]


# -- a warm run costs what changed ---------------------------------------------------------------
def _two_pairs(folder: Path) -> None:
    for k in (1, 2):
        (folder / f"wrap{k}.py").write_text(HEADER + f"class Mixer{k}(nn.Module):\n    def __init__(self, d):\n"
                                            "        super().__init__()\n        self.ssm = Mamba(d)\n\n"
                                            "    def forward(self, x):\n        return self.ssm(x)\n")
        (folder / f"enc{k}.py").write_text(f"import torch.nn as nn\nfrom wrap{k} import Mixer{k}\n\n\n"
                                           f"class Enc{k}(nn.Module):\n    def __init__(self, d):\n        super().__init__()\n"
                                           f"        self.mixers = nn.ModuleList([Mixer{k}(d) for _ in range(3)])\n\n"
                                           "    def forward(self, x):\n        for m in self.mixers:\n"
                                           "            x = m(x)\n        return x\n")


def test_a_warm_run_reads_no_file_and_an_edit_rereads_only_what_its_lookups_change(tmp_path, monkeypatch):
    from mambafix.config import load_config
    from mambafix.engine import sources
    from mambafix.engine.project import check_paths

    monkeypatch.setattr(sources, "RACY_NS", 0)  # the files here were all written just now
    _two_pairs(tmp_path)
    config = load_config([tmp_path])
    cold = check_paths([tmp_path], config, jobs=1)
    assert sorted(Path(f.path).name for f in cold.findings) == ["enc1.py", "enc2.py"]

    reads = []
    real = sources.read_bytes
    monkeypatch.setattr(sources, "read_bytes", lambda p: reads.append(p) or real(p))
    warm = check_paths([tmp_path], config, jobs=1)
    assert (reads, warm.files_parsed, warm.files_reread, warm.findings) == ([], 0, 0, cold.findings)

    # Mixer1 now normalizes its output: its summary changes, so enc1.py (which looks it up) is
    # read again with the index, and enc2.py (which does not) is not
    wrap = tmp_path / "wrap1.py"
    wrap.write_text(wrap.read_text().replace("self.ssm = Mamba(d)", "self.ssm = Mamba(d)\n        self.norm = nn.LayerNorm(d)")
                    .replace("return self.ssm(x)", "return self.norm(self.ssm(x))"))
    edited = check_paths([tmp_path], config, jobs=1)
    assert [Path(p).name for p in reads] == ["wrap1.py"]
    assert (edited.files_parsed, edited.files_reread) == (2, 0)  # wrap1.py alone, enc1.py in the round
    assert [Path(f.path).name for f in edited.findings] == ["enc2.py"]
    assert edited.findings == check_paths([tmp_path], config, cache=False, jobs=1).findings


def test_a_file_with_no_class_is_not_parsed_for_the_stack_rules(tmp_path):
    """MF001's findings and the summaries it exports are all in classes: a script that only
    imports and calls a Mamba layer is not parsed for it; its debug prints still are for MF003.
    (MF005-MF007, whose findings can stand in a script, are left out of the selection.)"""
    from dataclasses import replace

    from mambafix.config import load_config
    from mambafix.engine.project import check_paths

    (tmp_path / "train.py").write_text("from mamba_ssm import Mamba\nimport torch\n\nmodel = Mamba(16)\n")
    (tmp_path / "debug.py").write_text('import torch\nfrom mamba_ssm import Mamba\n\nprint("[S6 DEBUG]", Mamba)\n')
    (tmp_path / "net.py").write_text(HEADER + "class Net(nn.Module):\n    def __init__(self, d):\n"
                                     "        super().__init__()\n        self.m = Mamba(d)\n")
    config = replace(load_config([tmp_path]), select=frozenset({"MF001", "MF002", "MF003"}))
    report = check_paths([tmp_path], config, cache=False, jobs=1)
    assert (report.files_checked, report.files_parsed) == (3, 2)
    assert [(Path(f.path).name, f.code) for f in report.findings] == [("debug.py", "MF003")]
