"""MF005 init-hook-overwrites-ssm-init: which writes reach an SSM layer's own initialization, the
guards that keep them off, the fix, and reproductions of real shapes (in our own words, each
citing the repository and path it reproduces)."""

import pytest

from conftest import ROOT, dedent, run_check

HEAD = "import torch\nimport torch.nn as nn\nfrom mamba_ssm import Mamba, Mamba2\n\n\n"


def mf005(src: str, path="model.py"):
    return [f for f in run_check(HEAD + dedent(src), select=("MF005",), path=path) if f.code == "MF005"]


def fixed(src: str) -> str:
    from mambafix.checks.base import FixOptions
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.fix.apply import fix_source

    config = with_cli_overrides(load_config([ROOT]), select=["MF005"])
    return fix_source((HEAD + dedent(src)).encode(), "model.py", config, FixOptions()).fixed.decode()


def model(hook_body: str, layer: str = "Mamba(d)", apply: str = "self.apply(self._init)") -> str:
    """A model of two SSM layers with a hook method `_init(self, m)` applied at the end of __init__."""
    body = "".join(f"        {line}\n" for line in dedent(hook_body).splitlines())
    return (f"class Net(nn.Module):\n    def __init__(self, d=64):\n        super().__init__()\n"
            f"        self.layers = nn.ModuleList([{layer} for _ in range(2)])\n"
            f"        self.head = nn.Linear(d, 3)\n        {apply}\n\n"
            f"    def _init(self, m):\n{body}\n    def forward(self, x):\n        for layer in self.layers:\n"
            f"            x = x + layer(x)\n        return self.head(x)\n")


ZERO_LINEAR_BIAS = """
if isinstance(m, nn.Linear):
    nn.init.normal_(m.weight, std=0.02)
    if m.bias is not None:
        nn.init.zeros_(m.bias)
"""


def test_a_linear_bias_hook_zeroes_mambas_dt_bias_and_says_how_far_softplus_moves():
    [finding] = mf005(model(ZERO_LINEAR_BIAS))
    assert "zeroes layers.*.dt_proj.bias of its Mamba layers" in finding.message
    assert "softplus(dt) becomes 0.69 for every channel" in finding.message
    assert "marks it _no_reinit, the hook does not check the mark" in finding.message
    assert finding.fixable


def test_the_same_hook_over_mamba2_writes_nothing_of_the_ssm():
    # Mamba2's projections have no bias and its dt bias is a plain parameter, not a Linear's
    assert mf005(model(ZERO_LINEAR_BIAS, layer="Mamba2(d, headdim=16)")) == []


@pytest.mark.parametrize("guard,reported", [
    ('if m.bias is not None and not getattr(m.bias, "_no_reinit", False):', False),
    ('if m.bias is not None and not hasattr(m.bias, "_no_reinit"):', False),
    ("if m.bias is not None:", True),
    ("if m.bias is not None and self.zero_bias:", True),  # configuration: a path that writes
    ("if m.bias is not None and m.out_features > 1:", False),  # undecided test of the module: a guard
])
def test_guards_on_the_mark(guard, reported):
    hook = f"if isinstance(m, nn.Linear):\n    {guard}\n        nn.init.zeros_(m.bias)\n"
    assert bool(mf005(model(hook))) == reported


def test_skipping_the_layer_class_does_not_protect_its_linear_children():
    # apply() and modules() visit dt_proj on its own: an isinstance test on the layer skips the
    # layer, not the Linear inside it
    hook = "if isinstance(m, Mamba):\n    return\n" + dedent(ZERO_LINEAR_BIAS)
    assert len(mf005(model(hook))) == 1


@pytest.mark.parametrize("loop,test,reported", [
    ("for name, p in self.named_parameters():", '"bias" in name', True),
    ("for name, p in self.named_parameters():", 'name.endswith(".bias")', True),
    ("for name, p in self.named_parameters():", '"bias" in name and "layers" not in name', False),
    ("for name, p in self.named_parameters():", '"bias" in name and not name.startswith("layers")', False),
    ("for name, p in self.named_parameters():", '"weight" in name', False),
    ("for p in self.parameters():", "p.dim() > 1", True),  # Mamba's A_log is (d_inner, d_state)
    ("for p in self.parameters():", "p.dim() == 1", True),  # dt_proj.bias, D
])
def test_parameter_loops(loop, test, reported):
    src = model("pass", apply=f"{loop}\n            if {test}:\n                nn.init.zeros_(p)")
    assert bool(mf005(src)) == reported, src


def test_a_rank_loop_over_mamba2_keeps_its_one_dimensional_parameters():
    src = model("pass", layer="Mamba2(d, headdim=16)",
                apply="for p in self.parameters():\n            if p.dim() > 1:\n                nn.init.xavier_uniform_(p)")
    assert mf005(src) == []


