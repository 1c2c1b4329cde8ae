"""What rebase and commit share: a backing chain the case makes in its scratch directory.

Each image is a placeholder of the command's `images` ($BASE, $NEXT, $FILENAME). An
overlay names its backing file relatively (`-o backing_file=base.qcow2`), exactly as the
consuming harness creates it, so `backing-filename` in info is that literal name and
`full-backing-filename` the absolute path (recorded as its placeholder).
"""

from __future__ import annotations

from collections.abc import Callable

from toolkit.model.formats import driver_for
from toolkit.model.records import Case
from toolkit.model.steps import IMAGE, Plan, image_name

__all__ = ["BASE", "NEXT", "Argv", "create", "info", "overlay"]

BASE = "$BASE"  # the backing file the overlay is made on (the harness's placeholder)
NEXT = "$NEXT"  # rebase's new backing file (the harness's placeholder)

Argv = Callable[[Case, Plan], list[str]]


def create(token: str, size: Callable[[Case], str]) -> Argv:
    """`create -f FMT <image> SIZE`: an image of the chain, on its own."""

    def argv(case: Case, plan: Plan) -> list[str]:
        return ["create", "-f", driver_for(case.format), token, size(case)]

    return argv


def overlay(images: tuple[tuple[str, str], ...], backing: str) -> Argv:
    """`create -f FMT -o backing_file=<name>,backing_fmt=FMT $FILENAME SIZE`: the case's
    image, on `backing` (named relatively), at the case's size."""

    def argv(case: Case, plan: Plan) -> list[str]:
        fmt = driver_for(case.format)
        name = image_name(images, backing, case)
        option = f"backing_file={name},backing_fmt={fmt}"
        return ["create", "-f", fmt, "-o", option, IMAGE, case.start_size]

    return argv


def info(token: str) -> Argv:
    """`info --output=json <image>` (no -f: qemu-img probes, as the harness runs it)."""

    def argv(case: Case, plan: Plan) -> list[str]:
        return ["info", "--output=json", token]

    return argv
