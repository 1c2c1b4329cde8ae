"""Opening files the toolkit trusts: never through a link, never a FIFO or a device, never
unbounded; and JSON that cannot exhaust the stack.

`open_regular` opens a file with O_NOFOLLOW (a link is refused, not followed) and O_NONBLOCK
(opening a FIFO never waits for a writer), after an lstat (a device is never opened at all),
then fstat()s the descriptor: anything but a regular file is refused before a byte is read.
`read_bytes` refuses a file over its `Kind`'s limit instead of reading it whole (a link to
/dev/zero once ended in MemoryError). `open_dir` reaches a directory below an anchor by
opening each step with O_NOFOLLOW, so no parent is a link either, and `TreeDir` reads and
writes (staged, then renamed: toolkit.model.atomic) by name inside it. A refusal is
`UnsafeFile`: bad input that names the file, what it is and how to fix it.

The split: this module knows no golden tree, and lives in `model` so that the probe cache
(toolkit.qemu, which may not import toolkit.baseline) opens its file the same way. What the
tree allows (its kinds and limits, the lock, the pre-write scan, one entry point for every
reader and writer) is toolkit.baseline.guard, built on this: go through that for anything
in the tree or a case file. Over 250 lines on purpose: the file opens, the walk and the staged
writes share one set of refusals; split, each would re-derive them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.model import atomic
from toolkit.model.errors import BadInput

__all__ = [
    "MAX_JSON_DEPTH",
    "Kind",
    "MiB",
    "TooLarge",
    "TreeDir",
    "UnsafeFile",
    "describe",
    "open_dir",
    "open_regular",
    "parse_json",
    "read_bytes",
]

MiB = 1 << 20
# Deeper JSON is no document the toolkit writes (a meta is 2 levels deep, info's JSON about
# 5): json.loads, deepdiff and jsonschema recurse, and 100,000 nested arrays overflow them.
MAX_JSON_DEPTH = 64
_OPEN = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass(frozen=True)
class Kind:
    """What a file is to the toolkit, the most it reads of one, and how to repair one."""

    what: str  # "a baseline's text (.stdout.txt, .stderr.txt)", "version-map.json", ...
    limit: int  # bytes
    fix: str


class UnsafeFile(BadInput):
    """A trusted file (or a directory on its way) that is a link, a FIFO, a device, the wrong
    kind of entry, or too large."""

    def __init__(self, path: Path, found: str, fix: str) -> None:
        self.path, self.found, self.fix = path, found, fix
        super().__init__(f"{path}: {found}; {fix}")


class TooLarge(UnsafeFile):
    """A regular file over its kind's limit: never read whole."""


def describe(mode: int) -> str:
    """What an lstat/fstat mode is, in words."""
    for test, words in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return words
    return "a regular file"


def _refused(path: Path, mode: int, kind: Kind, dir_fd: int | None) -> UnsafeFile:
    found = describe(mode)
    if stat.S_ISLNK(mode):
        with contextlib.suppress(OSError):
            found += f" (to {os.readlink(_name(path, dir_fd), dir_fd=dir_fd)})"
    return UnsafeFile(
        path,
        f"{found}, where {kind.what} must be a regular file (a link or a special file would "
        "read or write elsewhere, or hang)",
        kind.fix,
    )


def _name(path: Path, dir_fd: int | None) -> str | Path:
    return path.name if dir_fd is not None else path


