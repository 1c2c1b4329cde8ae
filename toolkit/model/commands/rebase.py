"""rebase: an overlay on a base, moved to a new backing file (or detached), then info.

The steps are the consuming harness's fixture (instar tests/test_rebase.py), one call each:

    create -f FMT $BASE SIZE
    create -f FMT $NEXT BACKING              (not when the case detaches)
    create -f FMT -o backing_file=FMT-CASE-base.FMT,backing_fmt=FMT $FILENAME SIZE
    rebase -b FMT-CASE-next.FMT FLAGS... $FILENAME     (-b '' to detach)
    info --output=json $FILENAME

A case with data (fuzz's findings; none of the harness's) writes it with qemu-io after
making each image: `write_base`, `write_next`, `write_overlay` (chain.write), run only when
the case has that image's writes, so the harness's cases run exactly the steps above.

Images are named after the case (`qcow2-<case>-overlay.qcow2`): the new backing file's name
is what `backing-filename` reads afterwards, literally.
"""

from __future__ import annotations

from typing import Any

from toolkit.model.commands.chain import BASE, NEXT, create, info, overlay, write, writes
from toolkit.model.records import Case
from toolkit.model.steps import IMAGE, QEMU_IO, CommandSpec, Plan, StepSpec, image_name

__all__ = ["IMAGES", "REBASE", "WRITES", "backing_size", "rebase_flags"]

IMAGES = (
    (IMAGE, "{format}-{case}-overlay.{ext}"),
    (BASE, "{format}-{case}-base.{ext}"),
    (NEXT, "{format}-{case}-next.{ext}"),
)
# The step that writes each image's data, by the case key that holds it.
WRITES = {"base_writes": "write_base", "next_writes": "write_next",
          "overlay_writes": "write_overlay"}  # fmt: skip


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
    skipped = {step for key, step in WRITES.items() if writes(case, key) is None}
    if backing_size(case) is None:  # detach: no new backing file
        skipped.add("create_next")
    return tuple(s.name for s in REBASE.steps if s.name not in skipped)


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
            "write_base", write(BASE, "base_writes"), "---WRITE BASE STDERR---", program=QEMU_IO
        ),
        StepSpec(
            "create_next",
            create(NEXT, lambda c: backing_size(c) or ""),
            "---CREATE NEXT STDERR---",
        ),
        StepSpec(
            "write_next", write(NEXT, "next_writes"), "---WRITE NEXT STDERR---", program=QEMU_IO
        ),
        StepSpec("create_overlay", overlay(IMAGES, BASE), "---CREATE OVERLAY STDERR---"),
        StepSpec(
            "write_overlay",
            write(IMAGE, "overlay_writes"),
            "---WRITE OVERLAY STDERR---",
            program=QEMU_IO,
        ),
        StepSpec("rebase", _rebase, "---REBASE STDERR---"),
        StepSpec("info", info(IMAGE), "---INFO STDERR---"),
    ),
    images=IMAGES,
    expand=_steps,
    inputs=_inputs,
)
