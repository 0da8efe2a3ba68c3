"""Property-based tests (hypothesis) over generated model files.

Files are random combinations of the MF001 shapes (tests/shapes.py), with tagged debug prints,
import aliases, blank lines, comments, tab or space indentation, LF or CRLF line endings and
UTF-8, UTF-8 with BOM or latin-1 encodings. For every one:
- apply's output compiles;
- a re-check of the output finds nothing fixable;
- apply is idempotent;
- a file without findings comes back byte-identical.
"""

import os
import random
import textwrap

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from corpus import _rename, _with_forward_debug
from mambafix.engine.file import analyze_module
from mambafix.fix.apply import effective_config, fix_source
from mambafix.config import load_config, with_cli_overrides
from mambafix.checks.base import FixOptions
from mambafix.source import decode
from shapes import NEGATIVE, POSITIVE

CONFIG = with_cli_overrides(load_config([ROOT]), select=["MF001", "MF002", "MF003"])
CONFIG_DEFAULT = load_config([ROOT])

HEADERS = [
    "import torch\nimport torch.nn as nn\nfrom mamba_ssm import Mamba, Mamba2\n",
    "import torch\nfrom torch import nn\nfrom mamba_ssm import Mamba, Mamba2\n",
    "import torch\nimport torch.nn as nn\nfrom mamba_ssm.modules.mamba_simple import Mamba\nfrom mamba_ssm import Mamba2\n",
    "import torch\nimport torch.nn as nn\ntry:\n    from mamba_ssm import Mamba, Mamba2\nexcept ImportError:\n    Mamba = Mamba2 = None\n",
]

TAGGED = [
    'print("[S6 DEBUG] shape", x.shape)',
    'print(f"[BiMamba DEBUG] max {x.abs().max()}")',
    'logger.debug("[S6 DEBUG] step")',
]

SHAPES = {**{f"+{k}": v for k, v in POSITIVE.items()}, **{f"-{k}": v for k, v in NEGATIVE.items()}}


def _with_debug(body: str, statement: str) -> str:
    """A tagged print as the first statement of the forward pass."""
    lines = body.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip().startswith("def forward("):
            return "".join(lines[: i + 1] + ["        " + statement + "\n"] + lines[i + 1:])
    return body


@st.composite
def model_files(draw) -> tuple[bytes, str]:
    names = draw(st.lists(st.sampled_from(sorted(SHAPES)), min_size=1, max_size=4, unique=True))
    parts = [draw(st.sampled_from(HEADERS)), "import logging\nlogger = logging.getLogger(__name__)\n"]
    for k, name in enumerate(names):
        body = textwrap.dedent(SHAPES[name]).lstrip("\n")
        if draw(st.booleans()):
            body = _with_debug(body, draw(st.sampled_from(TAGGED)))
        if draw(st.booleans()):
            body = _with_forward_debug(body)
        parts.append("\n" + _rename(body, f"M{k}"))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))  # layout noise: one draw, so shrinking stays fast
    out = []
    for line in "".join(parts).splitlines():
        if rng.random() < 0.1:
            out.append("")  # a blank line
        if line.strip() and rng.random() < 0.1:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + "# " + rng.choice(["note", "TODO: tune", "see the paper", "é accent"]))
        if line.strip() and not line.rstrip().endswith((",", "(", "[")) and rng.random() < 0.07:
            line += "  # trailing comment"
        out.append(line)
    text = "\n".join(out) + "\n"
    if draw(st.booleans()):
        text = "\n".join(_tabs(line) for line in text.split("\n"))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    if encoding == "latin-1":
        text = "# -*- coding: latin-1 -*-\n" + text
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text.encode(encoding), encoding


def _tabs(line: str) -> str:
    stripped = line.lstrip(" ")
    depth = (len(line) - len(stripped)) // 4
    return "\t" * depth + " " * ((len(line) - len(stripped)) % 4) + stripped


OPTIONS = st.builds(FixOptions, residual=st.booleans(), style=st.sampled_from(["postnorm", "prenorm"]),
                    norm=st.sampled_from(["layernorm", "rmsnorm"]))


# MAMBAFIX_PROPERTY_EXAMPLES=5000 for a long hunt; 300 by default (a few seconds)
@settings(max_examples=int(os.environ.get("MAMBAFIX_PROPERTY_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model_files(), OPTIONS, st.booleans())
def test_apply_output_compiles_rechecks_clean_and_is_idempotent(generated, options, all_rules):
    data, encoding = generated
    config = effective_config(CONFIG if all_rules else CONFIG_DEFAULT, options)  # --residual implies MF002
    compile(decode(data), "generated.py", "exec", dont_inherit=True)  # the generator makes valid input
    before = analyze_module(data, "generated.py", config).findings
    first = fix_source(data, "generated.py", config, options)
    assert first.error is None, first.error
    compile(decode(first.fixed), "generated.py", "exec", dont_inherit=True)
    again = fix_source(first.fixed, "generated.py", config, options)
    assert again.error is None and again.fixed == first.fixed  # idempotent
    after = analyze_module(first.fixed, "generated.py", config).findings
    # nothing fixable is left, except what apply reported it could not fix with these options
    # (a residual asked of an nn.Sequential: a plain re-check could still add norms there)
    reported = {(f.code, f.message) for f in first.remaining}
    assert {(f.code, f.message) for f in after if f.fixable} <= reported
    if not before:
        assert first.fixed == data  # no finding: byte-identical
    if first.fixed != data:
        assert first.fixed.startswith(b"\xef\xbb\xbf") == data.startswith(b"\xef\xbb\xbf")
        assert (b"\r\n" in first.fixed) == (b"\r\n" in data)
        decode(first.fixed)  # still decodes with its own encoding declaration
        if encoding == "latin-1":
            assert first.fixed.startswith(b"# -*- coding: latin-1 -*-")
