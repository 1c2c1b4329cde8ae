"""Disk economy: how large a case may make an image, checked before anything runs.

A full pass of every version must stay small on disk and in the scratch directory
(the plan's 100 MiB peak), so a case may not ask qemu-img for more than its cap.
"""

from __future__ import annotations

from collections.abc import Callable

from toolkit.model.formats import split_option_string

__all__ = ["CAP_DEFAULT", "CAP_MATERIALISED", "check_caps"]

MIB = 1024 * 1024
CAP_DEFAULT = 256 * MIB  # keeps a full pass of every version small on disk
CAP_MATERIALISED = 4 * MIB  # falloc/full preallocation and fixed vhd write every byte


def check_caps(
    fmt: object,
    options: list[str],
    prealloc: str | None,
    start: int,
    final: int | None,
    bad: Callable[[str], None],
) -> None:
    opts = {k: v for text in options for k, v in split_option_string(text)}
    sizes = [("start", start)]
    # A negative final size is a legitimate rejection case for qemu-img to record: only
    # the final size is exempt from the cap then, never the start, which create writes.
    if final is not None and final >= 0:
        sizes.append(("final size", final))
    materialised = (
        prealloc in ("falloc", "full")
        or opts.get("preallocation") in ("falloc", "full")
        or (fmt == "vhd" and opts.get("subformat") == "fixed")
    )
    if fmt == "vhdx" and start == 0:
        bad(
            "a 0-byte vhdx start is refused: qemu-img then writes 8 whole blocks (64M by "
            "default, 2G with block_size=256M); start at 1 byte or more"
        )
    cap = CAP_MATERIALISED if materialised else CAP_DEFAULT
    why = "preallocated or fixed images write every byte" if materialised else "disk economy"
    for label, value in sizes:
        if value > cap:
            bad(f"{label} {value} bytes exceeds the {cap // MIB}M cap ({why}); use a smaller size")
