"""Byte patches that make vmdk, vpc and vhdx images the same on every build.

qemu-img writes random or clock-derived fields into these formats (found by building
twice and comparing bytes). Each is rewritten to a value derived from the image's id
(`fixed_uuid`), and any checksum over it recomputed:

* vmdk (VMware "Virtual Disk Format 1.1", hosted sparse extent header: little-endian
  descriptorOffset at byte 28, descriptorSize at 36, both in sectors): the embedded
  descriptor's `CID=` line holds a random 32-bit content id. No checksum.
* vpc (Microsoft "Virtual Hard Disk Image Format Specification" 1.0, "Hard Disk Footer
  Format"): Time Stamp (offset 24, 4 bytes, seconds since 2000-01-01 UTC), Unique Id (68,
  16 bytes, random), and Checksum (64, 4 bytes: the ones' complement of the sum of every
  footer byte, the checksum field taken as 0). The footer is the file's last 512 bytes;
  a dynamic disk keeps a copy at offset 0. All big-endian. The documented `creator`
  patch (not a determinism patch) also rewrites Creator Application (28, 4 bytes), Original
  Size (40, 8) and Current Size (48, 8): `patch_vpc_creator`.
* vhdx ([MS-VHDX] "Virtual Hard Disk v2 (VHDX) File Format"): both headers (2.2.2, at
  64 KiB and 128 KiB, 4 KiB each) hold SequenceNumber (8, 8 bytes; qemu starts it at a
  random value, and the header with the larger one is current), FileWriteGuid (16) and
  DataWriteGuid (32), random per open for writing, and LogGuid (48); their Checksum (4)
  is CRC-32C over the 4 KiB with the field zeroed. The log (2.3, at the header's
  LogOffset (72), LogLength (68) bytes) keeps each entry written, even once applied: an
  entry header (2.3.1.1) has Signature "loge", Checksum (4, CRC-32C over EntryLength (8)
  bytes) and LogGuid (32, random per log). The metadata region (2.6, found through the
  region table at 192 KiB, 2.2.3) holds the Page 83 Data item (2.6.2.6), a random
  virtual disk id, under no checksum. All little-endian; GUIDs in Microsoft's
  mixed-endian layout (uuid.bytes_le).
"""

from __future__ import annotations

import os
import re
import struct
import uuid
from pathlib import Path

from toolkit.model.errors import ToolkitFailure

__all__ = [
    "FOREIGN_CREATOR",
    "VHD_EPOCH",
    "crc32c",
    "fix_vhdx",
    "fix_vmdk",
    "fix_vpc",
    "fixed_uuid",
    "patch_vpc_creator",
]

# 2024-01-01 00:00:00 UTC in the VHD clock (seconds since 2000-01-01 00:00:00 UTC).
VHD_EPOCH = 1704067200 - 946684800
_NAMESPACE = uuid.UUID("6f1c1d52-3b8e-4c2a-9d0e-5a4b7c3e2f10")  # the corpus's own
_CID = re.compile(rb"^CID=[0-9a-fA-F]+$", re.MULTILINE)
_METADATA_REGION = uuid.UUID("8b7ca206-4790-4b9a-b8fe-575f050f886e").bytes_le
_PAGE83_ITEM = uuid.UUID("beca12ab-b2e6-4523-93ef-c309e000c746").bytes_le
_KIB = 1024
# A Creator Application qemu's vpc driver does not know (it knows "vpc ", "win ", "qemu",
# "qem2", "d2v ", "CTXS", "tap"): before 10.0 it then takes the size from the CHS
# geometry, from 10.0 from Current Size.
FOREIGN_CREATOR = b"tstr"