def test_named_modules_with_a_name_test_that_skips_the_layers():
    src = model("pass", apply=("for name, m in self.named_modules():\n            if name.startswith(\"layers\"):\n"
                               "                continue\n            if isinstance(m, nn.Linear) and m.bias is not None:\n"
                               "                nn.init.zeros_(m.bias)"))
    assert mf005(src) == []


def test_a_hook_on_the_head_or_before_the_layers_exist_is_not_reported():
    assert mf005(model(ZERO_LINEAR_BIAS, apply="self.head.apply(self._init)")) == []
    early = model(ZERO_LINEAR_BIAS).replace("        self.apply(self._init)\n", "")
    early = early.replace("        super().__init__()\n", "        super().__init__()\n        self.apply(self._init)\n")
    assert mf005(early) == []


def test_classname_find_and_helpers_are_followed():
    hook = """
    classname = m.__class__.__name__
    if classname.find("Linear") != -1:
        self._zero(m)
    """
    src = model(hook).replace("    def forward", "    def _zero(self, m):\n        if m.bias is not None:\n"
                                               "            m.bias.data.fill_(0.01)\n\n    def forward")
    [finding] = mf005(src)
    assert "sets layers.*.dt_proj.bias to 0.01" in finding.message and "softplus(dt) becomes 0.7" in finding.message


def test_a_script_applying_a_function_to_a_model_it_built():
    src = model("pass").replace("        self.apply(self._init)\n", "") + dedent("""

        def init_weights(m):
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.constant_(m.bias, 0)


        net = Net()
        net.apply(init_weights)
    """)
    [finding] = mf005(src)
    assert finding.message.startswith("module: `net.apply(init_weights)` over Net zeroes")


def test_mamba_ssm_s_own_init_function_is_data_and_guarded():
    src = model("pass", apply="self.apply(partial(_init_weights, n_layer=2))")
    src = "from functools import partial\nfrom mamba_ssm.models.mixer_seq_simple import _init_weights\n\n" + src
    assert mf005(src) == []


def test_the_fix_adds_mamba_ssm_s_guard_and_is_stable():
    out = fixed(model(ZERO_LINEAR_BIAS))
    assert 'if m.bias is not None and not getattr(m.bias, "_no_reinit", False):' in out
    assert [f for f in run_check(out, select=("MF005",)) if f.code == "MF005"] == []
    assert fixed(out[len(HEAD):]) == out  # a second apply changes nothing


def test_the_fix_extends_a_test_joined_by_and_but_not_one_under_or():
    hook = "if isinstance(m, nn.Linear) and m.bias is not None and m.out_features:\n    nn.init.zeros_(m.bias)\n"
    out = fixed(model(hook.replace(" and m.out_features", "")))
    assert 'isinstance(m, nn.Linear) and m.bias is not None and not getattr(m.bias, "_no_reinit", False):' in out
    under_or = "if isinstance(m, nn.Linear) and (m.bias is not None or self.always):\n    nn.init.zeros_(m.bias)\n"
    [finding] = mf005(model(under_or))
    assert not finding.fixable and "no `<module>.bias is not None` test" in finding.fix_note


def test_no_fix_where_the_layer_does_not_mark_its_bias_or_other_parameters_are_written():
    [finding] = mf005(model("pass", apply="for p in self.parameters():\n            nn.init.normal_(p)"))
    assert not finding.fixable and "also overwrites" in finding.fix_note
    homemade = dedent("""
        class S6(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.dt_proj = nn.Linear(4, d)
                with torch.no_grad():
                    self.dt_proj.bias.copy_(torch.full((d,), -4.0))
                self.A_log = nn.Parameter(torch.zeros(d, 16))
                self.D = nn.Parameter(torch.ones(d))

            def forward(self, x):
                return x * self.D


    """)
    [finding] = mf005(homemade + model(ZERO_LINEAR_BIAS, layer="S6(d)"))
    assert "of its S6 layers (their own init: set by S6.__init__)" in finding.message
    assert not finding.fixable and "does not mark layers.*.dt_proj.bias _no_reinit" in finding.fix_note


