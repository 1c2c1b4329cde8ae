"""What a case may ask of qemu-img, checked before anything runs: options that shape the
image only (`check_options`: no host files, secrets or options off a per-format
allow-list), and a size the disk can afford (`check_caps`).

Disk economy:

A full pass of every version must stay small on disk and in the scratch directory
(the plan's 100 MiB peak), so a case may not ask qemu-img for more than its cap. What
an image costs depends on the format and its options, not on its virtual size alone,
so the cap is looked up per format and option (`cap_for`; the first rule that matches
wins). Every cap keeps one case within CASE_BUDGET (16 MiB) allocated in the scratch
directory, so a run's peak is at most CASE_BUDGET per job (32 MiB at -j 2, under 100 MiB
up to -j 6). Bytes allocated (st_blocks) at create and resize, measured on 5.2.0 and
11.1.3 (tests/test_baseline_caps.py checks every rule at its cap on the real binaries):

  falloc/full preallocation   every byte                          -> 4M
  vhd subformat=fixed         a file the full size (plus footer)  -> 16M
  qcow2 preallocation=metadata  an L2 table per cluster_size**2/8 bytes of image, each
                              costing at least a file-system block (the tables lie
                              between the data clusters), plus refcounts for every
                              cluster: 33M at 256M with 512-byte clusters, 8.6M with 1k,
                              0.6M with 4k, 0.25M with 64k, 8M (whole clusters) with 2M
                                                   -> per cluster size (qcow2_metadata_cap)
  other metadata preallocation                                    -> 256M
  qcow2 (sparse)              header, L1, refcounts: at most 3 clusters (6M at 2M) -> 1G
  raw (sparse)                nothing: the file is truncated to length            -> 1G
  vmdk (sparse)               grain directory and tables (0.1M per G)             -> 1G
  vhd (dynamic)               footer, header and BAT (2K per G)                   -> 1G
  vhdx                        log, BAT and metadata (1.2M allocated, 8M length)   -> 1G
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from toolkit.model.formats import FORMATS, HOST_REACHING_OPTIONS, split_option_string
from toolkit.model.rounding import created_size
from toolkit.model.scratch import CASE_BUDGET, MIB
from toolkit.model.sizes import GRAMMARS, SizeError, parse_size

__all__ = [
    "CAP_DEFAULT",
    "CAP_MATERIALISED",
    "CAP_SPARSE",
    "CASE_BUDGET",
    "cap_for",
    "check_caps",
    "check_options",
    "qcow2_metadata_bytes",
    "qcow2_metadata_cap",
]

CAP_DEFAULT = 256 * MIB  # fuzz's size range, and the most metadata preallocation gets
CAP_MATERIALISED = 4 * MIB  # falloc/full preallocation writes every byte
CAP_FIXED_VHD = 16 * MIB  # a fixed vhd is a file of the full size
CAP_SPARSE = 1024 * MIB  # per format: what a sparse image of this size writes is small
FS_BLOCK = 4096  # the host file system's allocation unit (ext4, XFS, btrfs, tmpfs)
# qcow2_metadata_bytes leaves out the refcounts of metadata clusters and some allocation
# granularity: measured up to 1% above it (16.09M against 15.93M at 113M, 512-byte
# clusters, 64-bit refcounts), so caps are computed against the budget less this.
ESTIMATE_MARGIN = 1 * MIB
QCOW2_CLUSTERS = (512, 2 * MIB)  # the smallest and largest cluster_size qemu accepts


def _ceil(n: int, unit: int) -> int:
    return -(-n // unit)


def qcow2_metadata_bytes(size: int, cluster: int, refcount_bits: int, l2_entry: int) -> int:
    """What a qcow2 image of `size` with metadata preallocation allocates, at most: one L2
    table (a cluster, and at least a file-system block: tables lie between the data
    clusters) per cluster/l2_entry data clusters; refcount blocks for every cluster (packed,
    refcount_bits each); the L1 table; the header and the refcount table."""
    unit = max(cluster, FS_BLOCK)
    data = _ceil(size, cluster)
    tables = _ceil(data * l2_entry, cluster)
    refcounts = _ceil(_ceil(data * refcount_bits, 8), cluster) * cluster
    l1 = _ceil(tables * 8, cluster) * cluster
    return tables * unit + refcounts + l1 + 2 * unit


@functools.lru_cache(maxsize=64)
def qcow2_metadata_cap(cluster: int, refcount_bits: int, l2_entry: int) -> int:
    """The largest size, in whole MiB up to CAP_DEFAULT, whose metadata preallocation stays
    within CASE_BUDGET less ESTIMATE_MARGIN (qcow2_metadata_bytes grows with the size: a
    binary search)."""
    budget = CASE_BUDGET - ESTIMATE_MARGIN
    low, high = 1, CAP_DEFAULT // MIB  # low always fits: 1 MiB costs a few clusters
    while low < high:
        mid = (low + high + 1) // 2
        if qcow2_metadata_bytes(mid * MIB, cluster, refcount_bits, l2_entry) <= budget:
            low = mid
        else:
            high = mid - 1
    return low * MIB


def _qcow2_layout(opts: dict[str, str]) -> tuple[int, int, int]:
    """(cluster_size, refcount_bits, L2 entry bytes) the options ask for; a value that
    does not parse reads as the costliest one (qemu-img refuses it anyway)."""
    try:
        sizes = [parse_size(opts.get("cluster_size", "64k"), g) for g in GRAMMARS]
        cluster = min(max(min(sizes), QCOW2_CLUSTERS[0]), QCOW2_CLUSTERS[1])
    except SizeError:
        cluster = QCOW2_CLUSTERS[0]
    bits = opts.get("refcount_bits", "16")
    refcount_bits = min(int(bits), 64) if bits.isascii() and bits.isdigit() else 64
    extended = opts.get("extended_l2", "off").lower() not in ("off", "false", "no")
    return cluster, max(refcount_bits, 1), 16 if extended else 8


def cap_for(fmt: object, opts: dict[str, str], prealloc: str | None) -> tuple[int, str]:
    """(cap in bytes, why) for an image of this format, these -o options and this
    resize --preallocation mode."""
    if prealloc in ("falloc", "full") or opts.get("preallocation") in ("falloc", "full"):
        return CAP_MATERIALISED, "falloc/full preallocation writes every byte"
    if fmt == "vhd" and opts.get("subformat") == "fixed":
        return CAP_FIXED_VHD, "a fixed vhd is a file of the full size"
    if prealloc == "metadata" or opts.get("preallocation") == "metadata":
        if fmt == "qcow2":
            cluster, bits, entry = _qcow2_layout(opts)
            return qcow2_metadata_cap(cluster, bits, entry), (
                f"metadata preallocation with {cluster}-byte clusters writes L2 tables and "
                f"refcounts that grow with the size: the cap keeps them within "
                f"{CASE_BUDGET // MIB}M"
            )
        return CAP_DEFAULT, "metadata preallocation writes L2 tables for the whole size"
    return CAP_SPARSE, f"a sparse {fmt} image still writes metadata that grows with its size"


def check_caps(
    fmt: object,
    options: list[str],
    prealloc: str | None,
    start: int,
    final: int | None,
    bad: Callable[[str], None],
) -> None:
    opts = {k: v for text in options for k, v in split_option_string(text)}
    # A negative final size (a rejection case for qemu-img to record) is under any cap;
    # the start, which create writes, is always checked.
    sizes = [("start", start)] if final is None else [("start", start), ("final size", final)]
    if fmt == "vhdx" and start == 0:
        bad(
            "a 0-byte vhdx start is refused: qemu-img then writes 8 whole blocks (64M by "
            "default, 2G with block_size=256M); start at 1 byte or more"
        )
    cap, why = cap_for(fmt, opts, prealloc)
    # A final size no larger than the image create made costs nothing more: vhd's CHS
    # geometry may round a start at the cap up past it (4M falloc: 4212736), and `+0`
    # or a small shrink from there is a fine case.
    made = created_size(str(fmt), options, start) if fmt in FORMATS else start
    for label, value in sizes:
        if value > (max(cap, made) if label == "final size" else cap):
            bad(f"{label} {value} bytes exceeds the {cap // MIB}M cap ({why}); use a smaller size")


def check_options(fmt: object, options: list[str], bad: Callable[[str], None]) -> None:
    """Each -o option is on the format's allow-list and reaches no host file or secret."""
    allowed = FORMATS[fmt].safe_options if fmt in FORMATS else frozenset()
    for text in options:
        if ",," in text:
            bad(f"option {text!r}: qemu's ',,' escape is not supported in case files")
            continue
        for key, value in split_option_string(text):
            if key in HOST_REACHING_OPTIONS or key.startswith("encrypt"):
                bad(
                    f"option {key!r} reaches a host file or secret; cases may only shape "
                    f"the image itself"
                )
            elif key not in allowed:
                bad(
                    f"option {key!r} is not allowed for {fmt}; allowed: "
                    f"{', '.join(sorted(allowed)) or 'none'}"
                )
            elif not value or "/" in value:
                bad(f"option {key!r} needs a plain value (got {value!r})")
