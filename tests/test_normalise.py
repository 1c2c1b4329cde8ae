"""The normalisers: every host spelling of a path becomes its stable token.

A path can reach qemu-img's output as given or resolved (/tmp may be a symlink, a
binary may be reached through one), so both spellings must be replaced.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary
from toolkit.qemu.normalise import PathContext, assert_no_leak, normalise
from toolkit.qemu.runner import run_case, run_directory


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """(a directory reached through a symlink, the same directory resolved)."""
    real = tmp_path / "real" / "scratch"
    real.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real")
    return link / "scratch", real


def _context(run_dir: Path, binary: Path) -> PathContext:
    case_dir = run_dir / "case-abcdefgh"
    return PathContext(case_dir / "img.raw", case_dir, run_dir, (binary,))


def test_every_spelling_of_the_image_its_directory_and_the_binary(
    linked: tuple[Path, Path], tmp_path: Path
) -> None:
    given, real = linked
    wrapper = tmp_path / "bin-link"
    wrapper.symlink_to(tmp_path / "real")  # the binary's directory, reached through a link
    ctx = _context(given, wrapper / "qemu-img")
    for base in (given, real):
        image = base / "case-abcdefgh" / "img.raw"
        text = f"Formatting '{image}', fmt=raw\nextent {base / 'case-abcdefgh' / 'x.vmdk'}\n"
        assert normalise(text, ctx) == "Formatting '$FILENAME', fmt=raw\nextent $TEST_DIR/x.vmdk\n"
    for spelling in (wrapper / "qemu-img", tmp_path / "real" / "qemu-img"):
        assert normalise(f"Try '{spelling} --help'", ctx) == "Try 'qemu-img --help'"


def test_a_leak_of_either_spelling_of_the_scratch_directory_is_a_toolkit_error(
    linked: tuple[Path, Path],
) -> None:
    given, real = linked
    ctx = _context(given, Path("/usr/bin/qemu-img"))
    assert_no_leak("nothing of the host here", ctx, "stdout")
    for leaked in (str(given / "other"), str(real / "other"), f"./{given.name}/x"):
        with pytest.raises(ToolkitFailure, match="path leak in stdout"):
            assert_no_leak(f"see {leaked}", ctx, "stdout")


def test_a_run_under_a_symlinked_temp_dir_records_no_host_path(
    linked: tuple[Path, Path], latest: QemuBinary
) -> None:
    given, real = linked
    case = Case("resize", "vmdk", "n", "1M", "4M")  # vmdk: resize is refused, naming the image
    with run_directory(given) as run_dir:
        result = run_case(case, latest, COMMANDS["resize"], run_dir)
    texts = [t for s in result.steps for t in (s.stdout, s.stderr)]
    assert any("$FILENAME" in t for t in texts), texts
    for t in texts:
        assert str(given) not in t and str(real) not in t and os.path.realpath(given) not in t
