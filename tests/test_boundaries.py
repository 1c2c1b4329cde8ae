"""The version boundaries the consumer gates its output on (instar docs/testing.md, consumer.md
section 12), as the committed tree shows them across our seven builds: every version below
the boundary shows the old behaviour, every one from it the new, and the consumer's boundary
lies between the last old and the first new of ours (README: Inspection outputs).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Build

from toolkit.model.versions import version_key

TREE = Path(__file__).resolve().parent.parent / "expected-outputs"


def _versions(output_type: str) -> list[str]:
    return sorted(json.loads((TREE / output_type / "versions.json").read_text()), key=version_key)


def _stdouts(output_type: str, version: str, ids: set[str] | None = None) -> list[str]:
    """The stdout of every image that answered 0 in `version` (or of `ids`)."""
    out = []
    for meta in sorted((TREE / output_type).glob(f"*/{version}/*.meta.json")):
        image_id = meta.name.removesuffix(".meta.json")
        if (ids is None or image_id in ids) and json.loads(meta.read_text())["return_code"] == 0:
            out.append(meta.with_name(f"{image_id}.stdout.txt").read_text())
    return out


def _map_key(key: str) -> Callable[[str], bool]:
    return lambda text: all(f'"{key}":' in line for line in text.splitlines())


def _new_snapshot_columns(text: str) -> bool:
    header = text.splitlines()[1] if text.count("\n") > 1 else ""
    assert header.split() in (
        ["ID", "TAG", "VM", "SIZE", "DATE", "VM", "CLOCK", "ICOUNT"],
        ["ID", "TAG", "VM_SIZE", "DATE", "VM_CLOCK", "ICOUNT"],
    )
    return "VM_SIZE" in header


def _footer_size(text: str) -> bool:
    """vhd-foreign-creator read by the size its footer holds, not its CHS geometry's."""
    size = json.loads(text)["virtual-size"]
    assert size in (1048576, 1079296)
    return size == 1048576


# name, output type, images looked at (None: every one that answered 0), the test of the
# new behaviour, the consumer's boundary, and ours: (last version without, first with).
BOUNDARIES = [
    ("map-json `present`", "map-json", None, _map_key("present"), "6.1.0", ("5.2.0", "7.2.18")),
    ("map-json `compressed`", "map-json", None, _map_key("compressed"), "8.2.0",
     ("7.2.22", "10.0.2")),
    ("snapshot -l columns", "snapshot-list-human", None, _new_snapshot_columns, "9.0.0",
     ("7.2.22", "10.0.2")),
    ("vhd reader rule", "qemu-img-json", {"vhd-foreign-creator"}, _footer_size, "10.0.0",
     ("7.2.22", "10.0.2")),
]  # fmt: skip


@pytest.mark.parametrize(("name", "output_type", "ids", "new", "theirs", "ours"), BOUNDARIES,
                         ids=[b[0] for b in BOUNDARIES])  # fmt: skip
def test_each_boundary_shows_where_the_consumer_puts_it(
    name: str,
    output_type: str,
    ids: set[str] | None,
    new: Callable[[str], bool],
    theirs: str,
    ours: tuple[str, str],
) -> None:
    shows: dict[str, bool] = {}
    for version in _versions(output_type):
        seen = {new(text) for text in _stdouts(output_type, version, ids) if text.strip()}
        assert len(seen) == 1, f"{name}: {version} shows both behaviours"
        shows[version] = seen.pop()
    old = [v for v, s in shows.items() if not s]
    now = [v for v, s in shows.items() if s]
    assert old and now, f"{name}: no boundary in our builds ({shows})"
    assert version_key(old[-1]) < version_key(now[0]), f"{name}: not one boundary ({shows})"
    assert (old[-1], now[0]) == ours
    assert version_key(old[-1]) < version_key(theirs) <= version_key(now[0])


@pytest.mark.qemu
def test_the_creator_patch_writes_the_footer_the_rule_reads(corpus_build: Build) -> None:
    """vhd-foreign-creator's footer (and its copy at 0): an unknown creator, the size asked
    for where qemu-img wrote its geometry's, a checksum that holds."""
    data = (corpus_build.root / "vhd" / "vhd-foreign-creator.vhd").read_bytes()
    for footer in (data[-512:], data[:512]):
        assert footer[:8] == b"conectix" and footer[28:32] == b"tstr"
        assert struct.unpack(">QQ", footer[40:56]) == (1048576, 1048576)
        cyls, heads, sectors = struct.unpack(">HBB", footer[56:60])
        assert cyls * heads * sectors * 512 == 1079296
        blank = footer[:64] + b"\0\0\0\0" + footer[68:]
        assert struct.unpack(">I", footer[64:68])[0] == ~sum(blank) & 0xFFFFFFFF