def open_regular(
    path: Path, kind: Kind, flags: int = os.O_RDONLY, dir_fd: int | None = None
) -> int:
    """A descriptor of `path` (its name in `dir_fd` when given), or UnsafeFile when it is no
    regular file. With O_CREAT in `flags` a missing file is created (mode 0666 & umask);
    FileNotFoundError and other OSErrors pass through."""
    where = _name(path, dir_fd)
    try:
        st = os.stat(where, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError as exc:
        if not flags & os.O_CREAT:  # named in full, not by its name in dir_fd
            raise FileNotFoundError(exc.errno, exc.strerror, str(path)) from None
    else:  # never open a device at all: opening one can act (a tape rewinds)
        if not stat.S_ISREG(st.st_mode):
            raise _refused(path, st.st_mode, kind, dir_fd)
    try:
        fd = os.open(where, flags | _OPEN, 0o666, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):  # swapped since the lstat
            st = os.stat(where, dir_fd=dir_fd, follow_symlinks=False)
            raise _refused(path, st.st_mode, kind, dir_fd) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _refused(path, mode, kind, dir_fd)
    return fd


def read_bytes(path: Path, kind: Kind, dir_fd: int | None = None) -> bytes:
    """The whole of a regular file of at most `kind.limit` bytes (else UnsafeFile)."""
    fd = open_regular(path, kind, os.O_RDONLY, dir_fd)
    try:
        size = os.fstat(fd).st_size
        if size > kind.limit:
            raise _too_large(path, size, kind)
        chunks: list[bytes] = []
        total = 0
        step = max(size + 1, 1 << 16)  # one read for a file that kept its size
        while chunk := os.read(fd, min(step, kind.limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > kind.limit:  # it grew since the fstat
                raise _too_large(path, total, kind)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large(path: Path, size: int, kind: Kind) -> TooLarge:
    return TooLarge(
        path, f"{size} bytes or more, over the {kind.limit} read of {kind.what}", kind.fix
    )


def parse_json(data: bytes | str) -> Any:
    """json.loads (bytes as UTF-8), refusing nesting deeper than MAX_JSON_DEPTH with a
    json.JSONDecodeError like any other malformed document (never a RecursionError)."""
    text = data.decode() if isinstance(data, bytes) else data  # UTF-8, never the locale
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError(_too_deep(), text, 0) from None
    stack = [(value, 1)]
    while stack:  # iterative: the check itself must not recurse
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise json.JSONDecodeError(_too_deep(), text, 0)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


def _too_deep() -> str:
    return f"nested deeper than {MAX_JSON_DEPTH} levels (no file the toolkit writes is)"


class TreeDir:
    """One directory below an anchor, reached without following a link (`open_dir`): read,
    compare and write files in it by name."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    def __enter__(self) -> TreeDir:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def read(self, name: str, kind: Kind) -> bytes:
        return read_bytes(self.path / name, kind, self.fd)

    def found(self, name: str) -> os.stat_result | None:
        """lstat of `name`, or None when it is absent."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def holds(self, name: str, data: bytes, kind: Kind) -> bool:
        """Whether `name` is a regular file holding exactly `data` (never follows a link)."""
        st = self.found(name)
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
            return False
        with contextlib.suppress(UnsafeFile, FileNotFoundError):  # changed since: rewrite it
            return self.read(name, Kind(kind.what, len(data), kind.fix)) == data
        return False

    def write_unit(self, files: Sequence[tuple[str, bytes]], kind: Kind) -> int:
        """Write the files as one unit; returns how many changed.

        A target that is a link or a special file is refused before anything is staged.
        Every changed file is staged (a temp file in this directory, fsynced), then the staged
        files are renamed into place back to back, in the order given: until the last rename
        a staged file is on disk, so a killed run leaves evidence, never a mix.
        """
        for name, _ in files:
            st = self.found(name)
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise _refused(self.path / name, st.st_mode, kind, self.fd)
        changed = [(name, data) for name, data in files if not self.holds(name, data, kind)]
        staged: list[tuple[str, str]] = []
        try:
            for name, data in changed:
                staged.append((atomic.stage(self.path / name, data, self.fd).name, name))
            for tmp, name in staged:
                os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            for tmp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=self.fd)
            raise
        return len(changed)

    def remove(self, name: str) -> None:
        """Unlink `name` (a link itself, never what it points to)."""
        os.unlink(name, dir_fd=self.fd)


def open_dir(anchor: Path, directory: Path, create: bool = False) -> TreeDir:
    """`directory` (the anchor or below it, lexically), each step below the anchor opened
    without following a link; made when missing if `create`, else FileNotFoundError. A link
    or a file on the way is UnsafeFile; a directory not below the anchor is BadInput. The
    anchor itself is followed: it is the place the user named."""
    try:
        rel = Path(os.path.abspath(directory)).relative_to(os.path.abspath(anchor))
    except ValueError:
        raise BadInput(f"refusing {directory}: it is outside {anchor}") from None
    fd = os.open(anchor, _DIR_FLAGS)
    here = anchor
    try:
        for part in rel.parts:
            here = here / part
            try:
                sub = _open_sub(fd, part, create)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                raise UnsafeFile(
                    here,
                    f"{describe(mode)} where a directory belongs (a link would read or write "
                    "elsewhere)",
                    "remove it, then run again",
                ) from None
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return TreeDir(directory, fd)


def _open_sub(fd: int, part: str, create: bool) -> int:
    try:
        return os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):  # made meanwhile: open what is there now
        os.mkdir(part, 0o777, dir_fd=fd)
    return os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
