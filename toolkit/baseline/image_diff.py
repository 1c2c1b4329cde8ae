"""What differs between two corpus manifests, one line per difference.

Images and compare pairs are matched by id (a missing, an extra or a changed entry, field
by field); everything else by key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["manifest_diff"]


def manifest_diff(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """What differs, one line each: images and pairs by id, the rest by key path."""
    lines: list[str] = []
    for key in ("images", "compare_pairs"):
        want, got = _by_id(expected.get(key)), _by_id(actual.get(key))
        what = "image" if key == "images" else "compare pair"
        for ident in want.keys() - got.keys():
            lines.append(f"{what} {ident!r} is missing")
        for ident in got.keys() - want.keys():
            lines.append(f"{what} {ident!r} is not in the data")
        for ident in want.keys() & got.keys():
            lines += [f"{what} {ident!r}: {d}" for d in _fields(want[ident], got[ident])]
        if not lines and list(want) != list(got):
            lines.append(f"{key}: the order differs from the data's")
    lines += [f"corpus: {d}" for d in _fields(expected.get("corpus"), actual.get("corpus"))]
    lines += [f"unknown top-level key {k!r}" for k in sorted(set(actual) - set(expected))]
    return sorted(lines)


def _by_id(entries: Any) -> dict[str, Any]:
    if not isinstance(entries, list):
        return {}
    return {str(e.get("id")): e for e in entries if isinstance(e, dict)}


def _fields(want: Any, got: Any) -> list[str]:
    if not isinstance(want, dict) or not isinstance(got, dict):
        return [] if want == got else [f"{_short(got)} (expected {_short(want)})"]
    out = []
    for k in sorted(want.keys() | got.keys()):
        if want.get(k) != got.get(k):
            out.append(f"{k} is {_short(got.get(k))}, expected {_short(want.get(k))}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
