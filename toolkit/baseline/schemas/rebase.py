"""The rebase case schema: `[[case]]` tables of curated_cases/rebase.toml.

[[case]]
format = "qcow2"
name = "1M-unsafe-to-larger-parent"
size = "1M"                    # the base's and the overlay's size
backing = "64M"                # the new backing file's size; absent: detach (-b '')
flags = ["-u", "-F", "qcow2"]  # rebase's own flags, in order (default: none)
base_writes = [[0xaa, 0, 65536]]   # data qemu-io writes into the base (default: none)
next_writes = [[0xbb, 0, 512]]     # ... into the new backing file (needs `backing`)
overlay_writes = [[0xcc, 65536, 4096]]  # ... into the overlay (schemas/chain.py: the rules)

The harness's cases are qcow2; vmdk is taken too: qemu-img makes a vmdk overlay, and
every version we record refuses to rebase it (`Operation not supported`), a refusal a
compatible tool must make too (fuzz explores it).
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.schema_fields import Bad, Schema, words
from toolkit.baseline.schemas.chain import image_size, writes
from toolkit.model.commands.rebase import IMAGES, WRITES
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
    params: dict[str, Any] = {"backing": backing, "flags": _flags(entry, bad)}
    params["base_writes"] = writes(entry, "base_writes", start, bad)
    params["overlay_writes"] = writes(entry, "overlay_writes", start, bad)
    if "next_writes" in entry and "backing" not in entry:
        bad("next_writes: the case detaches (no `backing`), so there is no new backing file "
            "to write; remove next_writes or add a backing size")  # fmt: skip
    params["next_writes"] = writes(entry, "next_writes", backing, bad)
    return {"start_size": start or "", "params": params}


def _room() -> int:
    """Bytes the longest scratch name adds to the case name (`qcow2-…-overlay.qcow2`)."""
    longest = max(len(p.format(format="qcow2", case="", ext="qcow2")) for _, p in IMAGES)
    return longest


SCHEMA = Schema(
    keys=frozenset({"size", "backing", "flags", *WRITES}),
    formats=frozenset({"qcow2", "vmdk"}),
    build=_build,
    name_room=_room(),
)
