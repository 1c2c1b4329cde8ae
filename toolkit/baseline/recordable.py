"""Whether a run may become a baseline: generate refuses what verify would reject.

A baseline records what qemu-img does, so a run that says more about the host or the
binary than about qemu-img's behaviour is reported, not recorded: a step killed at
--timeout, a step whose output was cut at the capture cap or that left processes running
outside its process group (toolkit.qemu.process), info that returned 0 without printing
a JSON object, or a successful resize whose virtual-size contradicts the size the case
asks for (the final-size rule of `verify`, see toolkit.stages.verify.triple_checks).
"""

from __future__ import annotations

from toolkit.model.info import info_object
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import CaseResult
from toolkit.model.rounding import round_up

__all__ = ["unrecordable"]


def unrecordable(result: CaseResult, spec: CommandSpec) -> str | None:
    """Why `result` must not be recorded, or None when it is a baseline."""
    steps = {s.name: s for s in result.steps}
    for step in result.steps:
        if step.timed_out:
            return (
                f"{step.name} was killed at --timeout: a timeout is the host's, not "
                f"qemu-img's; raise --timeout"
            )
        beyond = step.overflow()
        if beyond:
            return (
                f"{'; '.join(beyond)}: a baseline is never cut short, and a qemu-img "
                "leaves nothing running; check the binary (or its wrapper)"
            )
    artefacts = {s.name for s in spec.steps if s.stdout_is_artefact}
    info = next((s for s in result.steps if s.name in artefacts), None)
    if info is None or info.return_code != 0:
        return None
    data = info_object(info.stdout)
    if data is None:
        return (
            f"{info.name} returned 0 but printed no JSON object "
            f"({info.stdout[:60]!r}): is this binary a qemu-img?"
        )
    resize = steps.get("resize")
    final = result.expected_final_size
    if resize is not None and resize.return_code == 0 and final is not None:
        want = round_up(final)
        if data.get("virtual-size") != want:
            return (
                f"resize returned 0 but virtual-size is {data.get('virtual-size')!r}, "
                f"not the case's final size {want}: the binary contradicts the case"
            )
    return None
