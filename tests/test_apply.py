"""apply: golden rewrites, idempotence, byte preservation, exit codes."""

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLE, ROOT, dedent
from mambafix.fix.apply import apply_paths, fix_source
from mambafix.catalogue import load_rules
from mambafix.cli import app
from mambafix.config import load_config
from mambafix.engine.file import check_source
from mambafix.checks.base import FixOptions
from test_mf001_shapes import HEADER, POSITIVE

CONFIG = load_config([ROOT])
ALL = replace(CONFIG, select=frozenset({"MF001", "MF002", "MF003"}))
OPTIONS = {
    "postnorm": FixOptions(),
    "residual": FixOptions(residual=True),
    "prenorm": FixOptions(style="prenorm"),
    "rmsnorm": FixOptions(norm="rmsnorm"),
}


def fix(src: str, options=FixOptions(), config=CONFIG) -> str:
    result = fix_source(dedent(src).encode(), "m.py", config, options)
    assert result.error is None, result.error
    return result.fixed.decode()


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("shape", sorted(POSITIVE))
def test_every_shape_fixes_compiles_and_is_idempotent(shape, option):
    src = HEADER + POSITIVE[shape]
    options = OPTIONS[option]
    result = fix_source(dedent(src).encode(), "m.py", CONFIG, options)
    assert result.error is None
    out = result.fixed.decode()
    compile(out, "m.py", "exec")
    if shape == "sequential-over-modulelist":  # the layers live in self.layers: reported, never rewritten
        assert out == dedent(src) and "unpacks self.layers" in result.remaining[0].fix_note
        return
    if shape == "sequential-star" or shape.startswith("sequential-literal"):
        if options.style == "prenorm":
            assert out == dedent(src) and len(result.remaining) == 1  # reported, not rewritten
            return
        if options.residual:  # the norms go inside; an nn.Sequential holds no skip, and says so
            assert any("no skip added: an nn.Sequential cannot hold one" in c for c in result.changes)
    assert out != dedent(src)
    remaining = [f for f in check_source(out, "m.py", replace(CONFIG, select=frozenset({"MF001", "MF002"}))) if f.fixable]
    if options.residual or options.style == "prenorm":
        assert remaining == []
    else:
        assert [f for f in remaining if f.code == "MF001"] == []
    assert fix(out, options) == out  # a second apply changes nothing


@pytest.mark.parametrize("code,example", [(r.code, ex) for r in load_rules().values() for ex in r.examples],
                         ids=lambda v: getattr(v, "name", v))
def test_rule_examples_fix_to_their_fixed_text(code, example):
    config = replace(CONFIG, select=frozenset({code}))
    if example.fixed is not None:
        assert fix(example.code, config=config) == example.fixed
        assert [f for f in check_source(example.fixed, "m.py", config) if f.fixable] == []
    assert fix(example.code if example.fixed is None else example.fixed, config=config) == (example.fixed or example.code)


GOLDEN = {
    "index-loop": ("""
        for i in range(len(self.layers)):
            x = self.layers[i](x)
    """, """
        for i in range(len(self.layers)):
            x = self.norms[i](self.layers[i](x))
    """, FixOptions()),
    "checkpoint-residual": ("""
        for layer in self.layers:
            x = checkpoint(layer, x, use_reentrant=False)
    """, """
        for layer, norm in zip(self.layers, self.norms):
            x = norm(checkpoint(layer, x, use_reentrant=False) + x)
    """, FixOptions(residual=True)),
    "prenorm": ("""
        for layer in self.layers:
            x = layer(x)
    """, """
        for layer, norm in zip(self.layers, self.norms):
            x = x + layer(norm(x))
    """, FixOptions(style="prenorm")),
    "zip-extended": ("""
        for layer, drop in zip(self.layers, self.drops):
            x = drop(layer(x))
    """, """
        for layer, drop, norm in zip(self.layers, self.drops, self.norms):
            x = drop(norm(layer(x)))
    """, FixOptions()),
    "reversed": ("""
        for layer in reversed(self.layers):
            x = layer(x)
    """, """
        for layer, norm in zip(reversed(self.layers), reversed(self.norms)):
            x = norm(layer(x))
    """, FixOptions()),
}


GOLDEN_HEAD = """
import torch.nn as nn
from mamba_ssm import Mamba
from torch.utils.checkpoint import checkpoint


class M(nn.Module):
    def __init__(self, d, n=4):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])
        self.drops = nn.ModuleList([nn.Dropout(0.1) for _ in range(n)])

    def forward(self, x):
"""


