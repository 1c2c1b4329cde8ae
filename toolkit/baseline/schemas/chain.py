"""What the rebase and commit case schemas share: an image size under its format's cap."""

from __future__ import annotations

from typing import Any

from toolkit.baseline.caps import check_caps
from toolkit.baseline.schema_fields import Bad, size
from toolkit.model.sizes import parse_size

__all__ = ["image_size"]


def image_size(entry: dict[str, Any], key: str, bad: Bad, required: bool = True) -> str | None:
    """A size qemu-img accepts for an image of a backing chain, within its format's cap
    (each image is created sparse, without -o options: toolkit.baseline.caps)."""
    text = size(entry, key, bad, required)
    if text is not None:
        check_caps(entry.get("format"), [], None, parse_size(text), None,
                   lambda why: bad(f"{key}: {why}"))  # fmt: skip
    return text
