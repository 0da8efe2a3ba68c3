"""MF001's data flow, mechanism by mechanism: sources, sinks, barriers and what carries a value
between them, each shown both ways (a finding, and the same code made clean by the one change
that matters), plus the per-file bound that keeps a pathological file from stalling a run."""

import libcst as cst
import pytest

from conftest import ROOT, dedent, headline, run_check
from mambafix.checks.base import FixOptions
from mambafix.config import load_config
from mambafix.fix.apply import fix_source
from mambafix.flow.file_facts import FileFacts
from mambafix.flow.context import Budget

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom mamba_ssm import Mamba, Mamba2\n"


def classes_reported(body: str) -> list[str]:
    return [f.message.split(".", 1)[0] for f in run_check(HEADER + dedent(body), select=("MF001",))]


def test_a_value_carried_through_a_helper_method_and_a_module_function():
    body = """
    def run(layers, x):
        for layer in layers:
            x = layer(x)
        return x

    class ViaFunction(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

        def forward(self, x):
            return run(self.layers, x)

    class ViaMethod(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.a = Mamba(d)
            self.b = Mamba(d)

        def step(self, h, m):
            return F.gelu(m(h))

        def forward(self, x):
            return self.step(self.step(x, self.a), self.b)
    """
    assert classes_reported(body) == ["ViaFunction", "ViaMethod"]


def test_a_wrapper_is_an_ssm_layer_and_a_post_norm_wrapper_is_not():
    body = """
    class Wrap(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.inner = Mamba(d)
            self.drop = nn.Dropout(0.1)

        def forward(self, x):
            return self.drop(self.inner(x.transpose(1, 2)).transpose(1, 2))

    class PostNorm(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.inner = Mamba(d)
            self.norm = nn.LayerNorm(d)

        def forward(self, x):
            return self.norm(self.inner(x) + x)

    class Raw(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Wrap(d) for _ in range(n)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    class Normed(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([PostNorm(d) for _ in range(n)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    """
    assert classes_reported(body) == ["Raw"]


def test_norms_by_behaviour_written_out_or_given_as_a_default_class():
    inline = """
    class M(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
                x = {norm}
            return x
    """
    assert classes_reported(inline.format(norm="x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)")) == []
    assert classes_reported(inline.format(norm="(x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + 1e-5)")) == []
    assert classes_reported(inline.format(norm="x / x.norm(dim=-1, keepdim=True)")) == []
    assert classes_reported(inline.format(norm="x * x.mean(-1, keepdim=True)")) == ["M"]  # a product: not a norm
    given = """
    class Block(nn.Module):
        def __init__(self, dim, norm_layer={default}):
            super().__init__()
            self.norm = norm_layer(dim)
            self.mixer = Mamba(dim)

        def forward(self, x):
            return x + self.mixer(self.norm(x))

    class Stack(nn.Module):
        def __init__(self, dim, depth=4):
            super().__init__()
            self.blocks = nn.ModuleList([Block(dim) for _ in range(depth)])

        def forward(self, x):
            for blk in self.blocks:
                x = blk(x)
            return x
    """
    assert classes_reported(given.format(default="nn.LayerNorm")) == []
    assert classes_reported(given.format(default="nn.Identity")) == ["Stack"]


def test_the_configuration_is_read_at_its_defaults():
    body = """
    class M(nn.Module):
        def __init__(self, d, n=4, use_norm={flag}):
            super().__init__()
            self.use_norm = use_norm
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
            self.norm = nn.LayerNorm(d) if use_norm else None

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
                if self.use_norm:
                    x = self.norm(x)
            return x
    """
    assert classes_reported(body.format(flag="True")) == []
    assert classes_reported(body.format(flag="False")) == ["M"]
    unknown = body.format(flag="True").replace("n=4, use_norm=True", "n, use_norm")
    assert classes_reported(unknown) == ["M"]  # a test that is not a constant: both paths


