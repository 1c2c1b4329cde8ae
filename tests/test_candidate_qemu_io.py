"""A candidate has no qemu-io of its own (instar is one binary): the cases that write data
(commit's seeded cases, fuzz's rebase and commit examples) say so before anything runs and
name `--qemu-io`; `--qemu-io PATH` or `--qemu-io VERSION` (a store build's) gives it one,
and that qemu-io is the one that runs. Real qemu-img behind the candidate, one version."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from helpers import in_process

from toolkit.model.records import QemuBinary
from toolkit.qemu.tools import tool_command

pytestmark = pytest.mark.qemu


def _candidate(real: QemuBinary, where: Path) -> Path:
    """The real qemu-img, reached from a directory that holds no qemu-io."""
    where.mkdir()
    exe = where / "standin-candidate-without-qemu-io"
    exe.write_text(f'#!/bin/sh\nexec {shlex.join(real.command())} "$@"\n')
    exe.chmod(0o755)
    return exe


def _counting_qemu_io(real: QemuBinary, where: Path) -> tuple[Path, Path]:
    """A qemu-io that notes each call in a log, then runs the real one."""
    log = where / "qemu-io.log"
    exe = where / "my-qemu-io"
    exe.write_text(f'#!/bin/sh\necho "$@" >> {shlex.quote(str(log))}\n'
                   f'exec {shlex.join(tool_command(real, "qemu-io"))} "$@"\n')  # fmt: skip
    exe.chmod(0o755)
    return exe, log


def _verify(cand: Path, version: str, tmp_path: Path, *extra: str) -> list[str]:
    return ["verify", "commit", "--candidate", str(cand), "--candidate-version", version,
            "--obtained", str(tmp_path / "obtained"), *extra]  # fmt: skip


def test_verify_names_qemu_io_then_runs_the_one_given(latest: QemuBinary, tmp_path: Path) -> None:
    cand = _candidate(latest, tmp_path / "bin")
    refused = in_process(*_verify(cand, latest.version, tmp_path))
    assert refused.returncode == 2, refused.stdout
    assert (
        f"no qemu-io for the candidate {cand}: the cases write data into its images with "
        f"qemu-io, and none is beside it (looked for {cand.parent / 'qemu-io'}). Pass "
        f"--qemu-io PATH (any qemu-io), or --qemu-io VERSION for the store build's, e.g. "
        f"--qemu-io {latest.version}"
    ) in refused.stderr
    assert "verify commit-overlay:" not in refused.stdout  # nothing ran
    by_version = in_process(*_verify(cand, latest.version, tmp_path, "--qemu-io", latest.version))
    assert by_version.returncode == 0, by_version.stdout + by_version.stderr
    qemu_io, log = _counting_qemu_io(latest, tmp_path)
    by_path = in_process(*_verify(cand, latest.version, tmp_path, "--qemu-io", str(qemu_io)))
    assert by_path.returncode == 0, by_path.stdout + by_path.stderr
    assert "write -P" in log.read_text()  # the seeded cases' data went in through it


def test_fuzz_candidate_takes_qemu_io(latest: QemuBinary, tmp_path: Path) -> None:
    cand = _candidate(latest, tmp_path / "bin")
    qemu_io, log = _counting_qemu_io(latest, tmp_path)
    argv = ["fuzz", "--command", "rebase", "--candidate", str(cand), "--against",
            latest.version, "--profile", "ci", "--max-examples", "4", "--no-save"]  # fmt: skip
    refused = in_process(*argv)
    assert refused.returncode == 2 and "Pass --qemu-io PATH" in refused.stderr
    ran = in_process(*argv, "--qemu-io", str(qemu_io))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "fuzz rebase: candidate" in ran.stdout and "write -P" in log.read_text()


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["verify", "commit", "--qemu-io", "11.1.3"], "--qemu-io gives a candidate its qemu-io: "
         "it needs --candidate PATH (verify runs the qemu-io beside each qemu-img)"),
        (["fuzz", "--qemu-io", "11.1.3"], "--qemu-io gives a candidate its qemu-io: it needs "
         "--candidate PATH (plain fuzz runs the qemu-io beside each qemu-img)"),
    ],
)  # fmt: skip
def test_qemu_io_without_a_candidate_is_refused(argv: list[str], said: str) -> None:
    proc = in_process(*argv)
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr


def test_qemu_io_neither_a_file_nor_a_version(latest: QemuBinary, tmp_path: Path) -> None:
    cand = _candidate(latest, tmp_path / "bin")
    proc = in_process(*_verify(cand, latest.version, tmp_path, "--qemu-io", "./no-such-io"))
    assert proc.returncode == 2
    assert "--qemu-io ./no-such-io: neither an executable file nor a version" in proc.stderr
