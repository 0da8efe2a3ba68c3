"""MF004 print-in-forward: the boundary written in rules/MF004.toml, both ways."""

import pytest

from conftest import dedent, run_check

HEAD = "import logging\nimport sys\nimport warnings\n\nimport torch\nimport torch.nn as nn\n\nlogger = logging.getLogger(__name__)\n\n\n"


def mf004(body: str):
    return [f for f in run_check(HEAD + dedent(body), select=("MF004",)) if f.code == "MF004"]


def in_forward(statement: str, wrap: str = "") -> str:
    inner = f"        {statement}\n" if not wrap else f"        {wrap}\n            {statement}\n"
    return f"class M(nn.Module):\n    def forward(self, x):\n{inner}        return x\n"


@pytest.mark.parametrize("statement", [
    'print("x", x.shape)',
    'logger.debug("x %s", x.shape)',
    'logging.info("step")',
    'sys.stdout.write("x\\n")',
    'print("oops", file=sys.stderr)',  # stderr outside an except handler is still output every step
])
def test_reported(statement):
    assert len(mf004(in_forward(statement))) == 1


@pytest.mark.parametrize("statement", [
    'warnings.warn("odd shape")',
    'logger.warning("odd shape")',
    'logger.error("bad")',
    'logging.critical("bad")',
])
def test_kept(statement):
    assert mf004(in_forward(statement)) == []


def test_stderr_print_inside_except_is_kept_but_stdout_print_is_not():
    body = """
    class M(nn.Module):
        def forward(self, x):
            try:
                return x.exp()
            except RuntimeError as exc:
                print("failed", exc, file=sys.stderr)
                print("failed again", exc)
                raise
    """
    found = mf004(body)
    assert len(found) == 1 and found[0].message == "print in M.forward: output on every forward pass"


def test_methods_called_from_forward_transitively_but_not_others():
    body = """
    class M(nn.Module):
        def forward(self, x):
            return self.a(x)

        def a(self, x):
            return self.b(x)

        def b(self, x):
            print("deep")
            return x

        def report(self):
            print("not on the forward path")
    """
    assert [f.message for f in mf004(body)] == ["print in M.b: output on every forward pass"]


def test_subclass_of_a_local_module_and_not_a_plain_class():
    body = """
    class Base(nn.Module):
        pass


    class Child(Base):
        def forward(self, x):
            print(x)
            return x


    class Plain:
        def forward(self, x):
            print(x)
            return x
    """
    assert [f.message for f in mf004(body)] == ["print in Child.forward: output on every forward pass"]


def test_off_by_default():
    from conftest import ROOT
    from mambafix.config import load_config
    from mambafix.engine.file import check_source

    assert "MF004" not in load_config([ROOT]).select
    assert [f for f in check_source(HEAD + in_forward('print("x")'), "m.py", load_config([ROOT])) if f.code == "MF004"] == []
