"""A candidate: another qemu-img-compatible CLI, held to one real version's behaviour.

verify --candidate and fuzz --candidate both start here. The candidate runs as a
QemuBinary of the version it is held to (so the plan uses that version's size grammar),
used exactly as given. Whether it starts at all is asked once, up front, with
`--version`: a candidate that cannot start is one clear error (exit 2), not a failure
per case. Any exit code from `--version` is accepted except those that say the program
never ran (126, 127, a signal, a timeout, or an exec error). A `--version` that leaves
processes running outside its process group is refused as well (they are killed and
named). The version line kept (and shown in reports) is at most ECHO_LIMIT characters.
"""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.model.errors import BadInput, ToolkitFailure
from toolkit.model.records import QemuBinary
from toolkit.model.steps import QEMU_IO
from toolkit.model.text import clip
from toolkit.qemu.process import run_process
from toolkit.qemu.runner import run_directory
from toolkit.qemu.tools import CANDIDATE

__all__ = ["SOURCE", "candidate_binary"]

SOURCE = CANDIDATE
NOT_STARTED = (126, 127)  # the shell's "cannot execute" and "not found"


def candidate_binary(
    path: Path,
    version: str,
    timeout: float,
    names: tuple[str, ...] = (),
    qemu_io: tuple[str, ...] = (),
) -> QemuBinary:
    """The candidate as a QemuBinary of `version`; BadInput when it cannot start. `qemu_io`:
    the argv of the qemu-io that writes data into its images (--qemu-io), if given."""
    exe = Path(os.path.abspath(path))
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise BadInput(f"--candidate {path}: not an executable file")
    with run_directory() as scratch:
        try:
            raw = run_process([str(exe), "--version"], scratch, timeout)
        except ToolkitFailure as exc:
            raise BadInput(f"--candidate {path} cannot start: {exc}") from exc
    err = raw.stderr.decode("utf-8", "replace").strip().splitlines()
    why = ""
    if raw.timed_out:
        why = f"`{path} --version` did not finish within {timeout:g} s"
    elif raw.return_code in NOT_STARTED or raw.return_code < 0:
        why = f"`{path} --version` exited {raw.return_code}" + (f": {clip(err[0])}" if err else "")
    if why:
        raise BadInput(f"--candidate {path} cannot start ({why}); nothing was run. Check "
                       "that it runs on its own, e.g. `PATH --version`")  # fmt: skip
    if raw.escaped:
        raise BadInput(
            f"--candidate {path}: `--version` left processes running outside its process "
            f"group ({'; '.join(raw.escaped)}; killed); nothing was run. A candidate must "
            "not leave processes behind (a qemu-img never does)"
        )
    first = raw.stdout.decode("utf-8", "replace").strip().splitlines()[:1]
    line = clip(first[0]) if first else f"{exe.name} (no --version output)"
    tools = ((QEMU_IO, qemu_io),) if qemu_io else ()
    return QemuBinary(version, exe, SOURCE, line, program_names=names, tools=tools)
