"""rebase: an overlay on a base, moved to a new backing file (or detached), then info.

The steps are the consuming harness's fixture (instar tests/test_rebase.py), one call each:

    create -f FMT $BASE SIZE
    create -f FMT $NEXT BACKING              (not when the case detaches)
    create -f FMT -o backing_file=FMT-CASE-base.FMT,backing_fmt=FMT $FILENAME SIZE
    rebase -b FMT-CASE-next.FMT FLAGS... $FILENAME     (-b '' to detach)
    info --output=json $FILENAME

Images are named after the case (`qcow2-<case>-overlay.qcow2`): the new backing file's name
is what `backing-filename` reads afterwards, literally.
"""

from __future__ import annotations

from typing import Any

from toolkit.model.commands.chain import BASE, NEXT, create, info, overlay
from toolkit.model.records import Case
from toolkit.model.steps import IMAGE, CommandSpec, Plan, StepSpec, image_name

__all__ = ["IMAGES", "REBASE", "backing_size", "rebase_flags"]

IMAGES = (
    (IMAGE, "{format}-{case}-overlay.{ext}"),
    (BASE, "{format}-{case}-base.{ext}"),
    (NEXT, "{format}-{case}-next.{ext}"),
)


def backing_size(case: Case) -> str | None:
    """The new backing file's size; None: the case detaches the overlay (`-b ''`)."""
    size: str | None = case.param("backing")
    return size


def rebase_flags(case: Case) -> tuple[str, ...]:
    flags: tuple[str, ...] = case.param("flags", ())
    return flags


def _rebase(case: Case, plan: Plan) -> list[str]:
    target = "" if backing_size(case) is None else image_name(IMAGES, NEXT, case)
    return ["rebase", "-b", target, *rebase_flags(case), IMAGE]


def _steps(case: Case) -> tuple[str, ...]:
    every = tuple(s.name for s in REBASE.steps)
    detach = backing_size(case) is None
    return tuple(n for n in every if n != "create_next") if detach else every


def _inputs(case: Case, plan: Plan) -> dict[str, Any]:
    return {
        "overlay_size": case.start_size,
        "new_backing_size": backing_size(case),
        "rebase_flags": list(rebase_flags(case)),
    }


REBASE = CommandSpec(
    "rebase",
    "rebase-info-json",
    (
        StepSpec("create_base", create(BASE, lambda c: c.start_size), None),
        StepSpec(
            "create_next",
            create(NEXT, lambda c: backing_size(c) or ""),
            "---CREATE NEXT STDERR---",
        ),
        StepSpec("create_overlay", overlay(IMAGES, BASE), "---CREATE OVERLAY STDERR---"),
        StepSpec("rebase", _rebase, "---REBASE STDERR---"),
        StepSpec("info", info(IMAGE), "---INFO STDERR---"),
    ),
    images=IMAGES,
    expand=_steps,
    inputs=_inputs,
)
