"""fuzz as it runs: a progress line, and each check's first failure the moment it is found.

On a terminal the progress line rewrites itself (stderr, a few times a second); anywhere
else a plain line goes to stderr every EVERY seconds, so a CI log shows the run is alive.
A first failure goes to stdout at once, with the commands that reproduce it (the
session's, toolkit.model.replay: the same lines verify --candidate prints).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from toolkit.render.fuzz import example_text
from toolkit.render.printable import printable
from toolkit.stages.fuzz.session import CHECKS, Failure, Session

__all__ = ["LiveReport", "progress_line"]

EVERY = 5.0  # seconds between plain progress lines off a terminal
TTY_EVERY = 0.2


def progress_line(session: Session) -> str:
    elapsed = time.monotonic() - session.started
    n = session.examples
    rate = n / elapsed if elapsed > 0 else 0.0
    failed = {inv: session.tally[inv, "failed"] for inv in CHECKS if session.tally[inv, "failed"]}
    by = " (" + ", ".join(f"{k} {v}" for k, v in failed.items()) + ")" if failed else ""
    return (f"fuzz: {n} examples in {elapsed:.0f} s, {rate:.1f} examples/s, "
            f"{sum(failed.values())} failures{by}")  # fmt: skip


class LiveReport:
    """Callbacks for session.fuzz: on_example and on_failure."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.tty = self.err.isatty()
        self.last = time.monotonic()
        self.shown = 0  # width of the progress line on screen

    def on_example(self, session: Session) -> None:
        now = time.monotonic()
        if now - self.last < (TTY_EVERY if self.tty else EVERY):
            return
        self.last = now
        line = progress_line(session)
        if self.tty:
            self.err.write("\r" + line.ljust(self.shown))
            self.shown = len(line)
        else:
            self.err.write(line + "\n")
        self.err.flush()

    def on_failure(self, f: Failure) -> None:
        self.clear()
        ex = f.example
        lines = [
            f"FAILED {f.check} {CHECKS[f.check]} at example {f.at_example} ({f.seconds:.1f} s): "
            f"{f.verdict.detail}",
            f"  example: {example_text(ex)}",
        ]
        if f.reproduce:  # each image named as the run named it (model.replay)
            lines += ["  reproduce (before shrinking):", *(f"    {c}" for c in f.reproduce)]
        self.out.write(printable("\n".join(lines) + "\n"))
        self.out.flush()

    def clear(self) -> None:
        if self.tty and self.shown:
            self.err.write("\r" + " " * self.shown + "\r")
            self.err.flush()
            self.shown = 0
