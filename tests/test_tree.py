"""The golden tree's bookkeeping (toolkit.baseline.tree): versions.json, version
directories, confinement and the lock (toolkit.baseline.guard). Pure file-system tests,
no qemu-img."""

from __future__ import annotations

import fcntl
import json
import locale
import os
from pathlib import Path

import pytest

from toolkit.baseline import guard
from toolkit.baseline.guard import tree_lock
from toolkit.baseline.tree import (
    Tree,
    case_dir,
    load_json_or_empty,
    version_dirs,
    write_versions_file,
)
from toolkit.model.errors import BadInput, ToolkitFailure
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Baseline, QemuBinary

SPEC = COMMANDS["resize"]


def store_build(version: str) -> QemuBinary:
    prov = (("suite", "trixie"), ("package_version", f"1:{version}+ds-1"), ("sha256", "ab" * 32))
    return QemuBinary(
        version, Path(f"/s/{version}/qemu-img"), "store", f"qemu-img version {version}", prov
    )


def test_versions_json_records_each_present_version(tmp_path: Path) -> None:
    type_dir = tmp_path / SPEC.output_type
    for fmt, version in [("qcow2", "10.0.2"), ("raw", "10.0.2"), ("raw", "5.2.0")]:
        (type_dir / fmt / version).mkdir(parents=True)
    own = QemuBinary("5.2.0", Path("/opt/q/qemu-img"), "qemu-img", "qemu-img version 5.2.0 (x)")
    unused = store_build("11.1.3")  # no directory: not recorded
    write_versions_file(tmp_path, SPEC, [store_build("10.0.2"), own, unused])
    text = (type_dir / "versions.json").read_text()
    assert json.loads(text) == {
        "5.2.0": {
            "version_line": "qemu-img version 5.2.0 (x)",
            "source": {"path": "/opt/q/qemu-img"},
            "sha256": "",
        },
        "10.0.2": {
            "version_line": "qemu-img version 10.0.2",
            "source": {"suite": "trixie", "package_version": "1:10.0.2+ds-1"},
            "sha256": "ab" * 32,
        },
    }
    assert list(json.loads(text)) == ["10.0.2", "5.2.0"]  # sorted keys, like every tree JSON
    assert text.endswith("}\n") and text.startswith('{\n  "10.0.2"')


def test_versions_json_keeps_entries_of_versions_not_rerun(tmp_path: Path) -> None:
    type_dir = tmp_path / SPEC.output_type
    (type_dir / "raw" / "10.0.2").mkdir(parents=True)
    (type_dir / "raw" / "11.1.3").mkdir(parents=True)
    write_versions_file(tmp_path, SPEC, [store_build("10.0.2"), store_build("11.1.3")])
    (type_dir / "raw" / "10.0.2").rmdir()
    newer = QemuBinary("11.1.3", Path("/x"), "qemu-img", "qemu-img version 11.1.3 (new)")
    write_versions_file(tmp_path, SPEC, [])
    assert list(json.loads((type_dir / "versions.json").read_text())) == ["11.1.3"]
    write_versions_file(tmp_path, SPEC, [newer])
    entry = json.loads((type_dir / "versions.json").read_text())["11.1.3"]
    assert entry["version_line"] == "qemu-img version 11.1.3 (new)"


@pytest.mark.parametrize("text", [None, "", "{", "[1, 2]", '"x"'])
def test_load_json_or_empty(tmp_path: Path, text: str | None) -> None:
    path = tmp_path / "v.json"
    if text is not None:
        path.write_text(text)
    assert load_json_or_empty(tmp_path, path, guard.VERSIONS) == {}
    path.write_text('{"a": 1}')
    assert load_json_or_empty(tmp_path, path, guard.VERSIONS) == {"a": 1}
    path.unlink()
    os.mkfifo(path)  # not read (it would hang): nothing usable
    assert load_json_or_empty(tmp_path, path, guard.VERSIONS) == {}


def test_version_dirs(tmp_path: Path) -> None:
    assert version_dirs(tmp_path / "missing") == []
    for rel in [
        "qcow2/11.1.3",
        "qcow2/5.2.0",
        "raw/10.0.13",
        "raw/10.0.2",
        "raw/10",
        "raw/latest",
        ".hidden/7.2.22",
        "profiles/9.9.9",
        "raw/x",
    ]:
        (tmp_path / rel).mkdir(parents=True)
    (tmp_path / "qcow2" / "8.0.0").write_text("a file, not a version directory")
    (tmp_path / "versions.json").write_text("{}")
    assert version_dirs(tmp_path) == ["5.2.0", "10.0.2", "10.0.13", "11.1.3"]


