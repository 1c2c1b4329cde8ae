"""What a rebase or commit example runs: the command's own steps, and checking steps around
them (StepSpec.checking: with a candidate, the real qemu-img runs them, so a faulty
candidate cannot hide its own fault; drift and D1-D3 leave them out).

rebase (REBASE_FUZZ), after the chain is made and written:

    expect      convert -O raw $FILENAME $EXPECT        the guest view before the rebase
    own_before  convert -O raw OWN $OWN                 the overlay's own data (-u cases)
    rebase, info                                        the command's own
    compare     compare -f raw -F FMT $EXPECT $FILENAME the guest view after it
    compare_own compare -f raw $OWN OWN                 its own data after it (-u cases)

commit (COMMIT_FUZZ): expect and own_before before the commit, then after it
`base_vs_before` (compare $EXPECT $BASE), `base_vs_overlay` (compare $BASE $FILENAME),
`own_after` (compare $OWN OWN) and `map_after` (map --output=json $FILENAME).

OWN is the overlay opened without its backing file (`json:{..., "backing": null}`): what
the overlay itself holds, unallocated areas reading as zeros. The images are raw files
beside the chain ($EXPECT, $OWN), sparse as convert writes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

from toolkit.model.commands.chain import BASE
from toolkit.model.formats import driver_for
from toolkit.model.pipeline import COMMANDS, IMAGE, CommandSpec, Plan, StepSpec
from toolkit.model.records import Case

__all__ = [
    "COMMIT_FUZZ",
    "DIFFER",
    "EXPECT",
    "EXPECT_STEP",
    "OWN",
    "REBASE_FUZZ",
    "checking_step",
    "own_view",
    "unsafe",
]

EXPECT = "$EXPECT"  # the chain's guest view before the command, as raw
OWN = "$OWN"  # the overlay's own data before the command, as raw
_REBASE, _COMMIT = COMMANDS["rebase"], COMMANDS["commit-overlay"]


def own_view(case: Case) -> str:
    """The overlay alone: its own data, its backing file not opened."""
    spec = {"driver": driver_for(case.format), "file": {"driver": "file", "filename": IMAGE},
            "backing": None}  # fmt: skip
    return "json:" + json.dumps(spec, separators=(",", ":"))


def unsafe(case: Case) -> bool:
    return "-u" in case.param("flags", ())


def _check(
    name: str,
    argv: Callable[[Case], list[str]],
    requires: tuple[str, ...] | None = None,
    answers: tuple[int, ...] = (),
) -> StepSpec:
    marker = f"---{name.upper().replace('_', ' ')} STDERR---"

    def template(case: Case, _plan: Plan) -> list[str]:
        return argv(case)

    return StepSpec(name, template, marker, requires, checking=True, answers=answers)


checking_step = _check  # amend_checks.py and measure_checks.py make theirs so


def _as_raw(source: Callable[[Case], str], target: str) -> Callable[[Case], list[str]]:
    return lambda c: ["convert", "-O", "raw", source(c), target]


def _compare(fmt_a: Callable[[Case], str], a: Callable[[Case], str], b: Callable[[Case], str],
             fmt_b: Callable[[Case], str | None]) -> Callable[[Case], list[str]]:  # fmt: skip
    def argv(c: Case) -> list[str]:
        second = fmt_b(c)
        return ["compare", "-f", fmt_a(c), *(["-F", second] if second else []), a(c), b(c)]

    return argv


def _raw(_c: Case) -> str:
    return "raw"


def _driver(c: Case) -> str:
    return driver_for(c.format)


def _token(token: str) -> Callable[[Case], str]:
    return lambda _c: token


EXPECT_STEP = _check("expect", _as_raw(_token(IMAGE), EXPECT))
OWN_BEFORE = _check("own_before", _as_raw(own_view, OWN))
_AFTER = ("expect",)  # a check after the command needs only the view it compares with
_OWN_AFTER = ("own_before",)
DIFFER = (1,)  # compare's "the images differ": an answer, not a failure


def _alone(_c: Case) -> str | None:
    return None  # a json: filename names its own driver


def _with_checks(
    spec: CommandSpec, after: tuple[StepSpec, ...], anchor: str, extra: Callable[[Case], set[str]]
) -> CommandSpec:
    """`spec` with expect and own_before just before `anchor` (the command's step) and
    `after` following its last step; a case runs its own steps and those `extra` names."""
    own = spec.steps
    at = next(i for i, s in enumerate(own) if s.name == anchor)
    steps = (*own[:at], EXPECT_STEP, OWN_BEFORE, *own[at:], *after)
    expand = spec.expand

    def names(case: Case) -> tuple[str, ...]:
        mine = set(expand(case)) if expand is not None else {s.name for s in own}
        return tuple(s.name for s in steps if s.name in mine | extra(case))

    images = (
        *spec.images,
        (EXPECT, "{format}-{case}-expect.raw"),
        (OWN, "{format}-{case}-own.raw"),
    )
    return replace(spec, steps=steps, expand=names, images=images)


_REBASE_CHECKS = (
    _check("compare", _compare(_raw, _token(EXPECT), _token(IMAGE), _driver), _AFTER, DIFFER),
    _check("compare_own", _compare(_raw, _token(OWN), own_view, _alone), _OWN_AFTER, DIFFER),
)
REBASE_FUZZ = _with_checks(
    _REBASE,
    _REBASE_CHECKS,
    "rebase",
    lambda c: {"expect", "compare", *(("own_before", "compare_own") if unsafe(c) else ())},
)
_COMMIT_CHECKS = (
    _check("base_vs_before", _compare(_raw, _token(EXPECT), _token(BASE), _driver), _AFTER, DIFFER),
    _check(
        "base_vs_overlay", _compare(_driver, _token(BASE), _token(IMAGE), _driver), _AFTER, DIFFER
    ),
    _check("own_after", _compare(_raw, _token(OWN), own_view, _alone), _OWN_AFTER, DIFFER),
    _check("map_after", lambda c: ["map", "--output=json", "-f", _driver(c), IMAGE], _AFTER),
)
COMMIT_FUZZ = _with_checks(
    _COMMIT,
    _COMMIT_CHECKS,
    "commit",
    lambda _c: {"expect", "own_before", *(s.name for s in _COMMIT_CHECKS)},
)
