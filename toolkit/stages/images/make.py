"""Make one image of the corpus: qemu-img and qemu-io calls, then the byte patches.

Every call goes through run_process (argv only, its own process group, a deadline) and
runs in the image's directory with relative paths, so nothing host-specific reaches an
image (qcow2 records its backing file as given; vmdk names its extent file). Each image
is made under its final name: vmdk's descriptor records the file name.

After the patches, the image is checked by the qemu-img that made it: `check` (qcow2,
vmdk, vhdx) must exit 0, or 3 for the leak patch and 2 for the refcount patch (qemu-img
check's documented codes: 0 clean, 2 corruptions, 3 leaks); raw and vpc, which have no
check, must open in `info`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.model.errors import ToolkitFailure
from toolkit.model.images import ImageSpec, Step
from toolkit.qemu.process import run_process
from toolkit.stages.images import formats, qcow2

__all__ = ["Tools", "expected_check", "make_image"]

CHECKED = ("qcow2", "vmdk", "vhdx")  # formats `qemu-img check` supports
STDERR_SHOWN = 600  # characters of a failing call's stderr in the message


@dataclass(frozen=True)
class Tools:
    """The argv prefixes of one build's qemu-img and qemu-io."""

    version: str
    qemu_img: tuple[str, ...]
    qemu_io: tuple[str, ...]


def expected_check(image: ImageSpec) -> int:
    """`qemu-img check`'s exit code for the image: 3 leaks, 2 corruptions, else 0."""
    return 3 if "leak" in image.patches else 2 if "refcount" in image.patches else 0


def _run(argv: list[str], cwd: Path, timeout: float, image: ImageSpec, ok: int = 0) -> None:
    out = run_process(argv, cwd, timeout)
    if out.return_code != ok or out.timed_out:
        what = "timed out" if out.timed_out else f"exited {out.return_code} (expected {ok})"
        err = (out.stderr or out.stdout).decode(errors="replace").strip()[-STDERR_SHOWN:]
        raise ToolkitFailure(
            f"image {image.id!r}: `{' '.join(_shown(argv))}` {what}: {err or 'no output'}"
        )


def _shown(argv: Sequence[str]) -> list[str]:
    """argv as a message shows it: a loader command reads as the tool it starts."""
    for i, arg in enumerate(argv):
        if os.path.basename(arg) in ("qemu-img", "qemu-io"):
            return [os.path.basename(arg), *argv[i + 1 :]]
    return list(argv)


def _rel(target: str, image: ImageSpec) -> str:
    """`target` (a corpus-relative path) as seen from the image's directory."""
    return os.path.relpath(target, os.path.dirname(image.path))


def make_image(
    root: Path,
    image: ImageSpec,
    specs: dict[str, ImageSpec],
    tools: Tools,
    timeout: float,
) -> None:
    """Make `image` at root/image.path; every image it names is already made."""
    here = root / image.path
    here.parent.mkdir(parents=True, exist_ok=True)
    cwd, name, fmt = here.parent, here.name, image.format
    opts = ["-o", ",".join(image.options)] if image.options else []
    if image.source is not None:
        src = specs[image.source]
        compress = ["-c"] if image.compress else []
        argv = [*tools.qemu_img, "convert", *compress, "-f", src.format, "-O", fmt, *opts,
                _rel(src.path, image), name]  # fmt: skip
    else:
        backing = []
        if image.backing is not None:
            base = specs[image.backing]
            backing = ["-b", _rel(base.path, image), "-F", base.format]
        argv = [*tools.qemu_img, "create", "-q", "-f", fmt, *opts, *backing, name, str(image.size)]
    _run(argv, cwd, timeout, image)
    for group in _groups(image.steps):
        if group[0].is_io:
            cmds = [a for s in group for a in ("-c", s.qemu_io_command())]
            _run([*tools.qemu_io, "-f", fmt, "-d", "unmap", *cmds, name], cwd, timeout, image)
        elif group[0].kind == "snapshot":
            _run([*tools.qemu_img, "snapshot", "-c", group[0].name, name],
                 cwd, timeout, image)  # fmt: skip
        else:
            step = group[0]
            _run([*tools.qemu_img, "bitmap", *step.bitmap_args(), "-f", fmt, name, step.name],
                 cwd, timeout, image)  # fmt: skip
    patch(here, image)
    if fmt in CHECKED:
        _run([*tools.qemu_img, "check", "-f", fmt, name], cwd, timeout, image,
             expected_check(image))  # fmt: skip
    else:
        _run([*tools.qemu_img, "info", "-f", fmt, name], cwd, timeout, image)


def _groups(steps: Sequence[Step]) -> list[list[Step]]:
    """Consecutive io steps run in one qemu-io call; every other step alone."""
    groups: list[list[Step]] = []
    for step in steps:
        if step.is_io and groups and groups[-1][0].is_io:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def patch(path: Path, image: ImageSpec) -> None:
    """The determinism patches of the format, then the image's own documented patches."""
    if image.format == "qcow2":
        if image.snapshots():
            qcow2.fix_snapshot_dates(path)
        if "vmstate" in image.patches:
            qcow2.patch_vmstate(path)
        if "leak" in image.patches:
            qcow2.patch_leak(path)
        if "refcount" in image.patches:
            qcow2.patch_refcount(path)
    elif image.format == "vmdk":
        formats.fix_vmdk(path, image.id)
    elif image.format == "vpc":
        formats.fix_vpc(path, image.id)
        if "creator" in image.patches and image.size is not None:
            formats.patch_vpc_creator(path, image.size)
    elif image.format == "vhdx":
        formats.fix_vhdx(path, image.id)