def fixed_uuid(image_id: str, field: str) -> uuid.UUID:
    """The value a random field of image `image_id` gets: the same on every build."""
    return uuid.uuid5(_NAMESPACE, f"{image_id}/{field}")


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as VHDX checksums use."""
    crc = 0xFFFFFFFF
    table = _CRC32C
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def fix_vmdk(path: Path, image_id: str) -> None:
    """CID := 8 hex digits of fixed_uuid(id, "cid") (never ffffffff, qemu's "none")."""
    with open(path, "r+b") as f:
        fh = f.fileno()
        header = os.pread(fh, 44, 0)
        if header[:4] != b"KDMV":
            raise ToolkitFailure(f"{path.name}: no KDMV sparse extent header")
        start, sectors = struct.unpack_from("<QQ", header, 28)
        area = os.pread(fh, sectors * 512, start * 512)
        text = area.split(b"\0", 1)[0]
        cid = fixed_uuid(image_id, "cid").int & 0x7FFFFFFF
        new, count = _CID.subn(b"CID=%08x" % cid, text)
        if count != 1 or len(new) >= len(area):
            raise ToolkitFailure(f"{path.name}: expected one CID= line in its descriptor")
        os.pwrite(fh, new + b"\0" * (len(area) - len(new)), start * 512)


def _vpc_footer(footer: bytes, image_id: str) -> bytes:
    out = bytearray(footer)
    out[24:28] = struct.pack(">I", VHD_EPOCH)
    out[68:84] = fixed_uuid(image_id, "unique-id").bytes
    return _with_checksum(out)


def _with_checksum(footer: bytearray) -> bytes:
    footer[64:68] = b"\0\0\0\0"
    footer[64:68] = struct.pack(">I", ~sum(footer) & 0xFFFFFFFF)
    return bytes(footer)


def patch_vpc_creator(path: Path, size: int) -> None:
    """The `creator` patch: every footer copy names FOREIGN_CREATOR and holds `size` (the
    size the data asked for) as Original and Current Size, where qemu-img wrote the size of
    its CHS geometry; the checksum recomputed."""
    with open(path, "r+b") as f:
        fh = f.fileno()
        ends = [os.fstat(fh).st_size - 512, 0]
        for at in ends if os.pread(fh, 8, 0) == b"conectix" else ends[:1]:
            footer = bytearray(os.pread(fh, 512, at))
            footer[28:32] = FOREIGN_CREATOR
            footer[40:56] = struct.pack(">QQ", size, size)
            os.pwrite(fh, _with_checksum(footer), at)


def fix_vpc(path: Path, image_id: str) -> None:
    """Footer (and a dynamic disk's copy at 0): fixed Time Stamp and Unique Id."""
    with open(path, "r+b") as f:
        fh = f.fileno()
        end = os.fstat(fh).st_size - 512
        footer = os.pread(fh, 512, end)
        if footer[:8] != b"conectix":
            raise ToolkitFailure(f"{path.name}: no vhd footer (conectix) in its last 512 bytes")
        fixed = _vpc_footer(footer, image_id)
        os.pwrite(fh, fixed, end)
        if os.pread(fh, 8, 0) == b"conectix":
            os.pwrite(fh, _vpc_footer(os.pread(fh, 512, 0), image_id), 0)


def _put_guid_crc(block: bytearray, fields: dict[int, bytes], crc_at: int = 4) -> bytes:
    for offset, value in fields.items():
        block[offset : offset + 16] = value
    block[crc_at : crc_at + 4] = b"\0\0\0\0"
    block[crc_at : crc_at + 4] = struct.pack("<I", crc32c(bytes(block)))
    return bytes(block)


def fix_vhdx(path: Path, image_id: str) -> None:
    """Fixed GUIDs in both headers, every log entry and the Page 83 Data item."""
    log_guid = fixed_uuid(image_id, "log").bytes_le
    with open(path, "r+b") as f:
        fh = f.fileno()
        headers = {at: bytearray(os.pread(fh, 4 * _KIB, at)) for at in (64 * _KIB, 128 * _KIB)}
        if any(h[:4] != b"head" for h in headers.values()):
            raise ToolkitFailure(f"{path.name}: no vhdx headers at 64 KiB and 128 KiB")
        first = min(struct.unpack_from("<Q", h, 8)[0] for h in headers.values())
        for at, header in headers.items():
            # The sequence numbers start at a random value; the larger one marks the current
            # header, so both move down by the same amount: the smaller becomes 1.
            sequence = struct.unpack_from("<Q", header, 8)[0] - first + 1
            header[8:16] = struct.pack("<Q", sequence)
            fields = {
                16: fixed_uuid(image_id, "file-write").bytes_le,
                32: fixed_uuid(image_id, "data-write").bytes_le,
            }
            if any(header[48:64]):  # a log to replay keeps its (now fixed) GUID
                fields[48] = log_guid
            os.pwrite(fh, _put_guid_crc(header, fields), at)
            log_length, log_offset = struct.unpack_from("<IQ", header, 68)
        _fix_log(fh, log_offset, log_length, log_guid)
        _fix_page83(fh, path, fixed_uuid(image_id, "page83").bytes_le)


def _fix_log(fh: int, offset: int, length: int, guid: bytes) -> None:
    pos = 0
    while pos < length:
        head = os.pread(fh, 16, offset + pos)
        entry_length = struct.unpack_from("<I", head, 8)[0] if head[:4] == b"loge" else 0
        if not entry_length or entry_length % (4 * _KIB) or pos + entry_length > length:
            pos += 4 * _KIB
            continue
        entry = bytearray(os.pread(fh, entry_length, offset + pos))
        stored = struct.unpack_from("<I", entry, 4)[0]
        check = bytearray(entry)
        check[4:8] = b"\0\0\0\0"
        if crc32c(bytes(check)) == stored:  # a whole entry: rewrite it with the fixed GUID
            os.pwrite(fh, _put_guid_crc(entry, {32: guid}), offset + pos)
        pos += entry_length


def _fix_page83(fh: int, path: Path, value: bytes) -> None:
    regions = os.pread(fh, 64 * _KIB, 192 * _KIB)
    count = struct.unpack_from("<I", regions, 8)[0] if regions[:4] == b"regi" else 0
    for i in range(count):
        guid, region, _length = struct.unpack_from("<16sQI", regions, 16 + 32 * i)
        if guid != _METADATA_REGION:
            continue
        table = os.pread(fh, 64 * _KIB, region)
        items = struct.unpack_from("<H", table, 10)[0] if table[:8] == b"metadata" else 0
        for j in range(items):
            item, item_offset, item_length = struct.unpack_from("<16sII", table, 32 + 32 * j)
            if item == _PAGE83_ITEM and item_length == 16:
                os.pwrite(fh, value, region + item_offset)
                return
    raise ToolkitFailure(f"{path.name}: no Page 83 Data item in the vhdx metadata region")
