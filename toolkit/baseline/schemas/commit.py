"""The commit case schema: `[[case]]` tables of curated_cases/commit.toml.

[[case]]
format = "vmdk"
name = "1M-seeded-explicit"
size = "1M"              # the base's and the overlay's size
explicit_base = true     # commit -b base.vmdk (default: false, commit finds the base)
seed = "64k"             # qemu-io writes 0xab over the overlay's first 64k (default: none)
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.schema_fields import Bad, Schema, flag, size
from toolkit.baseline.schemas.chain import image_size
from toolkit.model.sizes import parse_size

__all__ = ["SCHEMA"]


def _build(entry: dict[str, Any], bad: Bad) -> dict[str, Any]:
    start = image_size(entry, "size", bad)
    seed = size(entry, "seed", bad, required=False)
    if seed is not None and start is not None and parse_size(seed) > parse_size(start):
        bad(f"seed {seed!r} writes past the end of the {start} overlay; keep it within size")
    explicit = flag(entry, "explicit_base", bad)
    return {"start_size": start or "", "params": {"explicit_base": explicit, "seed": seed}}


SCHEMA = Schema(
    keys=frozenset({"size", "explicit_base", "seed"}),
    formats=frozenset({"qcow2", "vmdk"}),
    build=_build,
)
