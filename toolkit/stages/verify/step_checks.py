"""Per-triple checks of the steps: which ran, and each one's part of stderr.txt.

Both follow CommandSpec.schedule(case), the rule the runner follows when it decides
which step runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Case

__all__ = ["Report", "return_codes", "stderr_sections"]

# Records one problem of the file being checked: (check id, message).
Report = Callable[[str, str], None]


def stderr_sections(
    spec: CommandSpec, case: Case, stderr: str, meta: dict[str, Any], problem: Report
) -> list[str] | None:
    """Each ran step's own stderr, cut out of stderr.txt with the meta's byte counts."""
    ran = [s for s in spec.steps_for(case) if meta[f"{s.name}_return_code"] is not None]
    markers = {s.marker for s in spec.steps if s.marker is not None}
    wanted = [s.marker for s in ran[1:]]
    lines = stderr.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.removesuffix("\n") in markers]
    if [lines[i].removesuffix("\n") for i in at] != wanted:
        problem(
            "stderr-markers",
            f"marker lines {[lines[i].rstrip() for i in at]} do not match the steps that ran "
            f"({', '.join(s.name for s in ran)}): expected {wanted}",
        )
        return None
    offset = list(itertools.accumulate((len(line) for line in lines), initial=0))
    starts = [0, *(offset[i + 1] for i in at)]  # each section starts after a marker line
    ends = [*(offset[i] for i in at), len(stderr)]  # and ends where the next one starts
    sections: list[str] = []
    for k, step in enumerate(ran):
        raw = stderr[starts[k] : ends[k]]
        size = meta[f"{step.name}_stderr_bytes"]
        data = raw.encode()
        if len(data) == size:
            sections.append(raw)
        elif len(data) == (size or 0) + 1 and raw.endswith("\n") and k + 1 < len(ran):
            sections.append(raw[:-1])  # the line break combined_stderr puts before a marker
        else:
            problem(
                "stderr-markers",
                f"the {step.name} section is {len(data)} bytes but {step.name}_stderr_bytes "
                f"is {size}",
            )
            return None
    return sections


def return_codes(spec: CommandSpec, case: Case, meta: dict[str, Any], problem: Report) -> None:
    """Which steps ran follows from the return codes; a step that did not run has only
    nulls; a failed step said why on stderr (unless its code is an answer, as compare's
    1 is); byte counts match the texts."""
    ok: dict[str, bool] = {}
    for step, needs in spec.schedule(case):
        n = step.name
        should = all(ok[r] for r in needs)  # schedule() lists a step after its needs
        rc, timed_out = meta[f"{n}_return_code"], meta[f"{n}_timed_out"]
        ran = rc is not None
        ok[n] = ran and rc == 0 and not timed_out
        keys = [f"{n}_{k}" for k in (*spec.stdout_keys(n), "stderr_bytes", "timed_out")]
        if ran != should:
            why = ", ".join(
                f"{x} returned {meta[f'{x}_return_code']}"
                + (" (timed out)" if meta[f"{x}_timed_out"] else "")
                for x in needs
            )
            state = "ran although" if ran else "did not run although"
            problem("return-codes", f"{n} {state} {why}")
        nulls = [k for k in keys if (meta[k] is None) == ran]
        if nulls:
            state = "ran, but has null" if ran else "did not run, but has a value in"
            problem("return-codes", f"{n} {state} {', '.join(nulls)}")
        elif ran and timed_out:
            # Never a baseline: how long a step may take is the host's, not qemu-img's
            # (generate refuses to record it, see toolkit.baseline.recordable).
            problem(
                "return-codes",
                f"{n} was killed at --timeout: a timeout is no baseline; regenerate it "
                "with a larger --timeout",
            )
        elif ran and rc > 0 and rc not in step.answers and meta[f"{n}_stderr_bytes"] == 0:
            problem(
                "return-codes",
                f"{n} returned {rc} with an empty stderr: qemu-img always says why it failed",
            )
        text = meta.get(f"{n}_stdout")
        if ran and isinstance(text, str) and len(text.encode()) != meta[f"{n}_stdout_bytes"]:
            problem(
                "return-codes",
                f"{n}_stdout is {len(text.encode())} bytes, {n}_stdout_bytes says "
                f"{meta[f'{n}_stdout_bytes']}",
            )
