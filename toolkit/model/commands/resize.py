"""resize (create -> resize -> info) and create (create -> info): the plan's own commands.

resize is the only command that plans: whether to pass --shrink, and the size qemu-img
should report after it (`plan_for`, which applies qemu-img's size grammar and rounding).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolkit.model.formats import driver_for, split_option_string
from toolkit.model.records import Case
from toolkit.model.rounding import created_size, resized_size
from toolkit.model.sizes import (
    MODERN,
    EndSpec,
    Grammar,
    SizeError,
    parse_end_spec,
    parse_size,
    shrink_flag,
)
from toolkit.model.steps import IMAGE, CommandSpec, Plan, StepSpec

__all__ = [
    "CREATE",
    "CREATE_STEP",
    "INFO_STEP",
    "RESIZE",
    "expected_virtual_size",
    "plan_for",
    "preallocation_mode",
]


def _create(case: Case, plan: Plan) -> list[str]:
    argv = ["create", "-f", driver_for(case.format)]
    for opt in case.create_options:
        argv += ["-o", opt]
    return [*argv, IMAGE, case.start_size]


def _resize(case: Case, plan: Plan) -> list[str]:
    argv = ["resize", "-f", driver_for(case.format)]
    if plan.applied_shrink_flag:
        argv.append("--shrink")
    if case.prealloc is not None:
        argv += ["--preallocation", case.prealloc]
    assert case.end_spec is not None
    # Passed verbatim: qemu-img takes the size off the end of argv itself, so a
    # leading '-' is not parsed as an option.
    return [*argv, IMAGE, case.end_spec]


def _info(case: Case, plan: Plan) -> list[str]:
    return ["info", "--output=json", IMAGE]


CREATE_STEP = StepSpec("create", _create, None)
INFO_STEP = StepSpec("info", _info, "---INFO STDERR---")


def plan_for(case: Case, grammar: Grammar = MODERN) -> Plan:
    """--shrink and the expected final size, computed from the case data alone.

    expected_final_size is the size the case asks for, as the consuming harness computes
    it (and asserts it: instar tests/test_resize.py): the start as written, plus or minus
    the amount. qemu-img applies a relative end spec to the size the image has, the start
    as `create` rounded it (whole sectors; vhd's CHS geometry), so what info reports is
    `expected_virtual_size`. --shrink is decided on that size too: `resize 3071` of an
    image created with `3071` is a shrink (it has 3072 bytes).

    A size this grammar rejects gives expected_final_size None; qemu-img is then
    expected to reject it too, and the shrink flag is inferred from the sign alone.
    """
    try:
        start: int | None = parse_size(case.start_size, grammar)
    except SizeError:
        start = None
    if case.end_spec is None:
        return Plan(applied_shrink_flag=False, expected_final_size=start)
    try:
        end: EndSpec | None = parse_end_spec(case.end_spec, grammar)
    except SizeError:
        end = None
    if start is None or end is None:
        subtractive = case.end_spec.startswith("-")
        flag = case.shrink if case.shrink is not None else subtractive
        return Plan(applied_shrink_flag=flag, expected_final_size=None)
    current = created_size(case.format, case.create_options, start)
    return Plan(shrink_flag(current, end, case.shrink), end.final_size(start))


def expected_virtual_size(case: Case, grammar: Grammar = MODERN) -> int | None:
    """What info's virtual-size must say after a successful resize: the end spec applied to
    the size create made, as qemu-img reports the result (toolkit.model.rounding). None: a
    size the grammar refuses, so there is nothing to expect.

    qemu-img 5.2.0 reads `0.00000286102g` as 3071 bytes (strtod, truncated) and creates
    3072; `-0.000000953674g` is 1023 bytes off that: 2049, which info reports as 2560.
    """
    try:
        start = parse_size(case.start_size, grammar)
        end = parse_end_spec(case.end_spec or "", grammar)
    except SizeError:
        return None
    current = created_size(case.format, case.create_options, start)
    return resized_size(case.format, case.create_options, end.final_size(current))


def preallocation_mode(case: Case, spec: CommandSpec) -> str | None:
    """The preallocation mode the command applies: resize's `--preallocation` flag (the
    case's `prealloc`), or for a command without a resize step, create's
    `-o preallocation=` (the last one, as qemu takes it). None: no mode was asked for."""
    return _preallocation(case, "resize" in spec.step_names())


def _preallocation(case: Case, resizes: bool) -> str | None:
    if resizes:
        return case.prealloc
    found = [
        v for o in case.create_options for k, v in split_option_string(o) if k == "preallocation"
    ]
    return found[-1] if found else None


def _inputs(resizes: bool) -> Callable[[Case, Plan], dict[str, Any]]:
    """The meta keys of the case's inputs and the plan (the plan's meta contract)."""

    def inputs(case: Case, plan: Plan) -> dict[str, Any]:
        return {
            "start_size_str": case.start_size,
            "end_spec": case.end_spec,
            "create_options": list(case.create_options),
            "prealloc": case.prealloc,
            # The name the consuming harness reads (meta.get('preallocation')): for resize
            # the same value as prealloc, for create the `-o preallocation=` mode.
            "preallocation": _preallocation(case, resizes),
            "shrink": case.shrink,
            "applied_shrink_flag": plan.applied_shrink_flag,
            "expected_final_size": plan.expected_final_size,
        }

    return inputs


RESIZE = CommandSpec(
    "resize",
    "resize-info-json",
    (CREATE_STEP, StepSpec("resize", _resize, "---RESIZE STDERR---"), INFO_STEP),
    needs_end_spec=True,
    planner=plan_for,
    inputs=_inputs(resizes=True),
)
CREATE = CommandSpec(
    "create",
    "create-info-json",
    (CREATE_STEP, INFO_STEP),
    planner=plan_for,
    inputs=_inputs(resizes=False),
)
