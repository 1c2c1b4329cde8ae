"""`python -m toolkit` skips the interpreter's teardown: nothing it prints may be lost."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import REPO, TOOLKIT

from toolkit.model.records import QemuBinary

pytestmark = pytest.mark.qemu


def _env() -> dict[str, str]:
    # Buffered, as on a user's machine (CI and some shells set PYTHONUNBUFFERED).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**env, "PYTHONPATH": str(REPO)}


def test_buffered_output_reaches_a_pipe_whole(qemu_binaries: list[QemuBinary]) -> None:
    proc = subprocess.run(
        [*TOOLKIT, "versions"], capture_output=True, text=True, env=_env(), cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("VERSION")
    assert [ln.split()[0] for ln in lines[1:]] == [b.version for b in qemu_binaries]


def test_a_reader_that_leaves_early_is_not_an_error(qemu_binaries: list[QemuBinary]) -> None:
    # `python -m toolkit versions | head -c 1`: the pipe closes before the flush.
    with subprocess.Popen(
        [*TOOLKIT, "versions"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        cwd=REPO,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert b"Traceback" not in err


def test_an_output_that_cannot_be_written_fails(qemu_binaries: list[QemuBinary]) -> None:
    # A full disk under the redirected output: exit 1 with a message, not a silent 0.
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*TOOLKIT, "versions"], stdout=full, stderr=subprocess.PIPE, text=True,
            env=_env(), cwd=REPO,
        )  # fmt: skip
    assert proc.returncode == 1
    assert "cannot write standard output" in proc.stderr and "No space left" in proc.stderr