def test_a_tuple_returned_state_is_not_the_layers_input():
    """alxndrTL/mamba.py mambapy/mamba2.py: a layer returns (output, cache) and takes its cache
    back; the cache passes through the scan, but it is the layer's state, not its input."""
    body = """
    class Layer(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.mixer = Mamba(d)
            self.norm = nn.LayerNorm(d)

        def forward(self, x, cache=None):
            out = self.mixer(self.norm(x)) if cache is None else self.mixer(self.norm(x) + cache)
            return out + x, out.mean(1, keepdim=True)

    class M(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Layer(d) for _ in range(n)])

        def forward(self, x):
            caches = [None] * 4
            for i, layer in enumerate(self.layers):
                x, caches[i] = layer(x, caches[i])
            return x
    """
    assert classes_reported(body) == []
    assert classes_reported(body.replace("self.mixer(self.norm(x))", "self.mixer(x)")) == ["M"]


def test_containers_by_name_children_and_while_loops():
    body = """
    class ByName(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.n = n
            for i in range(n):
                setattr(self, f"block{i}", Mamba(d))

        def forward(self, x):
            for i in range(self.n):
                x = getattr(self, f"block{i}")(x)
            return x

    class Children(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.first = Mamba(d)
            self.act = nn.GELU()
            self.second = Mamba(d)

        def forward(self, x):
            for module in self.children():
                x = module(x)
            return x

    class While(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

        def forward(self, x):
            i = 0
            while i < len(self.layers):
                x = self.layers[i](x)
                i += 1
            return x
    """
    assert classes_reported(body) == ["ByName", "Children", "While"]
    normed = body.replace("self.act = nn.GELU()", "self.act = nn.LayerNorm(d)")
    assert classes_reported(normed) == ["ByName", "While"]


def test_values_recomputed_each_trip_and_parallel_branches_are_no_chain():
    body = """
    class M(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.mixer = Mamba(d)

        def forward(self, h):
            outs = []
            for _ in range(4):
                piece = h.flip(1)
                outs.append(self.mixer(piece))
            both = torch.stack([self.mixer(h), self.mixer(h.flip(1))]).sum(0)
            return sum(outs) + both
    """
    assert classes_reported(body) == []
    carried = body.replace("piece = h.flip(1)", "h = h.flip(1)").replace("self.mixer(piece)", "self.mixer(h)")
    assert classes_reported(carried.replace("outs.append(self.mixer(h))", "h = self.mixer(h)")) == ["M"]


def test_bounded_functions_and_fresh_values_carry_no_scale():
    body = """
    class M(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.m1 = Mamba(d)
            self.m2 = Mamba(d)

        def forward(self, x):
            y = self.m1(x)
            z = {between}
            return self.m2(z)
    """
    assert classes_reported(body.format(between="torch.sigmoid(y)")) == []
    assert classes_reported(body.format(between="torch.zeros_like(y)")) == []
    assert classes_reported(body.format(between="y.new_ones(y.shape) * y.shape[-1]")) == []
    assert classes_reported(body.format(between="F.silu(y)")) == ["M"]
    assert classes_reported(body.format(between="torch.cat([y, y], dim=1)[:, : x.shape[1]]")) == ["M"]


def test_a_hand_written_scan_is_found_where_the_data_meets_its_state_matrix():
    body = """
    class Scan(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.norm = nn.LayerNorm(d)
            self.A_log = nn.Parameter(torch.zeros(d, 4))
            self.D = nn.Parameter(torch.ones(d))
            self.proj = nn.Linear(d, d)

        def forward(self, x):
            u = {input}
            A = -torch.exp(self.A_log)
            decay = torch.exp(u.unsqueeze(-1) * A)
            return x + self.proj(decay.sum(-1) + u * self.D)

    class Net(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Scan(d) for _ in range(n)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    """
    assert classes_reported(body.format(input="self.norm(x)")) == []  # a pre-norm block
    assert classes_reported(body.format(input="x")) == ["Net"]


