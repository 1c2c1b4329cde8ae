"""The tools that ship beside a qemu-img (qemu-io writes data into images): how to run one.

Debian's qemu-utils package holds qemu-img and qemu-io side by side, so a store build has
both in its root: its qemu-io runs through the same dynamic loader, with the same
libraries, as its qemu-img (provenance "exec", see toolkit.qemu.discovery). A binary given
with --qemu-img or found in a --binaries farm or on PATH has its tool beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.model.errors import BadInput
from toolkit.model.records import QemuBinary

__all__ = ["tool_command"]


def tool_command(binary: QemuBinary, tool: str) -> list[str]:
    """argv[0...] that runs `tool` (e.g. "qemu-io") of the same build as `binary`."""
    prefix = list(binary.exec_prefix)
    if prefix:
        elf = Path(prefix[-1])
        sibling = elf.with_name(tool)
        if sibling.is_file():
            argv = [*prefix[:-1], str(sibling)]
            # the loader's --argv0 names the program in its messages
            return [tool if a == elf.name and i > 0 and argv[i - 1] == "--argv0" else a
                    for i, a in enumerate(argv)]  # fmt: skip
    candidates = [binary.path.parent / tool, binary.path.parent / "root" / "usr" / "bin" / tool]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return [str(path)]
    looked = ", ".join(str(c) for c in candidates)
    raise BadInput(
        f"{tool} for qemu-img {binary.version} ({binary.path}) was not found (looked at "
        f"{looked}); it ships beside qemu-img (Debian's qemu-utils): put it there, or "
        "provision the build with `nox -s provision_qemu`"
    )
