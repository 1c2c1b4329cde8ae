"""The one runner: a case's steps against one qemu-img, in a private temp dir.

Generation, verification and fuzzing all call `run_case`. qemu-img's own
failures are data (recorded return codes); only the toolkit's failures raise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from toolkit.commands import IMAGE, QEMU_IMG, CommandSpec, Plan, plan_for
from toolkit.errors import ToolkitFailure
from toolkit.model import Case, CaseResult, QemuBinary, StepResult
from toolkit.normalise import PathContext, assert_no_leak, normalise
from toolkit.sizes import grammar_for

RUN_DIR_PREFIX = "qemu-img-baselines-run-"


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
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill_group(proc)

    # A watchdog instead of communicate(timeout=...): with a timeout, Popen.wait polls
    # waitpid with sleeps, which adds latency to every one of thousands of short calls.
    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        out, err = proc.communicate()
    finally:
        watchdog.cancel()
        _kill_group(proc)  # reap anything the step left behind in its group
        LIVE.discard(proc)
    return RawOutcome(proc.returncode, out, err, expired.is_set())


def pid_alive(pid: int) -> bool:
    """Whether a process exists (someone else's live process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_run_dirs(parent: Path) -> int:
    """Remove run directories a SIGKILLed run left behind (their owner pid is gone)."""
    removed = 0
    for d in parent.glob(f"{RUN_DIR_PREFIX}*"):
        pid = d.name[len(RUN_DIR_PREFIX) :].split("-")[0]
        if d.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed


@contextlib.contextmanager
def run_directory(parent: Path | None = None) -> Iterator[Path]:
    """A per-run scratch directory, never inside the repo, removed however the run ends."""
    base = Path(parent or tempfile.gettempdir())
    sweep_stale_run_dirs(base)
    path = Path(tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{os.getpid()}-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# Output that says the host, not qemu-img, failed: never a baseline.
HOST_FAILURES = (b"No space left on device", b"Disk quota exceeded")


def _refuse_host_failure(raw: RawOutcome, run_dir: Path) -> None:
    for needle in HOST_FAILURES:
        if needle in raw.stderr or needle in raw.stdout:
            raise ToolkitFailure(
                f"the scratch directory {run_dir.parent} ran out of space "
                f"({needle.decode()}); nothing was recorded for this case. Free some space "
                f"or point TMPDIR at a bigger file system, then run again"
            )


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def run_case(
    case: Case,
    binary: QemuBinary,
    spec: CommandSpec,
    run_dir: Path,
    timeout: float = 60.0,
    plan: Plan | None = None,
) -> CaseResult:
    """Run every step of `case` that its predecessors allow. Never raises for qemu-img's sake."""
    plan = plan or plan_for(case, grammar_for(binary.version))
    case_dir = Path(tempfile.mkdtemp(prefix="case-", dir=run_dir))
    image = case_dir / f"img.{case.format}"
    ctx = PathContext(image=image, case_dir=case_dir, run_dir=run_dir, binaries=binary.host_paths())
    ok: dict[str, bool] = {}
    results: list[StepResult] = []
    try:
        previous: str | None = None
        for step in spec.steps:
            template = step.argv(case, plan)
            needs = step.requires if step.requires is not None else (previous,)
            previous = step.name
            if not all(n is None or ok.get(n) for n in needs):
                results.append(StepResult(step.name, (QEMU_IMG, *template), None))
                ok[step.name] = False
                continue
            real = [str(image) if a == IMAGE else a for a in template]
            raw = run_process([*binary.command(), *real], case_dir, timeout)
            _refuse_host_failure(raw, run_dir)
            stdout = normalise(_decode(raw.stdout), ctx)
            stderr = normalise(_decode(raw.stderr), ctx)
            for what, text in (("stdout", stdout), ("stderr", stderr)):
                assert_no_leak(text, ctx, f"{step.name} {what} of {case.format}/{case.name}")
            results.append(
                StepResult(
                    name=step.name,
                    argv=(QEMU_IMG, *template),
                    return_code=raw.return_code,
                    stdout=stdout,
                    stderr=stderr,
                    stdout_bytes=len(stdout.encode()),
                    stderr_bytes=len(stderr.encode()),
                    timed_out=raw.timed_out,
                    image_bytes=image.stat().st_size if image.exists() else None,
                )
            )
            ok[step.name] = raw.return_code == 0 and not raw.timed_out
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)
    return CaseResult(
        case=case,
        binary=binary,
        steps=tuple(results),
        applied_shrink_flag=plan.applied_shrink_flag,
        expected_final_size=plan.expected_final_size,
    )
