"""amend (create -> amend -> info): qemu-img amend of an image's format options.

The image is made with one `-o` per create option and amended with all of the case's
amend options joined into one `-o` (the consuming harness's own qemu-img line, instar
tests/test_amend.py), then read back with info.
"""

from __future__ import annotations

from typing import Any

from toolkit.model.commands.resize import CREATE_STEP, INFO_STEP
from toolkit.model.formats import driver_for
from toolkit.model.records import Case
from toolkit.model.steps import IMAGE, CommandSpec, Plan, StepSpec

__all__ = ["AMEND"]


def _amend(case: Case, plan: Plan) -> list[str]:
    options = ",".join(case.param("amend_options", ()))
    return ["amend", "-f", driver_for(case.format), "-o", options, IMAGE]


def _inputs(case: Case, plan: Plan) -> dict[str, Any]:
    return {
        "start_size_str": case.start_size,
        "create_options": list(case.create_options),
        "amend_options": list(case.param("amend_options", ())),
    }


AMEND = CommandSpec(
    "amend",
    "amend-info-json",
    (CREATE_STEP, StepSpec("amend", _amend, "---AMEND STDERR---"), INFO_STEP),
    images=((IMAGE, "image.{ext}"),),
    inputs=_inputs,
)
