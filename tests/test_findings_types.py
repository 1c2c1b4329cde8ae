"""Findings as output types of their own (issue 20): fuzz saves them beside, never inside,
the curated matrix; generate records them apart; verify reports the unrecorded ones in one
line; promote moves one into the matrix; the binary's word wins over the size model.

Everything runs the real qemu-img builds; the one stand-in plants a binary the size model
disagrees with (a resize that overshoots by 512 bytes), which no real build shows.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import in_process

from toolkit.baseline.cases import load_cases
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary
from toolkit.qemu.runner import run_directory
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.run import FuzzRequest, _recordable

pytestmark = pytest.mark.qemu

STAND_INS = Path(__file__).resolve().parent / "stand_ins"
RESIZE, FOUND = COMMANDS["resize"], COMMANDS["resize-discovered"]
MATRIX = """\
[[case]]
format = "raw"
name = "1M-to-4M"
start = "1M"
end = "4M"

[[case]]
format = "raw"
name = "64M-to-1M-no-shrink"
start = "64M"
end = "1M"
shrink = false
"""
# The 5.2.0 case the issue reported: 5.2.0 reads the start as 3071 bytes (strtod, truncated),
# creates 3072, and takes 1023 off that: 2049 bytes, reported as 2560. 6.0 and later round
# both sizes to whole bytes: 3072 - 1024 = 2048.
ODD = Case("resize", "raw", findings.case_name("raw", "0.00000286102g", "-0.000000953674g", (),
           None, None), "0.00000286102g", "-0.000000953674g")  # fmt: skip


def by_version(binaries: list[QemuBinary], *versions: str) -> list[QemuBinary]:
    found = {b.version: b for b in binaries}
    return [found[v] for v in versions]


def curated(tmp_path: Path, *finds: Case) -> Path:
    d = tmp_path / "cases"
    d.mkdir()
    (d / "resize.toml").write_text(MATRIX)
    if finds:
        items = [findings.Finding(f"drift {c.name}", c, "drift between versions") for c in finds]
        assert len(findings.save(items, findings.default_path(d, "resize"), d)) == len(finds)
    return d


def toolkit_args(cases: Path, tree: Path, binaries: list[QemuBinary]) -> list[str]:
    paths = [a for b in binaries for a in ("--qemu-img", str(b.path))]
    return ["--curated-cases", str(cases), "--expected-outputs", str(tree), *paths]


def meta(tree: Path, spec_type: str, case: Case, version: str) -> dict[str, object]:
    path = tree / spec_type / case.format / version / f"{case.name}.meta.json"
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_findings_are_recorded_apart_and_the_5_2_0_case_as_the_binary_did_it(
    qemu_binaries: list[QemuBinary], tmp_path: Path
) -> None:
    old, new = by_version(qemu_binaries, "5.2.0", "11.1.3")
    cases, tree = curated(tmp_path, ODD), tmp_path / "eo"
    args = toolkit_args(cases, tree, [old, new])
    # fuzz saved it; nothing recorded it yet: verify passes and says so in one line
    assert in_process("generate", "resize", *args).returncode == 0
    proc = in_process("verify", "--offline", *args)
    assert proc.returncode == 0, proc.stdout
    assert "1 finding not yet recorded: run `nox -s generate_resize`" in proc.stdout
    assert "[missing]" not in proc.stdout
    proc = in_process("generate", "resize", "resize-discovered", *args)
    assert proc.returncode == 0, proc.stderr
    # the curated type holds exactly its matrix; the finding is in its own type
    for v in (old.version, new.version):
        names = {p.name for p in (tree / RESIZE.output_type / "raw" / v).iterdir()}
        assert {n.split(".")[0] for n in names} == {"1M-to-4M", "64M-to-1M-no-shrink"}
    # the size the case asks for, as the harness computes it (the start as written, less
    # the amount); what 5.2.0 reports is that amount off the 3072 bytes it created
    assert meta(tree, FOUND.output_type, ODD, old.version)["expected_final_size"] == 2048
    assert meta(tree, FOUND.output_type, ODD, new.version)["expected_final_size"] == 2048
    for v, size in ((old.version, 2560), (new.version, 2048)):
        info = json.loads(
            (tree / FOUND.output_type / "raw" / v / f"{ODD.name}.stdout.txt").read_text()
        )
        assert info["virtual-size"] == size
        assert meta(tree, FOUND.output_type, ODD, v)["model_disagreement"] is None
    proc = in_process("verify", *args)
    assert proc.returncode == 0, proc.stdout
    assert "verify OK: resize OK, create" not in proc.stdout  # create was not asked for
    assert "resize-discovered OK" in proc.stdout


def test_a_disagreement_with_the_size_model_is_recorded_as_the_finding(
    latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A binary whose resize overshoots by 512 bytes: the curated type refuses to record
    it; the findings type records what it did, and the disagreement in the meta."""
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    grow = Case("resize", "raw", "fz-raw-1M-to-8M", "1M", "8M")
    cases, tree = curated(tmp_path, grow), tmp_path / "eo"
    stand_in = STAND_INS / "qemu-img-fault-wrong-size"
    args = [
        "--curated-cases",
        str(cases),
        "--expected-outputs",
        str(tree),
        "--qemu-img",
        str(stand_in),
    ]
    refused = in_process("generate", "resize", *args)
    assert refused.returncode == 1 and "the binary contradicts the case" in refused.stderr
    proc = in_process("generate", "resize-discovered", *args)
    assert proc.returncode == 0, proc.stderr
    why = meta(tree, FOUND.output_type, grow, latest.version)["model_disagreement"]
    assert why == (
        "resize returned 0 but virtual-size is 8389120, not 8388608 (the end spec applied to "
        "the size create made, as qemu-img reports it)"
    )
    assert in_process("verify", "resize-discovered", "--offline", *args).returncode == 0
    # the meta must say exactly what the recording shows: a hand-edited one is caught
    path = tree / FOUND.output_type / "raw" / latest.version / f"{grow.name}.meta.json"
    edited = json.loads(path.read_text())
    edited["model_disagreement"] = None
    path.write_text(json.dumps(edited, indent=2, sort_keys=True) + "\n")
    proc = in_process("verify", "resize-discovered", "--offline", *args)
    assert proc.returncode == 1 and "[final-size]" in proc.stdout, proc.stdout
    # and a finding whose recording contradicts the model cannot join the curated matrix
    path.write_text(json.dumps({**edited, "model_disagreement": why}, indent=2, sort_keys=True))
    before = (cases / "resize.toml").read_text()
    proc = in_process("cases", "promote", grow.name, *args[:4])
    assert proc.returncode == 2 and "contradict" in proc.stderr, proc.stderr
    assert (cases / "resize.toml").read_text() == before