def test_the_message_and_the_flow_name_the_path():
    found = run_check(HEADER + dedent("""
    class M(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.m1 = Mamba(d)
            self.drop = nn.Dropout(0.1)
            self.m2 = Mamba(d)

        def forward(self, x):
            y = self.m1(x)
            y = self.drop(y).transpose(1, 2)
            return self.m2(y.transpose(1, 2))
    """), select=("MF001",))
    assert len(found) == 1
    message = found[0].message
    assert headline(message) == "M.m1, m2: 2 Mamba layers applied in sequence without normalization"
    assert message.endswith("(m1 output reaches m2 through self.drop, .transpose, no norm between)")
    assert [step[2].split(":")[0] for step in found[0].flow] == ["m1", "carried through self.drop", "m2"]
    assert [step[0] for step in found[0].flow] == [13, 14, 15]


def _facts(src: str, budget: Budget) -> FileFacts:
    facts = FileFacts(cst.parse_module(src), "m", "", load_config([ROOT]))
    facts.budget = budget
    return facts


PATHOLOGICAL = HEADER + "\n".join([
    "class Deep(nn.Module):",
    "    def __init__(self, d):",
    "        super().__init__()",
    "        self.layers = nn.ModuleList([Mamba(d) for _ in range(4)])",
    "    def forward(self, x):",
    "        for layer in self.layers:",
    "            x = layer(x)",
    *[f"            x = x + {i} * x" for i in range(3000)],
    "        return x",
])


@pytest.mark.parametrize("budget", [Budget(max_steps=500), Budget(max_seconds=0.0)],
                         ids=["steps", "seconds"])
def test_a_file_past_its_budget_gives_no_finding_from_what_was_not_followed(budget):
    facts = _facts(PATHOLOGICAL, budget)
    cls = facts.all_classes[0]
    flows = facts.class_flows(cls)
    assert flows.flows == [] and flows.stopped and "Deep.forward" in flows.stopped[0]
    assert facts.stack_uses(cls) == []
    full = _facts(PATHOLOGICAL, Budget())
    assert [u.owner for u in full.stack_uses(full.all_classes[0])] == ["Deep.layers"]


def test_recursion_and_self_calls_do_not_crash():
    body = """
    def again(m, x, k):
        return again(m, m(x), k - 1) if k else x

    class M(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.m = Mamba(d)

        def forward(self, x):
            return self.forward(again(self.m, x, 3))
    """
    assert classes_reported(body) == []


def test_classes_of_installed_packages_are_read_from_their_source(tmp_path, monkeypatch):
    """A package that no data describes is summarised from its installed source (found on
    sys.path, never imported), re-exports followed; without it the class is unknown."""
    from dataclasses import replace

    from mambafix.engine.file import check_source

    pkg = tmp_path / "site" / "ssmkit"
    (pkg / "layers").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('never imported')\nfrom .layers.mixer import Mixer\n")
    (pkg / "layers" / "__init__.py").write_text("")
    (pkg / "layers" / "mixer.py").write_text(dedent("""
        import torch
        import torch.nn as nn

        class Mixer(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.A_log = nn.Parameter(torch.zeros(d, 4))
                self.D = nn.Parameter(torch.ones(d))

            def forward(self, x):
                return torch.exp(x.unsqueeze(-1) * -torch.exp(self.A_log)).sum(-1) + x * self.D
    """))
    user = dedent("""
        import torch.nn as nn
        from ssmkit import Mixer

        class Net(nn.Module):
            def __init__(self, d, n=4):
                super().__init__()
                self.layers = nn.ModuleList([Mixer(d) for _ in range(n)])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
    """)
    config = load_config([ROOT])
    assert check_source(user, "net.py", config) == []  # not installed: unknown, no finding
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert [headline(f.message) for f in check_source(user, "net.py", config)] == [
        "Net.layers: 4 Mixer layers applied in sequence without normalization"]
    pytest.importorskip("mambapy")  # a real one (a test dependency): mambapy's own MambaBlock
    without_data = replace(config, flow_models=tuple(m for m in config.flow_models if "mambapy" not in m))
    real = user.replace("from ssmkit import Mixer", "from mambapy.mamba import MambaBlock as Mixer")
    assert [f.code for f in check_source(real, "net.py", without_data)] == ["MF001"]


