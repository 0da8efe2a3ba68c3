"""Import a `FILE.py:Name` target the way Python would have it, and name a missing dependency
without guessing.

A file inside a package (parent folders with `__init__.py`) is imported under its dotted
module name from the folder above the package, so its relative imports work. A file in plain
folders under the current directory or the target's repository root (the nearest folder with
`.git`, `pyproject.toml`, `setup.py` or `setup.cfg`) is imported as a namespace-package module
from there (`models/net.py` as `models.net`), as `python -m models.net` would. The current
directory and the repository root are on `sys.path` (as `python -m` run from either has them),
and the file's own folder last, for script-style sibling imports (`from blocks import X`).
A top-level name the tree itself provides is resolved in the tree first (`TreeFirst`): the
repository's own `models/` folder wins over any other module named `models` on the path.

Torch-free; used by the probe process, and by the parent to find the files check should read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg")

# Import names whose distribution has another name (or is a well-known one): the only install
# hints smoke gives besides what installed metadata says. Never a guess from the module's name.
DISTRIBUTIONS = {
    "sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "Pillow", "yaml": "PyYAML",
    "skimage": "scikit-image", "bs4": "beautifulsoup4", "attr": "attrs", "dateutil": "python-dateutil",
    "Crypto": "pycryptodome", "serial": "pyserial", "mamba_ssm": "mamba-ssm", "causal_conv1d": "causal-conv1d",
    "torch_complex": "torch-complex", "pytorch_lightning": "pytorch-lightning", "lightning": "lightning",
    "einops": "einops", "timm": "timm", "transformers": "transformers", "scipy": "scipy", "pandas": "pandas",
    "torchvision": "torchvision", "torchaudio": "torchaudio", "recbole": "recbole", "mne": "mne",
    "sktime": "sktime", "tqdm": "tqdm", "wandb": "wandb", "hydra": "hydra-core", "omegaconf": "omegaconf",
    "fvcore": "fvcore", "thop": "thop", "librosa": "librosa", "soundfile": "soundfile", "h5py": "h5py",
    "torch_geometric": "torch-geometric", "mambapy": "mambapy", "zeta": "zetascale",
}


@dataclass(frozen=True)
class ImportPlan:
    module: str  # the dotted module name the file is imported under
    paths: tuple[str, ...]  # put on sys.path, first wins (the file's own folder last)


def repository_root(path: Path) -> Path | None:
    """The nearest folder at or above `path`'s folder holding a repository marker."""
    for folder in [path.parent, *path.parent.parents]:
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return None


def _dotted(path: Path, base: Path) -> str | None:
    """`a.b.c` for base/a/b/c.py when every part is an identifier, else None."""
    try:
        parts = path.with_suffix("").relative_to(base).parts
    except ValueError:
        return None
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _shadowed(top: str, base: Path) -> bool:
    """Whether the namespace package `base/top` would lose to the standard library's module of
    that name (`test`). Any other module of that name (an installed `models`, a `models.py`
    elsewhere on the path) loses to the tree's own folder (`TreeFirst`)."""
    if (base / top / "__init__.py").exists() or (base / f"{top}.py").exists():
        return False
    return _standard(top)


def _standard(top: str) -> bool:
    """Whether `top` is a module of the standard library (also `test`, which Python does not
    list); looked up in the standard library's folders only (no finder of ours is asked)."""
    import importlib.machinery
    import sysconfig

    if top in sys.stdlib_module_names:
        return True
    paths = sysconfig.get_paths()
    folders = list(dict.fromkeys([paths["stdlib"], paths["platstdlib"], str(Path(paths["platstdlib"]) / "lib-dynload")]))
    try:
        return importlib.machinery.PathFinder.find_spec(top, folders) is not None
    except (ImportError, ValueError):
        return False


