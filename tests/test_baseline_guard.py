"""toolkit.baseline.guard in-process: what a writer refuses as a tree root, the links, special
files and misplaced directories scan_tree refuses, the staged files it attributes to triples,
versions.json before a run, the tree a path lies in, and who holds the lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from toolkit.baseline.guard import (
    Debris,
    check_root,
    lock_holder,
    odd_entries,
    prepare,
    scan_tree,
    tree_holding,
    tree_lock,
)
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS

RESIZE = COMMANDS["resize"]
MINE = "output types such as resize-info-json, create-info-json"


def refused(call: object, *args: object) -> str:
    with pytest.raises(BadInput) as caught:
        call(*args)  # type: ignore[operator]
    return str(caught.value)


def test_check_root_accepts_a_place_for_a_tree(tmp_path: Path) -> None:
    assert check_root(tmp_path) == tmp_path  # empty
    assert check_root(tmp_path / "new" / "tree") == tmp_path / "new" / "tree"
    (tmp_path / ".generate.lock").write_text("")
    assert check_root(tmp_path) == tmp_path
    tree = tmp_path / "t"
    (tree / "create-info-json").mkdir(parents=True)
    (tree / "README").write_text("")
    assert check_root(tree) == tree
    assert sorted(p.name for p in tree.iterdir()) == ["README", "create-info-json"]  # no probe left


def test_check_root_refuses_a_filesystem_root(tmp_path: Path) -> None:
    assert refused(check_root, Path("/")) == (
        "--expected-outputs /: a filesystem root cannot hold the golden tree; name a "
        "directory of its own (default: ./expected-outputs)"
    )
    (tmp_path / "up").symlink_to("/")
    assert refused(check_root, tmp_path / "up").startswith(
        f"--expected-outputs {tmp_path / 'up'}: a filesystem root cannot"
    )


def test_check_root_refuses_a_directory_of_other_things(tmp_path: Path) -> None:
    for name in ["f", "e", "d", "c", "b"]:
        (tmp_path / name).write_text("")
    assert refused(check_root, tmp_path) == (
        f"--expected-outputs {tmp_path}: neither empty nor a golden tree (it holds b, c, d, "
        f"e, f); name an empty directory or one that holds {MINE}"
    )
    (tmp_path / "a").mkdir()
    assert refused(check_root, tmp_path) == (
        f"--expected-outputs {tmp_path}: neither empty nor a golden tree (it holds a, b, c, "
        f"d, e, ...); name an empty directory or one that holds {MINE}"
    )
    (tmp_path / "file").write_text("")
    assert refused(check_root, tmp_path / "file") == (
        f"--expected-outputs {tmp_path / 'file'}: is not a directory; name a directory"
    )


def test_an_empty_or_absent_tree_has_no_debris(tmp_path: Path) -> None:
    assert scan_tree(tmp_path / "none", RESIZE) == Debris({}, ())
    (tmp_path / "resize-info-json" / "raw" / "1.0.0").mkdir(parents=True)
    assert scan_tree(tmp_path, RESIZE) == Debris({}, ())
    assert Debris({}, ()).temp_files == 0


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    return path


def test_staged_files_mark_unfinished_triples(tmp_path: Path) -> None:
    t = tmp_path / "resize-info-json"
    a1 = touch(t / "raw" / "1.0.0" / ".a.stdout.txt.tmp-1-00000000")
    a2 = touch(t / "raw" / "1.0.0" / ".a.meta.json.tmp-1-00000001")
    b = touch(t / "qcow2" / "2.0.0" / ".b.stderr.txt.tmp-2-0000000f")
    touch(t / "raw" / "1.0.0" / "a.stdout.txt")  # finished files are no debris
    touch(t / "raw" / "1.0.0" / ".hidden")
    top = touch(t / ".versions.json.tmp-3-00000000")
    fmt = touch(t / "raw" / ".a.meta.json.tmp-3-00000000")  # not in a version directory
    other = touch(t / "raw" / "1.0.0" / ".notes.txt.tmp-3-00000000")  # no triple's suffix
    deep = touch(t / "raw" / "1.0.0" / "x" / ".c.meta.json.tmp-3-00000000")
    other_type = touch(tmp_path / "create-info-json" / "raw" / "1.0.0" / ".c.meta.json.tmp-1-0")
    debris = scan_tree(tmp_path, RESIZE)
    assert debris == Debris(
        {("raw", "1.0.0", "a"): (a2, a1), ("qcow2", "2.0.0", "b"): (b,)},
        tuple(sorted([top, fmt, other, deep])),
    )
    assert debris.temp_files == 7
    assert other_type.exists()


def test_links_and_special_files_are_refused(tmp_path: Path) -> None:
    t = tmp_path / "resize-info-json" / "raw" / "1.0.0"
    t.mkdir(parents=True)
    (t / "a.meta.json").symlink_to("/etc/passwd")
    (t.parent / "9.0.0").symlink_to(t, target_is_directory=True)
    os.mkfifo(t / "a.stdout.txt")
    (t / "dangling").symlink_to(tmp_path / "nowhere")
    odd = sorted(
        f"{p} ({what})"
        for p, what in (
            (t / "a.meta.json", "a symbolic link to /etc/passwd"),
            (t.parent / "9.0.0", f"a symbolic link to {t}"),
            (t / "a.stdout.txt", "a FIFO"),
            (t / "dangling", f"a symbolic link to {tmp_path / 'nowhere'}"),
        )
    )
    assert refused(scan_tree, tmp_path, RESIZE) == (
        "the golden tree may hold only regular files and directories, and these are "
        f"not: {', '.join(odd)}. Remove them (a link or a FIFO would take a baseline out "
        "of the tree) and run again"
    )


@pytest.mark.parametrize("which", ["lock-link", "lock-fifo", "type-link"])
def test_the_lock_file_and_the_type_directory_are_checked_first(tmp_path: Path, which: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    touch(elsewhere / "raw" / "1.0.0" / "x").parent.joinpath("link").symlink_to("/")
    root = tmp_path / "root"
    root.mkdir()
    if which == "lock-link":
        (root / ".generate.lock").symlink_to(tmp_path / "victim")
        odd = f"{root / '.generate.lock'} (a symbolic link to {tmp_path / 'victim'})"
    elif which == "lock-fifo":
        os.mkfifo(root / ".generate.lock")
        odd = f"{root / '.generate.lock'} (a FIFO)"
    else:
        (root / "resize-info-json").symlink_to(elsewhere, target_is_directory=True)
        # and not the link inside it: the scan stops there
        odd = f"{root / 'resize-info-json'} (a symbolic link to {elsewhere})"
    assert refused(scan_tree, root, RESIZE) == (
        "the golden tree may hold only regular files and directories, and these are "
        f"not: {odd}. Remove them (a link or a FIFO would take a baseline out of the tree) "
        "and run again"
    )


def test_a_lock_file_and_type_directory_of_the_right_kind_pass(tmp_path: Path) -> None:
    touch(tmp_path / ".generate.lock")
    (tmp_path / "resize-info-json").mkdir()
    assert scan_tree(tmp_path, RESIZE) == Debris({}, ())
    (tmp_path / "resize-info-json").rmdir()
    touch(tmp_path / "resize-info-json")  # a file where the type directory goes: not odd here
    assert scan_tree(tmp_path, RESIZE) == Debris({}, ())


def test_directories_where_files_belong_are_refused(tmp_path: Path) -> None:
    t = tmp_path / "resize-info-json"
    for rel in [
        "versions.json",
        "version-map.json",
        "raw/1.0.0/a.stdout.txt",
        "profiles/p/raw-a.meta.json",
        "profiles/p/anything",
    ]:
        (t / rel).mkdir(parents=True)
    for rel in ["raw/1.0.0/sub", "raw/x.meta.json", "profiles/p.meta.json"]:  # no file's place
        (t / rel).mkdir(parents=True)
    (tmp_path / ".generate.lock").mkdir()
    odd = [
        tmp_path / ".generate.lock",
        t / "profiles/p/anything",
        t / "profiles/p/raw-a.meta.json",
        t / "raw/1.0.0/a.stdout.txt",
        t / "version-map.json",
        t / "versions.json",
    ]
    where = ", ".join(f"{p} (a directory where a file belongs)" for p in odd)
    assert refused(scan_tree, tmp_path, RESIZE) == (
        "the golden tree may hold only regular files and directories, and these are "
        f"not: {where}. Remove them (a link or a FIFO would take a baseline out of the tree) "
        "and run again"
    )
    (tmp_path / ".generate.lock").rmdir()  # the lock's place checked first, then the type
    assert [p for p, _ in odd_entries(tmp_path, RESIZE)] == odd[1:]


def test_a_long_list_of_odd_entries_is_bounded(tmp_path: Path) -> None:
    t = tmp_path / "resize-info-json" / "raw" / "1.0.0"
    t.mkdir(parents=True)
    for n in range(25):
        os.mkfifo(t / f"f{n:02}")
    message = refused(scan_tree, tmp_path, RESIZE)
    assert f"{t / 'f19'} (a FIFO) and 5 more. Remove them" in message
    assert str(t / "f20") not in message


def test_prepare_refuses_a_versions_json_a_run_would_shrink(tmp_path: Path) -> None:
    t = tmp_path / "resize-info-json"
    t.mkdir()
    assert prepare(tmp_path, RESIZE) == Debris({}, ())  # none yet: fine
    path = t / "versions.json"
    for text, says in [
        ("[1, 2]", "must be a JSON object mapping each version to its provenance"),
        ('{"7.2.22": "x"}', "must be a JSON object mapping each version to its provenance"),
        ("{", "cannot be read as JSON (Expecting property name"),
    ]:
        path.write_text(text)
        assert refused(prepare, tmp_path, RESIZE).startswith(f"{path}: {says}")
    path.write_text('{"7.2.22": {"version_line": "qemu-img version 7.2.22"}}')
    assert prepare(tmp_path, RESIZE) == Debris({}, ())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resize-info-json"]  # no lock made


def test_tree_holding_finds_the_tree_above_a_path(tmp_path: Path) -> None:
    tree = tmp_path / "B"
    (tree / "resize-info-json" / "raw" / "1.0.0").mkdir(parents=True)
    assert tree_holding(tree) == tree
    assert tree_holding(tree / "resize-info-json" / "raw" / "1.0.0" / "x") == tree
    assert tree_holding(tmp_path) is None
    assert tree_holding(tmp_path / "elsewhere") is None
    lone = tmp_path / "lone" / "create-info-json"  # a type directory moved out of its root
    lone.mkdir(parents=True)
    assert tree_holding(lone) == lone.parent  # holds a type directory
    (lone.parent / "create-info-json").rename(tmp_path / "lone" / "t")
    assert tree_holding(tmp_path / "lone" / "t") is None
    (tmp_path / "lone" / "t" / "version-map.json").write_text("{}")
    (tmp_path / "lone" / "t").rename(tmp_path / "lone" / "create-info-json")
    assert tree_holding(tmp_path / "lone" / "create-info-json" / "x") == tmp_path / "lone"
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / ".generate.lock").write_text("")
    assert tree_holding(tmp_path / "locked" / "sub") == tmp_path / "locked"


def test_lock_holder_never_creates_and_sees_a_held_lock(tmp_path: Path) -> None:
    assert lock_holder(tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    with tree_lock(tmp_path):
        assert lock_holder(tmp_path) == f"pid {os.getpid()}"
    assert lock_holder(tmp_path) is None
    lock = tmp_path / ".generate.lock"
    with open(lock, "w") as held:  # held by someone who wrote nothing
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert lock_holder(tmp_path) == "another process"
    lock.unlink()
    os.mkfifo(lock)  # not a lock at all: the scan names it; nothing opened here
    assert lock_holder(tmp_path) is None
