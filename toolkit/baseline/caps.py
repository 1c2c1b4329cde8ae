"""What a case may ask of qemu-img, checked before anything runs: options that shape the
image only (`check_options`: no host files, secrets or options off a per-format
allow-list), and a size the disk can afford (`check_caps`).

Disk economy:

A full pass of every version must stay small on disk and in the scratch directory
(the plan's 100 MiB peak), so a case may not ask qemu-img for more than its cap. What
an image costs depends on the format and its options, not on its virtual size alone,
so the cap is looked up per format and option (`cap_for`; the first rule that matches
wins). Bytes written at create, measured on 5.2.0 and 11.1.3:

  falloc/full preallocation   every byte                          -> 4M
  vhd subformat=fixed         a file the full size (plus footer)  -> 16M
  qcow2 preallocation=metadata  L2 tables for the whole size: 128K per G at 64k clusters,
                              16M per G at 512-byte clusters     -> 256M
  qcow2 (sparse)              header, L1, refcounts: at most 3 clusters (6M at 2M) -> 1G
  raw (sparse)                nothing: the file is truncated to length            -> 1G
  vmdk (sparse)               grain directory and tables (0.1M per G)             -> 1G
  vhd (dynamic)               footer, header and BAT (2K per G)                   -> 1G
  vhdx                        log, BAT and metadata (1.2M allocated, 8M length)   -> 1G
"""

from __future__ import annotations

from collections.abc import Callable

from toolkit.model.formats import FORMATS, HOST_REACHING_OPTIONS, split_option_string

__all__ = [
    "CAP_DEFAULT",
    "CAP_MATERIALISED",
    "CAP_SPARSE",
    "cap_for",
    "check_caps",
    "check_options",
]

MIB = 1024 * 1024
CAP_DEFAULT = 256 * MIB  # fuzz's size range, and qcow2 with metadata preallocation
CAP_MATERIALISED = 4 * MIB  # falloc/full preallocation writes every byte
CAP_FIXED_VHD = 16 * MIB  # a fixed vhd is a file of the full size
CAP_SPARSE = 1024 * MIB  # per format: what a sparse image of this size writes is small


def cap_for(fmt: object, opts: dict[str, str], prealloc: str | None) -> tuple[int, str]:
    """(cap in bytes, why) for an image of this format, these -o options and this
    resize --preallocation mode."""
    if prealloc in ("falloc", "full") or opts.get("preallocation") in ("falloc", "full"):
        return CAP_MATERIALISED, "falloc/full preallocation writes every byte"
    if fmt == "vhd" and opts.get("subformat") == "fixed":
        return CAP_FIXED_VHD, "a fixed vhd is a file of the full size"
    if prealloc == "metadata" or opts.get("preallocation") == "metadata":
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
    for label, value in sizes:
        if value > cap:
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
