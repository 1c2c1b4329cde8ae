"""`fuzz --command amend` and `--command measure` on real qemu-img: a planted fault for each
of A1-A3 and M1-M3 is caught (exit 1, the saved case replays it on the stand-in and passes
on the real binary), the real binaries pass, a measure candidate is held to qemu-img (M1
and D2), and the findings of both go through generate, verify, `cases list` and `cases
promote`. One or two versions, at most 10 examples a run.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest
from helpers import REPO, in_process
from test_fuzz_chain import STAND_INS, beside_qemu_io, fuzz

from toolkit.baseline.case_schema import case_table, parse_case
from toolkit.baseline.cases import load_cases
from toolkit.model.pipeline import COMMANDS, NO_PLAN
from toolkit.model.records import Case, QemuBinary
from toolkit.qemu.runner import run_case, run_directory
from toolkit.stages.fuzz.amend_checks import is_noop
from toolkit.stages.fuzz.kinds import KINDS
from toolkit.stages.fuzz.measure_checks import short_on_every_version
from toolkit.stages.fuzz.strategies_single import amend_case, measure_case

FOUND = {"amend": COMMANDS["amend-discovered"], "measure": COMMANDS["measure-json-discovered"]}
FORMAT = {"amend": "qcow2", "measure": "_size"}

# (stand-in, command, the check its fault fails): the ci profile's 10 examples hold one.
FAULTS = [
    ("qemu-img-fault-amend-noop-changes-info", "amend", "A1"),
    ("qemu-img-fault-amend-scribbles", "amend", "A2"),
    ("qemu-img-fault-amend-refusal-scribbles", "amend", "A3"),
    ("qemu-img-fault-measure-required-short", "measure", "M1"),
    ("qemu-img-fault-measure-fully-short", "measure", "M2"),
    ("qemu-img-fault-measure-human-disagrees", "measure", "M3"),
]


@pytest.mark.qemu
@pytest.mark.parametrize(("stand_in", "command", "check"), FAULTS)
def test_each_planted_fault_is_caught_and_its_case_replays(
    stand_in: str, command: str, check: str, latest: QemuBinary, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fault = beside_qemu_io(STAND_INS / stand_in, latest, tmp_path / "bin")
    curated = tmp_path / "curated"
    code, out = fuzz(capsys, "--command", command, "--qemu-img", str(fault), "--invariant", check,
                     "--max-examples", "10", "--no-shrink",
                     "--curated-cases", str(curated))  # fmt: skip
    assert code == 1, out
    assert f"FAILED {check} " in out, out
    (saved,) = load_cases(curated, FOUND[command])  # the loader generate uses
    assert f"[finding: {check} {FORMAT[command]} {latest.version}]" in saved.comment
    kind = KINDS[command]
    binary = QemuBinary(latest.version, fault, "qemu-img", latest.version_line)
    with run_directory(tmp_path) as run_dir:
        replayed = kind.judge(run_case(saved, binary, kind.spec, run_dir))
        real = kind.judge(run_case(saved, latest, kind.spec, run_dir))
    assert [v.ok for v in replayed if v.invariant == check] == [False], replayed
    assert [v.ok for v in real if v.invariant == check] == [True], real
    # the other checks of the kind hold on the stand-in: its fault is this check's alone
    assert all(v.ok is not False for v in replayed if v.invariant != check), replayed


@pytest.mark.qemu
@pytest.mark.parametrize(("command", "seed"), [("amend", "3"), ("measure", "1")])
def test_the_real_binaries_pass_every_check(
    command: str, seed: str, qemu_binaries: list[QemuBinary], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, out = fuzz(capsys, "--command", command, "--version", "5.2.0", "--version", "11.1.3",
                     "--max-examples", "10", "--seed", seed, "--no-save",
                     "--curated-cases", str(tmp_path))  # fmt: skip
    assert code == 0, out
    for check in KINDS[command].invariants:
        assert re.search(rf"  {check} .*\s[1-9]\d* passed\s+0 failed", out), (check, out)


@pytest.mark.qemu
def test_a_measure_candidate_is_held_to_qemu_img(
    latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A candidate measuring `required` 64k short fails M1 (against what the real qemu-img's
    create allocates) and D2 (its JSON is not qemu-img's); the real binary as candidate
    passes every check."""
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    against = ["--against", latest.version, "--qemu-img", str(latest.path)]
    short = STAND_INS / "qemu-img-fault-measure-required-short"
    ten = ["--max-examples", "10", "--no-save", "--curated-cases", str(tmp_path)]
    code, out = fuzz(capsys, "--command", "measure", "--candidate", str(short), *against, *ten)
    assert code == 1, out
    assert re.search(r"  M1 .*\s[1-9]\d* failed", out), out
    assert re.search(r"FAILED D2 .*: measure: required \d+ vs \d+", out), out
    assert re.search(rf"\n    {re.escape(str(latest.path))} create -f ", out), out  # the real one
    code, out = fuzz(
        capsys, "--command", "measure", "--candidate", str(latest.path), *against, *ten
    )
    assert code == 0, out
    for check in ("M1", "M2", "D1", "D2"):
        assert re.search(rf"  {check} .*\s[1-9]\d* passed\s+0 failed", out), (check, out)