def test_module_dicts_and_ordered_sequentials_are_containers():
    body = """
    from collections import OrderedDict

    class ByKey(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.blocks = nn.ModuleDict({"a": Mamba(d), "b": Mamba(d)})

        def forward(self, x):
            for name in self.blocks:
                x = self.blocks[name](x)
            return x

    class Values(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.blocks = nn.ModuleDict(dict(a=Mamba(d), b=Mamba(d)))

        def forward(self, x):
            for key, blk in self.blocks.items():
                x = blk(x)
            return x

    class Ordered(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.net = nn.Sequential(OrderedDict([("m1", Mamba(d)), ("mid", BETWEEN), ("m2", Mamba(d))]))

        def forward(self, x):
            return self.net(x)
    """
    assert classes_reported(body.replace("BETWEEN", "nn.GELU()")) == ["ByKey", "Values", "Ordered"]
    assert classes_reported(body.replace("BETWEEN", "nn.LayerNorm(d)")) == ["ByKey", "Values"]


def test_an_unseen_class_or_function_named_as_a_norm_is_one_and_a_seen_one_is_judged_by_its_body():
    body = """
    from apex.normalization import FusedLayerNorm
    from kernels import fused_rms_norm

    class M(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
            self.norm = {norm}

        def forward(self, x):
            for layer in self.layers:
                x = {apply}
            return x
    """
    assert classes_reported(body.format(norm="FusedLayerNorm(d)", apply="self.norm(layer(x))")) == []
    assert classes_reported(body.format(norm="None", apply="fused_rms_norm(layer(x))")) == []
    seen = body.replace("from apex.normalization import FusedLayerNorm", "\n".join([
        "class FakeNorm(nn.Module):",
        "        def forward(self, x):",
        "            return x * 2",
    ]))
    assert classes_reported(seen.format(norm="FakeNorm()", apply="self.norm(layer(x))")) == ["M"]


def test_a_data_input_given_by_keyword():
    body = """
    class M(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

        def forward(self, x, params=None):
            for layer in self.layers:
                x = layer(hidden_states=x, inference_params=params)
            return x
    """
    assert classes_reported(body) == ["M"]
    assert classes_reported(body.replace("hidden_states=x,", "hidden_states=F.layer_norm(x, x.shape[-1:]),")) == []


def test_cross_file_rounds_read_again_only_files_that_can_import_a_known_class(tmp_path):
    """A file no check wanted is read in a cross-file round where it can reach a class the index
    knows (an import binds its name, or it reads it as a module's attribute) and defines a class
    (MF001's findings are in classes); a mention in prose, or a script with no class, is not read
    unless a selected check finds things in scripts (MF005, MF006)."""
    from mambafix.engine.project import check_paths

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "blocks.py").write_text(HEADER + dedent("""
        class Wrap(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.inner = Mamba(d)

            def forward(self, x):
                return self.inner(x)
    """))
    stack = dedent("""
        class {name}(nn.Module):
            def __init__(self, d, n=4):
                super().__init__()
                self.layers = nn.ModuleList([{ctor}(d) for _ in range(n)])

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
    """)
    (pkg / "by_name.py").write_text("import torch.nn as nn\nfrom .blocks import Wrap\n\n" + stack.format(name="ByName", ctor="Wrap"))
    (pkg / "by_module.py").write_text("import torch.nn as nn\nimport pkg.blocks as b\n\n" + stack.format(name="ByModule", ctor="b.Wrap"))
    (pkg / "prose.py").write_text('"""Wrap is described in pkg.blocks."""\n\n\nclass Note:\n    pass\n')
    (pkg / "script.py").write_text("from pkg.blocks import Wrap\n\nprint(Wrap)\n")
    from mambafix.config import with_cli_overrides

    config = with_cli_overrides(load_config([tmp_path]), select=["MF001", "MF002", "MF003"])
    report = check_paths([pkg], config, cache=False)
    assert sorted(headline(f.message).split(":")[0] for f in report.findings) == ["ByModule.layers", "ByName.layers"]
    assert report.files_parsed == 3  # blocks.py, then the two that import Wrap; not prose.py, not script.py
    # MF005 and MF006 find things in scripts too (a cast or an init hook of a model built there):
    # with them selected (the default), the script that imports Wrap is read as well
    assert check_paths([pkg], load_config([tmp_path]), cache=False).files_parsed == 4