def test_writes_stay_inside_the_tree(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    assert guard.write_text(root, root / "a" / "b.txt", "x", guard.TEXT) is True
    assert guard.write_text(root, root / "c" / "d" / "e.txt", "y", guard.TEXT) is True
    assert (root / "c" / "d" / "e.txt").read_text() == "y"
    for outside in (root / ".." / "x", tmp_path / "treeX" / "x"):
        with pytest.raises(BadInput) as caught:
            guard.write_text(root, outside, "z", guard.TEXT)
        assert str(caught.value) == f"refusing {outside.parent}: it is outside {root}"
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(guard.UnsafeFile) as unsafe:
        guard.write_text(root, root / "out" / "x", "z", guard.TEXT)
    assert str(unsafe.value).startswith(f"{root / 'out'}: a symbolic link where a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]  # nothing written outside


def test_case_dir() -> None:
    assert case_dir(Path("t"), SPEC, "raw", "1.0.0") == Path("t/resize-info-json/raw/1.0.0")
    assert case_dir(Path("t"), COMMANDS["create"], "vhd", "2") == Path("t/create-info-json/vhd/2")


def test_an_absent_tree(tmp_path: Path) -> None:
    tree = Tree(tmp_path, SPEC)
    assert (tree.type_dir, tree.versions, tree.formats) == (tmp_path / "resize-info-json", [], [])
    assert tree.cases("raw", "1.0.0") == []
    with pytest.raises(BadInput) as caught:
        tree.require_versions()
    assert str(caught.value) == (
        f"no golden tree at {tmp_path}/resize-info-json: generate it with `python -m toolkit "
        "generate resize`, or point --expected-outputs at a checkout that has one"
    )
    with pytest.raises(BadInput) as caught:
        tree.resolve("latest")
    assert str(caught.value).startswith(f"no golden tree at {tmp_path}/resize-info-json: ")


def make_tree(root: Path) -> Tree:
    t = root / SPEC.output_type
    for rel in ["raw/1.0.0", "raw/10.0.0", "qcow2/2.1.0", ".git/3.0.0", "profiles/4.0.0"]:
        (t / rel).mkdir(parents=True)
    (t / "versions.json").write_text("{}")
    d = t / "raw" / "10.0.0"
    for name in ["b", "a", ".hidden"]:
        for suffix, text in [
            (".stdout.txt", "out\n"),
            (".stderr.txt", "é\n"),
            (".meta.json", "{}"),
        ]:
            (d / f"{name}{suffix}").write_text(text)
    (d / "half.stdout.txt").write_text("")  # no meta: no finished triple
    (d / "meta.json.bak").write_text("")
    return Tree(root, SPEC)


def test_a_tree_lists_its_formats_versions_and_cases(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    assert tree.formats == ["qcow2", "raw"]
    assert tree.versions == ["1.0.0", "2.1.0", "10.0.0"]
    assert tree.require_versions() == ["1.0.0", "2.1.0", "10.0.0"]
    assert tree.cases("raw", "10.0.0") == ["a", "b"]
    assert tree.cases("raw", "1.0.0") == []
    assert tree.cases("qcow2", "10.0.0") == []
    assert [tree.resolve(r) for r in ("oldest", "latest", "2", "1.0.0")] == [
        "1.0.0",
        "10.0.0",
        "2.1.0",
        "1.0.0",
    ]
    with pytest.raises(BadInput) as caught:
        tree.resolve("7")
    assert str(caught.value).endswith(
        f"; versions are those in the golden tree {tmp_path}/resize-info-json"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_read(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    d = tmp_path / "resize-info-json" / "raw" / "10.0.0"
    assert tree.read("raw", "10.0.0", "a") == Baseline("out\n", "é\n", {})
    (d / "b.meta.json").write_text("[]")
    with pytest.raises(BadInput) as caught:
        tree.read("raw", "10.0.0", "b")
    assert str(caught.value) == f"{d}/b.meta.json is not a JSON object; regenerate it"
    regenerate = (
        "regenerate it with `python -m toolkit generate resize --version 10.0.0 --format raw"
    )
    for name, broken, why in [
        ("half", None, f"[Errno 2] No such file or directory: '{d}/half.stderr.txt'"),
        ("a", b"\xff", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        ("b", b"{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ]:
        if broken is not None:
            (d / f"{name}.meta.json").write_bytes(broken)
        with pytest.raises(BadInput) as caught:
            tree.read("raw", "10.0.0", name)
        assert (
            str(caught.value)
            == f"unreadable baseline {d}/{name}.*: {why}; {regenerate} --case {name}`"
        )
        assert caught.value.__suppress_context__


def test_tree_lock_writes_its_pid_and_refuses_a_second_writer(tmp_path: Path) -> None:
    root = tmp_path / "new" / "tree"
    with tree_lock(root):
        lock = root / ".generate.lock"
        assert lock.read_text() == f"pid {os.getpid()}\n"
        with pytest.raises(ToolkitFailure) as caught, tree_lock(root):
            pass
        assert str(caught.value) == (
            f"{root} is locked by a running generate (pid {os.getpid()}, lock file {lock}); "
            "wait for it to finish and run again"
        )
    # Released: the next writer takes it, and its pid replaces whatever the file held.
    lock.write_text("pid 1234567 and some more text\n")
    with tree_lock(root):
        assert lock.read_text() == f"pid {os.getpid()}\n"
    with open(lock, "w") as held:  # an empty lock file held by someone else
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with (
            pytest.raises(ToolkitFailure, match=r"running generate \(another process, lock"),
            tree_lock(root),
        ):
            pass
        assert lock.read_text() == ""


def test_versions_json_of_a_tree_that_recorded_nothing(tmp_path: Path) -> None:
    root = tmp_path / "new" / "tree"
    write_versions_file(root, SPEC, [store_build("10.0.2")])
    assert (root / "resize-info-json" / "versions.json").read_text() == "{}\n"


def test_the_tree_reads_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    (tmp_path / "resize-info-json" / "versions.json").write_text('{"é": 1}', encoding="utf-8")
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")  # an ASCII locale
    try:
        versions = tmp_path / "resize-info-json" / "versions.json"
        assert load_json_or_empty(tmp_path, versions, guard.VERSIONS) == {"é": 1}
        assert tree.read("raw", "10.0.0", "a").stderr == "é\n"
    finally:
        locale.setlocale(locale.LC_CTYPE, old)
