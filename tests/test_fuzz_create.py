"""`fuzz --command create` on real qemu-img: drift, a planted I1 fault, bad input."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings

from toolkit.baseline.caps import cap_for
from toolkit.baseline.cases import load_cases, parse_case
from toolkit.cli.main import main
from toolkit.model.formats import split_option_string
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary
from toolkit.model.sizes import parse_size
from toolkit.qemu.runner import run_case, run_directory
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.drift import drift
from toolkit.stages.fuzz.invariants import i1_created_size, info_json
from toolkit.stages.fuzz.strategies import create_cases

STAND_INS = Path(__file__).resolve().parent / "stand_ins"
CREATE = COMMANDS["create"]


def fuzz(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["fuzz", "--profile", "ci", "--command", "create", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pick(binaries: list[QemuBinary], *versions: str) -> list[QemuBinary]:
    found = {b.version: b for b in binaries}
    return [found[v] for v in versions]


@pytest.mark.qemu
def test_create_drift_between_versions_is_saved_and_replays(
    qemu_binaries: list[QemuBinary], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = pick(qemu_binaries, "5.2.0", "11.1.3")
    code, out, _err = fuzz(capsys, "--version", "5.2.0", "--version", "11.1.3", "--format",
                           "qcow2", "--seed", "1", "--max-examples", "8",
                           "--curated-cases", str(tmp_path))  # fmt: skip
    # drift is reported, never a failure; the real versions meet I1 and I6
    assert code == 0, out
    assert re.search(r"  I1 .*\s0 failed", out) and re.search(r"  I6 .*\s0 failed", out), out
    assert "drift qcow2 info.stdout 5.2.0 | 11.1.3" in out, out
    saved = load_cases(
        tmp_path, COMMANDS["create-discovered"]
    )  # the loader generate uses, with create's schema
    assert [p.name for p in tmp_path.iterdir()] == ["discovered"]
    assert [p.name for p in (tmp_path / "discovered").iterdir()] == ["create.toml"]
    assert saved and all(c.command == "create" and c.end_spec is None for c in saved)
    children = 0
    with run_directory(tmp_path) as run_dir:
        for case in saved:
            (key,) = re.findall(r"\[finding: ([^\]]+)\]", case.comment)
            replay = [run_case(case, b, CREATE, run_dir) for b in (old, new)]
            assert key in {d.key for d in drift(replay, ("create", "info"))}, (case.name, key)
            if key == "drift qcow2 info.stdout 5.2.0 | 11.1.3":  # the `children` block, from 10.0
                before, after = (info_json(r.step("info")) for r in replay)
                assert before is not None and after is not None
                assert "children" not in before and "children" in after
                children += 1
    assert children == 1


@pytest.mark.qemu
def test_planted_create_fault_is_caught_by_i1(
    qemu_binaries: list[QemuBinary],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = qemu_binaries[-1]
    stand_in = STAND_INS / "qemu-img-fault-create-wrong-size"
    monkeypatch.setenv("REAL_QEMU_IMG", str(real.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the probe cache keys on path
    curated = tmp_path / "curated"
    code, out, _err = fuzz(capsys, "--qemu-img", str(stand_in), "--format", "raw",
                           "--max-examples", "10", "--no-shrink",
                           "--curated-cases", str(curated))  # fmt: skip
    assert code == 1, out
    assert "FAILED I1 exact size" in out and "I2" not in out, out
    (saved,) = load_cases(curated, COMMANDS["create-discovered"])
    assert f"[finding: I1 raw {real.version}]" in saved.comment
    binary = QemuBinary(real.version, stand_in, "qemu-img", real.version_line)
    with run_directory(tmp_path) as run_dir:
        assert i1_created_size(run_case(saved, binary, CREATE, run_dir)).ok is False
        assert i1_created_size(run_case(saved, real, CREATE, run_dir)).ok is True


@pytest.mark.qemu
def test_create_refuses_resize_only_checks(
    qemu_binaries: list[QemuBinary], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--curated-cases", str(tmp_path))
    for inv in ("I2", "I3", "I4", "I5"):
        code, _out, err = fuzz(capsys, "--invariant", inv, *where)
        assert code == 2 and f"--invariant {inv} does not apply with --command create" in err
        assert "its checks: I1, I6" in err, err
    code, _out, err = fuzz(capsys, "--format", "bogus", *where)
    assert code == 2 and "unknown --format bogus for --command create" in err, err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.qemu
def test_create_is_differential_too(
    qemu_binaries: list[QemuBinary], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any kind runs against a candidate: real qemu-img held to itself passes D1-D3 and I1."""
    real = qemu_binaries[-1]
    code, out, _err = fuzz(capsys, "--candidate", str(real.path), "--against", real.version,
                           "--format", "qcow2", "--max-examples", "3", "--no-save",
                           "--curated-cases", str(tmp_path))  # fmt: skip
    assert code == 0, out
    assert out.startswith(f"fuzz create: candidate {real.path} against qemu-img {real.version}")
    for check in ("I1", "I6", "D1", "D2"):
        assert re.search(rf"  {check} .*\s[1-9]\d* passed\s+0 failed", out), (check, out)
    assert not re.search(r"  I[2-5] ", out), out


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(create_cases())
def test_create_cases_are_valid_within_caps_and_round_trip(case: Case) -> None:
    assert case.command == "create" and case.end_spec is None and case.prealloc is None
    opts = {k: v for o in case.create_options for k, v in split_option_string(o)}
    assert parse_size(case.start_size) <= cap_for(case.format, opts, None)[0]
    text = findings.render([findings.Finding("k", case, "s")])
    (entry,) = tomllib.loads(text)["case"]
    again, errors = parse_case(entry, CREATE, "<test>")
    assert again is not None, errors
    assert (again.format, again.name, again.start_size, again.create_options) == (
        case.format, case.name, case.start_size, case.create_options)  # fmt: skip


def test_simplify_offers_simpler_create_cases() -> None:
    from toolkit.stages.fuzz.simplify import variants
    from toolkit.stages.fuzz.strategies import _validated

    case = _validated("qcow2", "1.5M", None, ["cluster_size=4k", "lazy_refcounts=on"], None, None)
    assert case is not None
    simpler = list(variants(case))
    assert simpler and all(c.command == "create" and c.end_spec is None for c in simpler)
    assert ("1.5M", ()) in {(c.start_size, c.create_options) for c in simpler}
    assert ("1M", case.create_options) in {(c.start_size, c.create_options) for c in simpler}
