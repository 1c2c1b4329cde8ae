"""amend (create -> amend -> info): qemu-img amend of an image's format options.

The image is made with one `-o` per create option and amended with all of the case's
amend options joined into one `-o` (the consuming harness's own qemu-img line, instar
tests/test_amend.py), then read back with info.

A case with data (fuzz's findings; none of the harness's) writes it with qemu-io between
create and amend (`writes`, chain.write), so an amend has data to keep; the harness's
cases run exactly create -> amend -> info.
"""

from __future__ import annotations

from typing import Any

from toolkit.model.commands.chain import write, writes
from toolkit.model.commands.resize import CREATE_STEP, INFO_STEP
from toolkit.model.formats import driver_for
from toolkit.model.records import Case
from toolkit.model.steps import IMAGE, QEMU_IO, CommandSpec, Plan, StepSpec

__all__ = ["AMEND", "amend_options"]


def amend_options(case: Case) -> tuple[str, ...]:
    options: tuple[str, ...] = case.param("amend", ())
    return options


def _amend(case: Case, plan: Plan) -> list[str]:
    options = ",".join(amend_options(case))
    return ["amend", "-f", driver_for(case.format), "-o", options, IMAGE]


def _inputs(case: Case, plan: Plan) -> dict[str, Any]:
    return {
        "start_size_str": case.start_size,
        "create_options": list(case.create_options),
        "amend_options": list(amend_options(case)),
    }


def _steps(case: Case) -> tuple[str, ...]:
    skipped = () if writes(case, "writes") else ("write",)
    return tuple(s.name for s in AMEND.steps if s.name not in skipped)


AMEND = CommandSpec(
    "amend",
    "amend-info-json",
    (
        CREATE_STEP,
        StepSpec("write", write(IMAGE, "writes"), "---WRITE STDERR---", program=QEMU_IO),
        StepSpec("amend", _amend, "---AMEND STDERR---"),
        INFO_STEP,
    ),
    images=((IMAGE, "image.{ext}"),),
    expand=_steps,
    inputs=_inputs,
)
