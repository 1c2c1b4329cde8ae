"""`fuzz --command amend`: what an example runs (AMEND_FUZZ) and A1-A3, its checks (their
titles are in invariants.INVARIANTS).

AMEND_FUZZ is amend's own steps (create, the case's qemu-io writes, amend, info) with
checking steps around the amend (StepSpec.checking: with a candidate, the real qemu-img
runs them):

    expect       convert -O raw $FILENAME $EXPECT           the guest view before the amend
    info_before  info --output=json $FILENAME               what info said before it
    amend, info                                             the command's own (info runs
                                                            after a refused amend too)
    compare      compare -f raw -F qcow2 $EXPECT $FILENAME  the guest view after it
    check        check -f qcow2 $FILENAME                   the image's consistency after it

Each check holds on every qemu-img we record (5.2.0 ... 11.1.3):

  A1  an amend of options to the values the image already has (compat, lazy_refcounts,
      refcount_bits: NOOP_KEYS, with create's defaults) leaves info as it was, besides
      `actual-size` (the whitelist verify uses) and `children` (the file under it)
  A2  a successful amend keeps `virtual-size` and the guest view (compare: identical), and
      `check` passes on the image after it
  A3  a refused amend (non-zero) leaves info (as A1 compares it) and the guest view as
      they were

cluster_size, extended_l2, preallocation and the like are refused by every version, even
to the value the image has ("only supported for image creation"): A3's cases, never A1's.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from toolkit.baseline.whitelist import mask
from toolkit.model.formats import split_option_string
from toolkit.model.pipeline import COMMANDS, IMAGE, CommandSpec
from toolkit.model.records import Case, CaseResult, StepResult
from toolkit.stages.fuzz.chain_spec import DIFFER, EXPECT, EXPECT_STEP, checking_step
from toolkit.stages.fuzz.invariants import Verdict, info_json

__all__ = ["AMEND_FUZZ", "NOOP_KEYS", "check_amend", "is_noop", "option_values"]

_AMEND = COMMANDS["amend"]
# What create gives a qcow2 image unless told otherwise (every version we record), for the
# options an amend can change; compat's two spellings of each level, as one.
NOOP_KEYS = {"compat": "1.1", "lazy_refcounts": "off", "refcount_bits": "16"}
_COMPAT = {"v2": "0.10", "v3": "1.1"}
CHECK_ANSWERS = (2, 3)  # check: corruptions, leaks (A2 fails on them; they are answers)


def _normal(key: str, value: str) -> str:
    return _COMPAT.get(value, value) if key == "compat" else value


def option_values(options: tuple[str, ...]) -> dict[str, str]:
    """Each option's value as `-o` strings set it (the last wins), compat's spelling made one."""
    return {k: _normal(k, v) for text in options for k, v in split_option_string(text)}


def is_noop(case: Case) -> bool:
    """The case amends only NOOP_KEYS, each to the value the created image has."""
    have = {**NOOP_KEYS, **option_values(case.create_options)}
    wanted = option_values(tuple(case.param("amend", ())))
    return bool(wanted) and all(k in NOOP_KEYS and have[k] == v for k, v in wanted.items())


def _steps(case: Case) -> tuple[str, ...]:
    own = set(_AMEND.expand(case)) if _AMEND.expand is not None else set(_AMEND.step_names())
    extra = {"expect", "info_before", "compare", "check"}
    return tuple(s.name for s in AMEND_FUZZ.steps if s.name in own | extra)


_AFTER = ("expect",)
_info = _AMEND.step("info")
AMEND_FUZZ: CommandSpec = replace(
    _AMEND,
    steps=(
        *(s for s in _AMEND.steps if s.name in ("create", "write")),
        EXPECT_STEP,
        checking_step("info_before", lambda _c: ["info", "--output=json", IMAGE]),
        _AMEND.step("amend"),
        replace(_info, requires=("create",)),  # after a refused amend too (A3)
        checking_step(
            "compare",
            lambda _c: ["compare", "-f", "raw", "-F", "qcow2", EXPECT, IMAGE],
            _AFTER,
            DIFFER,
        ),
        checking_step("check", lambda _c: ["check", "-f", "qcow2", IMAGE], _AFTER, CHECK_ANSWERS),
    ),
    expand=_steps,
    images=(*_AMEND.images, (EXPECT, "{format}-{case}-expect.raw")),
)


def _v(inv: str, r: CaseResult, ok: bool | None, detail: str = "") -> Verdict:
    return Verdict(inv, r.binary.version, ok, "" if ok else detail)


def _succeeded(step: StepResult) -> bool:
    return step.ran and step.return_code == 0 and not step.timed_out


def _stable(info: dict[str, Any]) -> dict[str, Any]:
    """The image's info as A1 and A3 compare it: after the whitelist verify uses (the
    file's allocation, `actual-size`), without `children`, the protocol layer (the file's
    length and allocation, which any write of data moves: A2's and A3's guest view)."""
    masked: dict[str, Any] = mask(info, "qcow2")
    return {k: v for k, v in masked.items() if k != "children"}


def _leaves(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, leaf by leaf: `format-specific/data/lazy-refcounts`."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b), key=str)
        gone = "(absent)"
        return [d for k in keys for d in _leaves(a.get(k, gone), b.get(k, gone), f"{path}/{k}")]
    return [] if a == b else [f"{path.lstrip('/')} {_short(a)} -> {_short(b)}"]


def _short(value: Any) -> str:
    text = value if value == "(absent)" else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _info_change(r: CaseResult) -> str | None:
    """How info after the amend differs from before it; None: the same; "" unknown."""
    before, after = info_json(r.step("info_before")), info_json(r.step("info"))
    if before is None or after is None:
        return ""
    found = _leaves(_stable(before), _stable(after))
    return "; ".join(found[:3]) if found else None


def _view_kept(r: CaseResult) -> str | None:
    """What compare said when the guest view changed; None: identical; "" did not run."""
    step = r.step("compare")
    if not step.ran or step.timed_out:
        return ""
    if step.return_code == 0:
        return None
    said = (step.stdout + step.stderr).strip().splitlines()
    return f"compare returned {step.return_code} ({said[0] if said else 'no output'})"


def check_amend(r: CaseResult) -> list[Verdict]:
    out = {i: _v(i, r, None) for i in ("A1", "A2", "A3")}
    amend = r.step("amend")
    if not amend.ran or amend.timed_out:
        return list(out.values())
    change, view = _info_change(r), _view_kept(r)
    if is_noop(r.case) and change != "":
        out["A1"] = _v("A1", r, change is None, f"a no-op amend changed info: {change}")
    if amend.return_code != 0:
        if change != "" and view != "":
            problems = [f"info ({change})" if change else "",
                        f"the guest view ({view})" if view else ""]  # fmt: skip
            detail = f"amend returned {amend.return_code} and changed " + " and ".join(
                p for p in problems if p
            )
            out["A3"] = _v("A3", r, change is None and view is None, detail)
        return list(out.values())
    out["A2"] = _a2(r, view)
    return list(out.values())


def _a2(r: CaseResult, view: str | None) -> Verdict:
    before, after = info_json(r.step("info_before")), info_json(r.step("info"))
    check = r.step("check")
    if before is None or after is None or view == "" or not check.ran or check.timed_out:
        return _v("A2", r, None)
    problems = []
    if before.get("virtual-size") != after.get("virtual-size"):
        problems.append(f"virtual-size {before.get('virtual-size')} -> {after.get('virtual-size')}")
    if view:
        problems.append(f"the guest view changed: {view}")
    if check.return_code != 0:
        said = (check.stdout + check.stderr).strip().splitlines()
        problems.append(f"check returned {check.return_code} ({said[0] if said else ''})")
    return _v("A2", r, not problems, "; ".join(problems))