def test_attributes_and_methods_inherited_from_a_class_of_the_file():
    body = """
    class Base(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

        def step(self, layer, x):
            return F.gelu(layer(x))

    class Child(Base):
        def forward(self, x):
            for layer in self.layers:
                x = self.step(layer, x)
            return x
    """
    found = run_check(HEADER + dedent(body), select=("MF001",))
    assert [f.message.split(".", 1)[0] for f in found] == ["Child"]
    assert "outside the class" in found[0].fix_note  # applied inside the inherited step(): the base's code
    direct = HEADER + dedent(body.replace("x = self.step(layer, x)", "x = layer(x)"))
    assert run_check(direct, select=("MF001",))[0].fixable
    # the base builds the layers (its other subclasses share them): no module is added there, the
    # subclass's own forward gets a parameter-free norm
    fixed = fix_source(direct.encode(), "m.py", load_config(), FixOptions()).fixed.decode()
    assert fixed.split("class Child")[0] == direct.split("class Child")[0]
    assert "x = layer(x)\n            x = nn.functional.layer_norm(x, x.shape[-1:])" in fixed


def test_a_module_dict_built_by_a_comprehension_and_recurrent_layers_between():
    body = """
    class Keyed(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleDict({f"l{i}": Mamba(d) for i in range(n)})

        def forward(self, x):
            for k in self.layers:
                x = self.layers[k](x)
            return x

    class Recurrent(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.m1 = Mamba(d)
            self.between = RNN
            self.m2 = Mamba(d)

        def forward(self, x):
            x = self.m1(x)
            x, _ = self.between(x)
            return self.m2(x)
    """
    found = run_check(HEADER + dedent(body.replace("RNN", "nn.LSTM(d, d, batch_first=True)")), select=("MF001",))
    assert [f.message.split(".", 1)[0] for f in found] == ["Keyed"] and found[0].fixable
    fixed = fix_source((HEADER + dedent(body)).encode(), "m.py", load_config(), FixOptions()).fixed.decode()
    assert "self.norms = nn.ModuleDict({key: nn.LayerNorm(d) for key in self.layers})" in fixed
    assert "x = self.norms[k](self.layers[k](x))" in fixed
    carried = body.replace("RNN", "nn.MultiheadAttention(d, 4, batch_first=True)")
    assert classes_reported(carried) == ["Keyed", "Recurrent"]  # attention carries its values' scale


def test_a_wrapper_given_its_module_is_judged_by_the_module_it_is_given():
    """`Residual(Mamba(d))`, `PreNorm(d, Mamba(d))`: the wrapper is read with its module taken to
    be an SSM layer, and that reading applies where the module given is one; a wrapper of a layer
    that bounds itself (Peilin-FF/MambaLTS models/Mamba2.py wraps its own Mamba2) or of a linear
    layer is no SSM layer."""
    body = """
    class Residual(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x) + x

    class PreNorm(nn.Module):
        def __init__(self, dim, fn):
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.fn = fn

        def forward(self, x):
            return self.fn(self.norm(x)) + x

    class Stack(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.layers = nn.ModuleList([WRAPPED for _ in range(n)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    """
    assert classes_reported(body.replace("WRAPPED", "Residual(Mamba(d))")) == ["Stack"]
    assert classes_reported(body.replace("WRAPPED", "PreNorm(d, Mamba(d))")) == []
    assert classes_reported(body.replace("WRAPPED", "Residual(nn.Linear(d, d))")) == []
    assert classes_reported(body.replace("WRAPPED", "Residual(Mamba2(d))")) == []


