"""The model's file helpers, exactly: temp names, atomic writes, output paths, data files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from toolkit.model import atomic
from toolkit.model.errors import BadInput
from toolkit.model.outputs import output_dir, output_file
from toolkit.model.resources import DATA_DIR, data_text


def test_temp_name_shape() -> None:
    name = atomic.temp_name_for(Path("/d/case.meta.json")).name
    assert re.fullmatch(rf"\.case\.meta\.json\.tmp-{os.getpid()}-[0-9a-f]{{8}}", name), name
    assert atomic.TEMP_NAME_EXTRA == len(f"..tmp-{4194304:07d}-{'0' * 8}") == 22
    assert atomic.NAME_MAX == 255


@pytest.mark.parametrize(
    ("name", "target"),
    [
        (".a.meta.json.tmp-12-0badf00d", "a.meta.json"),
        (".a.tmp-b.tmp-12-0badf00d", "a.tmp-b"),  # the last marker is the temp one
        ("a.meta.json.tmp-12-0badf00d", None),  # no leading dot
        (".a.meta.json", None),  # no marker
        (".tmp-12-0badf00d", None),  # no target
        (".a.tmp-12.json", None),  # a suffix after the marker: a real file
    ],
)
def test_temp_target(name: str, target: str | None) -> None:
    assert atomic.temp_target(name) == target


def test_same_bytes(tmp_path: Path) -> None:
    f = tmp_path / "f"
    assert atomic.same_bytes(f, b"") is False  # missing
    f.write_bytes(b"abc")
    assert atomic.same_bytes(f, b"abc") is True
    assert atomic.same_bytes(f, b"abd") is False
    link = tmp_path / "link"
    link.symlink_to(f)
    assert atomic.same_bytes(link, b"abc") is False  # a link is never followed
    assert atomic.same_bytes(tmp_path, b"") is False


def test_stage_writes_beside_the_target(tmp_path: Path) -> None:
    tmp = atomic.stage(tmp_path / "t.txt", b"data")
    assert (tmp.parent, tmp.read_bytes(), atomic.temp_target(tmp.name)) == (
        tmp_path,
        b"data",
        "t.txt",
    )


def test_a_stage_that_cannot_open_reraises_the_open_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic.stage(tmp_path / "missing" / "t.txt", b"data")


def test_a_failed_rename_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def replace_fails(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(OSError, match="cross-device"):
        atomic.write_bytes(tmp_path / "t.txt", b"data")
    assert list(tmp_path.iterdir()) == []


def test_write_text_is_utf8(tmp_path: Path) -> None:
    assert atomic.write_text(tmp_path / "t.txt", "é") is True
    assert (tmp_path / "t.txt").read_bytes() == b"\xc3\xa9"


def test_temp_files_found_and_swept_only_as_files(tmp_path: Path) -> None:
    assert list(atomic.iter_temp_files(tmp_path / "missing")) == []
    (tmp_path / ".d.tmp-1-00000000").mkdir()  # a directory named like one is left alone
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / ".x.json.tmp-1-00000000").write_text("half")
    (tmp_path / ".y.txt.tmp-2-00000000").write_text("half")
    (deep / "x.json").write_text("whole")
    assert sorted(p.name for p in atomic.iter_temp_files(tmp_path)) == [
        ".x.json.tmp-1-00000000",
        ".y.txt.tmp-2-00000000",
    ]
    assert atomic.sweep_temp_files(tmp_path) == 2
    assert atomic.sweep_temp_files(tmp_path) == 0
    assert sorted(p.name for p in deep.iterdir()) == ["x.json"]


def test_output_file(tmp_path: Path) -> None:
    assert output_file(tmp_path / "r.json", "--report") == tmp_path / "r.json"
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind
    assert output_file(Path(os.devnull)) == Path(os.devnull)
    with pytest.raises(BadInput) as info:
        output_file(tmp_path, "--report")
    assert str(info.value) == (
        f"--report {tmp_path}: is a directory; name a file, e.g. {tmp_path / 'report.json'}"
    )
    with pytest.raises(BadInput) as info:
        output_file(tmp_path / "no" / "r.json")
    assert str(info.value) == (
        f"{tmp_path / 'no' / 'r.json'}: directory {tmp_path / 'no'} does not exist; "
        "create it first or choose another path"
    )


def test_unwritable_directories_are_refused() -> None:
    # /proc takes no new file, even from root (a read-only directory would not stop root)
    with pytest.raises(BadInput) as info:
        output_file(Path("/proc/r.json"), "--report")
    assert str(info.value) == (
        "--report /proc/r.json: cannot write in /proc (No such file or directory); "
        "choose a writable directory"
    )
    for path in (Path("/proc"), Path("/proc/new/x")):
        with pytest.raises(BadInput) as info:
            output_dir(path, "--store")
        assert str(info.value) == (
            f"--store {path}: cannot write in /proc (No such file or directory); "
            "choose a writable directory"
        )


def test_the_probe_is_a_hidden_file_whose_removal_may_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # hidden, so a run killed mid-probe leaves nothing that looks like an output
    def unlink_fails(name: str) -> None:
        raise PermissionError(1, "Operation not permitted", name)

    monkeypatch.setattr(os, "unlink", unlink_fails)
    assert output_dir(tmp_path, "--store") == tmp_path
    assert [p.name[:13] for p in tmp_path.iterdir()] == [".write-probe-"]


def test_relative_paths_are_named_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/proc")
    for check in (output_file, output_dir):
        with pytest.raises(BadInput) as info:
            check(Path("new"), "--out")
        assert str(info.value) == (
            "--out new: cannot write in /proc (No such file or directory); "
            "choose a writable directory"
        )


def test_an_existing_file_is_probed_too() -> None:
    with pytest.raises(BadInput, match="cannot write in /proc"):
        output_file(Path("/proc/version"))


def test_output_dir(tmp_path: Path) -> None:
    assert output_dir(tmp_path, "--obtained") == tmp_path
    new = tmp_path / "a" / "b"
    assert output_dir(new, "--obtained") == new
    assert not new.exists() and list(tmp_path.iterdir()) == []  # checked, not created
    with pytest.raises(BadInput) as info:
        output_dir(new, "--obtained", create=False)
    assert str(info.value) == f"--obtained {new}: does not exist"
    f = tmp_path / "f"
    f.write_text("")
    with pytest.raises(BadInput) as info:
        output_dir(f)
    assert str(info.value) == f"{f}: is not a directory; name a directory"
    with pytest.raises(BadInput) as info:
        output_dir(f / "sub", "--store")
    assert str(info.value) == f"--store {f / 'sub'}: {f} is not a directory; choose another path"


def test_data_text() -> None:
    assert Path(atomic.__file__).resolve().parent.parent / "data" == DATA_DIR
    name = sorted(p.name for p in DATA_DIR.iterdir() if p.is_file())[0]
    assert data_text(name) == (DATA_DIR / name).read_bytes().decode("utf-8")
