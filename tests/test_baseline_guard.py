"""toolkit.baseline.guard in-process: what generate refuses as a tree root, the links and
special files scan_tree refuses, and the staged files it attributes to triples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolkit.baseline.guard import Debris, check_root, scan_tree
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
        str(p) for p in (t / "a.meta.json", t.parent / "9.0.0", t / "a.stdout.txt", t / "dangling")
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
        odd = root / ".generate.lock"
    elif which == "lock-fifo":
        os.mkfifo(root / ".generate.lock")
        odd = root / ".generate.lock"
    else:
        (root / "resize-info-json").symlink_to(elsewhere, target_is_directory=True)
        odd = root / "resize-info-json"  # and not the link inside it: the scan stops there
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