def test_a_finding_generate_could_not_record_is_never_saved(
    latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    stand_in = STAND_INS / "qemu-img-fault-non-json-info"
    binary = QemuBinary("9.9.9", stand_in, "qemu-img", "qemu-img version 9.9.9")
    case = Case("resize", "raw", "fz-raw-1M-to-4M", "1M", "4M")
    found = [findings.Finding("drift x", case, "drift"), findings.Finding("drift y", case, "y")]
    req = FuzzRequest(binaries=(binary,), invariants=("I1",), formats=("raw",), profile="ci",
                      max_examples=1, seed=1, shrink=False, jobs=1, timeout=60,
                      curated_cases=tmp_path, save_to=tmp_path / "f.toml")  # fmt: skip
    with run_directory(tmp_path) as run_dir:
        kept, refused = _recordable(found, (FOUND,), req, run_dir)
        assert kept == []
        assert (
            refused
            == [
                f"raw/{case.name}: 9.9.9: info returned 0 but printed no JSON object "
                "('this is not JSON\\n'): is this binary a qemu-img?"
            ]
            * 2
        )
        real = QemuBinary(latest.version, latest.path, "qemu-img", latest.version_line,
                          exec_prefix=latest.exec_prefix)  # fmt: skip
        ok = FuzzRequest(**{**req.__dict__, "binaries": (real,)})
        assert _recordable(found, (FOUND,), ok, run_dir) == (found, [])


def test_promote_moves_a_finding_and_says_what_the_consumer_will_see(
    latest: QemuBinary, tmp_path: Path
) -> None:
    keep = Case("resize", "raw", "fz-raw-2M-to-1M", "2M", "1M", shrink=True)
    move = Case("resize", "raw", "fz-raw-1M-plus-1M", "1M", "+1M")
    cases, tree = curated(tmp_path, keep, move), tmp_path / "eo"
    args = toolkit_args(cases, tree, [latest])
    assert in_process("generate", "resize", "resize-discovered", *args).returncode == 0
    findings_file = (cases / "discovered" / "resize.toml").read_text()
    # bad input: nothing changes
    for bad, why in ((["nope", "--command", "resize"], "no finding is named 'nope'"),
                     (["nope"], "no single command has findings named 'nope'"),
                     ([], "needs the findings")):  # fmt: skip
        proc = in_process("cases", "promote", *bad, *args[:4])
        assert proc.returncode == 2 and why in proc.stderr, proc.stderr
    assert (cases / "discovered" / "resize.toml").read_text() == findings_file
    proc = in_process("cases", "promote", "raw/fz-raw-1M-plus*", *args[:4])
    assert proc.returncode == 0, proc.stderr
    assert f"promoted raw/{move.name}" in proc.stdout
    assert "removed its 3 recorded files from resize-discovered-info-json" in proc.stdout
    assert "raw now has 3 cases: add 'fz-raw-1M-plus-1M' to its raw list" in proc.stdout
    assert [c.name for c in load_cases(cases, RESIZE)] == ["1M-to-4M", "64M-to-1M-no-shrink",
                                                          move.name]  # fmt: skip
    assert [c.name for c in load_cases(cases, FOUND)] == [keep.name]
    assert not list((tree / FOUND.output_type).rglob(f"{move.name}.*"))
    assert in_process("verify", "resize-discovered", "--offline", *args).returncode == 0
    missing = in_process("verify", "resize", "--offline", *args)
    assert missing.returncode == 1 and f"[missing] resize-info-json/raw/{latest.version}/" \
        f"{move.name}" in missing.stdout  # fmt: skip
    assert in_process("generate", "resize", *args).returncode == 0
    assert in_process("verify", *args).returncode == 0
    # promoting it again: it is no finding any more
    proc = in_process("cases", "promote", move.name, "--command", "resize", *args[:4])
    assert proc.returncode == 2 and "no finding is named" in proc.stderr


def test_promote_refuses_a_name_the_matrix_has_in_another_case(tmp_path: Path) -> None:
    """fuzz never saves such a name (it compares names case-insensitively too); a hand-edited
    findings file may hold one."""
    cases = curated(tmp_path)
    (cases / "discovered").mkdir()
    (cases / "discovered" / "resize.toml").write_text(
        '[[case]]\nformat = "raw"\nname = "1m-TO-4m"\nstart = "2M"\nend = "8M"\n'
    )
    proc = in_process("cases", "promote", "1m-TO-4m", "--curated-cases", str(cases),
                      "--expected-outputs", str(tmp_path / "eo"))  # fmt: skip
    assert proc.returncode == 2
    assert "the curated case '1M-to-4M' has that name (names are compared case-insensitively)" \
        in proc.stderr  # fmt: skip
    assert (cases / "resize.toml").read_text() == MATRIX


def test_drift_of_the_findings_type_says_why_each_was_found(
    qemu_binaries: list[QemuBinary], tmp_path: Path
) -> None:
    old, new = by_version(qemu_binaries, "7.2.22", "11.1.3")
    cases, tree = curated(tmp_path, ODD), tmp_path / "eo"
    assert (
        in_process(
            "generate", "resize-discovered", *toolkit_args(cases, tree, [old, new])
        ).returncode
        == 0
    )
    common = ["--curated-cases", str(cases), "--expected-outputs", str(tree)]
    proc = in_process("drift", "7.2.22", "11.1.3", "--command", "resize-discovered", *common)
    assert proc.returncode == 0, proc.stderr
    assert f"raw/{ODD.name}\n    found by fuzz: drift between versions" in proc.stdout
    page = in_process("drift", "7.2", "11.1", "--command", "resize-discovered", "--format",
                      "html", *common).stdout  # fmt: skip
    assert "Findings (1): why fuzz saved each case" in page and ODD.name in page


def test_a_users_findings_leave_the_repository_s_checks_alone(tmp_path: Path) -> None:
    """The committed tree and case files, plus findings (recorded or not) in a copy: every
    check of the curated types reads exactly what it read before. (The types over the image
    corpus have no findings: resize, create and the corpus's manifest are copied.)"""
    repo = Path(__file__).resolve().parent.parent
    shutil.copytree(repo / "curated_cases", tmp_path / "curated_cases")
    for t in ("resize-info-json", "create-info-json", "images"):
        shutil.copytree(repo / "expected-outputs" / t, tmp_path / "expected-outputs" / t)
    items = [findings.Finding("drift odd", ODD, "x")]
    findings.save(items, findings.default_path(tmp_path / "curated_cases", "resize"),
                  tmp_path / "curated_cases")  # fmt: skip
    common = ["--curated-cases", str(tmp_path / "curated_cases"), "--expected-outputs",
              str(tmp_path / "expected-outputs")]  # fmt: skip
    proc = in_process("verify", "--offline", *common)
    assert proc.returncode == 0, proc.stdout
    assert (
        "verify OK: resize OK, create OK, resize-discovered OK (1 not yet recorded)" in proc.stdout
    )
    for command in ("resize", "create"):
        assert in_process("profiles", "--check", "--command", command, *common[2:]).returncode == 0
    assert sorted(os.listdir(tmp_path / "expected-outputs")) == [
        "create-info-json", "images", "resize-info-json"
    ]  # fmt: skip
