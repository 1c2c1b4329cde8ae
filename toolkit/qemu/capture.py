"""What one qemu-img call prints: both pipes read by the caller, up to a cap, to an end.

`Capture` reads a process's stdout and stderr itself (non-blocking, one selector that
also watches a pidfd of the process, so its exit wakes the reader even while something
else holds the pipes). At most CAPTURE_CAP bytes of each stream are kept; the rest is
read and dropped, and counted, so a child that prints without end can neither fill
memory nor block on a full pipe. Once the process has ended, the pipes get PIPE_GRACE
seconds to reach end-of-file; whoever still holds them then (a process that left the
call's group and was not recognised by toolkit.qemu.escapes) is found through
/proc/<pid>/fd, named, killed, and the pipes are closed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Collection

from toolkit.qemu import escapes

__all__ = ["CAPTURE_CAP", "PIPE_GRACE", "Capture"]

CAPTURE_CAP = 4 * 1024 * 1024  # bytes kept per stream (README: Safety)
PIPE_GRACE = 1.0  # seconds the pipes get to close once the process has ended
_CHUNK = 1 << 16
_POLL = 0.05  # without a pidfd: how often a reader looks whether the process has ended


class _Stream:
    """One pipe: what is kept of it (up to CAPTURE_CAP) and how much was dropped."""

    __slots__ = ("data", "dropped", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = bytearray()
        self.dropped = 0

    def take(self, chunk: bytes) -> None:
        room = CAPTURE_CAP - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))


class Capture:
    """Both pipes of one process and, where the kernel has it, a pidfd for its exit."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.out, self.err = _Stream(proc.stdout.fileno()), _Stream(proc.stderr.fileno())
        self.open = {self.out.fd: self.out, self.err.fd: self.err}
        self.inodes = [os.fstat(fd).st_ino for fd in self.open]
        self.sel = selectors.DefaultSelector()
        for fd in self.open:
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ)
        self.pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.pidfd = os.pidfd_open(proc.pid)
            self.sel.register(self.pidfd, selectors.EVENT_READ)

    def _exited(self) -> bool:
        """Whether the process has ended, without reaping it (process._Live.reap does)."""
        try:
            return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) \
                is not None  # fmt: skip
        except ChildProcessError:
            return True

    def pump(self, until: float) -> bool:
        """Read until the process has ended (True) or `until` (monotonic) has passed."""
        while True:
            if self.pidfd is None and self._exited():
                return True
            left = until - time.monotonic()
            if left <= 0:
                return False
            for key, _ in self.sel.select(left if self.pidfd is not None else min(left, _POLL)):
                if key.fd == self.pidfd:
                    self.sel.unregister(self.pidfd)
                    os.close(self.pidfd)
                    self.pidfd = None
                    return True
                self._read(key.fd)

    def drain(self, until: float) -> None:
        """Read what the pipes still give until both are at end-of-file or `until`."""
        while self.open:
            left = until - time.monotonic()
            if left <= 0:
                return
            for key, _ in self.sel.select(left):
                if key.fd in self.open:
                    self._read(key.fd)

    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if chunk:
            self.open[fd].take(chunk)
        else:
            self.sel.unregister(fd)
            del self.open[fd]

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self.sel.close()


def cut_holders(capture: Capture) -> list[str]:
    """The pipes are still open after their grace: name and kill whoever holds them."""
    held = ", ".join(f"std{'out' if fd == capture.out.fd else 'err'}" for fd in capture.open)
    holders = pipe_holders(capture.inodes)
    notes = [
        f"{escapes.describe(pid)} kept the output ({held}) open after the call ended"
        for pid in holders
    ] or [f"a process that cannot be named kept the output ({held}) open after the call ended"]
    for pid in holders:
        kill(pid)
    return notes


def pipe_holders(inodes: Collection[int]) -> list[int]:
    """Every other process that holds one of these pipes open (by inode), via /proc."""
    wanted = {f"pipe:[{i}]" for i in inodes}
    found = []
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isascii() and p.isdigit()]
    except OSError:
        return []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    found.append(pid)
                    break
    return found


def kill(pid: int) -> None:
    """SIGKILL pid through a pidfd where possible (no race with pid reuse), and reap it
    when it is our child."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    else:
        try:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        finally:
            os.close(fd)
    escapes.reap(pid)