def test_hooks_applied_layer_by_layer_through_a_loop_over_the_stack():
    per_layer = model(ZERO_LINEAR_BIAS, apply="for layer in self.layers:\n            layer.apply(self._init)")
    assert len(mf005(per_layer)) == 1
    keyed = """
        class Keyed(nn.Module):
            def __init__(self, d=32, n=2):
                super().__init__()
                self.layers = nn.ModuleList([nn.ModuleDict({"mamba": Mamba(d), "norm": nn.LayerNorm(d)}) for _ in range(n)])
                for layer in self.layers:
                    for p in layer["norm"].parameters():
                        p.data.mul_(0.5)
                for i, layer in enumerate(self.layers):
                    for p in layer["mamba"].parameters():
                        if p.dim() > 1:
                            p.data.mul_(0.5)

            def forward(self, x):
                for layer in self.layers:
                    x = x + layer["mamba"](layer["norm"](x))
                return x
    """
    [finding] = mf005(keyed)  # the norm's loop touches no SSM parameter; the mamba's rescales A_log
    assert "rescales A_log of its Mamba layers" in finding.message and finding.line == 14


# ---- reproductions of real shapes --------------------------------------------------------------

def test_sequential_recommender_zeroes_biases_of_its_mamba_layers():
    """chengkai-liu/Mamba4Rec mamba4rec.py (and its port AlwaysFHao/Mamba4RecWithoutRecbole): the
    recommender wraps each mamba_ssm Mamba in a layer with dropout and a feed-forward part and
    runs a BERT-style init over everything: `.data.normal_` on Linear and Embedding weights, and
    `.data.zero_()` on every Linear bias that is not None."""
    src = """
        class MambaLayer(nn.Module):
            def __init__(self, d_model, d_state, d_conv, expand, dropout):
                super().__init__()
                self.mamba = Mamba(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand)
                self.dropout = nn.Dropout(dropout)
                self.norm = nn.LayerNorm(d_model)
                self.ffn = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

            def forward(self, x):
                h = self.norm(self.dropout(self.mamba(x)) + x)
                return self.norm(h + self.ffn(h))


        class Recommender(nn.Module):
            def __init__(self, n_items=100, hidden=64, n_layers=2):
                super().__init__()
                self.item_embedding = nn.Embedding(n_items, hidden, padding_idx=0)
                self.layers = nn.ModuleList([MambaLayer(hidden, 32, 4, 2, 0.2) for _ in range(n_layers)])
                self.apply(self._init_weights)

            def _init_weights(self, module):
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    module.weight.data.normal_(mean=0.0, std=0.02)
                elif isinstance(module, nn.LayerNorm):
                    module.bias.data.zero_()
                    module.weight.data.fill_(1.0)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    module.bias.data.zero_()

            def forward(self, items):
                h = self.item_embedding(items)
                for layer in self.layers:
                    h = layer(h)
                return h
    """
    [finding] = mf005(src)
    assert "layers.*.mamba.dt_proj.bias" in finding.message and finding.fixable
    assert 'module.bias is not None and not getattr(module.bias, "_no_reinit", False)' in fixed(src)


def test_pure_pytorch_language_model_default_init_path():
    """alxndrTL/mamba.py mambapy/lm.py: the LM picks muP initialization on a config flag and
    otherwise applies a llama2.c-style hook (normal weights, zero Linear biases) to the whole
    model; the package's MambaBlock sets dt_proj.bias by inverse softplus with its _no_reinit line
    commented out, so the guard would not help."""
    src = """
        class MambaBlock(nn.Module):
            def __init__(self, d_model, d_inner, dt_rank=4):
                super().__init__()
                self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
                self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
                inv_dt = torch.rand(d_inner) * -4 - 2
                with torch.no_grad():
                    self.dt_proj.bias.copy_(inv_dt)
                self.A_log = nn.Parameter(torch.log(torch.arange(1, 17).float().repeat(d_inner, 1)))
                self.D = nn.Parameter(torch.ones(d_inner))

            def forward(self, x):
                return x


        class LM(nn.Module):
            def __init__(self, config, vocab_size):
                super().__init__()
                self.config = config
                self.embedding = nn.Embedding(vocab_size, 64)
                self.mixer = MambaBlock(64, 128)
                self.lm_head = nn.Linear(64, vocab_size, bias=False)
                if self.config.mup:
                    for pn, p in self.named_parameters():
                        if pn.endswith("mixer.A_log") or pn.endswith("mixer.D"):
                            pass
                else:
                    self.apply(self._init_weights)

            def _init_weights(self, module):
                if isinstance(module, nn.Linear):
                    torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                    if module.bias is not None:
                        torch.nn.init.zeros_(module.bias)
                elif isinstance(module, nn.Embedding):
                    torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

            def forward(self, tokens):
                return self.lm_head(self.mixer(self.embedding(tokens)))
    """
    [finding] = mf005(src)
    assert "mixer.dt_proj.bias of its MambaBlock layers" in finding.message and not finding.fixable


