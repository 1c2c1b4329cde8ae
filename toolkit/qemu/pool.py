"""A pool of workers that runs many (binary, case) pairs concurrently with the one runner.

Workers take jobs in order, run them, and hand each result to `on_result` one at a
time. A worker starts a job only when the scratch space of the jobs running and its
own fit in RUN_BUDGET (model/scratch.py; a job alone always starts), taking its turn
in job order. Results come back in input order whatever `jobs` is, so everything built from
them is identical at -j 1 and -j N. An interrupt kills every live qemu-img process
group, lets a result that is being recorded finish (so a triple is never left half
written), records nothing more, and the run directory is always removed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Case, CaseResult, QemuBinary
from toolkit.model.scratch import RUN_BUDGET
from toolkit.qemu.process import LIVE
from toolkit.qemu.runner import run_case, run_directory

__all__ = ["Job", "Progress", "no_progress", "run_many"]

Job = tuple[QemuBinary, Case]
# Shows a run's progress: called with a label and the number of jobs, it gives the
# function to call once per finished job. The CLI passes a terminal progress bar.
Progress = Callable[[str, int], AbstractContextManager[Callable[[], None]]]


class _Interrupts:
    """The first ^C or SIGTERM raises KeyboardInterrupt in the main thread; later ones
    are ignored, so a second ^C can't cut short the wait for a triple being written.
    While workers start, an interrupt is held until all of them have started, so the
    main thread always knows which threads it must wait for."""

    def __init__(self) -> None:
        self.seen = False
        self.holding = False
        self.pending = False

    def handler(self, signum: int, frame: object) -> None:
        if self.seen:
            return
        if self.holding:
            self.pending = True
            return
        self.seen = True
        raise KeyboardInterrupt

    @contextmanager
    def held(self) -> Iterator[None]:
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
            if self.pending and not self.seen:
                self.seen = True
                raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        try:
            previous = {s: signal.signal(s, self.handler) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: leave signals alone
            yield
            return
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


class _Scratch:
    """The scratch space the running jobs may allocate, against RUN_BUDGET."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.in_use = 0

    def take(self, need: int) -> bool:
        """Wait until `need` fits beside the running jobs (or nothing runs); False when the
        run is stopping instead."""
        with self.cond:
            while self.in_use and self.in_use + need > RUN_BUDGET:
                if LIVE.stopping:
                    return False
                self.cond.wait(0.1)
            self.in_use += need
            return True

    def give(self, need: int) -> None:
        with self.cond:
            self.in_use -= need
            self.cond.notify_all()


@contextmanager
def no_progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    """Progress that shows nothing."""
    yield lambda: None


def run_many(
    jobs: Sequence[Job],
    spec: CommandSpec,
    workers: int,
    timeout: float,
    on_result: Callable[[CaseResult], None] | None = None,
    label: str = "running",
    tmp_parent: Path | None = None,
    progress: Progress = no_progress,
    roots: Mapping[str, Path] | None = None,
) -> list[CaseResult]:
    """Run every job; call on_result as each finishes; return results in job order.

    on_result is called from the worker threads, never two calls at once. `roots`: the
    runner's placeholders of directories outside the scratch directory (run_case).
    """
    results: list[CaseResult | None] = [None] * len(jobs)
    queue = iter(enumerate(jobs))
    taking, recording = threading.Lock(), threading.Lock()
    failures: list[BaseException] = []
    interrupts = _Interrupts()
    scratch = _Scratch()

    def work(run_dir: Path, advance: Callable[[], None], finished: threading.Event) -> None:
        try:
            while not LIVE.stopping:
                with taking:  # the next job waits for its space here: jobs start in order
                    job = next(queue, None)
                    need = 0 if job is None else spec.scratch_bytes(job[1][1])
                    if job is None or not scratch.take(need):
                        return
                index, (binary, case) = job
                try:
                    result = run_case(case, binary, spec, run_dir, timeout, roots=roots)
                finally:
                    scratch.give(need)
                with recording:
                    # LIVE.stopping is set before any group is killed: a result whose
                    # qemu-img an interrupt killed is never recorded.
                    if LIVE.stopping:
                        return
                    if on_result is not None:
                        on_result(result)
                results[index] = result
                advance()
        except BaseException as exc:
            failures.append(exc)
            LIVE.kill_all()
        finally:
            finished.set()

    with (
        interrupts.installed(),
        run_directory(tmp_parent) as run_dir,
        progress(label, len(jobs)) as advance,
    ):
        started: list[threading.Event] = []
        try:
            with interrupts.held():
                for n in range(max(1, min(workers, len(jobs)))):
                    finished = threading.Event()
                    worker = threading.Thread(
                        target=work, args=(run_dir, advance, finished), name=f"worker-{n}"
                    )
                    worker.daemon = True
                    worker.start()
                    started.append(finished)
            # Not Thread.join: on Python 3.11 a ^C that interrupts join() marks the thread
            # as stopped while it still runs. A timed wait also picks up, within 0.1 s, a
            # signal that the kernel handed to a worker thread instead of this one.
            for finished in started:
                while not finished.wait(0.1):
                    pass
        except BaseException:  # ^C: stop everything, but let a result being recorded finish
            interrupts.seen = True  # and take no second interrupt while waiting for it
            LIVE.kill_all()
            for finished in started:
                finished.wait()
            raise
    if failures:
        raise failures[0]
    return [r for r in results if r is not None]
