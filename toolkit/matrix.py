"""Run many (binary, case) pairs concurrently with the one runner.

Results come back in input order whatever `jobs` is, so everything built from
them is identical at -j 1 and -j N. An interrupt kills every live qemu-img
process group, and the run directory is always removed.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit.commands import CommandSpec
from toolkit.model import Case, CaseResult, QemuBinary
from toolkit.runner import LIVE, run_case, run_directory

Job = tuple[QemuBinary, Case]


class _Interrupts:
    """^C and SIGTERM raise KeyboardInterrupt, but never inside a critical section.

    Writing one case's triple is critical: an interrupt that arrives meanwhile
    is held until the triple is complete, so ^C never leaves a partial triple.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False

    def handler(self, signum: int, frame: object) -> None:
        if self.depth:
            self.pending = True
            return
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

    @contextmanager
    def critical(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending:
                self.pending = False
                raise KeyboardInterrupt


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on a terminal; nothing (and no rich import) otherwise."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns: list[Any] = ["{task.description}", BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def run_many(
    jobs: Sequence[Job],
    spec: CommandSpec,
    workers: int,
    timeout: float,
    on_result: Callable[[CaseResult], None] | None = None,
    label: str = "running",
    tmp_parent: Path | None = None,
) -> list[CaseResult]:
    """Run every job; call on_result as each finishes; return results in job order."""
    results: list[CaseResult | None] = [None] * len(jobs)
    interrupts = _Interrupts()
    with (
        interrupts.installed(),
        run_directory(tmp_parent) as run_dir,
        progress_bar(label, len(jobs)) as advance,
    ):
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            pending: dict[Future[CaseResult], int] = {}
            queue = iter(enumerate(jobs))

            def submit_next() -> None:
                nxt = next(queue, None)
                if nxt is not None:
                    index, (binary, case) = nxt
                    pending[pool.submit(run_case, case, binary, spec, run_dir, timeout)] = index

            # Keep at most 2*workers in flight so ^C has little to cancel.
            for _ in range(2 * workers):
                submit_next()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    index = pending.pop(fut)
                    result = fut.result()
                    results[index] = result
                    if on_result is not None:
                        with interrupts.critical():
                            on_result(result)
                    advance()
                    submit_next()
        except BaseException:
            LIVE.kill_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return [r for r in results if r is not None]