def test_vision_backbone_with_a_timm_style_hook_over_a_marked_mixer():
    """NVlabs/MambaVision mambavision/models/mamba_vision.py: the mixer builds dt_proj, copies an
    inverse-softplus dt into its bias and marks it _no_reinit; the backbone then applies a
    timm-style `_init_weights` (trunc_normal_ weights, `constant_(m.bias, 0)`) to every module
    without reading the mark."""
    src = """
        from timm.models.layers import trunc_normal_


        class Mixer(nn.Module):
            def __init__(self, d_model, d_state=8):
                super().__init__()
                self.x_proj = nn.Linear(d_model, 4 + 2 * d_state, bias=False)
                self.dt_proj = nn.Linear(4, d_model, bias=True)
                with torch.no_grad():
                    self.dt_proj.bias.copy_(torch.rand(d_model) * -4 - 2)
                self.dt_proj.bias._no_reinit = True
                self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1).float().repeat(d_model, 1)))
                self.D = nn.Parameter(torch.ones(d_model))

            def forward(self, x):
                return x


        class Backbone(nn.Module):
            def __init__(self, dim=64, depth=2):
                super().__init__()
                self.blocks = nn.ModuleList([nn.Sequential(nn.LayerNorm(dim), Mixer(dim)) for _ in range(depth)])
                self.head = nn.Linear(dim, 10)
                self.apply(self._init_weights)

            def _init_weights(self, m):
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=.02)
                    if isinstance(m, nn.Linear) and m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.constant_(m.bias, 0)
                    nn.init.constant_(m.weight, 1.0)

            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                return self.head(x)
    """
    [finding] = mf005(src)
    assert "blocks.*.1.dt_proj.bias of its Mixer layers" in finding.message and finding.fixable


def test_scan_parameters_folded_out_of_their_linears_are_not_linear_biases():
    """csguoh/MambaIR basicsr/archs/mambair_arch.py (VMamba's SS2D): the dt projections are built,
    their weights and biases stacked into plain parameters, and the Linears deleted; the model's
    Linear-bias hook then never sees them."""
    src = """
        class SS2D(nn.Module):
            def __init__(self, d_model, d_state=16, k=4):
                super().__init__()
                self.x_proj = nn.Linear(d_model, 8, bias=False)
                projs = [nn.Linear(4, d_model) for _ in range(k)]
                self.dt_projs_bias = nn.Parameter(torch.stack([p.bias for p in projs], dim=0))
                self.A_log = nn.Parameter(torch.zeros(k * d_model, d_state))
                self.D = nn.Parameter(torch.ones(k * d_model))

            def forward(self, x):
                return x


        class Restorer(nn.Module):
            def __init__(self, dim=32):
                super().__init__()
                self.body = nn.Sequential(SS2D(dim), nn.LayerNorm(dim), SS2D(dim))
                self.apply(self._init_weights)

            def _init_weights(self, m):
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.constant_(m.bias, 0)

            def forward(self, x):
                return self.body(x)
    """
    assert mf005(src) == []


def test_a_hook_held_across_files_through_the_class_index(tmp_path):
    """yoghurt125/FANS-BiMamba-Emotion frequency_aware_bimamba_nas/src/dag_search_space.py: the search
    space's `_init_weights` loops over `self.modules()` zeroing Linear biases; the bidirectional
    block that holds mamba_ssm Mamba layers is defined in another file of the tree."""
    from mambafix.config import load_config, with_cli_overrides
    from mambafix.engine.project import check_paths

    (tmp_path / "bidirectional.py").write_text(HEAD + dedent("""
        class Bidirectional(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.forward_mamba = Mamba(d)
                self.backward_mamba = Mamba(d)

            def forward(self, x):
                return self.forward_mamba(x) + self.backward_mamba(x.flip(1)).flip(1)
    """))
    (tmp_path / "space.py").write_text(HEAD + dedent("""
        from bidirectional import Bidirectional


        class Space(nn.Module):
            def __init__(self, d=32, n=3):
                super().__init__()
                self.nodes = nn.ModuleList([Bidirectional(d) for _ in range(n)])
                self.classifier = nn.Linear(d, 4)
                self._init_weights()

            def _init_weights(self):
                for m in self.modules():
                    if isinstance(m, nn.Linear):
                        nn.init.xavier_uniform_(m.weight)
                        if m.bias is not None:
                            nn.init.zeros_(m.bias)

            def forward(self, x):
                for node in self.nodes:
                    x = node(x)
                return self.classifier(x)
    """))
    config = with_cli_overrides(load_config([tmp_path]), select=["MF005"])
    report = check_paths([tmp_path], config, cache=False)
    [finding] = [f for f in report.findings if f.code == "MF005"]
    assert finding.path.endswith("space.py") and "nodes.*.forward_mamba.dt_proj.bias" in finding.message
