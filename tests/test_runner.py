"""The runner's own machinery: the one watchdog thread, and the reused scratch directory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary
from toolkit.qemu import process, runner

HANG = Path(__file__).resolve().parent / "stand_ins" / "qemu-img-fault-hangs-on-resize"

pytestmark = pytest.mark.qemu


@pytest.fixture
def watchdog(monkeypatch: pytest.MonkeyPatch) -> process._Watchdog:
    """A private watchdog, so the test sees only its own entries."""
    fresh = process._Watchdog()
    monkeypatch.setattr(process, "WATCHDOG", fresh)
    return fresh


def test_an_earlier_deadline_behind_a_later_one_still_fires(
    tmp_path: Path, latest: QemuBinary, watchdog: process._Watchdog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watchdog sleeps until the earliest deadline it holds, and a finished call
    # stays in its heap. After a call with a 60 s deadline, a hang with a 0.5 s
    # deadline must wake the thread, or the hang would run for 60 s.
    quick = process.run_process([*latest.command(), "--version"], tmp_path, 60)
    assert quick.return_code == 0 and watchdog.pending() == 1
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    t0 = time.monotonic()
    hung = process.run_process([str(HANG), "resize"], tmp_path, 0.5)
    elapsed = time.monotonic() - t0
    assert hung.timed_out is True and hung.return_code < 0
    assert elapsed < 5, f"the 0.5 s timeout fired after {elapsed:.1f} s"


def test_finished_calls_do_not_pile_up_in_the_watchdog(
    tmp_path: Path, latest: QemuBinary, watchdog: process._Watchdog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process._Watchdog, "COMPACT_AT", 8)
    for _ in range(40):
        out = process.run_process([*latest.command(), "--version"], tmp_path, 60)
        assert out.return_code == 0 and out.timed_out is False
    # Without compaction all 40 would stay until their deadline, 60 s from now.
    assert watchdog.pending() <= 2 * 8 + 1


def test_a_thread_reuses_one_scratch_dir_and_leaves_it_empty(
    tmp_path: Path, latest: QemuBinary
) -> None:
    spec = COMMANDS["resize"]
    cases = [
        Case("resize", "raw", "grow", "1M", "4M", source="<test>"),
        Case(
            "resize",
            "vmdk",
            "extents",
            "1M",
            "2M",
            ("subformat=twoGbMaxExtentFlat",),
            source="<test>",
        ),
    ]
    seen = []
    for case in cases:
        result = runner.run_case(case, latest, spec, tmp_path)
        assert result.steps[0].return_code == 0, result.steps[0].stderr
        (case_dir,) = [d for d in tmp_path.iterdir() if d.name.startswith("case-")]
        assert os.listdir(case_dir) == []  # the image (and vmdk's extent file) are gone
        seen.append(case_dir)
    assert seen[0] == seen[1]


def test_a_scratch_dir_that_cannot_be_emptied_is_replaced(
    tmp_path: Path, latest: QemuBinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = COMMANDS["resize"]
    case = Case("resize", "raw", "grow", "1M", "4M", source="<test>")
    runner.run_case(case, latest, spec, tmp_path)
    first = runner._case_dir(tmp_path)
    # Plant what the next case must never meet: a file that unlink can't remove.
    stuck = first / "left-behind"
    stuck.write_text("x")
    real_unlink = os.unlink

    def unlink(path: str, *, dir_fd: int | None = None) -> None:
        if os.path.basename(path) == stuck.name:
            raise PermissionError(1, "Operation not permitted", path)
        real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", unlink)
    runner.run_case(case, latest, spec, tmp_path)
    monkeypatch.undo()
    assert stuck.exists()  # it really could not be removed
    second = runner._case_dir(tmp_path)
    assert second != first and os.listdir(second) == []
    result = runner.run_case(case, latest, spec, tmp_path)
    assert result.steps[-1].return_code == 0
    assert runner._case_dir(tmp_path) == second
