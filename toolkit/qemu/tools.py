"""The sibling tools of a discovered qemu-img (qemu-io ships beside it in qemu-utils).

`tool_command(binary, "qemu-io")` is the argv prefix that runs qemu-io of the same build:

* a store build (its loader command, provenance.json "exec"): the same loader command
  with the program (the last element) and `--argv0` swapped for the tool;
* a store launcher reached by `--qemu-img` or a farm (a directory holding
  provenance.json with "exec"): the same, from that provenance;
* any other binary: `PATH.parent / tool`, if it exists and is executable.

Otherwise MissingTool (bad input) names every place looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.model.errors import BadInput
from toolkit.model.records import QemuBinary
from toolkit.model.steps import QEMU_IMG
from toolkit.qemu.store import read_provenance

__all__ = ["CANDIDATE", "MissingTool", "program_argv", "tool_command"]

CANDIDATE = "candidate"  # QemuBinary.source of a candidate (toolkit.qemu.candidate)


class MissingTool(BadInput):
    """No sibling tool beside a qemu-img: the message says where it was looked for."""


def _swap(prefix: list[str], tool: str) -> list[str]:
    out = list(prefix)
    program = Path(out[-1])
    out[-1] = str(program.with_name(tool))
    for i, arg in enumerate(out[:-2]):
        if arg == "--argv0":
            out[i + 1] = tool
    return out


def _from_provenance(directory: Path) -> list[str]:
    prov = read_provenance(directory)
    template = prov.get("exec") if prov else None
    if not isinstance(template, list) or not all(isinstance(t, str) for t in template):
        return []
    return [t.replace("{dir}", str(directory)) for t in template]


def tool_command(binary: QemuBinary, tool: str) -> list[str]:
    """argv prefix that runs `tool` (e.g. "qemu-io") of the build `binary` belongs to."""
    given = dict(binary.tools).get(tool)
    if given:
        return list(given)
    looked: list[str] = []
    prefixes = [list(binary.exec_prefix)] if binary.exec_prefix else []
    prefixes.append(_from_provenance(binary.path.parent))
    for prefix in prefixes:
        if prefix:
            argv = _swap(prefix, tool)
            if Path(argv[-1]).is_file():
                return argv
            looked.append(argv[-1])
    sibling = binary.path.parent / tool
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return [str(sibling)]
    looked.append(str(sibling))
    where = ", ".join(dict.fromkeys(looked))
    if binary.source == CANDIDATE:
        raise MissingTool(
            f"no {tool} for the candidate {binary.path}: the cases write data into its images "
            f"with {tool}, and none is beside it (looked for {where}). Pass --{tool} PATH (any "
            f"{tool}), or --{tool} VERSION for the store build's, e.g. --{tool} "
            f"{binary.version}"
        )
    raise MissingTool(
        f"no {tool} beside qemu-img {binary.version} ({binary.path}): looked for "
        f"{where}. {tool} ships with qemu-img (Debian's "
        f"qemu-utils): re-provision the store (`python -m toolkit provision`), or pass a "
        f"--qemu-img whose directory also holds an executable {tool}"
    )


def program_argv(binary: QemuBinary, program: str) -> list[str]:
    """How a person replays `binary`'s `program` (model.replay.Program): qemu-img as the
    path given, a sibling tool as tool_command finds it (its bare name if none is found:
    the line is only a message)."""
    if program == QEMU_IMG:
        return [str(binary.path)]
    try:
        return tool_command(binary, program)
    except MissingTool:
        return [program]
