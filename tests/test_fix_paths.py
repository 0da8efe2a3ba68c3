"""MF001's fix planned from the finding's path: the norm goes where the path carries each source's
output out of its statement, a skip already there is reused, the norm module is named the way the
call names the layer, and a parameter-free norm stands in where no width can be read. Each shape
(tests/fix_paths.py) is also built and probed by the behaviour harness."""

import pytest

from conftest import run_check
from fix_paths import SHAPES
from mambafix.checks.base import FixOptions
from mambafix.config import load_config
from mambafix.fix.apply import fix_source

CONFIG = load_config()
STYLES = {"postnorm": FixOptions(), "residual": FixOptions(residual=True), "prenorm": FixOptions(style="prenorm")}

# name -> style -> lines the fixed source holds (stripped)
EXPECTED = {
    "skip": {
        "postnorm": ["x = norm(x + self.drop(layer(x)))"],
        "residual": ["x = norm(x + self.drop(layer(x)))"],  # the skip is reused, never doubled
        "prenorm": ["x = x + self.drop(layer(norm(x)))"],
    },
    "aug-skip": {
        "postnorm": ["h = norm(h + layer(h))"],
        "residual": ["h = norm(h + layer(h))"],
        "prenorm": ["h += layer(norm(h))"],
    },
    "keyword": {
        "postnorm": ["hidden = norm(layer(hidden_states=hidden, inference_params=inference_params))"],
        "residual": ["hidden = norm(layer(hidden_states=hidden, inference_params=inference_params) + hidden)"],
        "prenorm": ["hidden = hidden + layer(hidden_states=norm(hidden), inference_params=inference_params)"],
    },
    "multiline": {
        "postnorm": ["x = norm(layer(", "))"],
        "residual": ["x = norm(layer(", ") + x)"],
        "prenorm": ["x = x + layer(", "norm((x"],
    },
    "indexed": {
        "postnorm": ["self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in self.layers])",
                     "x = self.norms[0](self.layers[0](x))", "x = self.norms[1](self.layers[1](x))",
                     "return self.norms[2](self.layers[2](x))"],  # every norm built is used
        "residual": ["x = self.norms[0](self.layers[0](x) + x)", "x = self.norms[1](self.layers[1](x) + x)"],
        "prenorm": ["x = x + self.layers[0](self.norms[0](x))", "return x + self.layers[2](self.norms[2](x))"],
    },
    "two-stacks": {
        "postnorm": ["for m, norm in zip(self.encoder, self.encoder_norms):",
                     "for m, norm in zip(self.decoder, self.decoder_norms):", "x = norm(m(x))"],
        "residual": ["x = norm(m(x) + x)"],
        "prenorm": ["x = x + m(norm(x))"],
    },
    "alternatives": {  # a norm beside each of the two definitions, of the width both use
        "postnorm": ["x = self.mixer_norm(self.mixer(x))"],
        "residual": ["x = self.mixer_norm(self.mixer(x) + x)"],
        "prenorm": ["x = x + self.mixer(self.mixer_norm(x))"],
    },
    "pyramid": {
        "postnorm": ["self.norms = nn.ModuleList([nn.LayerNorm(dims[i]) for i in range(len(dims))])"],
        "residual": ["x = norm(layer(x) + x)"],
        "prenorm": ["x = x + layer(norm(x))"],
    },
    "keyed": {
        "postnorm": ["self.norms = nn.ModuleDict({key: nn.LayerNorm(d_model) for key in self.mixers})",
                     "x = self.norms[name](self.mixers[name](x))"],
        "residual": ["x = self.norms[name](self.mixers[name](x) + x)"],
        "prenorm": ["x = x + self.mixers[name](self.norms[name](x))"],
    },
    "config-width": {  # no width: a norm with no parameters, after the statement that assigns x
        "postnorm": ["x = layer(x)", "x = nn.functional.layer_norm(x, x.shape[-1:])"],
        "residual": ["x = layer(x) + x", "x = nn.functional.layer_norm(x, x.shape[-1:])"],
        "prenorm": ["x = x + layer(nn.functional.layer_norm(x, x.shape[-1:]))"],
    },
    "projected": {  # no width, the output projected in its statement: after the statement, on its name
        "postnorm": ["x = self.proj(layer(x))", "x = nn.functional.layer_norm(x, x.shape[-1:])"],
        "residual": ["x = self.proj(layer(x) + x)", "x = nn.functional.layer_norm(x, x.shape[-1:])"],  # MF002's skip
        "prenorm": ["x = x + self.proj(layer(nn.functional.layer_norm(x, x.shape[-1:])))"],
    },
    "pairs": {  # each name its own module of the pair: the norm after the projection, parameter-free
        "postnorm": ["x = proj(mamba(x))", "x = nn.functional.layer_norm(x, x.shape[-1:])"],
        "residual": ["x = proj(mamba(x) + x)", "x = nn.functional.layer_norm(x, x.shape[-1:])"],  # MF002's skip
        "prenorm": ["x = x + proj(mamba(nn.functional.layer_norm(x, x.shape[-1:])))"],
    },
    "spread-skip": {  # the skip found over the statements that write it: the norm on the sum, never a second skip
        "postnorm": ["updated = layer(x)", "x = norm(residual + updated)"],
        "residual": ["updated = layer(x)", "x = norm(residual + updated)"],
        "prenorm": ["updated = layer(norm(x))", "x = residual + updated"],
    },
    "asked-tuple": {  # the tuple's output element is the one the stream's skip adds back, on both branches
        "postnorm": ["y, last = layer(x, return_hidden=True)", "x = norm(x + y)"],
        "residual": ["x = norm(x + y)"],
        "prenorm": ["y, last = layer(norm(x), return_hidden=True)", "y = layer(norm(x))"],
    },
    "scaled-skip": {  # the product keeps the layout: the skip around it is found, never doubled
        "postnorm": ["x = norm(x + self.alpha * layer(x))"],
        "residual": ["x = norm(x + self.alpha * layer(x))"],
        "prenorm": ["x = x + self.alpha * layer(norm(x))"],
    },
    "unpacked": {  # the output element of the tuple, after the statement that unpacks it
        "postnorm": ["y, gate = cell(x)", "y = norm(y)"],
        "residual": ["y = norm(y + x)"],
        "prenorm": ["y, gate = cell(norm(x))", "y = x + y"],
    },
}


