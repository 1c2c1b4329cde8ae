"""Image formats: directory names, qemu's driver names, and the create options we allow.

Kept as data: adding a format is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FORMATS",
    "HOST_REACHING_OPTIONS",
    "PREALLOC_MODES",
    "Format",
    "driver_for",
    "split_option_string",
]


@dataclass(frozen=True)
class Format:
    name: str  # directory-level name, e.g. "vhd"
    driver: str  # what qemu-img's -f takes, e.g. "vpc"
    safe_options: frozenset[str]  # create -o keys that cannot reach anything outside the image


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "qcow2",
            "qcow2",
            frozenset(
                {
                    "cluster_size",
                    "refcount_bits",
                    "compat",
                    "lazy_refcounts",
                    "extended_l2",
                    "preallocation",
                    "compression_type",
                }
            ),
        ),
        Format("raw", "raw", frozenset({"preallocation"})),
        Format(
            "vmdk",
            "vmdk",
            frozenset({"subformat", "adapter_type", "hwversion", "toolsversion", "zeroed_grain"}),
        ),
        Format("vhd", "vpc", frozenset({"subformat", "force_size"})),
        Format(
            "vhdx", "vhdx", frozenset({"subformat", "block_size", "log_size", "block_state_zero"})
        ),
    )
}

# Options that name or open a host file (or a secret). Refused with a specific reason,
# although the allow-list above would already refuse them.
HOST_REACHING_OPTIONS = frozenset(
    {
        "backing_file",
        "backing_fmt",
        "data_file",
        "data_file_raw",
        "encrypt.key-secret",
        "encryption",
        "encrypt.format",
        "key-secret",
        "file",
        "driver",
    }
)

PREALLOC_MODES = ("off", "metadata", "falloc", "full")


def driver_for(format_name: str) -> str:
    return FORMATS[format_name].driver


def split_option_string(text: str) -> list[tuple[str, str]]:
    """`a=1,b=2` -> [("a", "1"), ("b", "2")]; qemu's `,,` escape is refused by the caller."""
    pairs = []
    for item in text.split(","):
        key, _, value = item.partition("=")  # no "=": value is ""
        pairs.append((key.strip(), value))
    return pairs
