"""The fuzzer's invariants as small pure functions over CaseResults (drift.py: across versions).

INVARIANTS names every kind's checks (kinds.py says which apply to which command).
Resize results come from `FUZZ_SPEC`: create -> info-before -> resize -> info (the last two
run whenever create succeeded, so a rejected resize is still followed by an info). Create
results come from the create command's own steps (create -> info), as generate records
them: I1 (the created size) and I6 apply; RESIZE_ONLY says why the others do not.

The sizes I1 expects come from qemu-img's rounding rules (toolkit.model.rounding),
checked on every provisioned version.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from toolkit.baseline.whitelist import mask
from toolkit.model.info import info_object
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import CaseResult, StepResult
from toolkit.model.rounding import created_size, resized_size
from toolkit.model.sizes import EndSpec, SizeError, grammar_for, parse_end_spec, parse_size

__all__ = [
    "FUZZ_SPEC",
    "INVARIANTS",
    "RESIZE_ONLY",
    "Verdict",
    "check_create",
    "check_resize",
    "fingerprint",
    "i1_created_size",
    "i1_exact_size",
    "i2_shrink_guard",
    "i3_rejected_resize_safe",
    "i4_direction",
    "i6_determinism",
    "info_json",
    "is_info_json",
    "masked_stdout",
    "prints_json",
]

# The resize command's own steps, plus an info before the resize; resize and the final
# info need only create, so a rejected resize is still followed by an info.
_create, _resize, _info = COMMANDS["resize"].steps
FUZZ_SPEC = replace(
    COMMANDS["resize"],
    steps=(
        _create,
        replace(_info, name="info-before", marker="---INFO BEFORE STDERR---", requires=("create",)),
        replace(_resize, requires=("create",)),
        replace(_info, requires=("create",)),
    ),
)
# Every kind's checks by id (I6, determinism, applies to every kind: the session runs it;
# R1-R4 and C1-C4, rebase's and commit's, are chain_checks.py's; A1-A3 amend_checks.py's;
# M1-M3 measure_checks.py's).
INVARIANTS = {"I1": "exact size", "I2": "shrink guard", "I3": "rejected resize is safe",
              "I4": "direction", "I5": "grammar", "I6": "determinism",
              "R1": "safe rebase keeps view", "R2": "unsafe keeps own data",
              "R3": "new backing named", "R4": "failed rebase is safe",
              "C1": "base holds the chain", "C2": "base reads as overlay",
              "C3": "overlay emptied", "C4": "overlay keeps its data",
              "A1": "no-op amend keeps info", "A2": "amend keeps data, checks",
              "A3": "refused amend is safe",
              "M1": "required covers create", "M2": "fully covers required",
              "M3": "human says the same"}  # fmt: skip
# Why a check does not apply to `fuzz --command create` (it has no resize step).
RESIZE_ONLY = {
    "I2": "the shrink guard is about resize without --shrink; create has no resize step",
    "I3": "a rejected resize leaving the image intact needs a resize step; create has none",
    "I4": "the direction of a resize needs a resize step; create has none",
    "I5": "the grammar probe reads sizes through resize's parser (create's size argument "
    "goes through cvtnum, which the probe does not model)",
}


@dataclass(frozen=True)
class Verdict:
    invariant: str
    version: str
    ok: bool | None  # None: not applicable to this example
    detail: str = ""


def info_json(step: StepResult) -> dict[str, Any] | None:
    """The JSON object a successful info step printed."""
    if step.return_code != 0 or step.timed_out:
        return None
    return info_object(step.stdout)


def _vsize(step: StepResult) -> int | None:
    info = info_json(step)
    size = info.get("virtual-size") if info else None
    return size if isinstance(size, int) else None


def _parsed(r: CaseResult) -> tuple[int, EndSpec] | None:
    grammar = grammar_for(r.binary.version)
    try:
        assert r.case.end_spec is not None
        return parse_size(r.case.start_size, grammar), parse_end_spec(r.case.end_spec, grammar)
    except SizeError:
        return None


def _verdict(inv: str, r: CaseResult, ok: bool | None, detail: str = "") -> Verdict:
    return Verdict(inv, r.binary.version, ok, detail)


def i1_exact_size(r: CaseResult) -> Verdict:
    parsed, before, after = _parsed(r), _vsize(r.step("info-before")), _vsize(r.step("info"))
    if parsed is None or before is None:
        return _verdict("I1", r, None)
    start, end = parsed
    opts = r.case.create_options
    want = created_size(r.case.format, opts, start)
    if before != want:
        return _verdict("I1", r, False, f"create {start}: virtual-size {before}, expected {want}")
    if r.step("resize").return_code != 0 or after is None:
        return _verdict("I1", r, True)
    final = end.final_size(before)
    want = resized_size(r.case.format, opts, final)
    ok = after == want
    return _verdict("I1", r, ok, "" if ok else f"resize to {final}: virtual-size {after}, "
                    f"expected {want}")  # fmt: skip


def i1_created_size(r: CaseResult) -> Verdict:
    """create: info's virtual-size is what created_size says for the start size."""
    got = _vsize(r.step("info"))
    try:
        size = parse_size(r.case.start_size, grammar_for(r.binary.version))
    except SizeError:
        return _verdict("I1", r, None)
    if got is None:
        return _verdict("I1", r, None)
    want = created_size(r.case.format, r.case.create_options, size)
    detail = f"create {size}: virtual-size {got}, expected {want}"
    return _verdict("I1", r, got == want, "" if got == want else detail)


