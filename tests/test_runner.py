"""The runner's own machinery: each call's deadline, and the reused scratch directory."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary
from toolkit.qemu import process, runner

HANG = Path(__file__).resolve().parent / "stand_ins" / "qemu-img-fault-hangs-on-resize"

pytestmark = pytest.mark.qemu


def test_a_hang_is_killed_at_its_deadline_after_a_long_one(
    tmp_path: Path, latest: QemuBinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each call keeps its own deadline (no shared watchdog to wake): a 60 s call before
    # a 0.5 s hang changes nothing for the hang.
    quick = process.run_process([*latest.command(), "--version"], tmp_path, 60)
    assert quick.return_code == 0 and quick.timed_out is False
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    t0 = time.monotonic()
    hung = process.run_process([str(HANG), "resize"], tmp_path, 0.5)
    elapsed = time.monotonic() - t0
    assert hung.timed_out is True and hung.return_code < 0
    assert elapsed < 5, f"the 0.5 s timeout fired after {elapsed:.1f} s"


def test_calls_at_once_on_threads_keep_their_own_deadlines(
    tmp_path: Path, latest: QemuBinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    with ThreadPoolExecutor(4) as pool:
        hangs = [pool.submit(process.run_process, [str(HANG), "resize"], tmp_path, 0.5)
                 for _ in range(2)]  # fmt: skip
        quick = [pool.submit(process.run_process, [*latest.command(), "--version"], tmp_path, 60)
                 for _ in range(8)]  # fmt: skip
        assert all(f.result().timed_out for f in hangs)
        assert all(f.result().return_code == 0 and not f.result().timed_out for f in quick)
    assert process.LIVE.pids() == set()


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
