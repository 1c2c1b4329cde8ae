"""The commit case schema: `[[case]]` tables of curated_cases/commit.toml.

[[case]]
format = "vmdk"
name = "1M-seeded-explicit"
size = "1M"              # the base's and the overlay's size
explicit_base = true     # commit -b base.vmdk (default: false, commit finds the base)
seed = "64k"             # qemu-io writes 0xab over the overlay's first 64k (default: none)
base_writes = [[0xaa, 0, 65536]]        # data qemu-io writes into the base (default: none)
overlay_writes = [[0xcc, 65536, 4096]]  # ... into the overlay, after the seed
                                        # (schemas/chain.py: the rules of a write)
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.schema_fields import Bad, Schema, flag, size
from toolkit.baseline.schemas.chain import image_size, writes
from toolkit.model.commands.commit import WRITES
from toolkit.model.sizes import parse_size

__all__ = ["SCHEMA"]


def _build(entry: dict[str, Any], bad: Bad) -> dict[str, Any]:
    start = image_size(entry, "size", bad)
    seed = size(entry, "seed", bad, required=False)
    if seed is not None and start is not None and parse_size(seed) > parse_size(start):
        bad(f"seed {seed!r} writes past the end of the {start} overlay; keep it within size")
    explicit = flag(entry, "explicit_base", bad)
    params: dict[str, Any] = {"explicit_base": explicit, "seed": seed}
    params.update({key: writes(entry, key, start, bad) for key in WRITES})
    return {"start_size": start or "", "params": params}


SCHEMA = Schema(
    keys=frozenset({"size", "explicit_base", "seed", *WRITES}),
    formats=frozenset({"qcow2", "vmdk"}),
    build=_build,
)
