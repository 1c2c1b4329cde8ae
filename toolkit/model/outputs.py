"""Output paths, checked before any work: a run never fails late on where it writes.

Every option that names a file or directory to write (--expected-outputs, --report,
--output, --obtained, --save-cases, --store) goes through one of these, so the same
bad path gets the same message and exit code (2) everywhere. Writability is probed
by creating a temp file, not with os.access: root passes access() on a read-only
directory, and a read-only mount fails only at the write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from toolkit.model.errors import BadInput

__all__ = ["output_dir", "output_file"]


def _probe(directory: Path, what: str) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".write-probe-", dir=directory)
    except OSError as exc:
        raise BadInput(
            f"{what}: cannot write in {directory} ({exc.strerror or exc}); "
            "choose a writable directory"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def _existing_parent(path: Path) -> Path:
    parent = Path(os.path.abspath(path)).parent
    while not parent.exists():
        parent = parent.parent
    return parent


def output_file(path: Path, option: str = "") -> Path:
    """A file to write: not a directory, in an existing, writable directory."""
    what = f"{option} {path}".strip()
    if path.is_dir():
        raise BadInput(f"{what}: is a directory; name a file, e.g. {path / 'report.json'}")
    parent = Path(os.path.abspath(path)).parent
    if not parent.is_dir():
        raise BadInput(
            f"{what}: directory {parent} does not exist; create it first or choose another path"
        )
    if path.exists() and not path.is_file():
        return path  # a device or FIFO (/dev/stdout) is written in place
    _probe(parent, what)
    return path


def output_dir(path: Path, option: str = "", create: bool = True) -> Path:
    """A directory to write into: one that exists, or (if `create`) can be made."""
    what = f"{option} {path}".strip()
    if path.exists() and not path.is_dir():
        raise BadInput(f"{what}: is not a directory; name a directory")
    if path.is_dir():
        _probe(path, what)
        return path
    parent = _existing_parent(path)
    if not parent.is_dir():
        raise BadInput(f"{what}: {parent} is not a directory; choose another path")
    if not create:
        raise BadInput(f"{what}: does not exist")
    _probe(parent, what)
    return path
