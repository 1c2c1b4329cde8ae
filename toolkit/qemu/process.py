"""One qemu-img process: argv only (never a shell), its own process group, a deadline,
a cap on what is kept of its output, and an end on time whatever it leaves behind.

Every qemu-img call of every stage (the `--version` probe and a candidate's too) goes
through `run_process`, in the calling thread (no watchdog thread: the capture keeps the
deadline itself):

* the pipes are read by toolkit.qemu.capture: at most CAPTURE_CAP bytes per stream are
  kept, the rest is drained and counted (`stdout_dropped`, `stderr_dropped`);
* at the deadline the process group is killed (`timed_out`);
* once the process has ended (or been killed) its group is killed and it is reaped;
  whatever it left running outside the group is killed (toolkit.qemu.escapes) and named
  in `escaped`; the pipes then get PIPE_GRACE seconds, after which whoever still holds
  them is named and killed and they are closed. So a call returns within its timeout
  plus about PIPE_GRACE, whatever it leaves behind.

`LIVE` knows every running call, so an interrupt can kill every group at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from toolkit.model.errors import ToolkitFailure
from toolkit.qemu import escapes
from toolkit.qemu.capture import CAPTURE_CAP, PIPE_GRACE, Capture, cut_holders

__all__ = [
    "CAPTURE_CAP",
    "LIVE",
    "PIPE_GRACE",
    "RawOutcome",
    "WorkingDirectoryGone",
    "pid_alive",
    "run_process",
]


@dataclass(frozen=True)
class RawOutcome:
    return_code: int  # negative N: killed by signal N (Python's convention, not the shell's 128+N)
    stdout: bytes  # at most CAPTURE_CAP bytes
    stderr: bytes
    timed_out: bool
    stdout_dropped: int = 0  # bytes read past CAPTURE_CAP and not kept (0: the whole stream)
    stderr_dropped: int = 0
    escaped: tuple[str, ...] = ()  # processes the call left running outside its group (killed)


class WorkingDirectoryGone(ToolkitFailure):
    """The directory a call was to run in no longer exists (an earlier call removed it)."""


class _Live:
    """Process groups still running, so an interrupt can kill every one of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.stopping = False

    def add(self, p: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(p)
        if self.stopping:  # registered after kill_all ran: kill it ourselves
            _kill_group(p)

    def pids(self) -> set[int]:
        with self._lock:
            return {p.pid for p in self._procs}

    def reap(self, p: subprocess.Popen[bytes]) -> None:
        """Kill p's group and reap p, then forget it. Under the lock, and the group killed
        before p is reaped: until then p's pid (the group's id) cannot be reused, so no
        group kill here or in kill_all can reach another process's group."""
        with self._lock:
            if p.returncode is None:
                _kill_group(p)
                p.wait()
            self._procs.discard(p)

    def kill_all(self) -> None:
        """Stop for good: kill every live group and refuse to start new ones."""
        self.stopping = True
        with self._lock:
            for p in self._procs:
                _kill_group(p)


LIVE = _Live()


def _kill_group(p: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGKILL)


def _start(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    try:
        with escapes.SPAWNS.starting():
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # own group: killable as a whole, deaf to the terminal's ^C
            )
            LIVE.add(proc)
    except OSError as exc:
        if not os.path.isdir(cwd):
            raise WorkingDirectoryGone(
                f"cannot run {argv[0]}: its working directory {cwd} no longer exists"
            ) from exc
        raise ToolkitFailure(f"cannot run {argv[0]}: {exc}") from exc
    return proc


def run_process(
    argv: list[str], cwd: Path, timeout: float, env: Mapping[str, str] | None = None
) -> RawOutcome:
    """Run argv (never through a shell) in its own process group; kill the group on timeout.

    Returns within about timeout + PIPE_GRACE, whatever the process leaves behind."""
    if LIVE.stopping:
        raise ToolkitFailure("run interrupted")
    token, environment = escapes.call_environment()
    proc = _start(argv, cwd, {**environment, **(env or {})})
    try:
        capture = Capture(proc)
        try:
            timed_out = not capture.pump(time.monotonic() + timeout)
            LIVE.reap(proc)  # at the deadline: the call; after it: what is left in its group
            escaped = escapes.sweep(token, proc.pid, LIVE.pids)
            capture.drain(time.monotonic() + PIPE_GRACE)
            if capture.open:
                escaped += cut_holders(capture)
        finally:
            capture.close()
    finally:
        LIVE.reap(proc)  # a no-op unless interrupted: never leave a group or a zombie
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
    return RawOutcome(
        proc.returncode,
        bytes(capture.out.data),
        bytes(capture.err.data),
        timed_out,
        capture.out.dropped,
        capture.err.dropped,
        tuple(escaped),
    )


def pid_alive(pid: int) -> bool:
    """Whether a process exists (someone else's live process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
