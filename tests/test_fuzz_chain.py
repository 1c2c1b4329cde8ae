"""`fuzz --command rebase` and `--command commit` on real qemu-img: a planted fault for each
of R1-R4 and C1-C4 is caught (exit 1, the saved case replays it), the real binaries pass,
a candidate's checks are made by the real qemu-img, and a finding with data goes through
generate, verify, `cases list` and `cases promote` (commit's two findings types).

Stand-ins write data with qemu-io, found beside the binary: each runs from a directory
holding a copy of it and a `qemu-io` that starts the real one. One or two versions.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest
from helpers import REPO, in_process

from toolkit.baseline.cases import load_cases
from toolkit.cli.main import main
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary
from toolkit.qemu.runner import run_case, run_directory
from toolkit.qemu.tools import tool_command
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.kinds import KINDS
from toolkit.stages.fuzz.strategies_chain import chain_case

pytestmark = pytest.mark.qemu

STAND_INS = Path(__file__).resolve().parent / "stand_ins"
FOUND = {"rebase": COMMANDS["rebase-discovered"], "commit": COMMANDS["commit-overlay-discovered"]}


def beside_qemu_io(stand_in: Path, real: QemuBinary, where: Path) -> Path:
    """A copy of `stand_in` in `where`, with a qemu-io beside it that runs real's."""
    where.mkdir(exist_ok=True)
    shim = where / "qemu-io"
    shim.write_text(f'#!/bin/sh\nexec {shlex.join(tool_command(real, "qemu-io"))} "$@"\n')
    shim.chmod(0o755)
    copy = where / stand_in.name
    shutil.copy2(stand_in, copy)
    return copy


def fuzz(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["fuzz", "--profile", "ci", "--max-shrink-time", "1", *argv])
    return code, capsys.readouterr().out


# (stand-in, command, the check its fault fails, the ci profile's seed: None, its own).
# At most 10 examples each; a failing rebase is rarer (a missing -F, vmdk), so R4's seed
# is one whose 10 examples hold one on qcow2.
FAULTS = [
    ("qemu-img-fault-rebase-skips-copy", "rebase", "R1", None),
    ("qemu-img-fault-rebase-ignores-unsafe", "rebase", "R2", None),
    ("qemu-img-fault-rebase-absolute-backing", "rebase", "R3", None),
    ("qemu-img-fault-rebase-fails-after-unlinking", "rebase", "R4", "2"),
    ("qemu-img-fault-commit-drops-data", "commit", "C1", None),
    ("qemu-img-fault-commit-unlinks-overlay", "commit", "C2", None),
    ("qemu-img-fault-commit-keeps-overlay-data", "commit", "C3", None),
    ("qemu-img-fault-commit-empties-overlay", "commit", "C4", None),
]


@pytest.mark.parametrize(("stand_in", "command", "check", "seed"), FAULTS)
def test_each_planted_fault_is_caught_and_its_case_replays(
    stand_in: str, command: str, check: str, seed: str | None, latest: QemuBinary,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fault = beside_qemu_io(STAND_INS / stand_in, latest, tmp_path / "bin")
    curated = tmp_path / "curated"
    code, out = fuzz(capsys, "--command", command, "--qemu-img", str(fault), "--format", "qcow2",
                     "--invariant", check, "--max-examples", "10", "--no-shrink",
                     *(("--seed", seed) if seed else ()),
                     "--curated-cases", str(curated))  # fmt: skip
    assert code == 1, out
    assert f"FAILED {check} " in out, out
    (saved,) = load_cases(curated, FOUND[command])  # the loader generate uses
    assert f"[finding: {check} qcow2 {latest.version}]" in saved.comment
    kind = KINDS[command]
    binary = QemuBinary(latest.version, fault, "qemu-img", latest.version_line)
    with run_directory(tmp_path) as run_dir:
        replayed = kind.judge(run_case(saved, binary, kind.spec, run_dir))
        real = kind.judge(run_case(saved, latest, kind.spec, run_dir))
    assert [v.ok for v in replayed if v.invariant == check] == [False], replayed
    assert [v.ok for v in real if v.invariant == check] == [True], real


@pytest.mark.parametrize("command", ["rebase", "commit"])
def test_the_real_binaries_pass_every_check(
    command: str, qemu_binaries: list[QemuBinary], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, out = fuzz(capsys, "--command", command, "--version", "5.2.0", "--version", "11.1.3",
                     "--max-examples", "10", "--no-save",
                     "--curated-cases", str(tmp_path))  # fmt: skip
    assert code == 0, out
    for check in KINDS[command].invariants:
        assert re.search(rf"  {check} .*\s[1-9]\d* passed\s+0 failed", out), (check, out)
    # what changed from 7.2 to 10.0 (the `children` block) is drift, never a failure
    info = "info" if command == "rebase" else "overlay_info"
    assert f"drift qcow2 {info}.stdout 5.2.0 | 11.1.3" in out, out


def test_a_candidate_s_checks_are_made_by_the_real_qemu_img(
    latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The candidate skips a safe rebase's copy and its own `compare` lies: R1 still fails,
    the compare that shows it having run on the real qemu-img (the reproduce lines)."""
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cand = beside_qemu_io(STAND_INS / "standin-candidate-rebase-hides-skipped-copy", latest,
                          tmp_path / "bin")  # fmt: skip
    code, out = fuzz(capsys, "--command", "rebase", "--candidate", str(cand), "--against",
                     latest.version, "--qemu-img", str(latest.path), "--format", "qcow2",
                     "--invariant", "R1", "--max-examples", "10", "--no-save",
                     "--curated-cases", str(tmp_path))  # fmt: skip
    assert code == 1, out
    notice = block(out, "FAILED R1 ")  # printed as found, with the commands replaying it
    assert re.search(rf"\n    {re.escape(str(cand))} rebase -b \S+-next.qcow2 ", notice), notice
    assert re.search(rf"\n    {re.escape(str(latest.path))} compare -f raw -F qcow2 ", notice)
    assert f"{cand} compare" not in notice and f"{cand} convert" not in notice
    assert re.search(r"  R1 .*\s[1-9]\d* failed", out), out


def block(out: str, header: str) -> str:
    """The lines of `out` from the first starting with `header` to the next unindented one."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")),
               len(lines))  # fmt: skip
    return "\n".join(lines[start:end])


