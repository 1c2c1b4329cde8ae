"""The golden tree's bookkeeping (toolkit.baseline.tree): versions.json, version
directories, confinement. Pure file-system tests, no qemu-img."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.baseline.tree import (
    confined,
    load_json_or_empty,
    version_dirs,
    write_versions_file,
)
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import QemuBinary

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
    assert load_json_or_empty(path) == {}
    path.write_text('{"a": 1}')
    assert load_json_or_empty(path) == {"a": 1}


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


def test_confined(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    assert confined(root, root) == root
    assert confined(root, root / "a" / "b.txt") == root / "a" / "b.txt"
    (root / "out").symlink_to(tmp_path)
    for outside in (root / ".." / "x", tmp_path / "treeX", root / "out" / "x"):
        with pytest.raises(BadInput) as caught:
            confined(root, outside)
        assert str(caught.value) == f"refusing to write {outside}: it resolves outside {root}"
