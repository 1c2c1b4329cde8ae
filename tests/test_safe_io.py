"""toolkit.model.safe_io in-process: the opens, reads, walk and JSON the guard stands on.

Real links, FIFOs and (where the host allows) a device node of our own; every call that
could block on a FIFO runs under an alarm, so a regression fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.model.errors import BadInput
from toolkit.model.safe_io import (
    MAX_JSON_DEPTH,
    Kind,
    TooLarge,
    UnsafeFile,
    describe,
    open_dir,
    open_regular,
    parse_json,
    read_bytes,
)

KIND = Kind("a test file", 10, "fix it")


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("blocked: a FIFO was opened")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_a_regular_file_within_its_limit_is_read_whole(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"0123456789")  # exactly the limit
    assert read_bytes(f, KIND) == b"0123456789"
    f.write_bytes(b"")
    assert read_bytes(f, KIND) == b""
    f.write_bytes(b"0123456789A")
    with pytest.raises(TooLarge) as caught:
        read_bytes(f, KIND)
    assert str(caught.value) == f"{f}: 11 bytes or more, over the 10 read of a test file; fix it"
    assert isinstance(caught.value, UnsafeFile) and isinstance(caught.value, BadInput)


def test_a_file_that_grows_past_its_limit_while_read_is_refused(tmp_path: Path) -> None:
    """/proc files report size 0 and hold more: the read itself is bounded, not the fstat."""
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0 and len(status.read_bytes()) > 10
    with pytest.raises(TooLarge, match=r"11 bytes or more, over the 10 read"):
        read_bytes(status, KIND)
    assert read_bytes(status, Kind("status", 1 << 20, "")).startswith(b"Name:")


@pytest.mark.parametrize("what", ["link", "dangling", "fifo", "directory", "link-to-fifo"])
def test_anything_but_a_regular_file_is_refused_unopened(tmp_path: Path, what: str) -> None:
    f = tmp_path / "f"
    target = tmp_path / "target"
    target.write_text("secret")
    if what == "link":
        f.symlink_to(target)
    elif what == "dangling":
        f.symlink_to(tmp_path / "nowhere")
    elif what == "fifo":
        os.mkfifo(f)
    elif what == "directory":
        f.mkdir()
    else:
        os.mkfifo(tmp_path / "p")
        f.symlink_to(tmp_path / "p")
    with pytest.raises(UnsafeFile) as caught:
        read_bytes(f, KIND)
    found = {
        "link": f"a symbolic link (to {target})",
        "dangling": f"a symbolic link (to {tmp_path / 'nowhere'})",
        "fifo": "a FIFO",
        "directory": "a directory",
        "link-to-fifo": f"a symbolic link (to {tmp_path / 'p'})",
    }[what]
    assert str(caught.value) == (
        f"{f}: {found}, where a test file must be a regular file (a link or a special file "
        "would read or write elsewhere, or hang); fix it"
    )
    assert (caught.value.path, caught.value.found.split(",")[0], caught.value.fix) == (
        f,
        found,
        "fix it",
    )


def test_a_device_is_never_opened(tmp_path: Path) -> None:
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    with pytest.raises(UnsafeFile, match="a character device, where"):
        read_bytes(null, KIND)
    with pytest.raises(UnsafeFile, match="a character device, where"):
        open_regular(null, KIND, os.O_RDWR | os.O_CREAT)


def test_open_regular_creates_only_when_asked(tmp_path: Path) -> None:
    f = tmp_path / "new"
    with pytest.raises(FileNotFoundError) as caught:
        open_regular(f, KIND)
    assert caught.value.filename == str(f)
    fd = open_regular(f, KIND, os.O_RDWR | os.O_CREAT)
    os.close(fd)
    assert f.is_file() and not f.is_symlink()
    f.unlink()
    f.symlink_to(tmp_path / "victim")  # dangling: O_CREAT must not create the victim
    with pytest.raises(UnsafeFile, match="a symbolic link"):
        open_regular(f, KIND, os.O_RDWR | os.O_CREAT)
    assert not (tmp_path / "victim").exists()


def test_describe() -> None:
    assert [
        describe(m)
        for m in (
            stat.S_IFLNK,
            stat.S_IFIFO,
            stat.S_IFCHR,
            stat.S_IFBLK,
            stat.S_IFSOCK,
            stat.S_IFDIR,
            stat.S_IFREG,
        )
    ] == [
        "a symbolic link",
        "a FIFO",
        "a character device",
        "a block device",
        "a socket",
        "a directory",
        "a regular file",
    ]


def test_json_nested_past_the_limit_is_a_decode_error() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(ok) is not None
    assert parse_json(b'{"a": [1, {"b": "\xc3\xa9"}]}') == {"a": [1, {"b": "é"}]}
    assert parse_json("3") == 3
    deep_objects = '{"a": ' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1)
    for text in ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), deep_objects):
        with pytest.raises(json.JSONDecodeError, match="nested deeper than 64 levels"):
            parse_json(text)
    with pytest.raises(json.JSONDecodeError, match="nested deeper than 64 levels"):
        parse_json("[" * 100_000 + "]" * 100_000)  # past json's own recursion
    with pytest.raises(UnicodeDecodeError):
        parse_json(b"\xff")


def test_open_dir_never_follows_a_link_below_its_anchor(tmp_path: Path) -> None:
    anchor = tmp_path / "anchor"
    (anchor / "a" / "b").mkdir(parents=True)
    (anchor / "a" / "b" / "f").write_text("x")
    (anchor / "link").symlink_to(anchor / "a", target_is_directory=True)
    (anchor / "file").write_text("")
    with open_dir(anchor, anchor / "a" / "b") as d:
        assert d.read("f", KIND) == b"x"
        assert d.found("f") is not None and d.found("missing") is None
    via = tmp_path / "via"
    via.symlink_to(anchor, target_is_directory=True)
    with open_dir(via, via / "a") as d:  # the anchor itself may be a link
        assert d.path == via / "a"
    for below, found in [
        (anchor / "link" / "b", "a symbolic link where a directory belongs"),
        (anchor / "file" / "x", "a regular file where a directory belongs"),
    ]:
        with pytest.raises(UnsafeFile) as caught:
            open_dir(anchor, below, create=True)
        assert str(caught.value).startswith(f"{below.parent}: {found}")
    with pytest.raises(FileNotFoundError):
        open_dir(anchor, anchor / "new")
    with open_dir(anchor, anchor / "new" / "deeper", create=True):
        pass
    assert (anchor / "new" / "deeper").is_dir()
    with pytest.raises(BadInput, match=f"refusing {tmp_path}: it is outside {anchor}"):
        open_dir(anchor, tmp_path)


def test_write_unit_stages_then_renames_and_refuses_special_targets(tmp_path: Path) -> None:
    (tmp_path / "same").write_bytes(b"same")
    with open_dir(tmp_path, tmp_path) as d:
        assert d.write_unit([("a", b"1"), ("same", b"same")], KIND) == 1
        assert d.write_unit([("a", b"1")], KIND) == 0
        assert d.holds("a", b"1", KIND) and not d.holds("a", b"12", KIND)
        os.mkfifo(tmp_path / "p")
        with pytest.raises(UnsafeFile, match="a FIFO, where"):
            d.write_unit([("b", b"2"), ("p", b"3")], KIND)  # refused before anything staged
        assert not (tmp_path / "b").exists()
        (tmp_path / "l").symlink_to(tmp_path / "a")
        assert not d.holds("l", b"1", KIND)  # a link holds nothing, whatever it points to
        d.remove("l")
    assert (tmp_path / "a").read_bytes() == b"1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "p", "same"]
