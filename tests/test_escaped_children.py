"""A run ends on time whatever its children leave behind (issue 21 item 3), and a program
that deletes its own working directory gets a named error (item 11).

The planted fault: tests/stand_ins/qemu-img-fault-escapes-group, a wrapper around the real
qemu-img that starts `setsid sleep 30 &` (outside the call's process group) before it
execs qemu-img. Before the fix a call waited for the sleeper as long as it held the
output pipes (30 s here; `verify --candidate --timeout 3` never returned, deaf to ^C), and
a sleeper that held nothing ran on after the run. Every test kills each sleeper it made,
by pid, however it ends.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, alive, toolkit

from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary
from toolkit.qemu import process, runner
from toolkit.qemu.capture import PIPE_GRACE

pytestmark = pytest.mark.qemu

STAND_INS = REPO / "tests" / "stand_ins"
ESCAPES = STAND_INS / "qemu-img-fault-escapes-group"
REMOVES_DIR = STAND_INS / "standin-candidate-removes-its-directory"
ONE_CASE = ["--format", "raw", "--case", "1M-to-64M-default"]


@pytest.fixture
def sleepers(tmp_path: Path) -> Iterator[Path]:
    """The file the stand-in appends each sleeper's pid to; every sleeper is killed at the end."""
    pids = tmp_path / "sleepers"
    yield pids
    for pid in _pids(pids):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)  # the test's own sleeper: never leave it running


