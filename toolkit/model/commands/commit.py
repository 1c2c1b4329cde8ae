"""commit: an overlay (seeded with data, or empty) committed into its base; then info of both.

The steps are the consuming harness's fixture (instar tests/test_commit.py), one call each:

    create -f FMT $BASE SIZE
    create -f FMT -o backing_file=base.FMT,backing_fmt=FMT $FILENAME SIZE
    qemu-io -f FMT -c 'write -P 0xab 0 LEN' $FILENAME      (seeded cases only)
    commit [-b base.FMT] $FILENAME
    info --output=json $FILENAME                            (overlay_info)
    info --output=json $BASE                                (backing_info)

A case with more data (fuzz's findings; none of the harness's) writes it with qemu-io:
`write_base` before the overlay is made, `write_overlay` after the seed (chain.write); each
runs only when the case has its writes, so the harness's cases run exactly the steps above.

One run, two output types: commit-overlay-info-json records the overlay's info,
commit-backing-info-json the base's (each a whole triple of the same run; `generate commit`
runs each case once and writes both). Each type's meta leaves out the other's info stdout.
"""

from __future__ import annotations

from typing import Any

from toolkit.model.commands.chain import BASE, create, info, overlay, write, writes
from toolkit.model.formats import driver_for
from toolkit.model.records import Case
from toolkit.model.steps import IMAGE, QEMU_IO, CommandSpec, Plan, StepSpec, image_name

__all__ = [
    "COMMIT_BACKING",
    "COMMIT_OVERLAY",
    "IMAGES",
    "SEED_PATTERN",
    "WRITES",
    "explicit_base",
    "seed",
]

IMAGES = ((IMAGE, "overlay.{ext}"), (BASE, "base.{ext}"))
SEED_PATTERN = "0xab"  # the byte a seeded case writes (the harness's `seed-64k`)
# The step that writes each image's data, by the case key that holds it.
WRITES = {"base_writes": "write_base", "overlay_writes": "write_overlay"}


def explicit_base(case: Case) -> str | None:
    """`base.<ext>` when the case names the base (`commit -b base.<ext>`), else None."""
    return image_name(IMAGES, BASE, case) if case.param("explicit_base", False) else None


def seed(case: Case) -> str | None:
    """How many bytes the case writes at offset 0 of the overlay before commit (None: none)."""
    length: str | None = case.param("seed")
    return length


def _seed(case: Case, plan: Plan) -> list[str]:
    write = f"write -P {SEED_PATTERN} 0 {seed(case)}"
    return ["-f", driver_for(case.format), "-c", write, IMAGE]


def _commit(case: Case, plan: Plan) -> list[str]:
    base = explicit_base(case)
    return ["commit", *(["-b", base] if base is not None else []), IMAGE]


def _steps(case: Case) -> tuple[str, ...]:
    skipped = {step for key, step in WRITES.items() if writes(case, key) is None}
    if seed(case) is None:
        skipped.add("seed")
    return tuple(s.name for s in STEPS if s.name not in skipped)


def _inputs(case: Case, plan: Plan) -> dict[str, Any]:
    return {"overlay_size": case.start_size, "explicit_base": explicit_base(case),
            "seed": seed(case)}  # fmt: skip


STEPS = (
    StepSpec("create_base", create(BASE, lambda c: c.start_size), None),
    StepSpec("write_base", write(BASE, "base_writes"), "---WRITE BASE STDERR---", program=QEMU_IO),
    StepSpec("create_overlay", overlay(IMAGES, BASE), "---CREATE OVERLAY STDERR---"),
    StepSpec("seed", _seed, "---SEED STDERR---", program=QEMU_IO),
    StepSpec(
        "write_overlay",
        write(IMAGE, "overlay_writes"),
        "---WRITE OVERLAY STDERR---",
        program=QEMU_IO,
    ),
    StepSpec("commit", _commit, "---COMMIT STDERR---"),
    # Both infos look at what commit left: each needs commit's success, not the other's.
    StepSpec("overlay_info", info(IMAGE), "---OVERLAY INFO STDERR---", requires=("commit",)),
    StepSpec("backing_info", info(BASE), "---BACKING INFO STDERR---", requires=("commit",)),
)
COMMIT_OVERLAY = CommandSpec(
    "commit-overlay",
    "commit-overlay-info-json",
    STEPS,
    pipeline="commit",
    artefact="overlay_info",
    images=IMAGES,
    expand=_steps,
    inputs=_inputs,
    recorded_elsewhere=("backing_info",),
)
COMMIT_BACKING = CommandSpec(
    "commit-backing",
    "commit-backing-info-json",
    STEPS,
    pipeline="commit",
    artefact="backing_info",
    images=IMAGES,
    expand=_steps,
    inputs=_inputs,
    recorded_elsewhere=("overlay_info",),
)
