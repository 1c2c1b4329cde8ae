"""`qemu-img info --output=json` output, parsed in one place for every stage."""

from __future__ import annotations

import json
from typing import Any

from toolkit.model.safe_io import parse_json

__all__ = ["info_object", "parse_info"]


def parse_info(text: str) -> Any:
    """info's stdout as a value: None when blank, the JSON value, else the text itself (so
    too JSON nested deeper than any info prints: see safe_io.parse_json)."""
    if not text.strip():
        return None
    try:
        return parse_json(text)
    except json.JSONDecodeError:
        return text


def info_object(text: str) -> dict[str, Any] | None:
    """The JSON object info printed, or None (blank, not JSON, or not an object)."""
    value = parse_info(text)
    return value if isinstance(value, dict) else None
