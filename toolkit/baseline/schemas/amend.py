"""amend's `[[case]]` table: the image create makes (`start`, `options`: one `-o` each)
and `amend`, the options qemu-img amend is given (joined into one `-o`).

    [[case]]
    format = "qcow2"
    name = "upgrade-with-lazy"
    start = "1M"
    options = ["compat=0.10"]
    amend = ["compat=1.1,lazy_refcounts=on"]
    writes = [[0xaa, 0, 65536]]   # data qemu-io writes before the amend (default: none;
                                  # schemas/chain.py: the rules)
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.caps import check_options
from toolkit.baseline.schema_fields import Bad, Schema, created_image, words
from toolkit.baseline.schemas.chain import writes

__all__ = ["SCHEMA"]


def build(entry: dict[str, Any], bad: Bad) -> dict[str, Any]:
    fmt = str(entry.get("format"))
    start, options = created_image(entry, fmt, bad)
    amend = words(entry, "amend", bad)
    if not amend and "amend" in entry:
        bad('`amend` must name at least one option, e.g. ["compat=1.1"]')
    elif "amend" not in entry:
        bad('`amend` is required: the options amend changes, e.g. ["lazy_refcounts=on"]')
    # The same allow-list as create's: amend may only change what shapes the image.
    check_options(fmt, list(amend), bad)
    # Each table key in params under its own name (Schema's rule: case_table writes them
    # back); `options` is create_options too, which create reads.
    params = {"options": options, "amend": amend,
              "writes": writes(entry, "writes", start or None, bad)}  # fmt: skip
    return {"start_size": start, "create_options": options, "params": params}


SCHEMA = Schema(
    frozenset({"start", "options", "amend", "writes"}),
    frozenset({"qcow2"}),
    build,
    size_key="start",
)