@pytest.mark.qemu
def test_findings_are_recorded_verified_listed_and_promoted(
    latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """What fuzz saves for amend (a case with data) and measure (a size case, in its two
    findings types) is recorded by generate, passes verify, is listed and promoted."""
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cases, tree = tmp_path / "cases", tmp_path / "eo"
    cases.mkdir()
    for name in ("amend.toml", "measure.toml", "images.toml"):
        shutil.copy2(REPO / "curated_cases" / name, cases / name)
    for stand_in, command in (("qemu-img-fault-amend-scribbles", "amend"),
                              ("qemu-img-fault-measure-required-short", "measure")):  # fmt: skip
        fault = beside_qemu_io(STAND_INS / stand_in, latest, tmp_path / "bin")
        code, out = fuzz(capsys, "--command", command, "--qemu-img", str(fault), "--max-examples",
                         "10", "--no-shrink", "--curated-cases", str(cases))  # fmt: skip
        assert code == 1 and "cases saved: " in out, out
    amend = load_cases(cases, FOUND["amend"])
    measure = load_cases(cases, FOUND["measure"])
    assert amend and measure
    args = ["--curated-cases", str(cases), "--expected-outputs", str(tree),
            "--qemu-img", str(latest.path)]  # fmt: skip
    proc = in_process("generate", "amend-discovered", "measure-discovered", *args)
    assert proc.returncode == 0, proc.stderr
    for t in ("amend-discovered", "measure-human-discovered", "measure-json-discovered"):
        assert f"generate {t}: 1 version" in proc.stdout, proc.stdout
    recorded = tree / "measure-json-discovered" / "_size" / latest.version
    assert (recorded / f"{measure[0].name}.stdout.txt").read_text().startswith("{")
    proc = in_process("verify", "amend-discovered", "measure-discovered", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for command, found in (("amend", amend[0]), ("measure", measure[0])):
        listed = in_process("cases", "list", "--command", command, *args[:4])
        assert f"{found.format}/{found.name} (recorded for 1 version)" in listed.stdout
        proc = in_process("cases", "promote", found.name, *args[:4])
        assert proc.returncode == 0, proc.stderr
    moved = {c.name: c.params for c in load_cases(cases, COMMANDS["measure-json"])}
    assert moved[measure[0].name] == measure[0].params
    assert load_cases(cases, FOUND["measure"]) == []
    assert load_cases(cases, COMMANDS["amend"])[-1].params == amend[0].params


def test_a_no_op_amend_is_one_to_the_values_the_image_has() -> None:
    def case(options: list[str], amend: list[str]) -> Case:
        found = amend_case("1M", options, amend)
        assert found is not None
        return found

    assert is_noop(case([], ["compat=1.1"])) and is_noop(case([], ["compat=v3,refcount_bits=16"]))
    assert is_noop(case(["compat=0.10"], ["compat=v2", "lazy_refcounts=off"]))
    assert is_noop(case(["lazy_refcounts=on", "compat=1.1"], ["lazy_refcounts=on"]))
    assert not is_noop(case([], ["compat=0.10"])) and not is_noop(case([], ["lazy_refcounts=on"]))
    # create-only options are refused even at the image's value: never a no-op (A3's cases)
    assert not is_noop(case(["cluster_size=4k"], ["cluster_size=4k"]))


def test_m1_leaves_out_where_every_version_measures_short() -> None:
    def case(size: str, target: str, options: list[str]) -> Case:
        found = measure_case(size, target, options)
        assert found is not None
        return found

    assert short_on_every_version(case("0", "qcow2", ["preallocation=full"]))
    assert short_on_every_version(
        case("1M", "qcow2", ["cluster_size=4k", "preallocation=metadata"])
    )
    assert short_on_every_version(case("1M", "qcow2", ["preallocation=metadata"])) is None
    assert short_on_every_version(case("0", "raw", ["preallocation=full"])) is None
    assert short_on_every_version(case("64k", "qcow2", ["preallocation=falloc"])) is None


def test_examples_are_cases_the_schema_takes_and_write_back() -> None:
    """Every drawn amend and measure case is a valid case table and is written back as one
    (case_table), params and all."""
    from hypothesis import given, settings

    from toolkit.stages.fuzz.strategies_single import amend_cases, measure_cases

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(amend_cases(), measure_cases())
    def check(amend: Case, measure: Case) -> None:
        for case, spec in ((amend, COMMANDS["amend"]), (measure, COMMANDS["measure-json"])):
            (entry,) = tomllib.loads(case_table(case))["case"]
            again, errors = parse_case(entry, spec, "<test>")
            assert again is not None, errors
            assert (again.name, again.start_size, again.create_options, again.params) == (
                case.name, case.start_size, case.create_options, case.params)  # fmt: skip

    check()


def test_an_amend_case_s_writes_are_checked(tmp_path: Path) -> None:
    """A write past the image exits 2 naming the file and the case; nothing is written."""
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "amend.toml").write_text(
        '[[case]]\nformat = "qcow2"\nname = "w"\nstart = "1M"\namend = ["compat=0.10"]\n'
        "writes = [[1, 1048064, 1024]]\n"
    )
    out = tmp_path / "out"
    proc = in_process("generate", "amend", "--curated-cases", str(cases),
                      "--expected-outputs", str(out))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert f"{cases / 'amend.toml'}: case 'w'" in proc.stderr
    assert "bytes 1048064..1049088 end past the image's 1M" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_an_amend_case_with_data_writes_it_before_the_amend() -> None:
    case = amend_case("1M", ["compat=0.10"], ["compat=1.1"], [[0xAA, 0, 65536]])
    assert case is not None
    spec = COMMANDS["amend"]
    assert [s.name for s in spec.steps_for(case)] == ["create", "write", "amend", "info"]
    assert spec.step("write").argv(case, NO_PLAN)[-3:] == [
        "-c", "write -P 0xaa 0 65536", "$FILENAME"]  # fmt: skip
    bare = amend_case("1M", [], ["compat=0.10"])
    assert bare is not None and [s.name for s in spec.steps_for(bare)] == [
        "create", "amend", "info"]  # fmt: skip


def test_simpler_variants_are_valid_cases_and_simpler() -> None:
    """simplify.py's domain shrink for amend and measure: each variant parses as a case
    of its command and is simpler than the case it came from."""
    from toolkit.stages.fuzz.findings import simplicity
    from toolkit.stages.fuzz.strategies_single import amend_variants, measure_variants

    writes = [[1, 0, 512], [2, 65536, 4096]]
    amend = amend_case("960k", ["compat=0.10", "cluster_size=4k"],
                       ["compat=1.1", "lazy_refcounts=on"], writes)  # fmt: skip
    measure = measure_case("3M", "qcow2", ["cluster_size=4k", "preallocation=falloc"])
    assert amend is not None and measure is not None
    found = {"amend": list(amend_variants(amend)), "measure": list(measure_variants(measure))}
    assert len(found["amend"]) >= 6 and len(found["measure"]) >= 4, found
    for case, variants in ((amend, found["amend"]), (measure, found["measure"])):
        assert all(simplicity(v) < simplicity(case) for v in variants)
    assert any(v.param("writes") is None for v in found["amend"])
    assert any(v.param("size") == "0" for v in found["measure"])
