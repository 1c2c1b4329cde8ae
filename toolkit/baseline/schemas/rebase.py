"""The rebase case schema: `[[case]]` tables of curated_cases/rebase.toml.

[[case]]
format = "qcow2"
name = "1M-unsafe-to-larger-parent"
size = "1M"                    # the base's and the overlay's size
backing = "64M"                # the new backing file's size; absent: detach (-b '')
flags = ["-u", "-F", "qcow2"]  # rebase's own flags, in order (default: none)
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.schema_fields import Bad, Schema, words
from toolkit.baseline.schemas.chain import image_size
from toolkit.model.commands.rebase import IMAGES
from toolkit.model.formats import FORMATS

__all__ = ["FLAGS", "FORMAT_FLAGS", "SCHEMA"]

FLAGS = ("-u", "-q", "-c")  # unsafe, quiet, compress: they shape what rebase does
FORMAT_FLAGS = ("-f", "-F")  # each takes a format's driver name (the overlay's, the backing's)
DRIVERS = sorted({f.driver for f in FORMATS.values()})


def _flags(entry: dict[str, Any], bad: Bad) -> tuple[str, ...]:
    flags = words(entry, "flags", bad)
    rest = iter(flags)
    for flag in rest:
        if flag in FORMAT_FLAGS:
            driver = next(rest, None)
            if driver not in DRIVERS:
                bad(f"flags: {flag} needs a format after it, one of {', '.join(DRIVERS)}; "
                    f"got {driver!r}")  # fmt: skip
        elif flag not in FLAGS:
            bad(f"flags: {flag!r} is not a rebase flag a case may pass; allowed: "
                f"{', '.join(FLAGS)}, and {' or '.join(FORMAT_FLAGS)} FORMAT (-b is the "
                "case's `backing`; options that open other files are refused)")  # fmt: skip
    return flags


def _build(entry: dict[str, Any], bad: Bad) -> dict[str, Any]:
    start = image_size(entry, "size", bad)
    backing = image_size(entry, "backing", bad, required=False)
    return {"start_size": start or "", "params": {"backing": backing, "flags": _flags(entry, bad)}}


def _room() -> int:
    """Bytes the longest scratch name adds to the case name (`qcow2-…-overlay.qcow2`)."""
    longest = max(len(p.format(format="qcow2", case="", ext="qcow2")) for _, p in IMAGES)
    return longest


SCHEMA = Schema(
    keys=frozenset({"size", "backing", "flags"}),
    formats=frozenset({"qcow2"}),
    build=_build,
    name_room=_room(),
)
