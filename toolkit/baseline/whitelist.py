"""The divergence whitelist (toolkit/data/whitelist.toml), shared by verify, drift and fuzz.

`mask(info, fmt)` replaces every whitelisted value in a parsed info JSON by
MASKED, so two documents that differ only in whitelisted places compare equal
and a whitelisted key that appears or disappears still shows as a change.
An entry with `drop = true` is for a key whose very presence depends on the
host (e.g. `extent-size-hint`): mask removes the key instead, so it may come and go.

`mask_text(text)` does the same for human (text) output: each `[[text]]` entry is a
pattern over its lines whose first group is kept and the rest masked (`disk size: ` ...).

An entry's `formats` are directory names (`vhd`); a type over the image corpus groups by
qemu's driver name (`vpc`), which matches the entries of its format too.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any

from toolkit.model.formats import FORMATS
from toolkit.model.resources import data_text

__all__ = [
    "MASKED",
    "Entry",
    "TextEntry",
    "entries",
    "mask",
    "mask_text",
    "matching_entry",
    "text_entries",
]

MASKED = "<whitelisted>"


@dataclass(frozen=True)
class Entry:
    id: str
    path: tuple[str, ...]
    formats: frozenset[str]  # empty = every format
    reason: str
    drop: bool = False  # remove the key (its presence is volatile) instead of masking its value

    def applies_to(self, fmt: str) -> bool:
        return not self.formats or fmt in self.formats or _name_of(fmt) in self.formats


def _name_of(driver: str) -> str:
    """The directory name of a qemu driver name (`vpc` -> `vhd`); other names as they are."""
    return next((f.name for f in FORMATS.values() if f.driver == driver), driver)


@dataclass(frozen=True)
class TextEntry:
    id: str
    pattern: re.Pattern[str]  # its first group is kept, the rest of the match masked
    reason: str


@cache
def entries() -> tuple[Entry, ...]:
    data = tomllib.loads(data_text("whitelist.toml"))
    return tuple(
        Entry(
            e["id"],
            tuple(e["path"].split("/")),
            frozenset(e.get("formats", [])),
            e["reason"],
            bool(e.get("drop", False)),
        )
        for e in data["entry"]
    )


@cache
def text_entries() -> tuple[TextEntry, ...]:
    data = tomllib.loads(data_text("whitelist.toml"))
    return tuple(
        TextEntry(e["id"], re.compile(e["pattern"], re.MULTILINE), e["reason"])
        for e in data.get("text", [])
    )


def mask_text(text: str) -> str:
    """`text` with every whitelisted part of a line replaced by MASKED."""
    for e in text_entries():
        text = e.pattern.sub(lambda m: m.group(1) + MASKED, text)
    return text


def _mask_path(node: Any, path: tuple[str, ...], drop: bool) -> Any:
    if not path:
        return MASKED
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        if drop and not rest:
            return {k: v for k, v in node.items() if not fnmatch.fnmatchcase(k, head)}
        return {
            k: _mask_path(v, rest, drop) if fnmatch.fnmatchcase(k, head) else v
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [
            _mask_path(v, rest, drop) if head == "*" or head == str(i) else v
            for i, v in enumerate(node)
        ]
    return node


def mask(info: Any, fmt: str) -> Any:
    """A copy of `info` with every whitelisted value replaced by MASKED (or dropped)."""
    for e in entries():
        if e.applies_to(fmt):
            info = _mask_path(info, e.path, e.drop)
    return info


def matching_entry(path: list[str | int], fmt: str) -> Entry | None:
    """The entry that covers a concrete path (keys/indices from the root), if any."""
    for e in entries():
        if not e.applies_to(fmt) or len(e.path) != len(path):
            continue
        if all(fnmatch.fnmatchcase(str(p), pat) for p, pat in zip(path, e.path, strict=True)):
            return e
    return None