def indented(body: str) -> str:
    """A golden loop body as the lines of M.forward."""
    return dedent(body).replace("\n", "\n        ").join(["        ", ""]).rstrip(" ")


def golden_source(body: str) -> str:
    return dedent(GOLDEN_HEAD) + indented(body) + "        return x\n"


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_loop_rewrites(name):
    before, after, options = GOLDEN[name]
    src = golden_source(before)
    out = fix(src, options)
    expected_body = indented(after)
    assert expected_body in out, out
    norm_class = "RMSNorm" if options.norm == "rmsnorm" else "LayerNorm"
    assert f"self.norms = nn.ModuleList([nn.{norm_class}(d) for _ in self.layers])" in out


def test_sequential_golden():
    src = HEADER + POSITIVE["sequential-literal-with-linear-tail"]
    out = fix(src)
    assert "nn.Sequential(Mamba(d), nn.LayerNorm(d), Mamba(d), nn.LayerNorm(d), nn.Linear(d, 1))" in out
    out = fix(HEADER + POSITIVE["sequential-star"])
    assert "nn.Sequential(*[nn.Sequential(Mamba(d), nn.LayerNorm(d)) for _ in range(n)])" in out


def test_rmsnorm_and_existing_attribute_not_clobbered():
    src = HEADER + POSITIVE["listcomp"].replace("super().__init__()", "super().__init__()\n        self.norms = None")
    out = fix(src, FixOptions(norm="rmsnorm"))
    assert "self.norms2 = nn.ModuleList([nn.RMSNorm(d) for _ in self.layers])" in out
    assert "self.norms = None" in out


ALIAS_SOURCES = {
    "nn": ("import torch.nn as nn\n", "nn.Module", "nn.ModuleList", "nn.LayerNorm(d)", 0),
    "from-torch": ("from torch import nn\n", "nn.Module", "nn.ModuleList", "nn.LayerNorm(d)", 0),
    "torch": ("import torch\n", "torch.nn.Module", "torch.nn.ModuleList", "torch.nn.LayerNorm(d)", 0),
    "none": ("from torch.nn import Module, ModuleList\n", "Module", "ModuleList", "nn.LayerNorm(d)", 1),
}


@pytest.mark.parametrize("name", sorted(ALIAS_SOURCES))
def test_nn_alias_is_reused_or_added_once(name):
    imports, module, module_list, expected, added = ALIAS_SOURCES[name]
    body = dedent(POSITIVE["listcomp"]).replace("nn.ModuleList", module_list).replace("(nn.Module)", f"({module})")
    out = fix(imports + "from mamba_ssm import Mamba\n" + body)
    compile(out, "m.py", "exec")
    assert expected in out
    assert out.count("import torch.nn as nn") == added + (1 if name == "nn" else 0)
    assert fix(out) == out


def test_print_removal_keeps_comments_and_else_and_impure_tests():
    src = dedent("""
        import torch


        def f(h, log):
            # explain the next step

            # DIAGNOSTIC: check the input
            print("[S6 DEBUG] a")  # goes with its line
            h = h + 1
            if torch.isnan(h).any():
                print("[S6 DEBUG] nan")
            else:
                h = h * 2
            if log.flush():
                print("[S6 DEBUG] side effect in the test")
            for i in range(2):
                print("[S6 DEBUG] in loop")
            if h is None: print("[S6 DEBUG] one-liner")
            return h
    """)
    out = fix(src, config=ALL)
    # the print's own comment (directly above it) goes with it; the one a blank line above stays,
    # and so does the blank line
    assert "    # explain the next step\n\n    h = h + 1" in out
    assert "DIAGNOSTIC" not in out and "goes with its line" not in out
    assert "if torch.isnan" not in out and "    h = h * 2\n" in out
    assert "if log.flush():\n        pass" in out
    assert "for i in range(2):\n        pass" in out
    assert "if h is None" not in out
    compile(out, "m.py", "exec")


