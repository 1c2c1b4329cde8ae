"""One qemu-img process: argv only (never a shell), its own process group, a deadline.

Every qemu-img call of every stage goes through `run_process`. `LIVE` knows every
running group so an interrupt can kill them all; one watchdog thread kills a group
that outlives its deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from toolkit.model.errors import ToolkitFailure

__all__ = ["LIVE", "WATCHDOG", "RawOutcome", "pid_alive", "run_process"]


@dataclass(frozen=True)
class RawOutcome:
    return_code: int  # negative N: killed by signal N (Python's convention, not the shell's 128+N)
    stdout: bytes
    stderr: bytes
    timed_out: bool


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

    def discard(self, p: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(p)

    def kill_all(self) -> None:
        """Stop for good: kill every live group and refuse to start new ones."""
        self.stopping = True
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            _kill_group(p)


LIVE = _Live()


def _kill_group(p: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGKILL)


class _Watch:
    """One process under the watchdog: `done` once reaped, `expired` if it was killed."""

    __slots__ = ("deadline", "done", "expired", "proc")

    def __init__(self, deadline: float, proc: subprocess.Popen[bytes]) -> None:
        self.deadline = deadline
        self.proc = proc
        self.done = False
        self.expired = False

    def __lt__(self, other: _Watch) -> bool:
        return self.deadline < other.deadline


class _Watchdog:
    """One thread kills every process group that outlives its deadline.

    Not a threading.Timer per call: starting a thread costs more than the rest of
    the bookkeeping around one qemu-img call, and a run makes thousands of them.
    Nor communicate(timeout=...): Popen.wait then polls waitpid with sleeps.
    A finished entry stays in the heap (the thread is only woken for a new earliest
    deadline) until it reaches the top or the heap is compacted.
    """

    COMPACT_AT = 512  # finished entries kept before the heap is rebuilt without them

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[_Watch] = []
        self._finished = 0
        self._thread: threading.Thread | None = None

    def watch(self, proc: subprocess.Popen[bytes], timeout: float) -> _Watch:
        w = _Watch(time.monotonic() + timeout, proc)
        with self._cond:
            if self._finished > self.COMPACT_AT and 2 * self._finished > len(self._heap):
                self._heap = [e for e in self._heap if not e.done]
                heapq.heapify(self._heap)
                self._finished = 0
            heapq.heappush(self._heap, w)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0] is w:
                self._cond.notify()
        return w

    def release(self, w: _Watch) -> None:
        with self._cond:  # under the lock: the loop never kills a reaped process
            w.done = True
            if not w.expired:  # an expired entry has already left the heap
                self._finished += 1

    def pending(self) -> int:
        """Entries in the heap, finished or not (for tests)."""
        with self._cond:
            return len(self._heap)

    def _loop(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0].done or self._heap[0].deadline <= now):
                    w = heapq.heappop(self._heap)
                    if w.done:
                        self._finished -= 1
                    else:
                        w.expired = True
                        _kill_group(w.proc)
                self._cond.wait(self._heap[0].deadline - now if self._heap else None)


WATCHDOG = _Watchdog()


def _fresh_watchdog() -> None:
    global WATCHDOG
    WATCHDOG = _Watchdog()


# A forked child has no watchdog thread (nor the parent's processes): start it afresh.
os.register_at_fork(after_in_child=_fresh_watchdog)


def run_process(argv: list[str], cwd: Path, timeout: float) -> RawOutcome:
    """Run argv (never through a shell) in its own process group; kill the group on timeout."""
    if LIVE.stopping:
        raise ToolkitFailure("run interrupted")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own group: killable as a whole, deaf to the terminal's ^C
        )
    except OSError as exc:
        raise ToolkitFailure(f"cannot run {argv[0]}: {exc}") from exc
    LIVE.add(proc)
    watch = WATCHDOG.watch(proc, timeout)
    try:
        out, err = proc.communicate()
    finally:
        WATCHDOG.release(watch)
        _kill_group(proc)  # reap anything the step left behind in its group
        LIVE.discard(proc)
    return RawOutcome(proc.returncode, out, err, watch.expired)


def pid_alive(pid: int) -> bool:
    """Whether a process exists (someone else's live process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
