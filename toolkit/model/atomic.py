"""Atomic file writes: a killed run never leaves a half-written file behind.

Temp files are named `.<name>.tmp-<pid>-<random>` in the target directory: they
start with a dot and never end in a baseline suffix, so nothing ever mistakes
them for a baseline, and `sweep_temp_files` can remove leftovers of a killed run.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "NAME_MAX",
    "TEMP_MARKER",
    "TEMP_NAME_EXTRA",
    "iter_temp_files",
    "same_bytes",
    "stage",
    "sweep_temp_files",
    "temp_target",
    "write_bytes",
    "write_text",
]

TEMP_MARKER = ".tmp-"
# What a temp name adds to the target's: the dot, the marker, a pid (at most 7 digits on
# Linux, pid_max 4194304), a dash and 8 hex digits.
TEMP_NAME_EXTRA = 1 + len(TEMP_MARKER) + 7 + 1 + 8
NAME_MAX = 255  # bytes in one file name, on every Linux file system the tree may live on


def temp_name_for(path: Path) -> Path:
    return path.with_name(f".{path.name}{TEMP_MARKER}{os.getpid()}-{os.urandom(4).hex()}")


def temp_target(name: str) -> str | None:
    """The file name a temp file `name` was staged for, or None if it is no temp file."""
    if not name.startswith("."):
        return None
    target, marker, tail = name[1:].rpartition(TEMP_MARKER)
    return target if marker and target and "." not in tail else None


def same_bytes(path: Path, data: bytes) -> bool:
    """Whether `path` is a regular file holding exactly `data` (never follows a link)."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def stage(path: Path, data: bytes, dir_fd: int | None = None) -> Path:
    """Write `data` to a fresh temp file beside `path`, fsynced; the caller renames it.

    With `dir_fd`, the temp file is made in that directory (path's name is used): the
    guard's writes, which reached the directory without following a link.
    """
    tmp = temp_name_for(path)
    where: str | Path = tmp.name if dir_fd is not None else tmp
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(where, flags, 0o666, dir_fd=dir_fd)  # O_EXCL: a file of its own
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where, dir_fd=dir_fd)
        raise
    return tmp


def write_bytes(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically. Returns False (and touches nothing) if unchanged.

    A target that exists and is not a regular file (/dev/null, /dev/stdout, a FIFO) is
    written in place: renaming over it would replace the device node with a file.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "wb") as fh:
            fh.write(data)
        return True
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    tmp = stage(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return True


def write_text(path: Path, text: str) -> bool:
    return write_bytes(path, text.encode())  # str.encode is always UTF-8


def iter_temp_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for p in root.rglob(f".*{TEMP_MARKER}*"):
        if p.is_file():
            yield p


def sweep_temp_files(root: Path) -> int:
    """Remove temp files a killed run left under `root`. Returns how many."""
    removed = 0
    for p in iter_temp_files(root):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed += 1
    return removed
