"""bitmap (create -> op1 ... opN -> info): a sequence of qemu-img bitmap operations.

A case's `ops` is a list of argv lists, each the flags of one `qemu-img bitmap` call
followed by the bitmap's name (`["--add", "-g", "131072", "b0"]`), the shape the
consuming harness replays (instar tests/test_bitmap.py). Op i runs as step `op<i>`
(`bitmap <flags> $FILENAME <name>`); the command defines MAX_OPS such steps and a case
runs the first len(ops) of them (CommandSpec.expand).

Which step runs: op i+1 runs only when op i returned 0 (the harness stops its replay at
the first failure too), so a failed op ends the sequence; info runs whenever create
succeeded, and records the image as the ops that ran left it. The meta's
`op_return_codes` lists one code per op of the case, null for an op that did not run:
the harness skips a case when any entry is not 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from toolkit.model.commands.resize import CREATE_STEP, INFO_STEP
from toolkit.model.records import Case, CaseResult
from toolkit.model.steps import IMAGE, CommandSpec, Plan, StepSpec

__all__ = ["BITMAP", "MAX_OPS", "op_step"]

MAX_OPS = 8  # the longest sequence a case may have (the harness's longest is 3)


def op_step(index: int) -> str:
    """The step name of op `index` (1-based): `op1`."""
    return f"op{index}"


def _op(index: int) -> Callable[[Case, Plan], list[str]]:
    def argv(case: Case, plan: Plan) -> list[str]:
        *flags, name = case.param("ops")[index - 1]
        return ["bitmap", *flags, IMAGE, name]

    return argv


def _expand(case: Case) -> tuple[str, ...]:
    ops = len(case.param("ops", ()))
    return ("create", *(op_step(i) for i in range(1, ops + 1)), "info")


def _inputs(case: Case, plan: Plan) -> dict[str, Any]:
    return {
        "start_size_str": case.start_size,
        "create_options": list(case.create_options),
        "ops": [list(op) for op in case.param("ops", ())],
    }


def _derived(result: CaseResult) -> dict[str, Any]:
    ops = len(result.case.param("ops", ()))
    return {"op_return_codes": [result.step(op_step(i)).return_code for i in range(1, ops + 1)]}


OP_STEPS = tuple(
    StepSpec(op_step(i), _op(i), f"---BITMAP OP {i} STDERR---") for i in range(1, MAX_OPS + 1)
)
BITMAP = CommandSpec(
    "bitmap",
    "bitmap-info-json",
    (CREATE_STEP, *OP_STEPS, replace(INFO_STEP, requires=("create",))),
    images=((IMAGE, "image.{ext}"),),
    expand=_expand,
    inputs=_inputs,
    derived=_derived,
    derived_keys=("op_return_codes",),
)
