"""dd (create -> dd -> info): qemu-img dd of a fresh input image into an output format.

The input (`$INPUT`, format and size from the case) is made with create; dd copies the
window its operands select (`bs=`, `count=`, `skip=`) into `$FILENAME` in the case's
format (`-O vpc` for vhd, whose file ends in .vpc as the consuming harness names it),
and info reads the output. The argv is the harness's replay (instar
tests/test_dd_baselines.py: `dd -O <fmt> <operands> if=IN of=OUT`, no `-f`, no `bs=`
added): qemu-img's default block size is 512, and adding `bs=512` where a case gives
none changes nothing any version records (README, dd).

Scratch space: the input and the output are at most CAP_MATERIALISED each (the schema's
caps), except where dd's window is empty and the output is vhdx: qemu-img then makes a
zero-size vhdx, which writes whole blocks (64.2 MiB allocated on every version), so the
case tells the pool (`_scratch`).
"""

from __future__ import annotations

from typing import Any

from toolkit.model.commands.resize import INFO_STEP
from toolkit.model.formats import driver_for
from toolkit.model.records import Case
from toolkit.model.scratch import MIB
from toolkit.model.sizes import SizeError, parse_size
from toolkit.model.steps import IMAGE, CommandSpec, Plan, StepSpec

__all__ = ["DD", "INPUT", "window_bytes"]

INPUT = "$INPUT"  # the image dd reads
EMPTY_VHDX = 72 * MIB  # a zero-size vhdx (64.2 MiB allocated, measured) and the input


def _create_input(case: Case, plan: Plan) -> list[str]:
    return ["create", "-f", driver_for(case.param("input_format")), INPUT, case.start_size]


def _dd(case: Case, plan: Plan) -> list[str]:
    operands = list(case.param("operands", ()))
    return ["dd", "-O", driver_for(case.format), *operands, f"if={INPUT}", f"of={IMAGE}"]


def window_bytes(case: Case) -> int | None:
    """The bytes dd copies: min(input, count x bs) - skip x bs, at least 0 (bs 512 unless
    given); None when a size does not parse."""
    ops = dict(o.partition("=")[::2] for o in case.param("operands", ()))
    try:
        size, bs = parse_size(case.start_size), parse_size(ops.get("bs", "512"))
    except SizeError:
        return None
    if not all(ops.get(k, "0").isdigit() for k in ("count", "skip")):
        return None
    end = min(size, int(ops["count"]) * bs) if "count" in ops else size
    return max(0, end - int(ops.get("skip", "0")) * bs)


def _scratch(case: Case) -> int:
    return EMPTY_VHDX if case.format == "vhdx" and window_bytes(case) == 0 else 0


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
    scratch=_scratch,
)
