"""toolkit.baseline.caps in-process: each cap, its boundary, and every message whole."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.baseline.caps import (
    CAP_DEFAULT,
    CASE_BUDGET,
    ESTIMATE_MARGIN,
    cap_for,
    check_caps,
    check_options,
    qcow2_metadata_bytes,
    qcow2_metadata_cap,
)
from toolkit.model.formats import split_option_string
from toolkit.model.records import QemuBinary

M = 1 << 20
SPARSE_WHY = "a sparse {} image still writes metadata that grows with its size"
FULL_WHY = "falloc/full preallocation writes every byte"
FIXED_WHY = "a fixed vhd is a file of the full size"
METADATA_WHY = "metadata preallocation writes L2 tables for the whole size"
QCOW2_METADATA_WHY = (
    "metadata preallocation with {}-byte clusters writes L2 tables and refcounts that grow "
    "with the size: the cap keeps them within 16M"
)


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
        ("qcow2", {}, "metadata", (256 * M, QCOW2_METADATA_WHY.format(65536))),
        ("qcow2", {"preallocation": "metadata"}, None, (256 * M, QCOW2_METADATA_WHY.format(65536))),
        # issue 21 item 10: 512-byte clusters at 256M allocated 33M; the cap follows the size
        (
            "qcow2",
            {"preallocation": "metadata", "cluster_size": "512"},
            None,
            (116 * M, QCOW2_METADATA_WHY.format(512)),
        ),
        (
            "qcow2",
            {"cluster_size": "0.5k", "refcount_bits": "64"},
            "metadata",
            (106 * M, QCOW2_METADATA_WHY.format(512)),
        ),
        (
            "qcow2",
            {"cluster_size": "1k", "extended_l2": "on"},
            "metadata",
            (232 * M, QCOW2_METADATA_WHY.format(1024)),
        ),
        (
            "qcow2",
            {"cluster_size": "junk", "refcount_bits": "x"},
            "metadata",
            (106 * M, QCOW2_METADATA_WHY.format(512)),
        ),  # what does not parse costs the most
        ("qcow2", {"cluster_size": "2M"}, "metadata", (256 * M, QCOW2_METADATA_WHY.format(2 * M))),
        ("raw", {}, "metadata", (256 * M, METADATA_WHY)),
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


def test_a_final_size_within_what_create_made_is_under_the_cap() -> None:
    # vhd's CHS geometry makes a 4M falloc image 4212736 bytes: `+0` from there, or a
    # shrink that stays above the cap, writes nothing more (fuzz drew exactly this case,
    # and its strategy then stopped the run: "strategy built an invalid case").
    assert caps("vhd", [], "falloc", 4 * M, 4212736) == []
    assert caps("vhd", [], "falloc", 4 * M, 4212736 + 1) == [
        f"final size 4212737 bytes exceeds the 4M cap ({FULL_WHY}); use a smaller size"
    ]
    assert caps("raw", [], "falloc", 4 * M, 4 * M + 1) == [
        f"final size 4194305 bytes exceeds the 4M cap ({FULL_WHY}); use a smaller size"
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


# ------------------------------------------- issue 21 item 10: caps against real allocation

# (cluster_size, refcount_bits, extended_l2): the qcow2 layouts whose metadata the caps model
LAYOUTS = [(512, 16, False), (512, 64, False), (1024, 16, False), (1024, 64, False),
           (4096, 16, False), (16384, 16, True), (65536, 64, True), (2 * M, 16, False)]  # fmt: skip


@pytest.mark.parametrize(("cluster", "bits", "extended"), LAYOUTS)
def test_each_metadata_cap_is_the_largest_size_the_budget_allows(
    cluster: int, bits: int, extended: bool
) -> None:
    entry = 16 if extended else 8
    cap = qcow2_metadata_cap(cluster, bits, entry)
    assert cap % M == 0 and M <= cap <= CAP_DEFAULT
    assert qcow2_metadata_bytes(cap, cluster, bits, entry) <= CASE_BUDGET - ESTIMATE_MARGIN
    if cap < CAP_DEFAULT:
        assert qcow2_metadata_bytes(cap + M, cluster, bits, entry) > CASE_BUDGET - ESTIMATE_MARGIN


def _options(cluster: int, bits: int, extended: bool) -> str:
    return f"cluster_size={cluster},refcount_bits={bits}" + (",extended_l2=on" if extended else "")


def _allocated(path: Path) -> int:
    return path.stat().st_blocks * 512


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """tmpfs when the host has one: allocation is the same (4K pages, like ext4's blocks),
    and qemu-img writes 30,000 L2 tables there in a second rather than five."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        d = Path(tempfile.mkdtemp(prefix="caps-", dir=shm))
        yield d
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path


def _create(binary: QemuBinary, argv: list[str]) -> None:
    done = subprocess.run([*binary.command(), *argv], capture_output=True)
    assert done.returncode == 0, (binary.version, argv, done.stderr)


@pytest.mark.qemu
def test_the_metadata_estimate_holds_on_real_binaries(
    qemu_binaries: list[QemuBinary], scratch: Path
) -> None:
    """What the caps are computed from: for every layout, the oldest and the newest build
    allocate at most qcow2_metadata_bytes plus the margin the caps leave (16M images)."""
    image = scratch / "img.qcow2"
    for binary in (qemu_binaries[0], qemu_binaries[-1]):
        for cluster, bits, extended in LAYOUTS:
            opts = f"preallocation=metadata,{_options(cluster, bits, extended)}"
            _create(binary, ["create", "-f", "qcow2", "-o", opts, str(image), "16M"])
            model = qcow2_metadata_bytes(16 * M, cluster, bits, 16 if extended else 8)
            assert _allocated(image) <= model + ESTIMATE_MARGIN, (binary.version, opts)
            image.unlink()


@pytest.mark.qemu
@pytest.mark.slow
def test_every_cap_allocates_within_the_case_budget_on_real_binaries(
    qemu_binaries: list[QemuBinary], scratch: Path
) -> None:
    """Each rule at its cap, created by the oldest and the newest build, allocates at most
    CASE_BUDGET; so do qcow2 metadata preallocation at its cap for 512-byte clusters
    (created, and grown from 1M by resize --preallocation=metadata), 1k, 4k, 16k and 2M
    clusters, on the newest build (the 512-byte layout takes a second or two to write).
    Before the fix 512-byte clusters at the 256M cap allocated 33M."""
    oldest, newest = qemu_binaries[0], qemu_binaries[-1]
    rows = [("raw", []), ("raw", ["preallocation=full"]), ("vmdk", []), ("vpc", []),
            ("vpc", ["subformat=fixed"]), ("vhdx", []), ("qcow2", ["cluster_size=512"]),
            ("qcow2", ["cluster_size=2M"]), ("qcow2", ["preallocation=falloc"])]  # fmt: skip
    measured = []
    for binary in (oldest, newest):
        for fmt, opts in rows:
            parsed = {k: v for o in opts for k, v in split_option_string(o)}
            cap, _why = cap_for("vhd" if fmt == "vpc" else fmt, parsed, None)
            image = scratch / f"img.{fmt}"
            _create(binary, ["create", "-f", fmt, *(a for o in opts for a in ("-o", o)),
                             str(image), str(cap)])  # fmt: skip
            measured.append((binary.version, fmt, opts, cap, _allocated(image)))
            image.unlink()
    image = scratch / "img.qcow2"
    for layout in [(512, 16, False), (1024, 16, False), (4096, 16, False), (16384, 16, True),
                   (2 * M, 16, False)]:  # fmt: skip
        opts = _options(*layout)
        cap, _why = cap_for("qcow2", dict(split_option_string(opts)), "metadata")
        _create(newest, ["create", "-f", "qcow2", "-o", f"preallocation=metadata,{opts}",
                         str(image), str(cap)])  # fmt: skip
        measured.append((newest.version, "qcow2 metadata", opts, cap, _allocated(image)))
        image.unlink()
        if layout[0] == 512:
            _create(newest, ["create", "-f", "qcow2", "-o", opts, str(image), "1M"])
            _create(newest, ["resize", "--preallocation=metadata", str(image), str(cap)])
            measured.append((newest.version, "resize metadata", opts, cap, _allocated(image)))
            image.unlink()
    over = [m for m in measured if m[-1] > CASE_BUDGET]
    assert over == [], over
    assert len(measured) == 2 * 9 + 6  # every rule ran
