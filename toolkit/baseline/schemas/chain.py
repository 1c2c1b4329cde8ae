"""What the rebase and commit case schemas share: an image size under its format's cap, and
the data a case writes into an image of its chain.

    base_writes = [[0xaa, 0, 65536], [0xa1, 786432, 512]]   # [pattern, offset, length]

Each write is qemu-io's `write -P PATTERN OFFSET LENGTH` on that image: a pattern byte
(0..255), an offset and a length in bytes, both multiples of 512 (a sector), the length
at least 512, the write inside the image's size (as the case spells it); at most
MAX_WRITES per image, so a case stays a small, readable thing to replay.
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.caps import check_caps
from toolkit.baseline.schema_fields import Bad, size
from toolkit.model.sizes import SizeError, parse_size

__all__ = ["MAX_WRITES", "SECTOR", "image_size", "writes"]

MAX_WRITES = 8
SECTOR = 512


def image_size(entry: dict[str, Any], key: str, bad: Bad, required: bool = True) -> str | None:
    """A size qemu-img accepts for an image of a backing chain, within its format's cap
    (each image is created sparse, without -o options: toolkit.baseline.caps)."""
    text = size(entry, key, bad, required)
    if text is not None:
        check_caps(entry.get("format"), [], None, parse_size(text), None,
                   lambda why: bad(f"{key}: {why}"))  # fmt: skip
    return text


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def writes(
    entry: dict[str, Any], key: str, image: str | None, bad: Bad
) -> tuple[tuple[int, int, int], ...] | None:
    """`key`'s writes into an image of size `image` (its size text; None: the size is bad
    or absent, and only the writes' own form is checked); None when the key is absent."""
    value = entry.get(key)
    if value is None:
        return None
    shape = f"`{key}` must be a list of [pattern, offset, length] integer triples, e.g. " \
        f"[[0xaa, 0, 65536]]"  # fmt: skip
    if not isinstance(value, list) or not value:
        bad(shape + " (leave the key out for no writes)")
        return None
    if len(value) > MAX_WRITES:
        bad(f"`{key}` has {len(value)} writes; at most {MAX_WRITES} per image")
    end = _size(image)
    out = []
    for n, write in enumerate(value, start=1):
        if not isinstance(write, list) or len(write) != 3 or not all(map(_int, write)):
            bad(f"{shape}; write #{n} is {write!r}")
            continue
        pattern, offset, length = write
        if not 0 <= pattern <= 255:
            bad(f"`{key}` write #{n}: pattern {pattern} is not a byte (0..255, e.g. 0xaa)")
        if offset < 0 or offset % SECTOR or length < SECTOR or length % SECTOR:
            bad(f"`{key}` write #{n}: offset {offset} and length {length} must be multiples "
                f"of {SECTOR} (the length at least {SECTOR}, the offset not negative)")  # fmt: skip
        elif end is not None and offset + length > end:
            bad(f"`{key}` write #{n}: bytes {offset}..{offset + length} end past the image's "
                f"{image} ({end} bytes); keep each write inside it")  # fmt: skip
        out.append((pattern, offset, length))
    return tuple(out)


def _size(text: str | None) -> int | None:
    try:
        return None if text is None else parse_size(text)
    except SizeError:
        return None
