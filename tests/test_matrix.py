"""run_many: results in job order at any -j, and ^C never cuts a result being recorded."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, CaseResult, QemuBinary
from toolkit.qemu import pool as matrix
from toolkit.qemu import process

pytestmark = pytest.mark.qemu

SPEC = COMMANDS["resize"]


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> process._Live:
    """A private registry: an interrupt stops it for good, and it must not stop others."""
    fresh = process._Live()
    monkeypatch.setattr(process, "LIVE", fresh)
    monkeypatch.setattr(matrix, "LIVE", fresh)
    return fresh


def _jobs(latest: QemuBinary, n: int) -> list[tuple[QemuBinary, Case]]:
    return [(latest, Case("resize", "raw", f"case-{i}", "1M", f"{i + 2}M")) for i in range(n)]


@pytest.mark.parametrize("workers", [1, 3])
def test_results_come_back_in_job_order(
    tmp_path: Path, latest: QemuBinary, live: process._Live, workers: int
) -> None:
    jobs = _jobs(latest, 7)
    recorded: list[str] = []
    results = matrix.run_many(
        jobs, SPEC, workers, 60, lambda r: recorded.append(r.case.name), tmp_parent=tmp_path
    )
    assert [r.case.name for r in results] == [c.name for _, c in jobs]
    assert sorted(recorded) == sorted(c.name for _, c in jobs)
    assert [r.expected_final_size for r in results] == [(i + 2) << 20 for i in range(7)]
    assert list(tmp_path.iterdir()) == []  # the run directory is gone


def test_an_interrupt_waits_for_the_result_being_recorded(
    tmp_path: Path, latest: QemuBinary, live: process._Live
) -> None:
    recorded: list[str] = []

    def record(result: CaseResult) -> None:
        if not recorded:  # ^C arrives while the first result is half recorded
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)
        recorded.append(result.case.name)

    with pytest.raises(KeyboardInterrupt):
        matrix.run_many(_jobs(latest, 12), SPEC, 2, 60, record, tmp_parent=tmp_path)
    # The record in progress was finished before run_many raised; none began after ^C.
    assert len(recorded) == 1
    assert live.stopping
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_recording_stops_the_run_and_is_raised(
    tmp_path: Path, latest: QemuBinary, live: process._Live
) -> None:
    recorded: list[str] = []

    def record(result: CaseResult) -> None:
        if len(recorded) == 2:
            raise OSError(28, "No space left on device")
        recorded.append(result.case.name)

    with pytest.raises(OSError, match="No space"):
        matrix.run_many(_jobs(latest, 12), SPEC, 2, 60, record, tmp_parent=tmp_path)
    assert len(recorded) == 2
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_while_workers_start_still_stops_and_waits_for_them(
    tmp_path: Path, latest: QemuBinary, live: process._Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = threading.Thread.start
    sent: list[str] = []

    def start_then_interrupt(self: threading.Thread) -> None:
        start(self)
        if self.name.startswith("worker-") and not sent:
            sent.append(self.name)
            os.kill(os.getpid(), signal.SIGINT)  # lands before the next worker starts

    run_case = matrix.run_case
    busy: list[str] = []

    def slow_run_case(*args: Any, **kwargs: Any) -> CaseResult:
        busy.append(threading.current_thread().name)
        time.sleep(0.3)  # a worker that started is still busy when ^C is handled
        try:
            return run_case(*args, **kwargs)
        finally:
            busy.remove(threading.current_thread().name)

    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    monkeypatch.setattr(matrix, "run_case", slow_run_case)
    with pytest.raises(KeyboardInterrupt):
        matrix.run_many(_jobs(latest, 12), SPEC, 3, 60, lambda r: None, tmp_parent=tmp_path)
    assert sent and live.stopping
    assert busy == []  # every worker that started was waited for
    assert list(tmp_path.iterdir()) == []
