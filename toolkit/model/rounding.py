"""How qemu-img rounds sizes: whole 512-byte sectors, and vhd's CHS geometry.

Checked on qemu-img 5.2.0, 7.2.22, 10.0.2, 10.0.13, 11.1.2 and 11.1.3 (all behave the same):

* create rounds every size up to a multiple of 512 first (raw `create 1000` writes a
  1024-byte file; qcow2, vhdx, vmdk, vpc with force_size=on report 1024).
* vpc (vhd) without force_size=on then grows the sector count until a CHS geometry
  covers it (VHD spec / block/vpc.c calculate_geometry: 17, 31 or 63 sectors per track,
  4..16 heads), so `create 1M` reports 1079296 (31 x 4 x 17 sectors) and `create 34916`
  reports 69632. Size 0 stays 0. The search only ever adds sectors, so the result is
  never below the 512-rounded size (and stays within a few cylinders of it).
* vpc subformat=fixed reports 512 bytes more than the dynamic image of the same size,
  with or without force_size: its virtual-size is the file length, footer included
  (`create -o subformat=fixed 1M`: file and virtual-size 1079808).
* qcow2 resize rejects a final size that is not a multiple of 512 ("The new size must be
  a multiple of 512"); an accepted resize reports the final size exactly.
* raw resize sets the file length to the final size exactly (growing an empty file to
  less than 512 bytes leaves 512: file-posix allocates the first block), and `info`
  reports the length rounded up to 512 (e.g. resize to +1 from 1M: length 1048577,
  virtual-size 1049088).
* vmdk, vhd and vhdx do not support resize on any version we have; a compatible tool
  that resizes them is held to what `create` of the final size would report.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.model.formats import split_option_string

__all__ = ["SECTOR", "created_size", "resized_size", "round_up"]

SECTOR = 512
VHD_MAX_GEOMETRY = 65535 * 16 * 255


def round_up(n: int, to: int = SECTOR) -> int:
    """`n` rounded up to a multiple of `to` (a whole sector by default)."""
    return -(-n // to) * to


def _geometry(sectors: int) -> int:
    """cylinders x heads x sectors-per-track that block/vpc.c picks for `sectors`."""
    sectors = min(sectors, VHD_MAX_GEOMETRY)
    if sectors >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = sectors // spt
    else:
        spt = 17
        cth = sectors // spt
        heads = max(-(-cth // 1024), 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = sectors // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = sectors // spt
    return (cth // heads) * heads * spt


def created_size(fmt: str, options: Sequence[str], size: int) -> int:
    """The virtual size `create` gives `size` bytes (rules in the module docstring)."""
    sectors = round_up(size) // SECTOR
    opts = {k: v for text in options for k, v in split_option_string(text)}
    if fmt != "vhd":
        return sectors * SECTOR
    if opts.get("force_size") != "on" and sectors:
        total, i, chs = min(VHD_MAX_GEOMETRY, sectors), 0, 0
        while total > chs:
            chs = _geometry(total + i)
            i += 1
        sectors = sectors if chs == VHD_MAX_GEOMETRY else chs
    footer = SECTOR if opts.get("subformat") == "fixed" else 0  # info counts a fixed footer
    return sectors * SECTOR + footer


def resized_size(fmt: str, options: Sequence[str], final: int) -> int:
    """The virtual size info reports after a successful resize to `final` bytes."""
    if fmt == "qcow2":
        return final  # anything but a multiple of 512 must have been rejected
    return created_size(fmt, options, final)  # raw: the length rounded up to a sector
