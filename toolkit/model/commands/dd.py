"""dd (create -> dd -> info): qemu-img dd of a fresh input image into an output format.

The input (`$INPUT`, format and size from the case) is made with create; dd copies the
window its operands select (`bs=`, `count=`, `skip=`) into `$FILENAME` in the case's
format (`-O vpc` for vhd, whose file ends in .vpc as the consuming harness names it),
and info reads the output. The argv is the harness's replay (instar
tests/test_dd_baselines.py: `dd -O <fmt> <operands> if=IN of=OUT`, no `-f`, no `bs=`
added): qemu-img's default block size is 512, and adding `bs=512` where a case gives
none changes nothing any version records (README, dd).
"""

from __future__ import annotations

from typing import Any

from toolkit.model.commands.resize import INFO_STEP
from toolkit.model.formats import driver_for
from toolkit.model.records import Case
from toolkit.model.steps import IMAGE, CommandSpec, Plan, StepSpec

__all__ = ["DD", "INPUT"]

INPUT = "$INPUT"  # the image dd reads


def _create_input(case: Case, plan: Plan) -> list[str]:
    return ["create", "-f", driver_for(case.param("input_format")), INPUT, case.start_size]


def _dd(case: Case, plan: Plan) -> list[str]:
    operands = list(case.param("operands", ()))
    return ["dd", "-O", driver_for(case.format), *operands, f"if={INPUT}", f"of={IMAGE}"]


def _inputs(case: Case, plan: Plan) -> dict[str, Any]:
    return {
        "input_format": case.param("input_format"),
        "input_size_str": case.start_size,
        "operands": list(case.param("operands", ())),
    }


DD = CommandSpec(
    "dd",
    "dd-info-json",
    (
        StepSpec("create", _create_input, None),
        StepSpec("dd", _dd, "---DD STDERR---"),
        INFO_STEP,
    ),
    images=((IMAGE, "output.{driver}"), (INPUT, "input.img")),
    inputs=_inputs,
    profile_names="case",
)
