"""toolkit.baseline.recordable in-process: every committed run is recordable, and each
kind of run generate refuses (planted in a real recording) gets its whole message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_baseline_triple import committed, recorded_result

from toolkit.baseline.recordable import unrecordable
from toolkit.model.pipeline import COMMANDS, CommandSpec
from toolkit.model.records import CaseResult, StepResult

TREE = Path(__file__).resolve().parent.parent / "expected-outputs"
RESIZE = COMMANDS["resize"]
CREATE = COMMANDS["create"]


def recorded(rel: str, spec: CommandSpec = RESIZE) -> CaseResult:
    path = TREE / spec.output_type / rel
    return recorded_result(path.parent, path.name, spec)


def with_step(result: CaseResult, name: str, **changes: object) -> CaseResult:
    steps = tuple(
        dataclasses.replace(s, **changes) if s.name == name else s  # type: ignore[arg-type]
        for s in result.steps
    )
    return dataclasses.replace(result, steps=steps)


def test_every_committed_run_is_recordable() -> None:
    assert [
        (d, n) for spec, d, n in committed() if unrecordable(recorded_result(d, n, spec), spec)
    ] == []


def test_a_timeout_in_any_step_is_refused() -> None:
    grown = recorded("raw/11.1.3/1M-plus-63M-default")
    for name in ("create", "resize", "info"):
        assert unrecordable(with_step(grown, name, timed_out=True), RESIZE) == (
            f"{name} was killed at --timeout: a timeout is the host's, not qemu-img's; "
            "raise --timeout"
        )


def test_info_that_printed_no_json_object() -> None:
    grown = recorded("raw/11.1.3/1M-plus-63M-default")
    long = "Segmentation fault " * 5
    assert unrecordable(with_step(grown, "info", stdout=long), RESIZE) == (
        f"info returned 0 but printed no JSON object ({long[:60]!r}): is this binary a qemu-img?"
    )
    assert unrecordable(with_step(grown, "info", stdout="[1]\n"), RESIZE) == (
        "info returned 0 but printed no JSON object ('[1]\\n'): is this binary a qemu-img?"
    )
    # info that failed says nothing about the binary: its empty stdout is recorded.
    assert unrecordable(with_step(grown, "info", stdout="", return_code=1), RESIZE) is None
    created = recorded("qcow2/11.1.3/1M-default", CREATE)
    assert unrecordable(with_step(created, "info", stdout=""), CREATE) == (
        "info returned 0 but printed no JSON object (''): is this binary a qemu-img?"
    )


def test_a_resize_that_contradicts_the_final_size() -> None:
    grown = recorded("raw/11.1.3/1M-plus-63M-default")
    assert grown.expected_final_size == 64 << 20
    assert unrecordable(grown, RESIZE) is None
    # info reports whole sectors: a final size inside the last sector is no contradiction.
    inside = dataclasses.replace(grown.case, end_spec=f"+{(63 << 20) - 511}")
    assert unrecordable(dataclasses.replace(grown, case=inside), RESIZE) is None
    for end, want in [(f"+{(63 << 20) + 1}", 67109376), (f"+{(63 << 20) - 512}", 67108352)]:
        case = dataclasses.replace(grown.case, end_spec=end)
        assert unrecordable(dataclasses.replace(grown, case=case), RESIZE) == (
            f"resize returned 0 but virtual-size is 67108864, not {want} (the end spec "
            "applied to the size create made, as qemu-img reports it): the binary "
            "contradicts the case"
        )
    no_size = with_step(grown, "info", stdout='{"format": "raw"}\n')
    assert unrecordable(no_size, RESIZE) == (
        "resize returned 0 but virtual-size is None, not 67108864 (the end spec applied to the "
        "size create made, as qemu-img reports it): the binary contradicts the case"
    )
    # A size the grammar refuses, or a resize that failed: nothing to contradict.
    refused = dataclasses.replace(no_size.case, end_spec="+1e3")
    assert unrecordable(dataclasses.replace(no_size, case=refused), RESIZE) is None
    assert unrecordable(with_step(no_size, "resize", return_code=1), RESIZE) is None


def test_a_command_without_info_records_any_run() -> None:
    only_create = CommandSpec("c", "c-json", (RESIZE.steps[0],), artefact="info")
    run = recorded("qcow2/11.1.3/1M-default", CREATE)
    create = run.steps[0]
    assert unrecordable(dataclasses.replace(run, steps=(create,)), only_create) is None
    timed = StepResult("create", create.argv, 0, timed_out=True)
    assert unrecordable(dataclasses.replace(run, steps=(timed,)), only_create) == (
        "create was killed at --timeout: a timeout is the host's, not qemu-img's; raise --timeout"
    )
