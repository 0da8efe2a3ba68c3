"""What smoke reads from a forward about its input (smoke/forward_reading.py, torch-free), how
the probe process turns that into shapes (smoke/layouts.py), and the bounds on its trials
(smoke/bounds.py)."""

import subprocess
import sys
import textwrap

import pytest

from mambafix.smoke.forward_facts import class_facts, read_tree

import libcst as cst


def _facts(source: str, name: str = "Net") -> dict:
    module = cst.parse_module(textwrap.dedent(source))
    node = next(n for n in module.body if isinstance(n, cst.ClassDef) and n.name.value == name)
    return class_facts(node)


def _kinds(facts):
    return [(e["kind"], e.get("exact") or e.get("at_least") or e.get("path") or e.get("n_fft") or e.get("n_fft_attr"))
            for e in facts["events"]]


def test_unpacking_the_shape_gives_the_rank_and_the_axis_names():
    facts = _facts("""
        class Net:
            def forward(self, x):
                B, C, H, W = x.shape
                b, *rest = x.size()
                return self.head(x.reshape(B, -1))
    """)
    first, second = facts["events"][:2]
    assert first["exact"] == 4 and first["names"] == ["B", "C", "H", "W"] and first["why"] == "unpacks B, C, H, W"
    assert second["at_least"] == 1 and "exact" not in second  # a starred target bounds the rank from below
    assert facts["events"][2]["path"] == "head" and facts["events"][2]["ops"] == [["reshape", 2]]


def test_transformations_before_the_first_module_are_kept_in_order():
    facts = _facts("""
        from einops import rearrange

        class Net:
            def forward(self, x):
                x = x.permute(0, 2, 1).contiguous()
                y = torch.transpose(x, 1, 2)
                z = rearrange(y, "b l c -> b c l")
                return self.norm(z.unsqueeze(1))
    """)
    events = facts["events"]
    assert events[0] == {"kind": "rank", "ops": [], "through": [], "exact": 3, "why": "permute(0, 2, 1)"}
    assert [e["exact"] for e in events if "exact" in e] == [3, 3]  # permute, rearrange's left side
    module = events[-1]
    assert module["path"] == "norm"
    assert [op[0] for op in module["ops"]] == ["permute", "transpose", "rearrange", "unsqueeze"]


def test_methods_loops_and_submodules_are_followed_with_the_input_bound():
    facts = _facts("""
        class Net:
            def prepare(self, x):
                mean = x.mean(dim=(0, 2, 3), keepdim=True)
                return x - mean

            @staticmethod
            def centre(x):
                return x[:, :, 3, 3]

            def forward(self, x):
                x = self.prepare(x)
                c = self.centre(x)
                for block in self.blocks:
                    x = block(self.drop(x))
                return self.spectral(c)
    """)
    assert _kinds(facts) == [("rank", 4), ("rank", 4), ("module", "drop"), ("module", "blocks.0"), ("module", "spectral")]
    blocks = facts["events"][3]
    assert blocks["through"] == ["drop"]  # the value met `self.drop` first: counts only if dropout keeps the layout
    spectral = facts["events"][4]
    assert spectral["ops"] == [["select", 2], ["select", 2]]  # x[:, :, 3, 3] drops two axes


def test_a_raw_signal_for_stft_and_a_class_that_returns_its_input():
    stft = _facts("""
        class Enc:
            def forward(self, wav):
                return torch.stft(wav, self.n_fft, hop_length=self.hop, return_complex=True)
    """, "Enc")
    assert _kinds(stft) == [("stft", "n_fft")]
    assert not stft["transparent"]
    mixup = _facts("""
        class Mixup:
            def forward(self, x):
                if self.training:
                    B, V, L = x.shape
                    return x + 0.1 * x[:, torch.randperm(V)]
                return x
    """, "Mixup")
    assert mixup["transparent"] and mixup["events"][0]["exact"] == 3