def _mf001(source: str):
    return [f for f in run_check(source) if f.code == "MF001"]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_shape_is_found_once_and_fixable(name):
    source, cls = SHAPES[name]
    found = _mf001(source)
    assert len(found) == 1 and found[0].fixable, [(f.message, f.fix_note) for f in found]
    assert found[0].message.startswith(f"{cls}.")


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_fix_is_written_where_the_path_runs(name, style):
    source, _ = SHAPES[name]
    result = fix_source(source.encode(), "m.py", CONFIG, STYLES[style])
    out = result.fixed.decode()
    assert result.error is None and not result.remaining, [f.fix_note for f in result.remaining]
    lines = [line.strip() for line in out.splitlines()]
    for expected in EXPECTED[name][style]:
        assert expected in lines or any(line.startswith(expected) for line in lines), (expected, out)
    assert not _mf001(out), out  # nothing left for check
    again = fix_source(result.fixed, "m.py", CONFIG, STYLES[style])
    assert again.fixed == result.fixed  # a second apply changes nothing


def test_two_stacks_in_sequence_are_one_finding_that_counts_both():
    source, _ = SHAPES["two-stacks"]
    (finding,) = _mf001(source)
    assert finding.message.startswith("EncoderDecoder.encoder, decoder: 4 Mamba layers applied in sequence")


def test_layers_built_on_two_paths_get_a_norm_on_each_path():
    source, _ = SHAPES["alternatives"]
    out = fix_source(source.encode(), "m.py", CONFIG, FixOptions()).fixed.decode()
    assert out.count("self.mixer_norm = nn.LayerNorm(self.width)") == 2


def test_a_parameter_free_norm_leaves_the_state_dict_and_says_so():
    source, _ = SHAPES["config-width"]
    result = fix_source(source.encode(), "m.py", CONFIG, FixOptions())
    assert "LayerNorm(" not in result.fixed.decode()
    assert any("parameter-free norm" in c and "width could not be read" in c for c in result.changes)


def test_a_sum_of_two_layers_outputs_is_no_skip():
    """`x = f(x) + b(x.flip(1)).flip(1)` adds another layer's output, not the stream: --residual adds
    the stream once (the behaviour of tests/test_fix_shapes.py's compound step), pre-norm one skip."""
    from test_fix_shapes import BIDIRECTIONAL_STEP

    out = fix_source(BIDIRECTIONAL_STEP.encode(), "m.py", CONFIG, FixOptions(residual=True)).fixed.decode()
    assert "x = norm(f(x) + b(x.flip(1)).flip(1) + x)" in out


def test_a_norm_goes_on_the_layers_own_output_below_a_transpose():
    """Climbing stops at anything that may move the layer's width off the last axis."""
    source = SHAPES["two-stacks"][0].replace("x = m(x)\n        for m in self.decoder:",
                                             "x = m(x).transpose(1, 2)\n        for m in self.decoder:")
    source = source.replace("            x = m(x)\n        return x", "            x = m(x.transpose(1, 2))\n        return x")
    out = fix_source(source.encode(), "m.py", CONFIG, FixOptions()).fixed.decode()
    assert "x = norm(m(x)).transpose(1, 2)" in out


def test_an_unpacking_statement_that_overwrites_the_input_gets_its_norm_but_no_skip():
    """`x, gate = cell(x)` under --residual: the input is gone after the statement, so only the norm
    is added, the summary says why there is no skip, and MF002 reports the missing skip."""
    source = SHAPES["unpacked"][0].replace("y, gate = cell(x)\n            x = y", "x, gate = cell(x)")
    assert "x, gate = cell(x)" in source
    result = fix_source(source.encode(), "m.py", CONFIG, FixOptions(residual=True))
    assert "x, gate = cell(x)\n            x = norm(x)\n" in result.fixed.decode()
    assert any("no skip added: the statement that unpacks its output overwrites its input" in c for c in result.changes)
    assert [f.code for f in result.remaining] == ["MF002"]


def _every_positive() -> dict[str, str]:
    from repo_corpus import CASES
    from shapes import HEADER, POSITIVE

    out = {f"shape:{k}": HEADER + v for k, v in POSITIVE.items()}
    out.update({f"path:{k}": v[0] for k, v in SHAPES.items()})
    out.update({f"corpus:{c.name}": c.code for c in CASES if c.expected})
    return out


POSITIVES = _every_positive()


@pytest.mark.parametrize("name", sorted(POSITIVES))
def test_checks_fixable_is_what_apply_does(name):
    """What check calls fixable, apply fixes (post-norm, the default); what it does not, apply
    leaves with the same reason; nothing fixable is left afterwards."""
    source = POSITIVES[name]
    found = _mf001(source)
    result = fix_source(source.encode(), "m.py", CONFIG, FixOptions())
    assert result.error is None
    left = [f for f in result.remaining if f.code == "MF001"]
    assert sorted(f.fix_note for f in left) == sorted(f.fix_note for f in found if not f.fixable)
    assert not [f for f in _mf001(result.fixed.decode()) if f.fixable]
