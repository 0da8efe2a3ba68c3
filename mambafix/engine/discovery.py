"""Which files a run looks at: paths given, directories walked, ignores honoured."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Discovery:
    paths: list[str] = field(default_factory=list)  # as walked (a Path each costs more than the walk)
    errors: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [Path(p) for p in self.paths]


def exclusion_matcher(patterns: tuple[str, ...]):
    """One compiled regex for every pattern, tried on a name and on a path relative to the top."""
    if not patterns:
        return lambda name, rel: False
    parts = []
    for p in patterns:
        parts.append(fnmatch.translate(p))
        parts.append(fnmatch.translate(p.rstrip("/") + "/*"))
    regex = re.compile("|".join(f"(?:{x})" for x in parts))
    return lambda name, rel: regex.match(name) is not None or regex.match(rel) is not None


def inclusion_matcher(patterns: tuple[str, ...]):
    """Whether a walked file's name is one to read: `*.ext` patterns as one suffix test, the
    others as one compiled regex."""
    suffixes = tuple(p[1:] for p in patterns if p.startswith("*.") and not any(c in p[2:] for c in "*?["))
    others = [p for p in patterns if p[1:] not in suffixes]
    regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in others)) if others else None
    return lambda name: name.endswith(suffixes) or (regex is not None and regex.match(name) is not None)


def _file_key(path: str) -> tuple[int, int] | str:
    try:
        st = os.stat(path)
    except OSError:
        return path
    return (st.st_dev, st.st_ino)


def _gitignore_spec(folder: Path):
    """The folder's .gitignore as a pathspec matcher, or None (pathspec loads only when one exists)."""
    path = folder / ".gitignore"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if not lines:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def discover(paths: list[Path], config) -> Discovery:
    """Python files under `paths`. Files named explicitly are always taken (unless excluded)."""
    result = Discovery()
    seen: set = set()
    excluded = exclusion_matcher(tuple(config.exclude) + tuple(config.extend_exclude))
    excluded_explicit = exclusion_matcher(tuple(config.extend_exclude))
    included = inclusion_matcher(tuple(config.include))
    for given in paths:
        given = Path(given)
        if given.is_symlink() and not given.exists():
            result.errors.append((given, "broken symbolic link"))
            continue
        if not given.exists():
            result.errors.append((given, "no such file or directory"))
            continue
        if given.is_dir():
            _walk(given, config, excluded, included, result, seen)
        else:
            key = _file_key(str(given))
            if key not in seen and not excluded_explicit(given.name, given.as_posix()):
                seen.add(key)
                result.paths.append(str(given))
    return result


def _walk(top: Path, config, excluded, included, result: Discovery, seen: set) -> None:
    visited_dirs: set[tuple[int, int]] = set()
    top_text = os.path.join(str(top), "")
    shown = "" if str(top) == "." else os.path.join(str(top), "")  # each path as str(Path(path)) spells it
    # Stack of (folder, [(base folder, spec), ...]) so nested .gitignore files apply below them.
    stack: list[tuple[str, list]] = [(str(top), [])]
    while stack:
        folder, specs = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            result.errors.append((Path(folder), f"cannot read folder: {exc.strerror or exc}"))
            continue
        if (st.st_dev, st.st_ino) in visited_dirs:
            continue  # a symlink loop or a folder reached twice
        visited_dirs.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            result.errors.append((Path(folder), f"cannot list folder: {exc.strerror or exc}"))
            continue
        names = {entry.name for entry in entries}  # what the folder holds: no file is opened to find out
        if "pyvenv.cfg" in names and folder != str(top):
            continue  # a virtual environment
        if config.respect_gitignore and ".gitignore" in names:
            spec = _gitignore_spec(Path(folder))
            if spec is not None:
                specs = [*specs, (os.path.join(folder, ""), spec)]
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if not is_dir and not included(name):
                continue
            path = entry.path
            rel = path[len(top_text):] if path.startswith(top_text) else name
            if excluded(name, rel):
                continue
            if specs and any(spec.match_file(path[len(base):] + ("/" if is_dir else "")) for base, spec in specs):
                continue
            if is_dir:
                subdirs.append(path)
                continue
            try:
                is_file = entry.is_file()
                symlink = entry.is_symlink()
            except OSError:
                continue
            if not is_file:
                if symlink and not os.path.exists(path):
                    continue  # broken symlink inside a tree: skipped, as git would
                result.errors.append((Path(path), "not a regular file"))
                continue
            key = _file_key(path) if symlink else (st.st_dev, entry.inode())
            if key not in seen:
                seen.add(key)
                result.paths.append(shown + rel if path.startswith(top_text) else str(Path(path)))
        stack.extend((d, specs) for d in reversed(subdirs))
