"""amend, bitmap and dd through the one pipeline, on the real binaries: the committed trees
regenerate byte for byte, a failed bitmap op ends its sequence, the tree holds what the
README says qemu-img does, and verify --candidate tells a faithful candidate from a faulty
one (a grouped diff, the commands that reproduce it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, case_files, in_process

from toolkit.model.records import QemuBinary

pytestmark = pytest.mark.qemu

TREE = REPO / "expected-outputs"
STAND_INS = Path(__file__).resolve().parent / "stand_ins"


def files_under(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_regenerating_the_committed_trees_writes_nothing(
    tmp_path: Path, qemu_binaries: list[QemuBinary]
) -> None:
    """What a clean clone's `nox -s generate_amend` and `generate_bitmap` do (every case on
    every recorded version), and dd's on its oldest and newest version (its whole type takes
    11 s: the bs=512 default copies 1M as 2048 writes per case)."""
    oldest, newest = qemu_binaries[0], qemu_binaries[-1]
    for output_type, selection in (
        ("amend-info-json", ()),
        ("bitmap-info-json", ()),
        ("dd-info-json", ("--version", oldest.version, "--version", newest.version,
                          "--case", "*bs1000*", "--case", "*count0*")),
    ):  # fmt: skip
        command = output_type.removesuffix("-info-json")
        shutil.copytree(TREE / output_type, tmp_path / output_type)
        args = [a for b in qemu_binaries for a in ("--qemu-img", str(b.path))]
        proc = in_process("generate", command, "--expected-outputs", str(tmp_path), *args,
                          *selection, "-j", "2")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "files written 0, " in proc.stdout, proc.stdout
        committed = files_under(TREE / output_type)
        regenerated = files_under(tmp_path / output_type)
        assert regenerated.keys() == committed.keys()
        changed = [n for n, data in regenerated.items() if committed[n] != data]
        assert changed in ([], ["versions.json"]), changed  # its sources: --qemu-img


FAILING = """
[[case]]
format = "qcow2"
name = "remove-missing-then-add"
start = "1M"
options = ["compat=1.1"]
ops = [["--remove", "nope"], ["--add", "b0"]]

