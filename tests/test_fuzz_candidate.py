"""`fuzz --candidate PATH --against V`: differential fuzzing of stand-in candidates.

Each stand-in candidate (tests/stand_ins/standin-candidate-*) is a wrapper around a real
qemu-img with one planted defect; the faithful one is the real binary behind a wrapper.
One version (the newest) is enough: the point is the comparison, not per-version
behaviour.
"""

from __future__ import annotations

import io
import os
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Spawn

from toolkit.baseline.cases import load_cases
from toolkit.cli.main import main
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import QemuBinary
from toolkit.qemu.runner import run_case, run_directory
from toolkit.render import fuzz_live
from toolkit.stages.fuzz.differential import compare
from toolkit.stages.fuzz.invariants import FUZZ_SPEC
from toolkit.stages.fuzz.run import FuzzRequest
from toolkit.stages.fuzz.run import fuzz as run_fuzz

REPO = Path(__file__).resolve().parent.parent
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
RESIZE = COMMANDS["resize"]
FINDINGS = COMMANDS["resize-discovered"]  # where fuzz saves what it finds
DIFFERENTIAL = ["--invariant", "D1", "--invariant", "D2", "--invariant", "D3"]

pytestmark = pytest.mark.qemu


@pytest.fixture
def real(latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> QemuBinary:
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return latest


def against(real: QemuBinary) -> list[str]:
    """Held to this real qemu-img (given as --qemu-img: nothing else is discovered)."""
    return ["--against", real.version, "--qemu-img", str(real.path)]


def fuzz(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["fuzz", "--profile", "ci", "--max-shrink-time", "1", *argv])
    return code, capsys.readouterr().out


# (stand-in, format to draw, the differential check its defect fails)
PLANTED = [
    ("standin-candidate-drops-children", "raw", "D2"),
    ("standin-candidate-rejects-prealloc", "raw", "D1"),
    ("standin-candidate-vague-errors", "qcow2", "D3"),
    ("standin-candidate-shrinks-silently", "raw", "D1"),
    ("standin-candidate-ignores-cluster-size", "qcow2", "D1"),
    ("standin-candidate-resizes-vhd", "vhd", "D1"),
]


@pytest.mark.parametrize(("stand_in", "fmt", "check"), PLANTED)
def test_fuzz_candidate_finds_each_planted_defect(
    stand_in: str, fmt: str, check: str, real: QemuBinary, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    candidate = STAND_INS / stand_in
    code, out = fuzz(capsys, "--candidate", str(candidate), *against(real),
                     "--format", fmt, "--max-examples", "12", "--stop-after", "1", *DIFFERENTIAL,
                     "--curated-cases", str(tmp_path))  # fmt: skip
    assert code == 1, out
    assert re.search(rf"  {check} .* failed \(first at example \d+\)", out), out
    # printed as found, with the commands that reproduce it on the candidate
    notice = out[out.index(f"FAILED {check} ") :]
    assert "reproduce (before shrinking):" in notice and f"{candidate} create -f" in notice
    # saved as a curated case whose comment shows both outcomes ...
    (saved, *_more) = [
        c for c in load_cases(tmp_path, FINDINGS) if f"[finding: {check} " in c.comment
    ]
    assert (
        "candidate: create" in saved.comment and f"qemu-img {real.version}: create" in saved.comment
    )
    # ... and which replays: the candidate and qemu-img still differ on it
    cand = QemuBinary(real.version, candidate, "candidate", "stand-in")
    with run_directory(tmp_path) as run_dir:
        a, b = (run_case(saved, x, FUZZ_SPEC, run_dir) for x in (cand, real))
        assert {v.invariant: v.ok for v in compare(a, b)}[check] is False
        assert all(v.ok is not False for v in compare(b, run_case(saved, real, FUZZ_SPEC, run_dir)))


def test_faithful_candidate_has_no_failures_in_three_random_runs(
    real: QemuBinary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = STAND_INS / "standin-candidate-faithful"
    for seed in random.sample(range(1 << 30), 3):
        code, out = fuzz(capsys, "--candidate", str(candidate), *against(real),
                         "--profile", "fuzz", "--seed", str(seed), "--max-examples", "6",
                         "--curated-cases", str(tmp_path))  # fmt: skip
        assert code == 0, (seed, out)
        for check in ("I1", "I2", "I3", "I4", "I5", "I6", "D1", "D2", "D3"):
            assert re.search(rf"  {check} .*\s0 failed", out), (seed, out)
    assert not (tmp_path / "discovered" / "resize.toml").exists()


def test_max_time_ends_the_run_and_reports(
    real: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("STANDIN_DELAY", "0.03")  # a slow candidate
    code, out = fuzz(capsys, "--candidate", str(STAND_INS / "standin-candidate-faithful"),
                     *against(real), "--format", "raw", "--max-examples", "1000",
                     "--max-time", "1", *DIFFERENTIAL, "--no-save")  # fmt: skip
    assert code == 0, out
    assert "stopped: --max-time 1 s reached" in out
    n = int(re.search(r": (\d+) examples in", out).group(1))  # type: ignore[union-attr]
    assert 0 < n < 1000


@pytest.mark.slow
def test_interrupt_prints_the_summary_and_saves_findings(
    real: QemuBinary, tmp_path: Path, spawn: Spawn
) -> None:
    """^C after the first failure is printed: exit 130, the summary, the finding saved."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "STANDIN_DELAY": "0.03"}
    argv = [sys.executable, "-m", "toolkit", "fuzz", "--profile", "ci", "--candidate",
            str(STAND_INS / "standin-candidate-shrinks-silently"), *against(real),
            "--format", "raw", "--max-examples", "1000", "--max-shrink-time", "600",
            *DIFFERENTIAL, "--curated-cases", str(tmp_path)]  # fmt: skip
    proc = spawn(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("FAILED D1"):
            break
    proc.send_signal(signal.SIGINT)
    try:
        rest, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # ^C did not stop it: show what the run was doing
        proc.kill()
        rest, err = proc.communicate()
        pytest.fail(f"fuzz ran on 60 s after ^C\nstdout:\n{rest[-3000:]}\nstderr:\n{err[-3000:]}")
    out = "".join(seen) + rest
    assert proc.returncode == 130, (out, err)
    assert "stopped: interrupted (^C)" in out and re.search(r"cases saved: [1-9]", out), out
    saved = load_cases(tmp_path, FINDINGS)
    assert any("[finding: D1 raw" in c.comment for c in saved), saved


def test_candidate_that_cannot_start_is_one_clear_error(
    real: QemuBinary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "standin-candidate-bad-interpreter"
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    missing_lib = tmp_path / "standin-candidate-exits-127"
    missing_lib.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    missing_lib.chmod(0o755)
    for cand in (broken, missing_lib):
        code = main(["fuzz", "--candidate", str(cand), *against(real),
                     "--curated-cases", str(tmp_path)])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and f"--candidate {cand} cannot start" in err, err
    assert not (tmp_path / "discovered" / "resize.toml").exists()


def test_candidate_options_are_checked(
    real: QemuBinary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cand = ["--candidate", str(STAND_INS / "standin-candidate-faithful")]
    assert fuzz(capsys, *cand)[0] == 2  # no --against
    assert (
        fuzz(capsys, *cand, "--against", "99.9", "--qemu-img", str(real.path))[0] == 2
    )  # no such version
    assert fuzz(capsys, "--invariant", "D1", "--qemu-img", str(real.path))[0] == 2
    assert fuzz(capsys, *cand, *against(real), "--version", "latest")[0] == 2


def test_save_cases_directory_is_checked_before_any_work(
    real: QemuBinary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#12 item 10: a missing directory for --save-cases is exit 2 before anything runs."""
    code = main(["fuzz", "--qemu-img", str(real.path), "--save-cases", "/nonexistent/x.toml"])
    err = capsys.readouterr().err
    assert code == 2 and "/nonexistent" in err and "does not exist" in err, err


def test_hypothesis_writes_nothing_in_the_working_directory(
    real: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """#12 item 13: hypothesis's own files follow the toolkit's cache ($XDG_CACHE_HOME)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out = fuzz(capsys, "--qemu-img", str(real.path), "--profile", "fuzz",
                     "--max-examples", "3", "--invariant", "I1", "--no-save")  # fmt: skip
    assert code == 0, out
    assert list(work.iterdir()) == []
    # (what it caches is computed once per process, so the files may not be written again)
    from hypothesis.configuration import storage_directory

    assert (
        storage_directory("x", intent_to_write=False).home_directory
        == tmp_path / "cache" / "qemu-img-baselines" / "hypothesis"
    )


@pytest.mark.slow
def test_campaign_module_runs_the_same_properties(real: QemuBinary, tmp_path: Path) -> None:
    """tests/campaign/test_campaign.py (what HypoFuzz runs) under plain pytest, briefly: it
    collects, builds the candidate and the reference, and a faithful candidate passes."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "QEMU_IMG_BINARIES": "",
           "QEMU_IMG_CAMPAIGN_CANDIDATE": str(STAND_INS / "standin-candidate-faithful"),
           "QEMU_IMG_CAMPAIGN_AGAINST": real.version, "QEMU_IMG_CAMPAIGN_FORMATS": "raw",
           "QEMU_IMG_CAMPAIGN_DATABASE": str(tmp_path / "db"),
           "QEMU_IMG_CAMPAIGN_MAX_EXAMPLES": "4"}  # fmt: skip
    env.pop("XDG_CACHE_HOME", None)  # the store: where `real` was found
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
            str(REPO / "tests" / "campaign" / "test_campaign.py")]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [False, True])
def test_progress_line_on_a_terminal_and_off_it(
    tty: bool, real: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminal gets one line rewritten in place; a log gets plain lines."""
    monkeypatch.setattr(fuzz_live, "EVERY", 0.0)
    monkeypatch.setattr(fuzz_live, "TTY_EVERY", 0.0)
    err = _Terminal() if tty else io.StringIO()
    live = fuzz_live.LiveReport(out=io.StringIO(), err=err)
    request = FuzzRequest(
        binaries=(real,), invariants=("I1",), formats=("raw",), profile="ci", max_examples=3,
        seed=None, shrink=False, jobs=1, timeout=60, curated_cases=tmp_path, save_to=None,
    )  # fmt: skip
    result = run_fuzz(request, live.on_example, live.on_failure)
    text = err.getvalue()
    assert result.session.examples == 3
    assert text.count("fuzz: ") == 3 and "examples/s, 0 failures" in text
    assert (text.count("\r") == 3 and "\n" not in text) if tty else text.count("\n") == 3


def test_stop_after_ends_the_exploration_at_n_failing_checks(
    real: QemuBinary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = fuzz(capsys, "--candidate", str(STAND_INS / "standin-candidate-drops-children"),
                     *against(real), "--format", "raw", "--max-examples", "200",
                     "--invariant", "D2", "--stop-after", "1", "--no-save")  # fmt: skip
    assert code == 1 and "stopped: --stop-after 1 reached" in out, out
    n = int(re.search(r": (\d+) examples in", out).group(1))  # type: ignore[union-attr]
    assert n == int(re.search(r"failed \(first at example (\d+)\)", out).group(1))  # type: ignore[union-attr]
