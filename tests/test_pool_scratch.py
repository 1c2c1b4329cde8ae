"""The pool's scratch budget: cases that would need more than RUN_BUDGET together never
run at once (a zero-size vhdx from dd's empty window allocates 64 MiB), whatever -j is,
and the peak stays within the plan's 100 MiB on the real binaries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from toolkit.baseline.cases import load_cases
from toolkit.model.commands.dd import window_bytes
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, CaseResult, QemuBinary
from toolkit.model.scratch import CASE_BUDGET, MIB, RUN_BUDGET
from toolkit.qemu import pool

DD = COMMANDS["dd"]
CASES = {
    c.name: c for c in load_cases(Path(__file__).resolve().parent.parent / "curated_cases", DD)
}
EMPTY_VHDX = "1M-raw-count0-vhdx"


def test_dd_windows_and_what_they_need() -> None:
    assert {n: window_bytes(c) for n, c in CASES.items() if "vhdx" in n} == {
        "1M-raw-whole-vhdx": 1 << 20,
        "1M-raw-bs1000-count3-vhdx": 3000,
        "1M-raw-count0-vhdx": 0,
    }
    assert window_bytes(CASES["1M-raw-bs65536-skip2-count4-qcow2"]) == 131072
    heavy = [n for n, c in CASES.items() if DD.scratch_bytes(c) > CASE_BUDGET]
    assert heavy == [EMPTY_VHDX]  # count=0 into vhd, vmdk, raw, qcow2 writes next to nothing
    assert 64 * MIB < DD.scratch_bytes(CASES[EMPTY_VHDX]) < RUN_BUDGET
    assert COMMANDS["resize"].scratch_bytes(next(iter(CASES.values()))) == CASE_BUDGET


@pytest.fixture
def concurrency(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The real runner, counted: how many cases ran at once, and which heavy ones did."""
    seen: dict[str, Any] = {"running": [], "most": 0, "heavy_together": 0}
    lock, real = threading.Lock(), pool.run_case

    def counted(case: Case, *args: Any, **kwargs: Any) -> CaseResult:
        with lock:
            seen["running"].append(case.name)
            seen["most"] = max(seen["most"], len(seen["running"]))
            heavy = sum(n == EMPTY_VHDX for n in seen["running"])
            seen["heavy_together"] = max(seen["heavy_together"], heavy)
            load = sum(DD.scratch_bytes(CASES[n]) for n in seen["running"])
            seen["load"] = max(seen.get("load", 0), load)
        try:
            return real(case, *args, **kwargs)
        finally:
            with lock:
                seen["running"].remove(case.name)

    monkeypatch.setattr(pool, "run_case", counted)
    yield seen


@pytest.mark.qemu
def test_cases_that_need_more_than_the_budget_together_never_run_at_once(
    qemu_binaries: list[QemuBinary], concurrency: dict[str, Any], tmp_path: Path
) -> None:
    """Six empty-window vhdx runs and light ones at -j 8: each heavy one runs beside at
    most one light one (72 + 16 MiB), never beside another heavy one; light ones fill
    the budget (six at 16 MiB)."""
    light = [c for n, c in CASES.items() if n != EMPTY_VHDX][:6]
    jobs = [(b, c) for b in qemu_binaries[:6] for c in (CASES[EMPTY_VHDX], *light)]
    results = pool.run_many(jobs, DD, 8, 60.0, tmp_parent=tmp_path)
    assert [r.case.name for r in results] == [c.name for _b, c in jobs]  # in job order
    assert all(r.step("dd").return_code == 0 for r in results)
    assert concurrency["heavy_together"] == 1
    assert concurrency["load"] <= RUN_BUDGET
    assert concurrency["most"] > 2  # light cases still run side by side