def test_a_class_derived_from_an_abstract_base_is_not_a_layer():
    """JusperLee/SPMamba look2hear/models/SPMamba.py: an STFT decoder derives from an abstract base
    whose forward raises; it holds no SSM, so what follows a Mamba stack through it is no chain."""
    body = """
    class AbsDecoder(nn.Module):
        def forward(self, x):
            raise NotImplementedError

    class Decoder(AbsDecoder):
        def __init__(self, n_fft=64):
            super().__init__()
            self.n_fft = n_fft

        def forward(self, x):
            return torch.zeros_like(x)[..., : self.n_fft]  # a fresh buffer (the real one fills it)

    class Separator(nn.Module):
        def __init__(self, d, n=4):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Sequential(nn.LayerNorm(d), Mamba(d)) for _ in range(n)])
            self.dec = Decoder()

        def forward(self, x):
            for blk in self.blocks:
                x = x + blk(x)
            return self.dec(x)
    """
    assert classes_reported(body) == []


def test_a_loop_over_a_literal_tuple_of_modules_is_taken_module_by_module():
    body = """
    class M(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.a = Mamba(d)
            self.mid = MID
            self.b = Mamba(d)

        def forward(self, x):
            for m in (self.a, self.mid, self.b):
                x = m(x)
            return x
    """
    assert classes_reported(body.replace("MID", "nn.GELU()")) == ["M"]
    assert classes_reported(body.replace("MID", "nn.LayerNorm(d)")) == []  # not joined into one trip


def test_a_module_chosen_between_alternatives_is_what_they_all_are():
    """`RMSNorm(d) if cfg.rms else nn.LayerNorm(d)` is a norm whichever the flag picks (one
    attribute, or a comprehension's element); a norm or an Identity is not a barrier."""
    body = """
    class Chosen(nn.Module):
        def __init__(self, cfg, d=32, n=4):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
            self.norms = nn.ModuleList([nn.RMSNorm(d) if cfg.rms else nn.LayerNorm(d) for _ in range(n)])

        def forward(self, x):
            for layer, norm in zip(self.layers, self.norms):
                x = norm(layer(x))
            return x

    class OneNorm(nn.Module):
        def __init__(self, cfg, d=32):
            super().__init__()
            self.a = Mamba(d)
            self.b = Mamba(d)
            self.norm = nn.RMSNorm(d) if cfg.rms else nn.LayerNorm(d)

        def forward(self, x):
            return self.b(self.norm(self.a(x)))
    """
    assert classes_reported(body) == []
    assert classes_reported(body.replace("else nn.LayerNorm(d)", "else nn.Identity()")) == ["Chosen", "OneNorm"]


def test_a_norm_written_with_tensor_methods_is_a_norm():
    """`x.pow(2).mean(-1, keepdim=True).add(eps).rsqrt()`, then `(x * rms).to(dtype)`: the same
    norm as `torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)`; without the inverse it is not
    one. (A pre-norm Mamba language model with its own RMSNorm written this way.)"""
    body = """
    class RMS(nn.Module):
        def __init__(self, d, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(torch.ones(d))

        def forward(self, x):
            xf = x.float()
            rms = xf.pow(2).mean(-1, keepdim=True).add(self.eps).rsqrt()
            return (xf * rms).to(x.dtype) * self.weight

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.norm = RMS(d)
            self.mixer = Mamba(d)

        def forward(self, x):
            return x + self.mixer(self.norm(x))

    class LM(nn.Module):
        def __init__(self, d=32, n=4):
            super().__init__()
            self.blocks = nn.ModuleList([Block(d) for _ in range(n)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x
    """
    assert classes_reported(body) == []
    assert classes_reported(body.replace(".add(self.eps).rsqrt()", ".add(self.eps)")) == ["LM"]
    assert classes_reported(body.replace(".add(self.eps).rsqrt()", ".add(xf).rsqrt()")) == ["LM"]