def test_print_removal_keeps_the_blank_line_layout():
    src = dedent("""
        def forward(self, x):
            x = self.embed(x)

            # DIAGNOSTIC: Check input
            print(f"[BiMamba DEBUG] input {x.abs().max()}")

            # the stacks
            y = self.layers(x)
            # DIAGNOSTIC: after the stack
            # (two lines of it)
            print("[BiMamba DEBUG] out", y.shape)
            return y
    """)
    out = fix(src, config=ALL)
    assert out == dedent("""
        def forward(self, x):
            x = self.embed(x)

            # the stacks
            y = self.layers(x)
            return y
    """)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name,data", [
    ("crlf", b'import torch.nn as nn\r\nfrom mamba_ssm import Mamba\r\n\r\nclass M(nn.Module):\r\n    def __init__(self, d):\r\n        super().__init__()\r\n        self.layers = nn.ModuleList([Mamba(d) for _ in range(3)])\r\n\r\n    def forward(self, x):\r\n        print("[S6 DEBUG] x")\r\n        for layer in self.layers:\r\n            x = layer(x)\r\n        return x\r\n'),
    ("bom", b'\xef\xbb\xbfprint("[S6 DEBUG] x")\nx = 1\n'),
    ("latin1", b'# -*- coding: latin-1 -*-\ns = "\xe9"\nprint("[S6 DEBUG] \xe9")\n'),
    ("tabs", b'def f():\n\tprint("[S6 DEBUG] x")\n\treturn 1\n'),
    ("no-final-newline", b'x = 1\nprint("[S6 DEBUG] x")'),
])
def test_bytes_are_preserved(tmp_path, name, data):
    path = _write(tmp_path / f"{name}.py", data)
    os.chmod(path, 0o640)
    report = apply_paths([path], ALL, FixOptions())
    assert not report.errors and report.written == [str(path)]
    out = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    if name == "crlf":
        assert b"\n" not in out.replace(b"\r\n", b"")
        assert b"self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in self.layers])\r\n" in out
    if name == "bom":
        assert out == b'\xef\xbb\xbfx = 1\n'
    if name == "latin1":
        assert out == b'# -*- coding: latin-1 -*-\ns = "\xe9"\n'
    if name == "tabs":
        assert out == b'def f():\n\treturn 1\n'
    if name == "no-final-newline":
        assert out == b"x = 1"  # no final newline before the fix, none after
    assert not list(tmp_path.glob(".*mambafix-tmp"))


def test_untouched_files_keep_bytes_and_mtime(tmp_path):
    clean = _write(tmp_path / "clean.py", b"from mamba_ssm import Mamba\nm = Mamba(4)\n")
    dirty = _write(tmp_path / "dirty.py", b'print("[S6 DEBUG] x")\n')
    os.utime(clean, (1_000_000, 1_000_000))
    apply_paths([tmp_path], ALL, FixOptions())
    assert clean.stat().st_mtime == 1_000_000
    assert dirty.read_bytes().strip() == b""


def test_cli_diff_writes_nothing_and_exits_1(tmp_path):
    import shutil

    target = tmp_path / "seed"
    shutil.copytree(EXAMPLE, target)
    before = {p.name: p.read_bytes() for p in target.glob("*.py")}
    result = CliRunner().invoke(app, ["apply", "--diff", "--residual", str(target)])
    assert result.exit_code == 1
    assert "+            h_forward = norm(layer(h_forward) + h_forward)" in result.stdout
    assert {p.name: p.read_bytes() for p in target.glob("*.py")} == before


def test_cli_apply_then_check_is_clean(tmp_path):
    import shutil

    target = tmp_path / "seed"
    shutil.copytree(EXAMPLE, target)
    result = CliRunner().invoke(app, ["apply", "--residual", str(target)])
    assert result.exit_code == 0, result.output
    assert "strict=False" in result.output
    check = CliRunner().invoke(app, ["check", "--extend-select", "MF002", str(target)])
    assert check.exit_code == 0, check.stdout
    again = CliRunner().invoke(app, ["apply", "--residual", "--exit-non-zero-on-fix", str(target)])
    assert again.exit_code == 0 and "Changed 0 files" in again.output


def test_unfixable_findings_exit_1_and_file_untouched(tmp_path):
    src = dedent("""
        import torch.nn as nn
        from mamba_ssm import Mamba

        class M(nn.Module):
            def __init__(self, cfg):
                super().__init__()
                self.layers = nn.ModuleList([Mamba(**cfg) for _ in range(4)])
                self.proj = nn.Linear(cfg["d_model"], cfg["d_model"])

            def forward(self, x):
                for layer in self.layers:
                    x = self.proj(layer(x))  # no width to build a norm of, no name for one without
                return x
    """).encode()
    path = _write(tmp_path / "m.py", src)
    result = CliRunner().invoke(app, ["apply", str(path)])
    assert result.exit_code == 1 and "no automatic fix" in result.output
    assert path.read_bytes() == src