[[case]]
format = "qcow2"
name = "add-twice"
start = "1M"
options = ["compat=1.1"]
ops = [["--add", "b0"], ["--add", "b0"], ["--clear", "b0"]]
"""


def _meta(root: Path, output_type: str, fmt: str, version: str, case: str) -> dict[str, Any]:
    text = (root / output_type / fmt / version / f"{case}.meta.json").read_text()
    meta: dict[str, Any] = json.loads(text)
    return meta


def test_a_failed_op_ends_the_sequence_and_info_reads_the_image(
    tmp_path: Path, latest: QemuBinary
) -> None:
    cases = case_files(tmp_path, "bitmap", FAILING)
    out = tmp_path / "out"
    args = ["--curated-cases", str(cases), "--expected-outputs", str(out)]
    proc = in_process("generate", "bitmap", *args, "--qemu-img", str(latest.path))
    assert proc.returncode == 0, proc.stderr
    v, d = latest.version, out / "bitmap-info-json" / "qcow2" / latest.version
    first = _meta(out, "bitmap-info-json", "qcow2", v, "remove-missing-then-add")
    # one code per op, null for the op that never ran; info ran on what create made
    assert first["op_return_codes"] == [1, None]
    assert first["op2_argv"] == ["qemu-img", "bitmap", "--add", "$FILENAME", "b0"]
    assert (first["op2_stdout"], first["info_return_code"]) == (None, 0)
    info = json.loads((d / "remove-missing-then-add.stdout.txt").read_text())
    assert "bitmaps" not in info["format-specific"]["data"]
    assert (d / "remove-missing-then-add.stderr.txt").read_text() == (
        "---BITMAP OP 1 STDERR---\n"
        "qemu-img: Operation remove on bitmap nope failed: Dirty bitmap 'nope' not found\n"
        "---INFO STDERR---\n"
    )
    second = _meta(out, "bitmap-info-json", "qcow2", v, "add-twice")
    assert second["op_return_codes"] == [0, 1, None]
    info = json.loads((d / "add-twice.stdout.txt").read_text())
    assert [b["name"] for b in info["format-specific"]["data"]["bitmaps"]] == ["b0"]
    # the offline checks hold the run to the same rule (which step runs, the meta schema)
    check = in_process("verify", "bitmap", "--offline", *args)
    assert check.returncode == 0, check.stdout


def test_the_trees_record_what_the_readme_says() -> None:
    """The README's account of amend, bitmap and dd, against the committed tree."""
    versions = json.loads((TREE / "dd-info-json" / "versions.json").read_text())
    assert len(versions) == 7
    for v in versions:

        def dd(case: str, fmt: str, v: str = v) -> tuple[Any, Any]:
            meta = _meta(TREE, "dd-info-json", fmt, v, case)
            out = (TREE / "dd-info-json" / fmt / v / f"{case}.stdout.txt").read_text()
            return meta, json.loads(out) if out else None

        meta, info = dd("1M-raw-bs1000-count3-vhd", "vhd")
        assert meta["dd_argv"] == ["qemu-img", "dd", "-O", "vpc", "bs=1000", "count=3",
                                   "if=$INPUT", "of=$FILENAME"]  # fmt: skip
        assert meta["create_stdout"] == "Formatting '$INPUT', fmt=raw size=1048576\n"
        assert (info["format"], info["virtual-size"]) == ("vpc", 34816)  # CHS geometry
        for fmt in ("raw", "qcow2", "vmdk", "vhdx"):  # 3000 bytes, whole sectors
            assert dd(f"1M-raw-bs1000-count3-{fmt}", fmt)[1]["virtual-size"] == 3072
        for fmt in ("raw", "qcow2"):  # (count - skip) * bs, not count * bs
            assert dd(f"1M-raw-bs65536-skip2-count4-{fmt}", fmt)[1]["virtual-size"] == 131072
        meta, info = dd("1M-raw-count0-vmdk", "vmdk")  # dd makes it, then cannot open it
        assert (meta["dd_return_code"], meta["info_return_code"], info) == (1, None, None)
        noop = _meta(TREE, "amend-info-json", "qcow2", v, "noop")
        assert (noop["amend_return_code"], noop["amend_stdout"]) == (0, "")
        assert (TREE / "amend-info-json" / "qcow2" / v / "noop.stderr.txt").read_text() == (
            "---AMEND STDERR---\n---INFO STDERR---\n"
        )
        enable = _meta(TREE, "bitmap-info-json", "qcow2", v, "enable")
        assert enable["op_return_codes"] == [0, 0, 0]


@pytest.mark.parametrize(
    ("command", "stand_in", "selection", "pattern"),
    [
        ("amend", "standin-candidate-amend-does-nothing", (),
         "root['format-specific']['data']['lazy-refcounts']: true → false"),
        ("bitmap", "standin-candidate-bitmap-ignores-granularity", (),
         "root['format-specific']['data']['bitmaps'][0]['granularity']: 131072 → 65536"),
        ("dd", "standin-candidate-dd-ignores-skip", ("--case", "*-raw"),
         "root['virtual-size']: 131072 → 262144"),
    ],
)  # fmt: skip
def test_verify_candidate_passes_qemu_img_and_groups_a_planted_fault(
    command: str,
    stand_in: str,
    selection: tuple[str, ...],
    pattern: str,
    latest: QemuBinary,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    args = ["--candidate-version", latest.version, "--expected-outputs", str(TREE),
            "--curated-cases", str(REPO / "curated_cases"), "--obtained",
            str(tmp_path / "obtained"), *selection]  # fmt: skip
    real = in_process("verify", command, "--candidate", str(latest.path), *args)
    assert real.returncode == 0, real.stdout
    faulty = in_process("verify", command, "--candidate", str(STAND_INS / stand_in), *args)
    assert faulty.returncode == 1, faulty.stdout
    assert "diff pattern 1: " in faulty.stdout and pattern in faulty.stdout
    # the reproducing commands name the images as the runner does, and replay the fault
    lines = faulty.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("reproduce "))
    replay = [line.strip() for line in lines[at + 1 : at + 6] if line.startswith("    ")]
    assert replay[0] == 'cd "$(mktemp -d)"' and "$" not in " ".join(replay[1:])
    assert replay[-1].split()[1:3] == ["check", "-f"]  # bitmap's per-case steps include it
