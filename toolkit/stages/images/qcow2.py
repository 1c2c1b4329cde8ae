"""Byte patches of qcow2 images: fixed snapshot dates, and the documented corruptions.

Every offset comes from the image's own header (docs/interop/qcow2.txt in qemu's source,
"Header", "Host cluster management", "Cluster mapping", "Snapshots"); all integers are
big-endian:

  header   4 version, 20 cluster_bits, 36 l1_size, 40 l1_table_offset,
           48 refcount_table_offset, 60 nb_snapshots, 64 snapshots_offset;
           v3 only: 72 incompatible_features (bit 4: extended L2 entries),
           96 refcount_order (v2: refcount_order is 4, 16-bit refcounts)
  L1/L2    an entry's host offset is bits 9-55; an L2 entry is 8 bytes (16 with
           extended L2, the first 8 as usual); L2 bit 62: compressed cluster
  refcount the table holds 8-byte offsets of refcount blocks (bits 9-63); a block is one
           cluster of refcount_bits-wide entries
  snapshot table entry: 0 l1_table_offset, 8 l1_size, 12 id_str_size (2), 14 name_size
           (2), 16 date_sec (4), 20 date_nsec (4), 24 vm_clock_nsec (8), 32 vm_state_size
           (4), 36 extra_data_size (4), 40 extra data (first 8 bytes, when present:
           vm_state_size_large), then the id and the name, padded to 8 bytes

qcow2 holds no checksum, so a patch is the field alone.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from toolkit.model.errors import ToolkitFailure

__all__ = [
    "SNAPSHOT_EPOCH",
    "VMSTATE_CLOCK_NS",
    "VMSTATE_SIZE",
    "Header",
    "fix_snapshot_dates",
    "patch_leak",
    "patch_refcount",
    "patch_vmstate",
    "read_header",
]

# `qemu-img snapshot -c` stamps the host's clock into date_sec/date_nsec; the corpus
# writes 2024-01-01 00:00:00 UTC plus one second per snapshot (table order), nsec 0.
SNAPSHOT_EPOCH = 1704067200
# The vmstate patch: 3.5 MiB of VM state, a VM clock of 01:02:03.456.
VMSTATE_SIZE = 3584 * 1024
VMSTATE_CLOCK_NS = 3723456 * 1000000
_OFFSET_MASK = 0x00FFFFFFFFFFFE00
_COMPRESSED = 1 << 62


@dataclass(frozen=True)
class Header:
    version: int
    cluster_size: int
    l1_size: int
    l1_offset: int
    refcount_table_offset: int
    nb_snapshots: int
    snapshots_offset: int
    refcount_bits: int
    l2_entry_size: int


def read_header(data: bytes) -> Header:
    if data[:4] != b"QFI\xfb":
        raise ToolkitFailure("not a qcow2 image (no QFI\\xfb magic)")
    version, cluster_bits = (
        struct.unpack_from(">I", data, 4)[0],
        struct.unpack_from(">I", data, 20)[0],
    )
    l1_size, l1_offset, rt_offset = struct.unpack_from(">IQQ", data, 36)
    nb_snapshots, snapshots_offset = struct.unpack_from(">IQ", data, 60)
    refcount_order, extended = 4, False
    if version >= 3:
        extended = bool(struct.unpack_from(">Q", data, 72)[0] & (1 << 4))
        refcount_order = struct.unpack_from(">I", data, 96)[0]
    return Header(
        version, 1 << cluster_bits, l1_size, l1_offset, rt_offset, nb_snapshots,
        snapshots_offset, 1 << refcount_order, 16 if extended else 8,
    )  # fmt: skip


def _u64(fh: int, offset: int) -> int:
    value: int = struct.unpack(">Q", os.pread(fh, 8, offset))[0]
    return value


def _snapshot_entries(fh: int, h: Header) -> list[int]:
    """The file offset of each snapshot table entry, in table order."""
    offsets, pos = [], h.snapshots_offset
    for _ in range(h.nb_snapshots):
        fixed = os.pread(fh, 40, pos)
        id_size, name_size = struct.unpack_from(">HH", fixed, 12)
        extra = struct.unpack_from(">I", fixed, 36)[0]
        offsets.append(pos)
        size = 40 + extra + id_size + name_size
        pos += size + (-size % 8)
    return offsets


def fix_snapshot_dates(path: Path) -> int:
    """date_sec := SNAPSHOT_EPOCH + table index, date_nsec := 0. Returns the count."""
    with open(path, "r+b") as f:
        fh = f.fileno()
        h = read_header(os.pread(fh, 104, 0))
        entries = _snapshot_entries(fh, h)
        for index, pos in enumerate(entries):
            os.pwrite(fh, struct.pack(">II", SNAPSHOT_EPOCH + index, 0), pos + 16)
    return len(entries)


def patch_vmstate(path: Path) -> None:
    """The first snapshot claims VMSTATE_SIZE bytes of VM state and a VM clock. qemu-img
    cannot save a VM state (that needs a running VM's savevm): no state data exists."""
    with open(path, "r+b") as f:
        fh = f.fileno()
        h = read_header(os.pread(fh, 104, 0))
        entries = _snapshot_entries(fh, h)
        if not entries:
            raise ToolkitFailure(f"{path.name}: the vmstate patch needs a snapshot")
        pos = entries[0]
        os.pwrite(fh, struct.pack(">Q", VMSTATE_CLOCK_NS), pos + 24)
        os.pwrite(fh, struct.pack(">I", VMSTATE_SIZE), pos + 32)
        if struct.unpack(">I", os.pread(fh, 4, pos + 36))[0] >= 8:
            os.pwrite(fh, struct.pack(">Q", VMSTATE_SIZE), pos + 40)


def _refcount_slot(fh: int, h: Header, cluster: int) -> int:
    """The file offset of `cluster`'s refcount entry (its refcount block must exist)."""
    per_block = h.cluster_size * 8 // h.refcount_bits
    block = _u64(fh, h.refcount_table_offset + 8 * (cluster // per_block)) & ~0x1FF
    if block == 0:
        raise ToolkitFailure(f"no refcount block covers cluster {cluster}")
    return block + (cluster % per_block) * h.refcount_bits // 8


def _set_refcount(fh: int, h: Header, cluster: int, value: int) -> None:
    width = h.refcount_bits // 8
    os.pwrite(fh, value.to_bytes(width, "big"), _refcount_slot(fh, h, cluster))


def patch_leak(path: Path) -> int:
    """Append one cluster (a hole) past the end and give it refcount 1: allocated, never
    referenced, as a crash between allocation and use leaves it. Returns its index."""
    with open(path, "r+b") as f:
        fh = f.fileno()
        h = read_header(os.pread(fh, 104, 0))
        end = os.fstat(fh).st_size
        cluster = -(-end // h.cluster_size)
        os.ftruncate(fh, (cluster + 1) * h.cluster_size)
        _set_refcount(fh, h, cluster, 1)
    return cluster


def first_data_cluster(fh: int, h: Header) -> int:
    """The host cluster index of the first allocated, uncompressed guest cluster."""
    for i in range(h.l1_size):
        l2 = _u64(fh, h.l1_offset + 8 * i) & _OFFSET_MASK
        if not l2:
            continue
        table = os.pread(fh, h.cluster_size, l2)
        for pos in range(0, len(table), h.l2_entry_size):
            entry: int = struct.unpack_from(">Q", table, pos)[0]
            if entry & _OFFSET_MASK and not entry & _COMPRESSED:
                return (entry & _OFFSET_MASK) // h.cluster_size
    raise ToolkitFailure("no allocated data cluster to corrupt: write data first")


def patch_refcount(path: Path) -> int:
    """Set the first data cluster's refcount to 0 while its L2 entry still uses it.
    Returns its index."""
    with open(path, "r+b") as f:
        fh = f.fileno()
        h = read_header(os.pread(fh, 104, 0))
        cluster = first_data_cluster(fh, h)
        _set_refcount(fh, h, cluster, 0)
    return cluster