def test_files_libcst_cannot_print_back_are_fixed_by_splicing_their_own_lines(tmp_path):
    # libcst 1.x prints `except OSError :` as `except OSError:` and drops a bare-CR file's last
    # line ending; the fix is computed on libcst's printing and spliced into the original lines,
    # so those bytes stay exactly as they were.
    path = tmp_path / "m.py"
    data = b'try:\n    pass\nexcept OSError :\n    pass\nprint("[S6 DEBUG] x")\n'
    path.write_bytes(data)
    report = apply_paths([path], load_config([tmp_path]))
    assert path.read_bytes() == b'try:\n    pass\nexcept OSError :\n    pass\n' and report.written
    stack = (HEADER + POSITIVE["listcomp"]).replace("\n", "\r").replace("class M", "class M ", 1)
    stack = stack.replace("        return x\r", "        try:\r            pass\r        except ValueError :\r            pass\r        return x\r")
    cr = tmp_path / "cr.py"
    cr.write_bytes(stack.encode())
    report = apply_paths([cr], load_config([tmp_path]), FixOptions(residual=True))
    out = cr.read_bytes()
    assert report.written and b"\n" not in out and out.endswith(b"\r")
    assert b"except ValueError :\r" in out and b"class M (nn.Module)" in out
    assert b"self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in self.layers])\r" in out
    assert check_source(out.decode(), "cr.py", CONFIG) == []


def test_a_file_that_cannot_be_spliced_is_refused_and_counted_as_left(tmp_path, monkeypatch):
    from mambafix.fix import splice

    monkeypatch.setattr(splice, "splice", lambda *a: None)  # as if the printing did not line up
    path = tmp_path / "m.py"
    data = b'try:\n    pass\nexcept OSError :\n    pass\nprint("[S6 DEBUG] x")\n'
    path.write_bytes(data)
    report = apply_paths([path], load_config([tmp_path]))
    assert path.read_bytes() == data and not report.written
    assert "could not be spliced" in report.files[0].error.message
    assert report.exit_code() == 2
    result = CliRunner().invoke(app, ["apply", str(path)])
    assert result.exit_code == 2 and path.read_bytes() == data
    assert "0 finding(s) left" not in result.output and "1 finding(s) left" in result.output

TWO_CLASSES = dedent("""
    import torch.nn as nn
    from mamba_ssm import Mamba


    class Good(nn.Module):
        def __init__(self, d=16, n=3):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x


    class Bad(nn.Module):
        def __init__(self, d=16, n=3):
            super().__init__()
            self.layers = nn.ModuleList([Mamba(d) for _ in range(n)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
""")


@pytest.mark.parametrize("failure", ["raises while planned", "cannot be written", "does not compile"])
def test_a_fix_that_fails_is_declined_alone_and_the_rest_of_the_file_is_fixed(tmp_path, monkeypatch, failure):
    """Whatever goes wrong with one finding's edit (its planning raises, libcst refuses the node
    it builds, or the code does not compile) declines that finding with the reason; the other
    class of the file is still fixed, and the summary counts the finding left."""
    import libcst as cst

    from mambafix.checks import stack_fixes

    made = stack_fixes.NormFix.apply

    def apply(self, ctx):
        if self.use.cls.name.value != "Bad":
            return made(self, ctx)
        stmt = self.use.apps[0].stmt
        if failure == "raises while planned":
            raise ValueError("Cannot have empty name identifier.")
        if failure == "cannot be written":
            ctx.plan.rewrite_expr(stmt.value, lambda e: cst.Name(""))
        else:
            ctx.plan.rewrite_expr(stmt.value, lambda e: cst.Name("lambda"))
        return None

    monkeypatch.setattr(stack_fixes.NormFix, "apply", apply)
    path = _write(tmp_path / "m.py", TWO_CLASSES.encode())
    result = CliRunner().invoke(app, ["apply", str(path)])
    out = path.read_text()
    assert "class Good" in out and "for layer, norm in zip(self.layers, self.norms):" in out.split("class Bad")[0]
    assert out.split("class Bad")[1] == TWO_CLASSES.split("class Bad")[1]
    assert result.exit_code == 1
    assert "Bad.layers" in result.output and "the file's other fixes were made" in result.output
    assert "cannot parse" not in result.output
    assert "Changed 1 file; 1 finding(s) left without an automatic fix." in result.output


def test_a_file_that_cannot_be_written_counts_its_findings_as_left(tmp_path, monkeypatch):
    from mambafix.fix import apply as apply_module

    def refuse(*args, **kwargs):
        raise OSError("read-only file system")

    monkeypatch.setattr(apply_module, "atomic_write", refuse)
    path = _write(tmp_path / "m.py", TWO_CLASSES.encode())
    result = CliRunner().invoke(app, ["apply", str(path)])
    assert result.exit_code == 2 and path.read_bytes() == TWO_CLASSES.encode()
    assert "not written: read-only file system" in result.output
    assert "Changed 0 files; 2 finding(s) left without an automatic fix; 1 file with errors (above)." in result.output
