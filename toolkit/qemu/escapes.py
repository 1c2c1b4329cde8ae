"""Processes a qemu-img call leaves running outside its process group: found, named, killed.

Each call runs in a new session, and killing that session's process group at the end
(toolkit.qemu.process) ends everything the call started, unless a process left the
group: `setsid sleep 1001 &` in a wrapper or a candidate. Such a process keeps running
after the call, and if it holds the call's stdout or stderr, a reader that waits for
end-of-file waits as long as it lives. How the toolkit finds them (Linux):

* **Subreaper.** The toolkit process makes itself a child subreaper (prctl
  PR_SET_CHILD_SUBREAPER, once per process: it is not inherited across fork). A process
  whose parent exits is then reparented to the toolkit instead of init, so whatever a
  call started and left behind is, once the call's own process has ended, a child of
  ours: found in /proc/self/task/*/children, and safe to kill and reap by pid (a child's
  pid cannot be reused until we reap it).
* **A token per call.** Each call's environment carries QEMU_IMG_BASELINES_CALL=<pid>.<n>,
  inherited by everything it starts. After the call's process is reaped and its group
  killed, `sweep` kills (SIGKILL) and reaps every child of ours whose environment holds
  the call's token, again and again while killing one reparents its own children to us.
  A process that left the group is named in the call's outcome; one still in the group
  (a straggler the group kill reached) is not news.
* **The pipes' holders.** A process that cleared its environment is not recognised by
  the token. If it holds the call's output open, it is found through /proc/<pid>/fd (the
  pipes' inode) once the pipes' grace has passed, named and killed, and the pipes are
  closed (toolkit.qemu.capture). One that holds nothing and cleared its environment runs
  on: the documented limit.
* **Zombies.** An orphan of a call that exits on its own becomes our zombie. `sweep` reaps
  every zombie child of ours in another session that is no call's own process (each
  call's own process is reaped by its caller). Reaping takes `SPAWNS.reaping()`, which
  waits for calls being started: a process just started is in LIVE (process.py) before
  a reaper can look at it. Processes in our own session (git, apt: other code's
  children, which never start a session of their own) are never touched.

Why not walk /proc for the session or the parent chain: once a process has called setsid
and its parent has exited, neither ties it to the call any more; the subreaper and the
token do. Where prctl or /proc is missing, nothing is swept; the caller still closes the
pipes after their grace, so a run ends on time whatever is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator

__all__ = ["SPAWNS", "TOKEN_VAR", "call_environment", "describe", "reap", "sweep"]

TOKEN_VAR = "QEMU_IMG_BASELINES_CALL"
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
REAP_WAIT = 0.5  # seconds a SIGKILLed process gets to die before it is left to a later sweep
MAX_ROUNDS = 64  # sweep rounds (a process tree deeper than this is not a qemu-img's)

_calls = itertools.count(1)
_subreaper_pid = 0  # the pid that made itself a subreaper (a forked child must again)


def _become_subreaper() -> None:
    global _subreaper_pid
    if _subreaper_pid == os.getpid():
        return
    _subreaper_pid = os.getpid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def call_environment() -> tuple[str, dict[str, str]]:
    """A new call's token and the environment that carries it (this process's, plus it)."""
    _become_subreaper()
    token = f"{os.getpid()}.{next(_calls)}"
    return token, {**os.environ, TOKEN_VAR: token}


class _Spawns:
    """Calls being started (any number at once) against one reaper of zombies: a reaper
    waits until no call is between fork and its registration in LIVE."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._starting = 0
        self._reaping = False

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        with self._cond:
            while self._reaping:
                self._cond.wait()
            self._starting += 1
        try:
            yield
        finally:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def reaping(self) -> Iterator[None]:
        with self._cond:
            while self._reaping or self._starting:
                self._cond.wait()
            self._reaping = True
        try:
            yield
        finally:
            with self._cond:
                self._reaping = False
                self._cond.notify_all()


SPAWNS = _Spawns()


def _fresh_spawns() -> None:
    global SPAWNS
    SPAWNS = _Spawns()


os.register_at_fork(after_in_child=_fresh_spawns)  # another thread may have held its lock


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(1 << 20)
    except OSError:
        return b""


def _children() -> set[int]:
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            found.update(int(p) for p in _read(f"/proc/self/task/{tid}/children").split())
    return found


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, session) of pid, None when it is gone."""
    raw = _read(f"/proc/{pid}/stat")
    fields = raw[raw.rfind(b")") + 2 :].split()  # the command may hold spaces and ')'
    if len(fields) < 4:
        return None
    return fields[0].decode(), int(fields[2]), int(fields[3])


def describe(pid: int) -> str:
    """`pid 1234 (sleep 1001)`: what a message names a process by."""
    argv = _read(f"/proc/{pid}/cmdline").rstrip(b"\0").replace(b"\0", b" ")
    text = argv.decode("utf-8", "backslashreplace") or "?"
    return f"pid {pid} ({text[:120]}{'…' if len(text) > 120 else ''})"


def reap(pid: int) -> None:
    """Wait a little for a killed child of ours; a process not ours returns at once."""
    end = time.monotonic() + REAP_WAIT
    while True:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done or time.monotonic() > end:
            return  # still dying (uninterruptible): a later sweep reaps its zombie
        time.sleep(0.005)


def sweep(token: str, group: int, live: Callable[[], Collection[int]]) -> list[str]:
    """Kill and reap every process the call `token` left running (and reap zombies of
    earlier calls); `live()` gives the pids of calls still running. Returns the processes
    that had left the call's process group `group`, described."""
    marker = f"\0{TOKEN_VAR}={token}\0".encode()
    session = os.getsid(0)
    escaped: list[str] = []
    for _round in range(MAX_ROUNDS):
        zombies, ours = [], []
        for pid in _children() - set(live()):
            stat = _stat(pid)
            if stat is None:
                continue
            if stat[0] == "Z":
                if stat[2] != session:
                    zombies.append(pid)
            elif marker in b"\0" + _read(f"/proc/{pid}/environ"):
                ours.append((pid, stat[1]))
        if zombies:
            _reap_zombies(zombies, live)
        if not ours:
            return escaped
        for pid, pgid in ours:
            if pgid != group:
                escaped.append(f"{describe(pid)} left the process group and ran on after the call")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)  # our child: its pid is ours until reaped
            reap(pid)
    return escaped


def _reap_zombies(zombies: list[int], live: Callable[[], Collection[int]]) -> None:
    with SPAWNS.reaping():
        running = live()  # no call can start meanwhile: every call's own process is here
        for pid in zombies:
            if pid in running:  # its caller reaps it
                continue
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
