"""Atomic writes: whole files or nothing, and special files are never replaced."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from toolkit.model import atomic


def test_write_replaces_and_reports_changes(tmp_path: Path) -> None:
    target = tmp_path / "a.meta.json"
    assert atomic.write_text(target, "one\n") is True
    inode = target.stat().st_ino
    assert atomic.write_text(target, "one\n") is False  # unchanged: not rewritten
    assert target.stat().st_ino == inode
    assert atomic.write_text(target, "two\n") is True
    assert target.read_text() == "two\n"
    assert target.stat().st_ino != inode  # a new file renamed over the old, not an edit in place
    assert [p.name for p in tmp_path.iterdir()] == ["a.meta.json"]  # no temp file left


def test_a_fifo_stays_a_fifo(tmp_path: Path) -> None:
    # Renaming over a special file would replace it: that once turned /dev/null into a file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert atomic.write_text(fifo, "through the pipe\n") is True  # written in place
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_devnull_stays_a_device(tmp_path: Path) -> None:
    # a null device of our own: under mutation testing a broken write_bytes must not
    # replace the host's /dev/null (it once did)
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    atomic.write_text(null, "discarded\n")
    assert stat.S_ISCHR(null.stat().st_mode)


def test_temp_files_never_look_like_baselines_and_are_swept(tmp_path: Path) -> None:
    target = tmp_path / "case.stdout.txt"
    tmp = atomic.temp_name_for(target)
    assert tmp.name.startswith(".") and not tmp.name.endswith((".txt", ".json"))
    tmp.write_text("half")
    assert list(atomic.iter_temp_files(tmp_path)) == [tmp]
    assert atomic.sweep_temp_files(tmp_path) == 1
    assert not tmp.exists()


@pytest.mark.parametrize("existing", [None, "the old baseline\n"])
def test_a_write_that_fails_midway_leaves_the_old_file_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: str | None
) -> None:
    """A failure after some bytes are written (a full disk, a kill) never shows half a file:
    the target keeps its old content, or stays absent, and no temp file is left."""
    target = tmp_path / "x.meta.json"
    if existing is not None:
        target.write_text(existing)

    def fsync_fails(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync_fails)  # the new bytes are written, then it fails
    with pytest.raises(OSError, match="No space"):
        atomic.write_text(target, "the new baseline, half of which would be a lie\n")
    assert (target.read_text() if target.exists() else None) == existing
    assert [p.name for p in tmp_path.iterdir()] == ([target.name] if existing else [])
