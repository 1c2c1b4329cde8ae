"""The create matrix: create -> info through the same pipeline, runner and tree as resize."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import REPO, case_files, toolkit

from toolkit.baseline import profiles
from toolkit.baseline.cases import load_cases
from toolkit.baseline.tree import Tree
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import QemuBinary
from toolkit.render import profiles as profiles_render

SPEC = COMMANDS["create"]
TREE = REPO / "expected-outputs"

# vmdk: a random cid on every create; qcow2: a preallocation mode given as -o.
CASES = """
[[case]]
format = "vmdk"
name = "1M-default"
start = "1M"

[[case]]
format = "qcow2"
name = "1M-prealloc-falloc"
start = "1M"
options = ["preallocation=falloc"]

[[case]]
format = "raw"
name = "1G-default"
start = "1G"
"""


def test_the_curated_matrix_loads_within_its_caps() -> None:
    cases = load_cases(REPO / "curated_cases", SPEC)
    assert len(cases) == 36
    assert all(c.end_spec is None and c.prealloc is None for c in cases)
    assert {c.format for c in cases} == {"qcow2", "vmdk", "vhd", "vhdx", "raw"}


def test_prealloc_is_resize_s_flag_not_create_s(tmp_path: Path) -> None:
    cases = case_files(
        tmp_path,
        "create",
        '[[case]]\nformat = "qcow2"\nname = "x"\nstart = "1M"\nprealloc = "full"\n',
    )
    with pytest.raises(BadInput, match=r'use options = \["preallocation=full"\]'):
        load_cases(cases, SPEC)


def test_generate_create_records_and_regenerates_nothing(
    tmp_path: Path, latest: QemuBinary
) -> None:
    cases = case_files(tmp_path, "create", CASES)
    runs = []
    for out in (tmp_path / "a", tmp_path / "b", tmp_path / "a"):
        args = ["--curated-cases", str(cases), "--expected-outputs", str(out)]
        proc = toolkit("generate", "create", *args, "--qemu-img", str(latest.path))
        assert proc.returncode == 0, proc.stderr
        runs.append(proc.stdout)
    d = tmp_path / "a" / "create-info-json"
    v = latest.version
    meta = json.loads((d / "qcow2" / v / "1M-prealloc-falloc.meta.json").read_text())
    assert meta["preallocation"] == "falloc" and meta["prealloc"] is None
    assert meta["create_argv"][-4:] == ["-o", "preallocation=falloc", "$FILENAME", "1M"]
    assert "resize_argv" not in meta and meta["end_spec"] is None
    # qemu-img writes a random cid on every create: the two trees differ there ...
    cids = [
        json.loads((tmp_path / t / "create-info-json" / "vmdk" / v / "1M-default.stdout.txt")
                   .read_text())["format-specific"]["data"]["cid"]
        for t in ("a", "b")
    ]  # fmt: skip
    assert cids[0] != cids[1]
    # ... and regenerating keeps the recorded triple: the tree stays byte-identical.
    assert "files written 0," in runs[2], runs[2]
    assert re.search(r"files written [1-9]", runs[0])
    assert (
        d / "profiles" / f"profile-{v.replace('.', '-')}" / "raw-1G-default.meta.json"
    ).is_file()
    # A triple that is wrong in itself (a stale byte count) is rewritten, noise or not.
    meta_p = d / "vmdk" / v / "1M-default.meta.json"
    stale = json.loads(meta_p.read_text())
    stale["info_stdout_bytes"] += 1
    meta_p.write_text(json.dumps(stale, indent=2, sort_keys=True) + "\n")
    args = ["--curated-cases", str(cases), "--expected-outputs", str(tmp_path / "a")]
    again = toolkit("generate", "create", *args, "--qemu-img", str(latest.path))
    assert re.search(r"files written [1-9]", again.stdout), again.stdout
    fixed = json.loads(meta_p.read_text())
    stdout = (d / "vmdk" / v / "1M-default.stdout.txt").read_bytes()
    assert fixed["info_stdout_bytes"] == len(stdout)


def test_drift_and_profiles_read_the_create_tree() -> None:
    proc = toolkit("drift", "--command", "create")
    assert proc.returncode == 0, proc.stderr
    table = profiles.compute(Tree(TREE, SPEC))
    assert proc.stdout == profiles_render.render_text(table)
    assert len(table.rows) == 36
    check = toolkit("profiles", "--command", "create", "--check")
    assert check.returncode == 0, check.stdout


@pytest.mark.slow
def test_regenerating_the_committed_create_tree_writes_nothing(
    tmp_path: Path, qemu_binaries: list[QemuBinary]
) -> None:
    """What a clean clone's `nox -s generate_create` does: every recorded version, 0 files."""
    committed = TREE / SPEC.output_type
    shutil.copytree(committed, tmp_path / SPEC.output_type)
    versions = json.loads((committed / "versions.json").read_text())
    args = [a for b in qemu_binaries if b.version in versions for a in ("--qemu-img", str(b.path))]
    proc = toolkit("generate", "create", "--expected-outputs", str(tmp_path), *args, "-j", "2")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(versions)} versions" in proc.stdout and "files written 0," in proc.stdout
    for p in committed.rglob("*"):
        if p.is_file() and p.name != "versions.json":  # sources: store vs --qemu-img
            assert (tmp_path / p.relative_to(TREE)).read_bytes() == p.read_bytes(), p