def test_the_tree_read_follows_the_targets_imports(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "pkg/blocks.py").write_text("class Block:\n    def forward(self, x):\n        b, l, d = x.shape\n")
    (tmp_path / "pkg/unused.py").write_text("class Other:\n    def forward(self, x):\n        return x\n")
    (tmp_path / "pkg/net.py").write_text("from .blocks import Block\n\nclass Net:\n    def forward(self, x):\n"
                                         "        return self.block(x)\n")
    facts = read_tree(tmp_path / "pkg/net.py", [tmp_path])
    assert sorted(k.rpartition("::")[2] for k in facts) == ["Block", "Net"]  # not the file it does not import
    assert str((tmp_path / "pkg/blocks.py").resolve()) + "::Block" in facts


def test_reading_a_forward_never_imports_torch():
    code = ("import sys; from mambafix.smoke.forward_facts import read_tree; "
            "from mambafix.smoke.bounds import ceiling_gb; read_tree('examples/seed_model/bimamba.py'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_watching_a_process_kills_it_past_the_ceiling_and_says_so(tmp_path):
    from mambafix.smoke.bounds import watch_process

    progress = tmp_path / "progress"
    progress.write_text("the trial of input [1, 200, 64, 64]")
    proc = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(400 * 2 ** 20); time.sleep(60)"])
    why = watch_process(proc, 0.1, timeout=50, progress=progress)
    assert why == ("killed: over the 0.1 GB memory ceiling (--memory-limit), during the trial of input "
                   "[1, 200, 64, 64]")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert watch_process(proc, None, timeout=1, progress=None) == "the target did not finish within 1 s (--timeout)"


torch = pytest.importorskip("torch")

from mambafix.smoke.layouts import apply_ops  # noqa: E402


@pytest.mark.parametrize("rank, ops, labels", [
    (3, [["permute", 0, 2, 1]], [(0,), (2,), (1,)]),
    (3, [["transpose", -2, -1], ["unsqueeze", 1]], [(0,), (), (2,), (1,)]),
    (4, [["flatten", 2, -1], ["transpose", 1, 2]], [(0,), (2, 3), (1,)]),
    (5, [["rearrange", [["b"], ["c"], ["h"], ["w"], ["y"]], [["b"], ["c", "h"], ["w"], ["y"]]]],
     [(0,), (1, 2), (3,), (4,)]),
    (4, [["select", 2], ["select", 2]], [(0,), (1,)]),
    (3, [["permute", 0, 2, 1, 3]], None),  # a permutation of another rank: this rank cannot be
])
def test_replaying_the_forwards_transformations_on_axis_labels(rank, ops, labels):
    assert apply_ops(rank, ops) == labels


from mambafix.smoke.runner import run_smoke  # noqa: E402

GREEDY = '''
import time

import torch
import torch.nn as nn
from mamba_ssm import Mamba


class Slow(nn.Module):
    def __init__(self, d_model=8):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d_model), Mamba(d_model)])

    def forward(self, x):
        b, l, d = x.shape
        started = time.time()
        while time.time() - started < 120:  # a forward that never ends at this size
            pass
        return x


class Greedy(nn.Module):
    def __init__(self, d_model=8):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d_model), Mamba(d_model)])

    def forward(self, x):
        b, l, d = x.shape
        kept = [torch.ones(10_000_000) for _ in range(1000)]  # 40 GB, 40 MB at a time
        return x
'''


def test_a_trial_past_its_time_limit_or_the_memory_ceiling_says_why_and_the_run_goes_on(tmp_path):
    (tmp_path / "greedy.py").write_text(GREEDY)
    slow = run_smoke(f"{tmp_path}/greedy.py:Slow", scales=[1], length=8, timeout=120, trial_timeout=1)
    assert not slow.ok and slow.error.startswith("no input could be confirmed within the bounds: [1, 8, 8] did not "
                                                 "finish within 1 s (--trial-timeout)")
    greedy = run_smoke(f"{tmp_path}/greedy.py:Greedy", scales=[1], length=8, timeout=120, memory_limit=1.0)
    assert not greedy.ok and "[1, 8, 8] went over the 1.0 GB memory ceiling (--memory-limit)" in greedy.error
