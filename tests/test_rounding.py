"""qemu's rounding rules (toolkit.model.rounding) against what the real binaries report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from toolkit.model.records import QemuBinary
from toolkit.model.rounding import created_size, resized_size, round_up

TABLE = json.loads((Path(__file__).parent / "data" / "vhd_created_sizes.json").read_text())
ROWS: list[tuple[int, int]] = [(s, v) for s, v in TABLE["rows"]]


def test_the_table_reaches_every_geometry_branch() -> None:
    """The table is only as good as its spread: every sectors-per-track range and the cap."""
    sectors = [s // 512 for s, _ in ROWS]
    assert min(sectors) == 0
    assert any(s >= 65535 * 16 * 255 for s in sectors)  # the cap
    assert any(65535 * 16 * 63 <= s < 65535 * 16 * 255 for s in sectors)  # 255 per track
    assert any(31 * 16 * 1024 <= s < 63 * 16 * 1024 for s in sectors)  # 63 per track
    assert any(17 * 16 * 1024 <= s < 31 * 16 * 1024 for s in sectors)  # 31 per track
    assert len({-(-s // (17 * 1024)) for s in sectors if s < 17 * 16 * 1024}) >= 13  # heads


def test_created_vhd_sizes_match_the_real_table() -> None:
    wrong = [(s, v, created_size("vhd", (), s)) for s, v in ROWS if created_size("vhd", (), s) != v]
    assert wrong == []


def test_vhd_options_change_the_rule() -> None:
    for size, vsize in ROWS:
        assert created_size("vhd", ("force_size=on",), size) == round_up(size)
        if size:  # a fixed image counts its 512-byte footer
            fixed = created_size("vhd", ("subformat=fixed",), size)
            assert fixed == vsize + 512, size


@pytest.mark.parametrize("fmt", ["raw", "qcow2", "vmdk", "vhdx"])
def test_other_formats_round_to_a_sector(fmt: str) -> None:
    for size in (0, 1, 511, 512, 513, 1 << 20, (1 << 20) + 1):
        assert created_size(fmt, (), size) == round_up(size)


def test_resized_sizes() -> None:
    assert resized_size("raw", (), (1 << 20) + 1) == (1 << 20) + 512
    assert resized_size("qcow2", (), (1 << 20) + 1) == (1 << 20) + 1  # qemu-img rejects it
    assert resized_size("vhd", (), 1 << 20) == 1079296  # what create of that size reports
    assert resized_size("vhd", ("force_size=on",), 1000) == 1024
    assert resized_size("vmdk", (), 1000) == 1024


@pytest.mark.qemu
def test_the_table_is_what_the_newest_build_reports(latest: QemuBinary, tmp_path: Path) -> None:
    """Every fourth row (all of them cost ~9 s), re-created on the newest installed build."""
    image = tmp_path / "x.vhd"
    wrong = []
    for size, vsize in ROWS[::4]:
        run = [*latest.command(), "create", "-q", "-f", "vpc", str(image), str(size)]
        subprocess.run(run, check=True, capture_output=True)
        info = subprocess.run(
            [*latest.command(), "info", "--output=json", str(image)],
            check=True,
            capture_output=True,
            text=True,
        )
        got = json.loads(info.stdout)["virtual-size"]
        if got != vsize:
            wrong.append((size, vsize, got))
        image.unlink()
    assert wrong == []
