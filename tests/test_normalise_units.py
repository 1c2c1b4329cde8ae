"""Fast, exact unit tests of each normaliser (in-process, no qemu-img)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolkit.model.errors import ToolkitFailure
from toolkit.qemu import normalise as n


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """(run dir through a symlink, the same dir really): two spellings of one path."""
    real = tmp_path / "real-and-longer"
    (real / "case").mkdir(parents=True)
    (tmp_path / "ln").symlink_to(real)
    return tmp_path / "ln", real


def _ctx(run: Path, names: tuple[str, ...] = ()) -> n.PathContext:
    return n.PathContext(
        run / "case" / "img", run / "case", run, (Path("/opt/q/bin/qemu-img-7"),), names
    )


def test_spellings_longest_first(linked: tuple[Path, Path], tmp_path: Path) -> None:
    link, real = linked
    assert n.spellings(link / "x") == (str(real / "x"), str(link / "x"))
    assert n.spellings(real) == (str(real),)
    # a link whose target's path contains the link's own: the longer must go first
    inner = tmp_path / "in"
    outer = Path(f"{tmp_path / 'w'}{inner}")
    outer.mkdir(parents=True)
    inner.symlink_to(outer)
    assert n.spellings(inner / "img") == (str(outer / "img"), str(inner / "img"))
    ctx = n.PathContext(inner / "img", Path("/nowhere"), Path("/nowhere"), ())
    assert n.filter_image_path(f"{outer}/img and {inner}/img", ctx) == "$FILENAME and $FILENAME"


def test_a_relative_path_is_spelled_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    rel = Path("img")
    monkeypatch.chdir(tmp_path / "a")
    assert n.spellings(rel) == (str(tmp_path / "a" / "img"), "img")
    monkeypatch.chdir(tmp_path / "b")  # the same relative path, cached: still b's
    assert n.spellings(rel) == (str(tmp_path / "b" / "img"), "img")


def test_each_filter(linked: tuple[Path, Path]) -> None:
    link, real = linked
    ctx = _ctx(link, ("instar", "a.b"))
    text = f"{link}/case/img {real}/case/img {real}/case/img.1 {link}/case/x.vmdk {real}/case"
    assert n.filter_image_path(text, ctx) == (
        f"$FILENAME $FILENAME $FILENAME.1 {link}/case/x.vmdk {real}/case"
    )
    assert n.filter_test_dir(text, ctx) == (
        "$TEST_DIR/img $TEST_DIR/img $TEST_DIR/img.1 $TEST_DIR/x.vmdk $TEST_DIR"
    )
    assert n.filter_qemu_img("/opt/q/bin/qemu-img-7: error", ctx) == "qemu-img: error"
    assert n.filter_program_name(
        "instar: bad; /usr/bin/instar, instar.conf, xinstar, instar-2, -instar, instar/ a.b aXb",
        ctx,
    ) == (
        "qemu-img: bad; /usr/bin/instar, instar.conf, xinstar, instar-2, -instar, qemu-img/ "
        "qemu-img aXb"
    )


def test_normalise_applies_every_filter_image_first(linked: tuple[Path, Path]) -> None:
    link, real = linked
    ctx = _ctx(link, ("instar",))
    text = f"instar: {real}/case/img and {link}/case/f, via /opt/q/bin/qemu-img-7\n"
    assert n.normalise(text, ctx) == "qemu-img: $FILENAME and $TEST_DIR/f, via qemu-img\n"
    assert n.normalise("", ctx) == ""
    order = (n.filter_image_path, n.filter_test_dir, n.filter_qemu_img, n.filter_program_name,
             n.filter_qemu_io_timing)  # fmt: skip
    assert order == n.NORMALISERS


def test_assert_no_leak(linked: tuple[Path, Path]) -> None:
    link, real = linked
    ctx = _ctx(link)
    n.assert_no_leak("", ctx, "stdout")
    n.assert_no_leak("$FILENAME in $TEST_DIR", ctx, "stdout")
    for leaked, needle in [
        (f"at {real}/case", str(real)),
        (f"at {link}/case", str(link)),
        ("a bare ln/case", "ln"),
    ]:
        with pytest.raises(ToolkitFailure) as exc:
            n.assert_no_leak(leaked, ctx, "the info stderr")
        assert str(exc.value) == (
            f"path leak in the info stderr: {needle!r} survived normalisation; this is a "
            "toolkit bug (add a normaliser in toolkit/qemu/normalise.py), not a baseline"
        )
    assert os.path.realpath(link) == str(real)
    # the root has no name: an empty needle is no leak
    n.assert_no_leak("no path here", n.PathContext(Path("/i"), Path("/c"), Path("/"), ()), "x")


@pytest.mark.parametrize(
    "report",
    [
        "64 KiB, 1 ops; 00.00 sec (37.221 MiB/sec and 595.5320 ops/sec)",
        "64 KiB, 1 ops; 0:01:02.34 (1.5 KiB/sec and 0.0160 ops/sec)",
        "512 bytes, 1 ops; 00.00 sec (inf bytes/sec and inf ops/sec)",
    ],
)
def test_qemu_io_timing_is_iotests_fixed_text(report: str, tmp_path: Path) -> None:
    """qemu-io's report after a write: its time and rates change every run (iotests'
    _filter_qemu_io); the byte count before it and the `wrote` line stay."""
    text = f"wrote 65536/65536 bytes at offset 0\n{report}\n"
    size = report.split(",")[0]
    assert n.normalise(text, _ctx(tmp_path)) == (
        f"wrote 65536/65536 bytes at offset 0\n{size}, "
        "X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)\n"
    )
    plain = "no report here: 5 ops/sec is prose"
    assert n.filter_qemu_io_timing(plain, _ctx(tmp_path)) == plain
