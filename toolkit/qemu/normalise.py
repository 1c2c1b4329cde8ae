"""Named, reusable normalisers for volatile text, in the spirit of QEMU's iotests filters.

Each normaliser is a small pure function; `normalise` applies them in a fixed
order. Everything host-specific in qemu-img's output is a path, and every path
spelling becomes a stable token.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import IMAGE, QEMU_IMG

__all__ = ["TEST_DIR", "PathContext", "assert_no_leak", "normalise"]

TEST_DIR = "$TEST_DIR"  # iotests' name for the scratch directory


@dataclass(frozen=True)
class PathContext:
    """The host paths of one case run: what must never reach a baseline."""

    image: Path
    case_dir: Path
    run_dir: Path
    binaries: tuple[Path, ...]  # the binary as given, and any loader/ELF it really runs
    names: tuple[str, ...] = ()  # a candidate's own program names (--candidate-name)
    # Every other path with a placeholder: the case's other images ($BASE, $NEXT, ...) and
    # roots outside the scratch directory ($TESTDATA_ROOT, the image corpus).
    others: tuple[tuple[str, Path], ...] = ()


def spellings(p: Path) -> tuple[str, ...]:
    """A path as given and as its realpath (e.g. /tmp may be a symlink), longest first.

    Cached: realpath costs a dozen lstat calls, and every step's output needs it. A
    relative path's realpath depends on the working directory, so that is in the key.
    """
    return _spellings(p, os.getcwd())


@lru_cache(maxsize=1024)
def _spellings(p: Path, cwd: str) -> tuple[str, ...]:  # cwd: only part of the cache key
    return tuple(sorted({str(p), os.path.realpath(p)}, key=len, reverse=True))


def filter_image_path(text: str, ctx: PathContext) -> str:
    """The temp image, in every spelling, becomes $FILENAME; each other path with a
    placeholder becomes its placeholder (the longest spelling first, so a path inside
    another is never cut in two)."""
    pairs = [(s, token) for token, p in ((IMAGE, ctx.image), *ctx.others) for s in spellings(p)]
    for s, token in sorted(pairs, key=lambda pair: len(pair[0]), reverse=True):
        text = text.replace(s, token)
    return text


def filter_test_dir(text: str, ctx: PathContext) -> str:
    """Other files beside the image (vmdk extents, for example) keep their base name."""
    for s in spellings(ctx.case_dir):
        text = text.replace(s, TEST_DIR)
    return text


def filter_qemu_img(text: str, ctx: PathContext) -> str:
    """The binary's path (a launcher, a wrapper, a build tree) becomes plain qemu-img."""
    for p in ctx.binaries:
        for s in spellings(p):
            text = text.replace(s, QEMU_IMG)
    return text


def filter_program_name(text: str, ctx: PathContext) -> str:
    """A candidate's own name, as a whole word (`instar: ...`), becomes qemu-img too."""
    for name in ctx.names:
        text = re.sub(rf"(?<![\w./-]){re.escape(name)}(?![\w.-])", QEMU_IMG, text)
    return text


# qemu-io's report after each I/O command (`64 KiB, 1 ops; 00.00 sec (37.2 MiB/sec and 595.5
# ops/sec)`): wall-clock time and rates, never the same twice. iotests' _filter_qemu_io,
# with its replacement text.
QEMU_IO_TIMING = re.compile(
    r"[0-9]* ops; [0-9/:. sec]* \([0-9/.inf]* [EPTGMKiBbytes]*/sec and [0-9/.inf]* ops/sec\)"
)
QEMU_IO_TIMING_TEXT = "X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)"


def filter_qemu_io_timing(text: str, ctx: PathContext) -> str:
    """qemu-io's timing report (a step writing data) becomes iotests' fixed text."""
    return QEMU_IO_TIMING.sub(QEMU_IO_TIMING_TEXT, text) if " ops/sec)" in text else text


NORMALISERS = (
    filter_image_path,
    filter_test_dir,
    filter_qemu_img,
    filter_program_name,
    filter_qemu_io_timing,
)


def normalise(text: str, ctx: PathContext) -> str:
    if not text:
        return text
    for f in NORMALISERS:
        text = f(text, ctx)
    return text


def assert_no_leak(text: str, ctx: PathContext, what: str) -> None:
    """A surviving piece of the temp path is a toolkit bug, never a baseline."""
    if not text:
        return
    for needle in (*spellings(ctx.run_dir), ctx.run_dir.name):
        if needle and needle in text:
            raise ToolkitFailure(
                f"path leak in {what}: {needle!r} survived normalisation; this is a toolkit "
                f"bug (add a normaliser in toolkit/qemu/normalise.py), not a baseline"
            )
