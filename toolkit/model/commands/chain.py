"""What rebase and commit share: a backing chain the case makes in its scratch directory.

Each image is a placeholder of the command's `images` ($BASE, $NEXT, $FILENAME). An
overlay names its backing file relatively (`-o backing_file=base.qcow2`), exactly as the
consuming harness creates it, so `backing-filename` in info is that literal name and
`full-backing-filename` the absolute path (recorded as its placeholder).

An image may be seeded with data (a case's `base_writes`, `next_writes`, `overlay_writes`:
(pattern, offset, length) triples), one qemu-io call per image right after it is made:
a base is written before the overlay on it exists (a vmdk overlay records its base's
CID, which a later write to the base changes, and then the chain no longer opens).
"""

from __future__ import annotations

from collections.abc import Callable

from toolkit.model.formats import driver_for
from toolkit.model.records import Case
from toolkit.model.steps import IMAGE, Plan, image_name

__all__ = ["BASE", "NEXT", "Argv", "Write", "create", "info", "overlay", "write", "writes"]

BASE = "$BASE"  # the backing file the overlay is made on (the harness's placeholder)
NEXT = "$NEXT"  # rebase's new backing file (the harness's placeholder)

Argv = Callable[[Case, Plan], list[str]]
Write = tuple[int, int, int]  # qemu-io `write -P PATTERN OFFSET LENGTH`


def writes(case: Case, key: str) -> tuple[Write, ...] | None:
    """The case's writes into one image (`base_writes`, ...); None: it writes none."""
    found: tuple[Write, ...] | None = case.param(key)
    return found


def write(token: str, key: str) -> Argv:
    """qemu-io `-f FMT -c 'write -P 0xNN OFFSET LENGTH'...` on one image (its chain opened)."""

    def argv(case: Case, plan: Plan) -> list[str]:
        commands = [
            w for p, o, n in writes(case, key) or () for w in ("-c", f"write -P 0x{p:02x} {o} {n}")
        ]
        return ["-f", driver_for(case.format), *commands, token]

    return argv


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
