"""Differential fuzzing: a candidate's run of an example against real qemu-img's run of it.

Both run the kind's steps (resize: FUZZ_SPEC) through the one runner (session.py runs
them side by side). A difference in outcome is a failure of one of three differential invariants:

  D1 outcome  each step succeeded on both or was rejected on both (or ran on neither),
              and no step of the candidate printed past the capture cap or left processes
              running outside its process group (StepResult.overflow);
  D2 info     for steps printing JSON (`--output=json`: info's, measure's) that succeeded
              on both, the JSON object is the same after the whitelist (the masks
              verify uses); the final virtual-size is named;
  D3 reason   a rejected step is rejected for the same reason, where qemu-img's message
              has a stable key phrase (shrink, preallocation, size syntax, unsupported
              format); a message without a known phrase is not compared.

That a rejected resize leaves the candidate's image unchanged is I3, which runs on the
candidate like I1-I6. Every detail shows both outcomes, so the saved case's comment does.
A kind's checking steps (rebase's compare, commit's map: the real qemu-img runs them on
both sides) are its own checks' business: D1-D3 compare the command's steps only.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from toolkit.baseline.whitelist import mask
from toolkit.model.records import CaseResult, StepResult
from toolkit.model.rejections import reason_class
from toolkit.stages.fuzz.invariants import Verdict, info_json, is_info_json, prints_json

__all__ = ["DIFFERENTIAL", "compare", "outcome", "reason_class"]

DIFFERENTIAL = {"D1": "same outcome as qemu-img", "D2": "same info as qemu-img",
                "D3": "same rejection reason"}  # fmt: skip


def _ok(step: StepResult) -> bool:
    return step.return_code == 0 and not step.timed_out


def _step_outcome(step: StepResult) -> str:
    if not step.ran:
        return "not run"
    if step.timed_out:
        return "timed out"
    if step.return_code == 0:
        return "ok"
    why = reason_class(step.stderr)
    return f"rejected rc {step.return_code}" + (f" [{why}]" if why else "")


def outcome(r: CaseResult, checking: Collection[str] = ()) -> str:
    """One line: each step's outcome, and the final virtual-size when an info printed one
    (the steps in `checking` left out)."""
    steps = [s for s in r.steps if s.name not in checking]
    parts = [f"{s.name} {_step_outcome(s)}" for s in steps]
    last = [s for s in steps if is_info_json(s)][-1:]
    info = info_json(last[0]) if last else None
    if info is not None:
        parts.append(f"virtual-size {info.get('virtual-size')}")
    return ", ".join(parts)


def _info_difference(cand: StepResult, real: StepResult, fmt: str) -> str | None:
    a, b = info_json(cand), info_json(real)
    if a is None or b is None:
        return None if a == b else f"{cand.name}: one side printed no JSON object"
    ma, mb = mask(a, fmt), mask(b, fmt)
    if ma == mb:
        return None
    # virtual-size first: the final size is what a reader looks for
    keys = sorted((k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k)),
                  key=lambda k: (k != "virtual-size", k))  # fmt: skip
    shown = ", ".join(f"{k} {_short(ma, k)} vs {_short(mb, k)}" for k in keys[:3])
    return f"{cand.name}: {shown}"


def _short(info: dict[str, Any], key: str) -> str:
    if key not in info:
        return "(absent)"
    text = json.dumps(info[key], sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def compare(cand: CaseResult, real: CaseResult, checking: Collection[str] = ()) -> list[Verdict]:
    """D1-D3 for one example run on the candidate (`cand`) and on real qemu-img (`real`).

    `checking`: steps that check the command (StepSpec.checking, run by the real qemu-img
    on both sides): the kind's own checks judge what they show, D1-D3 leave them out."""
    version, fmt = real.binary.version, real.case.format
    both = f"candidate: {outcome(cand, checking)}; qemu-img {version}: {outcome(real, checking)}"
    pairs = [(c, r) for c, r in zip(cand.steps, real.steps, strict=True) if c.name not in checking]
    d1 = [f"{c.name} succeeded on one side only" for c, r in pairs
          if (c.ran, _ok(c)) != (r.ran, _ok(r))]  # fmt: skip
    d1 += [note for c, _r in pairs for note in c.overflow()]  # qemu-img does neither
    d2 = [
        d
        for c, r in pairs
        if prints_json(r) and _ok(c) and _ok(r)
        for d in [_info_difference(c, r, fmt)]
        if d
    ]
    d3 = []
    for c, r in pairs:
        want = reason_class(r.stderr) if r.ran and not _ok(r) else None
        if want and c.ran and not _ok(c) and reason_class(c.stderr) != want:
            d3.append(f"{c.name}: qemu-img's reason is {want}, the candidate's "
                      f"{reason_class(c.stderr) or 'unknown'}")  # fmt: skip

    def verdict(inv: str, found: list[str], applies: bool = True) -> Verdict:
        if not applies:
            return Verdict(inv, version, None)
        detail = f"{'; '.join(found)} ({both})" if found else ""
        return Verdict(inv, version, not found, detail)

    info_pairs = any(prints_json(r) and _ok(c) and _ok(r) for c, r in pairs)
    rejected = any(r.ran and not _ok(r) and reason_class(r.stderr) for _c, r in pairs)
    return [
        verdict("D1", d1),
        verdict("D2", d2, info_pairs),
        verdict("D3", d3, rejected),
    ]
