"""Reading and writing source files without losing a byte."""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import tempfile
from pathlib import Path

_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


class SourceError(Exception):
    """A file that cannot be read as Python source; reported per file."""


def detect_encoding(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for line in data.splitlines()[:2]:
        match = _COOKIE.match(line)
        if match:
            name = match.group(1).decode("ascii")
            try:
                return codecs.lookup(name).name
            except LookupError as exc:
                raise SourceError(f"unknown encoding {name!r} in coding cookie") from exc
    return "utf-8"


def decode(data: bytes) -> str:
    if b"\0" in data:
        raise SourceError("file contains NUL bytes (binary file?)")
    encoding = detect_encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc.reason} at byte {exc.start}") from exc


def read_bytes(path: Path) -> bytes:
    try:
        if not path.is_file():
            if not os.path.lexists(path):
                raise SourceError("file disappeared before it could be read")
            raise SourceError("not a regular file")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError("file disappeared before it could be read") from exc
    except IsADirectoryError as exc:
        raise SourceError("is a directory") from exc
    except PermissionError as exc:
        raise SourceError("permission denied") from exc
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from exc


TEMP_SUFFIX = ".mambafix-tmp"


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """An exclusive advisory lock on the folder (flock on its descriptor), where the OS has one.

    Held only around compare-and-rename, so two runs fixing the same tree never interleave
    their check of a file's bytes with the other's rename of it."""
    try:
        import fcntl
    except ImportError:  # no flock here: the compare just before the rename still guards
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def atomic_write(path: Path, data: bytes, expected_original: bytes | None = None) -> None:
    """Write `data` to `path` through a temporary file in the same folder, fsync and rename.

    Keeps the file's mode. If `expected_original` is given and the file no longer holds
    those bytes (another process changed it), nothing is written and SourceError is raised.
    The temporary file's name carries this process's id, so a later run can tell one left
    by a killed process (see `remove_stale_temp_files`) from one in flight.
    """
    path = Path(path)
    stat = path.stat()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, stat.st_mode & 0o7777)
        with _folder_lock(path.parent):
            if expected_original is not None and path.read_bytes() != expected_original:
                raise SourceError("file changed on disk while it was being fixed; left as it is")
            os.replace(tmp_name, path)
            _fsync_folder(path.parent)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def _fsync_folder(folder: Path) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temp_files(folders) -> list[Path]:
    """Delete temporary files that a killed run left in `folders`; returns what was removed.

    A temporary file whose process is still alive is in flight and stays."""
    removed = []
    for folder in folders:
        for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
            try:
                pid = int(tmp.name[: -len(TEMP_SUFFIX)].rsplit(".", 2)[-2])  # .NAME.PID.RANDOM
            except (ValueError, IndexError):
                continue
            if pid != os.getpid() and _pid_alive(pid):
                continue
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed
