"""Whether a run may become a baseline: generate refuses what verify would reject.

A baseline records what qemu-img does, so a run that says more about the host or the
binary than about qemu-img's behaviour is reported, not recorded: a step killed at
--timeout, a step whose output was cut at the capture cap or that left processes running
outside its process group (toolkit.qemu.process), or info that returned 0 without printing
a JSON object.

A successful resize whose virtual-size is not what the size model expects
(`size_disagreement`) is a contradiction between the binary and the case. In a curated
type it is refused (the matrix must agree with the model, the final-size rule of
`verify`); in a findings type it is what the fuzzer found, so it is recorded, and the
meta keeps it as `model_disagreement` (triple.build_meta), which verify recomputes.
"""

from __future__ import annotations

from toolkit.model.info import info_object, parse_info
from toolkit.model.pipeline import CommandSpec, expected_virtual_size
from toolkit.model.records import CaseResult
from toolkit.model.sizes import grammar_for

__all__ = ["size_disagreement", "unrecordable"]


def size_disagreement(result: CaseResult, spec: CommandSpec) -> str | None:
    """How a successful resize contradicts the size model, or None when it agrees (or
    there is no successful resize, or the model expects no size)."""
    resize = next((s for s in result.steps if s.name == "resize"), None)
    if resize is None or resize.return_code != 0:
        return None
    info = next((s for s in result.steps if s.name == spec.artefact), None)
    data = info_object(info.stdout) if info is not None and info.return_code == 0 else None
    want = expected_virtual_size(result.case, grammar_for(result.binary.version))
    if data is None or want is None or data.get("virtual-size") == want:
        return None
    return (
        f"resize returned 0 but virtual-size is {data.get('virtual-size')!r}, not {want} "
        f"(the end spec applied to the size create made, as qemu-img reports it)"
    )


def unrecordable(result: CaseResult, spec: CommandSpec) -> str | None:
    """Why `result` must not be recorded, or None when it is a baseline."""
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
    info = next((s for s in result.steps if s.name == spec.artefact), None)
    if info is None or info.return_code != 0 or spec.stdout_kind == "text":
        return None
    value = parse_info(info.stdout)
    if not isinstance(value, dict if spec.stdout_kind == "object" else list):
        return (
            f"{info.name} returned 0 but printed no JSON {spec.stdout_kind} "
            f"({info.stdout[:60]!r}): is this binary a qemu-img?"
        )
    disagreement = None if spec.findings_of else size_disagreement(result, spec)
    if disagreement is not None:
        return f"{disagreement}: the binary contradicts the case"
    return None
