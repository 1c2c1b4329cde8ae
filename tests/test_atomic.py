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
    assert atomic.write_text(target, "one\n") is False  # unchanged: not rewritten
    mtime = target.stat().st_mtime_ns
    assert atomic.write_text(target, "two\n") is True
    assert target.read_text() == "two\n"
    assert target.stat().st_mtime_ns >= mtime
    assert [p.name for p in tmp_path.iterdir()] == ["a.meta.json"]  # no temp file left


def test_a_fifo_stays_a_fifo(tmp_path: Path) -> None:
    # Renaming over a special file would replace it: that once turned /dev/null into a file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic.write_text(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_devnull_stays_a_device() -> None:
    atomic.write_text(Path(os.devnull), "discarded\n")
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)


def test_temp_files_never_look_like_baselines_and_are_swept(tmp_path: Path) -> None:
    target = tmp_path / "case.stdout.txt"
    tmp = atomic.temp_name_for(target)
    assert tmp.name.startswith(".") and not tmp.name.endswith((".txt", ".json"))
    tmp.write_text("half")
    assert list(atomic.iter_temp_files(tmp_path)) == [tmp]
    assert atomic.sweep_temp_files(tmp_path) == 1
    assert not tmp.exists()


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "x.meta.json"
    with pytest.raises(FileNotFoundError):
        atomic.write_text(target, "x")
    assert not target.parent.exists()