def plan_import(path: Path, cwd: Path | None = None) -> ImportPlan:
    """How to import the file at `path` (resolved)."""
    path = path.resolve()
    cwd = (cwd or Path.cwd()).resolve()
    root = repository_root(path)
    bases: list[Path] = []
    if (path.parent / "__init__.py").exists():  # a regular package: from the folder above its top
        top = path.parent
        while (top.parent / "__init__.py").exists():
            top = top.parent
        bases.append(top.parent)
    bases += [b for b in (cwd, root) if b is not None and b != path.parent and b in path.parents]
    module, base = None, path.parent
    for candidate in bases:
        module = _dotted(path, candidate)
        if module and not _shadowed(module.split(".")[0], candidate):
            base = candidate
            break
    if base == path.parent:
        module = path.stem
    paths = [str(base)] + [str(p) for p in (cwd, root) if p is not None] + [str(path.parent)]
    return ImportPlan(module, tuple(dict.fromkeys(paths)))


class TreeFirst:
    """A meta path finder that resolves a top-level name in the target's tree before anywhere
    else: the repository's `models/`, `utils/` or `layers/` folder (a namespace package) wins
    over a module of the same name elsewhere on the path (an installed `models`, a `models.py`
    in another folder), which Python's own path order would prefer. The tree's folders are
    searched in the plan's order; standard-library names are left to Python."""

    def __init__(self, folders):
        self.folders = [str(f) for f in folders]

    def find_spec(self, fullname, path=None, target=None):
        import importlib.machinery

        if "." in fullname or fullname in sys.stdlib_module_names:
            return None
        for folder in self.folders:  # the first folder that has it decides, as sys.path's order would
            here = Path(folder)
            if (here / fullname / "__init__.py").is_file() or (here / f"{fullname}.py").is_file():
                return None if _standard(fullname) else importlib.machinery.PathFinder.find_spec(fullname, [folder])
            if _holds_python(here / fullname):
                if _standard(fullname):
                    return None
                portions = [f for f in self.folders if (Path(f) / fullname).is_dir()]
                return importlib.machinery.PathFinder.find_spec(fullname, portions)
        return None

    def invalidate_caches(self) -> None:
        pass


def _holds_python(folder: Path, depth: int = 4) -> bool:
    """Whether `folder` has Python source in it or in a folder below it (at most `depth` levels):
    a folder of data is no package; `hybrid/` above `hybrid/src/pkg/` is one."""
    try:
        if not folder.is_dir():
            return False
        children = list(folder.iterdir())
    except OSError:
        return False
    if any(p.suffix == ".py" for p in children):
        return True
    return depth > 1 and any(p.is_dir() and _holds_python(p, depth - 1) for p in children[:200])


def apply_plan(plan: ImportPlan) -> None:
    """Put the plan's folders on sys.path ahead of the rest, the file's own folder after them,
    and let the tree's own top-level modules win over others of the same name (TreeFirst)."""
    *first, last = plan.paths
    for entry in reversed(first):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    if last not in sys.path:
        sys.path.append(last)
    sys.meta_path.insert(0, TreeFirst(plan.paths))


def in_tree(name: str, folders) -> Path | None:
    """Where the top-level module `name` lies in one of `folders` (a .py file or a folder)."""
    top = name.split(".")[0]
    for folder in folders:
        for candidate in (Path(folder) / f"{top}.py", Path(folder) / top):
            if candidate.exists():
                return candidate
    return None


def distribution_for(name: str) -> str | None:
    """The distribution that provides the top-level module `name`: from installed metadata (an
    installed distribution missing a submodule), else the table of known names; else None."""
    import importlib.metadata

    top = name.split(".")[0]
    try:
        found = importlib.metadata.packages_distributions().get(top)
    except Exception:  # noqa: BLE001 - broken metadata: no hint rather than a wrong one
        found = None
    if found:
        return found[0]
    return DISTRIBUTIONS.get(top)


def missing_dependency(module: str, missing: str) -> str:
    """The one-line message for a third-party module the target imports and this Python lacks."""
    dist = distribution_for(missing)
    hint = f"pip install {dist}" if dist else "install the distribution that provides it"
    return f"{module} imports {missing}, which is not installed here ({hint})"