def test_a_model_given_a_submodule_that_builds_its_own_ssm_layers_is_no_wrapper():
    """`self.encoder = encoder` then called reads as a wrapper given its module (the module taken
    to be an SSM layer, the class's own flows not reported) only where the class builds no SSM
    layer of its own; a model given its encoder and holding its own stack is checked as itself."""
    body = """
    class WithEncoder(nn.Module):
        def __init__(self, encoder, d=32, n=4):
            super().__init__()
            self.encoder = encoder
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

        def forward(self, x):
            x = self.encoder(x)
            for layer in self.layers:
                x = layer(x)
            return x

    class Residual(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return x + self.fn(x)

    class Stack(nn.Module):
        def __init__(self, d=32, n=4):
            super().__init__()
            self.blocks = nn.ModuleList([Residual(Mamba(d)) for _ in range(n)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x
    """
    assert classes_reported(body) == ["WithEncoder", "Stack"]


def test_a_fused_kernel_given_a_norms_weight_applies_that_norm():
    """`fused_kernel(residuals=..., rms_weight=self.norm.weight)`: a function the analysis cannot see
    that is given a norm module's own weight applies that norm (the fused-kernel idiom of
    flash-linear-attention's hybrid blocks and mamba_ssm's own layer_norm_fn); given a projection's
    weight it is just a function. A class chosen between two norm classes by a flag is a norm."""
    body = """
    from kernels.fused import fused_kernel

    class Block(nn.Module):
        def __init__(self, d, fuse=False):
            super().__init__()
            self.q = nn.Linear(d, 1)
            self.norm = (nn.RMSNorm if fuse else nn.LayerNorm)(d)
            self.mixer = Mamba(d)

        def forward(self, x, states):
            h = fused_kernel(query=self.q.weight, residuals=[*states, x], rms_weight=self.norm.weight, eps=1e-6)
            return x + self.mixer(h)

    class Stack(nn.Module):
        def __init__(self, d=32, n=4):
            super().__init__()
            self.blocks = nn.ModuleList([Block(d) for _ in range(n)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x, [x])
            return x
    """
    assert classes_reported(body) == []
    assert classes_reported(body.replace("rms_weight=self.norm.weight", "rms_weight=self.q.weight")) == ["Stack"]
    assert classes_reported(body.replace("(nn.RMSNorm if fuse else nn.LayerNorm)(d)",
                                         "(nn.RMSNorm if fuse else nn.Identity)(d)")) == ["Stack"]


def test_attributes_assigned_together_from_a_tuple_are_each_what_their_own_element_builds():
    # XsChen524/mode-mamba-ts src/mamba_mode/modules/mamba_replacement.py builds a block's two
    # post-norms in one statement (`self.norm1, self.norm2 = LayerNorm, LayerNorm`): the stack of
    # such blocks is normalized; the probe says STABLE (tests/real_models.py POST_NORM)
    body = """
    class AddNorm(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.mixer, (self.norm1, self.norm2) = Mamba(d), (nn.LayerNorm(d), nn.LayerNorm(d))
            self.ff = nn.Linear(d, d)

        def forward(self, x):
            x = self.norm1(x + self.mixer(x))
            return self.norm2(x + self.ff(x))

    class Normalized(nn.Module):
        def __init__(self, d, n=3):
            super().__init__()
            self.blocks = nn.ModuleList([AddNorm(d) for _ in range(n)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    class TwoAtOnce(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.first, self.second = Mamba(d), Mamba(d)

        def forward(self, x):
            return self.second(self.first(x))

    class NotTakenApart(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.first, self.second = make_pair(d)

        def forward(self, x):
            return self.second(self.first(x))
    """
    assert classes_reported(body) == ["TwoAtOnce"]
    fixed = fix_source((HEADER + dedent(body)).encode(), "m.py", load_config(), FixOptions()).fixed.decode()
    assert "self.first, self.second = Mamba(d), Mamba(d)\n        self.first_norm = nn.LayerNorm(d)" in fixed
    assert run_check(fixed, select=("MF001",)) == []
