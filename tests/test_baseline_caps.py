"""toolkit.baseline.caps in-process: each cap, its boundary, and every message whole."""

from __future__ import annotations

import pytest

from toolkit.baseline.caps import cap_for, check_caps, check_options

M = 1 << 20
SPARSE_WHY = "a sparse {} image still writes metadata that grows with its size"
FULL_WHY = "falloc/full preallocation writes every byte"
FIXED_WHY = "a fixed vhd is a file of the full size"
METADATA_WHY = "metadata preallocation writes L2 tables for the whole size"


@pytest.mark.parametrize(
    ("fmt", "opts", "prealloc", "expected"),
    [
        ("raw", {}, None, (1024 * M, SPARSE_WHY.format("raw"))),
        ("qcow2", {"cluster_size": "512"}, "off", (1024 * M, SPARSE_WHY.format("qcow2"))),
        ("qcow2", {}, "falloc", (4 * M, FULL_WHY)),
        ("qcow2", {}, "full", (4 * M, FULL_WHY)),
        ("raw", {"preallocation": "falloc"}, None, (4 * M, FULL_WHY)),
        ("raw", {"preallocation": "full"}, "off", (4 * M, FULL_WHY)),
        # The first matching rule wins: full preallocation of a fixed vhd is still 4M.
        ("vhd", {"subformat": "fixed"}, "full", (4 * M, FULL_WHY)),
        ("vhd", {"subformat": "fixed"}, None, (16 * M, FIXED_WHY)),
        ("vhd", {"subformat": "dynamic"}, None, (1024 * M, SPARSE_WHY.format("vhd"))),
        ("vhdx", {"subformat": "fixed"}, None, (1024 * M, SPARSE_WHY.format("vhdx"))),
        ("vhd", {"subformat": "fixed"}, "metadata", (16 * M, FIXED_WHY)),
        ("qcow2", {}, "metadata", (256 * M, METADATA_WHY)),
        ("qcow2", {"preallocation": "metadata"}, None, (256 * M, METADATA_WHY)),
        ("qcow2", {"preallocation": "off"}, None, (1024 * M, SPARSE_WHY.format("qcow2"))),
    ],
)
def test_cap_for(fmt: str, opts: dict[str, str], prealloc: str | None, expected: object) -> None:
    assert cap_for(fmt, opts, prealloc) == expected


def caps(
    fmt: str, options: list[str], prealloc: str | None, start: int, final: int | None
) -> list[str]:
    found: list[str] = []
    check_caps(fmt, options, prealloc, start, final, found.append)
    return found


def test_sizes_at_the_cap_pass_and_one_byte_over_fails() -> None:
    assert caps("raw", [], None, 1024 * M, 1024 * M) == []
    assert caps("raw", [], None, 1024 * M + 1, None) == [
        f"start 1073741825 bytes exceeds the 1024M cap ({SPARSE_WHY.format('raw')}); "
        "use a smaller size"
    ]
    assert caps("raw", [], None, 1, 1024 * M + 1) == [
        f"final size 1073741825 bytes exceeds the 1024M cap ({SPARSE_WHY.format('raw')}); "
        "use a smaller size"
    ]
    assert caps("qcow2", [], "full", 5 * M, 6 * M) == [
        f"start 5242880 bytes exceeds the 4M cap ({FULL_WHY}); use a smaller size",
        f"final size 6291456 bytes exceeds the 4M cap ({FULL_WHY}); use a smaller size",
    ]


def test_the_options_choose_the_cap() -> None:
    # The key=value pairs of every option string count, not just the first one's.
    assert (
        caps("qcow2", ["cluster_size=512", "compat=1.1,preallocation=full"], None, 4 * M, None)
        == []
    )
    assert caps("qcow2", ["cluster_size=512,preallocation=full"], None, 4 * M + 1, None) == [
        f"start 4194305 bytes exceeds the 4M cap ({FULL_WHY}); use a smaller size"
    ]
    assert caps("vhd", ["subformat=fixed"], None, 17 * M, None) == [
        f"start 17825792 bytes exceeds the 16M cap ({FIXED_WHY}); use a smaller size"
    ]


def test_a_negative_final_size_is_exempt_but_never_the_start() -> None:
    assert caps("raw", [], "full", 1, -(1 << 50)) == []
    assert caps("raw", [], "full", 96 * M, -32 * M) == [
        f"start 100663296 bytes exceeds the 4M cap ({FULL_WHY}); use a smaller size"
    ]


def test_zero_byte_vhdx_start() -> None:
    refused = (
        "a 0-byte vhdx start is refused: qemu-img then writes 8 whole blocks (64M by "
        "default, 2G with block_size=256M); start at 1 byte or more"
    )
    assert caps("vhdx", [], None, 0, 4 * M) == [refused]
    assert caps("vhdx", [], None, 1, 4 * M) == []
    assert caps("vhd", [], None, 0, 4 * M) == []


def options(fmt: object, given: list[str]) -> list[str]:
    found: list[str] = []
    check_options(fmt, given, found.append)
    return found


def test_allowed_options_pass() -> None:
    assert options("qcow2", ["cluster_size=512,compat=1.1", "preallocation=metadata"]) == []
    assert options("vhdx", ["block_size=1M", "subformat=dynamic"]) == []


def test_each_refusal_whole() -> None:
    host = "reaches a host file or secret; cases may only shape the image itself"
    assert options("qcow2", ["backing_file=/etc/passwd"]) == [f"option 'backing_file' {host}"]
    assert options("qcow2", ["encrypt.cipher-alg=aes-256"]) == [
        f"option 'encrypt.cipher-alg' {host}"
    ]
    assert options("raw", ["cluster_size=4k"]) == [
        "option 'cluster_size' is not allowed for raw; allowed: preallocation"
    ]
    assert options("qcow3", ["compat=1.1"]) == [
        "option 'compat' is not allowed for qcow3; allowed: none"
    ]
    assert options("vhd", ["subformat=fixed,force_size=", "subformat=a/b"]) == [
        "option 'force_size' needs a plain value (got '')",
        "option 'subformat' needs a plain value (got 'a/b')",
    ]
    assert options("vhd", ["subformat"]) == ["option 'subformat' needs a plain value (got '')"]


def test_escaped_comma_is_one_message_and_the_next_option_is_still_checked() -> None:
    assert options("qcow2", ["compat=a,,b", "colour=red"]) == [
        "option 'compat=a,,b': qemu's ',,' escape is not supported in case files",
        "option 'colour' is not allowed for qcow2; allowed: cluster_size, compat, "
        "compression_type, extended_l2, lazy_refcounts, preallocation, refcount_bits",
    ]