def _pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _gone(pids: list[int], within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while any(alive(p) for p in pids) and time.monotonic() < end:
        time.sleep(0.02)
    return not any(alive(p) for p in pids)


@pytest.fixture
def escape_env(
    monkeypatch: pytest.MonkeyPatch, latest: QemuBinary, sleepers: Path
) -> pytest.MonkeyPatch:
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("ESCAPE_PID_FILE", str(sleepers))
    return monkeypatch


@pytest.mark.parametrize("how", ["pipe", "devnull", "noenv"])
def test_a_call_ends_on_time_and_kills_what_left_its_group(
    how: str, tmp_path: Path, escape_env: pytest.MonkeyPatch, sleepers: Path
) -> None:
    escape_env.setenv("ESCAPE_HOW", how)
    t0 = time.monotonic()
    raw = process.run_process([str(ESCAPES), "info", "--help"], tmp_path, 10)
    elapsed = time.monotonic() - t0
    (sleeper,) = _pids(sleepers)
    # pipe: the output waited for `sleep 30`; devnull: it was left running after the call.
    assert elapsed < PIPE_GRACE + 3, f"the call took {elapsed:.1f} s"
    assert raw.timed_out is False and raw.return_code == 0
    assert b"qemu-img info" in raw.stdout  # qemu-img's own output is all there
    assert _gone([sleeper]), f"the escaped `sleep 30` ({sleeper}) outlived the call"
    if how == "noenv":  # not recognisable by its environment: found holding the pipes
        assert raw.escaped == (
            f"pid {sleeper} (sleep 30) kept the output (stdout, stderr) open after the call ended",
        )
    else:
        assert raw.escaped == (
            f"pid {sleeper} (sleep 30) left the process group and ran on after the call",
        )


def test_a_call_that_times_out_also_ends_on_time(
    tmp_path: Path, escape_env: pytest.MonkeyPatch, sleepers: Path
) -> None:
    # resize waits on stdin-less `sleep`: hang it with the real binary's help, then escape.
    escape_env.setenv("ESCAPE_ON", "info")
    t0 = time.monotonic()
    raw = process.run_process(["/bin/sh", "-c", f"{ESCAPES} info --help; exec sleep 60"],
                              tmp_path, 1)  # fmt: skip
    elapsed = time.monotonic() - t0
    (sleeper,) = _pids(sleepers)
    assert raw.timed_out is True and raw.return_code == -signal.SIGKILL
    assert elapsed < 1 + PIPE_GRACE + 3, f"the call took {elapsed:.1f} s"
    assert _gone([sleeper])
    assert len(raw.escaped) == 1
    assert raw.escaped[0].startswith(f"pid {sleeper} (sleep 30) left")


def _zombies() -> list[str]:
    """This process's children that have ended and were never reaped."""
    found = []
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat[stat.rfind(")") + 2] == "Z":
                found.append(pid)
    return found


def test_finished_calls_leave_no_descriptor_nor_zombie(tmp_path: Path, latest: QemuBinary) -> None:
    fds, zombies = len(os.listdir("/proc/self/fd")), len(_zombies())
    for _ in range(20):
        raw = process.run_process([*latest.command(), "--version"], tmp_path, 60)
        assert raw.return_code == 0 and raw.escaped == () and raw.stdout_dropped == 0
    assert len(os.listdir("/proc/self/fd")) == fds
    assert len(_zombies()) <= zombies


def test_the_runner_keeps_the_note_and_generate_refuses_to_record(
    tmp_path: Path, latest: QemuBinary, sleepers: Path
) -> None:
    out = tmp_path / "out"
    env = {"REAL_QEMU_IMG": str(latest.path), "ESCAPE_PID_FILE": str(sleepers),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}  # fmt: skip
    t0 = time.monotonic()
    proc = toolkit("generate", "resize", "--expected-outputs", str(out), "--qemu-img",
                   str(ESCAPES), "--timeout", "20", *ONE_CASE, env=env)  # fmt: skip
    assert time.monotonic() - t0 < 15, "generate waited for the escaped sleeper"
    assert proc.returncode == 1, proc.stderr
    (sleeper,) = _pids(sleepers)
    assert (
        f"raw/{latest.version}/1M-to-64M-default: info: pid {sleeper} (sleep 30) left the "
        "process group and ran on after the call; killed: a baseline is never cut short, and a "
        "qemu-img leaves nothing running; check the binary (or its wrapper)"
    ) in proc.stderr
    assert list(out.rglob("*.meta.json")) == []
    assert _gone([sleeper])


def test_verify_candidate_returns_and_names_what_was_left(
    tmp_path: Path, latest: QemuBinary, sleepers: Path
) -> None:
    report = tmp_path / "report.json"
    env = {"REAL_QEMU_IMG": str(latest.path), "ESCAPE_PID_FILE": str(sleepers)}
    t0 = time.monotonic()
    proc = toolkit("verify", "resize", "--candidate", str(ESCAPES), "--candidate-version",
                   latest.version,
                   "--timeout", "3", "--obtained", str(tmp_path / "obtained"), "--report",
                   str(report), *ONE_CASE, env=env)  # fmt: skip
    assert time.monotonic() - t0 < 15, "verify --candidate waited for the escaped sleeper"
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (sleeper,) = _pids(sleepers)
    note = f"info: pid {sleeper} (sleep 30) left the process group and ran on after the call"
    assert f"    {note}; killed" in proc.stdout
    (case,) = json.loads(report.read_text())["types"][0]["cases"]
    assert case["status"] == "diff"
    assert case["records"][0] == {"artefact": "process", "path": "info", "kind": "added",
                                  "from": None, "to": f"{note}; killed"}  # fmt: skip
    assert _gone([sleeper])


def test_fuzz_candidate_returns_and_d1_names_it(
    tmp_path: Path, latest: QemuBinary, sleepers: Path
) -> None:
    # The user's cache, as other fuzz tests: a fresh one rebuilds hypothesis's charmap (~40 s).
    env = {"REAL_QEMU_IMG": str(latest.path), "ESCAPE_PID_FILE": str(sleepers)}
    t0 = time.monotonic()
    proc = toolkit("fuzz", "--candidate", str(ESCAPES), "--against", latest.version, "--format",
                   "raw", "--max-examples", "3", "--seed", "1", "--stop-after", "1",
                   "--max-shrink-time", "1", "--no-save", "--timeout", "3", env=env)  # fmt: skip
    assert time.monotonic() - t0 < 20, "fuzz --candidate waited for the escaped sleepers"
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED D1 same outcome as qemu-img" in proc.stdout
    assert "(sleep 30) left the process group and ran on after the call; killed" in proc.stdout
    assert _pids(sleepers) and _gone(_pids(sleepers))


def test_a_version_probe_that_escapes_is_refused(
    tmp_path: Path, latest: QemuBinary, sleepers: Path
) -> None:
    env = {"REAL_QEMU_IMG": str(latest.path), "ESCAPE_PID_FILE": str(sleepers),
           "ESCAPE_ON": "--version", "XDG_CACHE_HOME": str(tmp_path / "cache")}  # fmt: skip
    versions = toolkit("versions", "--qemu-img", str(ESCAPES), env=env)
    candidate = toolkit("verify", "resize", "--candidate", str(ESCAPES), "--candidate-version",
                        latest.version, *ONE_CASE, env=env)  # fmt: skip
    first, second = _pids(sleepers)
    assert versions.returncode == 2, versions.stderr
    assert (
        f"error: --qemu-img {ESCAPES}: `--version` left processes running outside its process "
        f"group (pid {first} (sleep 30) left the process group and ran on after the call; "
        "killed): a qemu-img never does"
    ) in versions.stderr
    assert candidate.returncode == 2, candidate.stderr
    assert (
        f"error: --candidate {ESCAPES}: `--version` left processes running outside its process "
        f"group (pid {second} (sleep 30) left the process group and ran on after the call; "
        "killed); nothing was run"
    ) in candidate.stderr
    assert _gone([first, second])


# ------------------------------------------- item 11: a candidate that deletes its directory


def test_a_deleted_working_directory_is_a_named_error(tmp_path: Path, latest: QemuBinary) -> None:
    env = {"REAL_QEMU_IMG": str(latest.path)}
    verify = toolkit("verify", "resize", "--candidate", str(REMOVES_DIR), "--candidate-version",
                     latest.version, *ONE_CASE, env=env)  # fmt: skip
    fuzz = toolkit("fuzz", "--candidate", str(REMOVES_DIR), "--against", latest.version,
                   "--format", "raw", "--max-examples", "2", "--no-save", env=env)  # fmt: skip
    for proc in (verify, fuzz):
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "ld-linux" not in proc.stderr
        assert (
            f"was removed before `info-before` could run after `create`: {REMOVES_DIR} deleted "
            "the directory it runs in (a qemu-img or candidate must leave it in place). "
            "Nothing more was run"
        ) in proc.stderr or (
            f"was removed before `resize` could run after `create`: {REMOVES_DIR} deleted "
            "the directory it runs in"
        ) in proc.stderr, proc.stderr


def test_a_deleted_run_directory_is_a_named_error(tmp_path: Path, latest: QemuBinary) -> None:
    spec = COMMANDS["resize"]
    case = Case("resize", "raw", "grow", "1M", "4M", source="<test>")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    runner.run_case(case, latest, spec, run_dir)
    for d in run_dir.iterdir():
        d.rmdir()
    run_dir.rmdir()  # what a candidate that removes `..` does to the next case
    with pytest.raises(ToolkitFailure) as info:
        runner.run_case(case, latest, spec, run_dir)
    assert str(info.value) == (
        f"the run directory {run_dir} was removed while the run went on: a qemu-img (or "
        "candidate) of an earlier case deleted it; a program under test must not delete "
        "directories it did not make. Nothing more was run"
    )