def i2_shrink_guard(r: CaseResult) -> Verdict:
    parsed, resize = _parsed(r), r.step("resize")
    if parsed is None or not resize.ran or r.applied_shrink_flag:
        return _verdict("I2", r, None)
    start, end = parsed
    current = created_size(r.case.format, r.case.create_options, start)  # as plan_for has it
    final = end.final_size(current)
    if final >= current:
        return _verdict("I2", r, None)
    ok = resize.return_code != 0
    return _verdict("I2", r, ok, "" if ok else f"shrink {current} -> {final} without --shrink "
                    "returned 0")  # fmt: skip


def i3_rejected_resize_safe(r: CaseResult) -> Verdict:
    before_step, resize = r.step("info-before"), r.step("resize")
    before = info_json(before_step)
    if not resize.ran or resize.return_code == 0 or before is None:
        return _verdict("I3", r, None)
    after = info_json(r.step("info"))
    fmt = r.case.format
    problems = []
    if after is None:
        problems.append("the image no longer opens")
    elif mask(before, fmt) != mask(after, fmt):
        changed = sorted(k for k in set(before) | set(after) if mask(before.get(k), fmt)
                         != mask(after.get(k), fmt))  # fmt: skip
        problems.append(f"info changed: {', '.join(changed)}")
    if before_step.image_bytes != resize.image_bytes:
        problems.append(f"file length {before_step.image_bytes} -> {resize.image_bytes}")
    return _verdict("I3", r, not problems, "; ".join(problems))


def i4_direction(r: CaseResult) -> Verdict:
    parsed, before, after = _parsed(r), _vsize(r.step("info-before")), _vsize(r.step("info"))
    if parsed is None or before is None or after is None or r.step("resize").return_code != 0:
        return _verdict("I4", r, None)
    target = parsed[1].final_size(before)
    if target == before:
        return _verdict("I4", r, None)
    grow = target > before
    ok = after >= before if grow else after <= before
    what = "grow" if grow else "shrink"
    return _verdict("I4", r, ok, "" if ok else f"{what} {before} -> {target} gave {after}")


def fingerprint(r: CaseResult, checking: Collection[str] = ()) -> tuple[tuple[Any, ...], ...]:
    """What a run's artefacts are made of, after normalisation and the whitelist (the
    steps in `checking`, which check the command and record nothing, left out)."""
    return tuple(
        (s.name, s.argv, s.return_code, s.timed_out, masked_stdout(s, r.case.format), s.stderr)
        for s in r.steps
        if s.name not in checking
    )


def is_info_json(step: StepResult) -> bool:
    """`qemu-img info --output=json ...`, whatever the step is called (info, overlay_info)."""
    return step.argv[1:2] == ("info",) and "--output=json" in step.argv


def prints_json(step: StepResult) -> bool:
    """A step asked for JSON (`--output=json`): info's object, measure's, map's array."""
    return "--output=json" in step.argv


def masked_stdout(step: StepResult, fmt: str) -> str:
    """A step's stdout as runs compare it: an info's JSON after the whitelist (which masks
    what varies between hosts and runs), anything else as printed."""
    info = info_json(step) if is_info_json(step) else None
    return step.stdout if info is None else json.dumps(mask(info, fmt), sort_keys=True)


def i6_determinism(a: CaseResult, b: CaseResult, checking: Collection[str] = ()) -> Verdict:
    """Two runs record the same artefacts. A checking step may differ (commit's `map`
    shows where the base's clusters landed, which commit's parallel writes decide)."""
    fa, fb = fingerprint(a, checking), fingerprint(b, checking)
    if fa == fb:
        return _verdict("I6", a, True)
    diff = next(f"{x[0]} differs" for x, y in zip(fa, fb, strict=True) if x != y)
    return _verdict("I6", a, False, f"two runs of the same example: {diff}")


def check_resize(r: CaseResult) -> list[Verdict]:
    return [i1_exact_size(r), i2_shrink_guard(r), i3_rejected_resize_safe(r), i4_direction(r)]


def check_create(r: CaseResult) -> list[Verdict]:
    return [i1_created_size(r)]  # the other checks are RESIZE_ONLY