def test_a_finding_with_data_is_recorded_verified_listed_and_promoted(
    latest: QemuBinary, tmp_path: Path
) -> None:
    """A commit finding (data in both images) is saved as a case file generate reads, then
    recorded by both of commit's findings types from one run, verified, listed, promoted."""
    cases, tree = tmp_path / "cases", tmp_path / "eo"
    cases.mkdir()
    shutil.copy2(REPO / "curated_cases" / "commit.toml", cases / "commit.toml")
    case = chain_case("commit", "qcow2", "1M", {"explicit_base": False, "seed": "4k",
                      "base_writes": [[0xAA, 65536, 4096]],
                      "overlay_writes": [[0x11, 0, 512], [0x22, 131072, 65536]]})  # fmt: skip
    assert case is not None
    saved = findings.save([findings.Finding("drift x", case, "a finding")],
                          findings.default_path(cases, "commit"), cases,
                          COMMANDS["commit-overlay"])  # fmt: skip
    assert len(saved) == 1
    text = (cases / "discovered" / "commit.toml").read_text()
    (entry,) = tomllib.loads(text)["case"]
    assert entry["overlay_writes"] == [[17, 0, 512], [34, 131072, 65536]], text
    args = ["--curated-cases", str(cases), "--expected-outputs", str(tree),
            "--qemu-img", str(latest.path)]  # fmt: skip
    pending = in_process("verify", "commit-discovered", "--offline", *args)
    assert "1 finding not yet recorded: run `nox -s generate_commit`" in pending.stdout
    proc = in_process("generate", "commit-discovered", *args)
    assert proc.returncode == 0, proc.stderr
    assert "generate commit-overlay-discovered:" in proc.stdout
    assert "generate commit-backing-discovered:" in proc.stdout
    for t in ("commit-overlay-discovered-info-json", "commit-backing-discovered-info-json"):
        meta = tree / t / "qcow2" / latest.version / f"{case.name}.meta.json"
        assert '"write -P 0x22 131072 65536"' in meta.read_text()
    assert in_process("verify", "commit-discovered", *args).returncode == 0
    listed = in_process("cases", "list", "--command", "commit", *args[:4])
    assert f"qcow2/{case.name} (recorded for 1 version)" in listed.stdout, listed.stdout
    proc = in_process("cases", "promote", case.name, *args[:4])
    assert proc.returncode == 0, proc.stderr
    assert "removed its 6 recorded files from commit-overlay-discovered-info-json and " \
        "commit-backing-discovered-info-json" in proc.stdout  # fmt: skip
    assert "each commit-overlay-info-json/qcow2/<version>/ and commit-backing-info-json/" \
        "qcow2/<version>/ holds exactly its own case list" in proc.stdout  # fmt: skip
    moved = load_cases(cases, COMMANDS["commit-overlay"])
    assert moved[-1].name == case.name and moved[-1].params == case.params
    assert load_cases(cases, FOUND["commit"]) == []


def test_examples_are_cases_the_schema_takes_and_write_back() -> None:
    """Every drawn rebase and commit case is a valid case table (parse_case built it) and
    is written back as one (case_table), params and all."""
    from hypothesis import given, settings

    from toolkit.baseline.case_schema import case_table, parse_case
    from toolkit.stages.fuzz.strategies_chain import commit_cases, rebase_cases

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(rebase_cases(), commit_cases())
    def check(rebase: Case, commit: Case) -> None:
        for case, spec in ((rebase, COMMANDS["rebase"]), (commit, COMMANDS["commit-overlay"])):
            (entry,) = tomllib.loads(case_table(case))["case"]
            again, errors = parse_case(entry, spec, "<test>")
            assert again is not None, errors
            assert (again.name, again.start_size, again.params) == (
                case.name, case.start_size, case.params)  # fmt: skip

    check()


def test_a_binary_without_qemu_io_beside_it_is_told_before_any_example(
    latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    lone = tmp_path / "lone"
    lone.mkdir()
    fault = lone / "qemu-img-fault-commit-drops-data"
    shutil.copy2(STAND_INS / fault.name, fault)
    code = main(["fuzz", "--command", "commit", "--qemu-img", str(fault),
                 "--curated-cases", str(tmp_path / "curated")])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert f"no qemu-io beside qemu-img {latest.version} ({fault})" in captured.err
    assert "fuzz commit:" not in captured.out and not (tmp_path / "curated").exists()
