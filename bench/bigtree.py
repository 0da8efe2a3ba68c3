"""Trees for the scale benchmark: every `.py` file at HEAD of fetched repositories, and the dense
tree of generated model files. Nothing here is committed with the trees it writes.

A repository mirror is a bare git directory (`MIRRORS/OWNER+NAME/repo`, or `MIRRORS/OWNER+NAME`);
its files land under `TREE/OWNER+NAME/...` (the `+` keeps the repository folder from being read
as a package, so module names start at the repository's root, as in a checkout).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mirrors(folder: Path) -> list[tuple[str, Path]]:
    """(name, git directory) of each bare mirror under `folder`, sorted by name."""
    out = []
    for entry in sorted(folder.iterdir()):
        for git in (entry / "repo", entry):
            if (git / "HEAD").is_file() and (git / "objects").is_dir():
                out.append((entry.name, git))
                break
    return out


def _git(git: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", f"--git-dir={git}", *args], input=data, capture_output=True, check=True).stdout


def export_py(git: Path, into: Path) -> int:
    """Write every `.py` blob at HEAD of a mirror under `into`; returns how many."""
    listing = _git(git, "ls-tree", "-r", "-z", "HEAD")
    blobs = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000" and name.endswith(b".py"):
            blobs.append((sha, name.decode("utf-8", "surrogateescape")))
    if not blobs:
        return 0
    out = _git(git, "cat-file", "--batch", data=b"".join(sha + b"\n" for sha, _ in blobs))
    pos = 0
    for _, name in blobs:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        body = out[header_end + 1: header_end + 1 + size]
        pos = header_end + 1 + size + 1
        path = into / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return len(blobs)


def build_big(mirror_folder: Path, tree: Path) -> dict[str, int]:
    """The big tree (built once; an existing tree is reused): {repository folder: files}."""
    counts_file = tree / ".counts"
    if counts_file.exists():
        return {line.split("\t")[0]: int(line.split("\t")[1]) for line in counts_file.read_text().splitlines()}
    tree.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, git in mirrors(mirror_folder):
        try:
            n = export_py(git, tree / name)
        except (subprocess.CalledProcessError, ValueError) as exc:
            print(f"  skipped {name}: {exc}", file=sys.stderr)
            continue
        if n:
            counts[name] = n
    counts_file.write_text("".join(f"{k}\t{v}\n" for k, v in counts.items()))
    return counts


def build_dense(tree: Path, count: int) -> dict[str, int]:
    """`count` generated model files (tests/corpus.py) in 7 packages: 820 make the 827-file tree."""
    sys.path.insert(0, str(ROOT / "tests"))
    from corpus import write_tree

    if not tree.exists():
        write_tree(tree, count)
    return {p.name: sum(1 for _ in p.rglob("*.py")) for p in sorted(tree.iterdir()) if p.is_dir()}


def fractions(counts: dict[str, int], parts=(4, 2, 1)) -> dict[int, list[str]]:
    """For each 1/k: whole repositories (in an order fixed by their names' hashes, so no one
    kind of repository comes first) until about 1/k of the files."""
    order = sorted(counts, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
    total = sum(counts.values())
    out = {}
    for k in parts:
        chosen, files = [], 0
        for name in order:
            if files >= total / k:
                break
            chosen.append(name)
            files += counts[name]
        out[k] = sorted(chosen)
    return out
