"""Which files a run looks at: paths given, directories walked, ignores honoured."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

import pathspec


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)


def _excluded(name: str, rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p.rstrip("/") + "/*") for p in patterns)


def _gitignore_spec(folder: Path) -> pathspec.PathSpec | None:
    path = folder / ".gitignore"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def discover(paths: list[Path], config) -> Discovery:
    """Python files under `paths`. Files named explicitly are always taken (unless excluded)."""
    result = Discovery()
    seen: set[Path] = set()
    patterns = tuple(config.exclude) + tuple(config.extend_exclude)
    for given in paths:
        given = Path(given)
        if given.is_symlink() and not given.exists():
            result.errors.append((given, "broken symbolic link"))
            continue
        if not given.exists():
            result.errors.append((given, "no such file or directory"))
            continue
        if given.is_dir():
            _walk(given, config, patterns, result, seen)
        else:
            key = given.resolve()
            if key not in seen and not _excluded(given.name, given.as_posix(), tuple(config.extend_exclude)):
                seen.add(key)
                result.files.append(given)
    return result


def _walk(top: Path, config, patterns: tuple[str, ...], result: Discovery, seen: set[Path]) -> None:
    visited_dirs: set[tuple[int, int]] = set()
    # Stack of (folder, [(base folder, spec), ...]) so nested .gitignore files apply below them.
    stack: list[tuple[Path, list]] = [(top, [])]
    while stack:
        folder, specs = stack.pop()
        try:
            st = folder.stat()
        except OSError as exc:
            result.errors.append((folder, f"cannot read folder: {exc.strerror or exc}"))
            continue
        if (st.st_dev, st.st_ino) in visited_dirs:
            continue  # a symlink loop or a folder reached twice
        visited_dirs.add((st.st_dev, st.st_ino))
        if config.respect_gitignore:
            spec = _gitignore_spec(folder)
            if spec is not None:
                specs = [*specs, (folder, spec)]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            result.errors.append((folder, f"cannot list folder: {exc.strerror or exc}"))
            continue
        subdirs = []
        for entry in entries:
            path = Path(entry.path)
            rel = path.relative_to(top).as_posix()
            if _excluded(entry.name, rel, patterns) or (entry.name.startswith(".") and entry.name not in (".", "..")):
                continue
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError:
                continue
            if any(spec.match_file(path.relative_to(base).as_posix() + ("/" if is_dir else "")) for base, spec in specs):
                continue
            if is_dir:
                if (path / "pyvenv.cfg").exists():
                    continue  # a virtual environment
                subdirs.append(path)
            elif entry.name.endswith(".py"):
                if not is_file:
                    if entry.is_symlink() and not path.exists():
                        continue  # broken symlink inside a tree: skipped, as git would
                    result.errors.append((path, "not a regular file"))
                    continue
                key = path.resolve()
                if key not in seen:
                    seen.add(key)
                    result.files.append(path)
        stack.extend((d, specs) for d in reversed(subdirs))
