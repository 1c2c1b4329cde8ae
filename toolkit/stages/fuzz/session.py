"""Fuzz: hypothesis-generated cases of one command, checked against invariants on real qemu-img.

What an example is and which checks apply is the command's FuzzKind (kinds.py). For
resize, each example (a resize case and a raw size string, see strategies.py) runs
through the one runner on every selected version as FUZZ_SPEC: create -> info-before ->
resize -> info. I1-I4 are checked on each run, I6 on a second run of the same example,
I5 on the size string (grammar.py). A create example runs the create command's steps
(create -> info) through the same runner: I1 and I6 only (invariants.RESIZE_ONLY says why).
With several versions, differences between them are drift:
reported and saved, never failures. A violated invariant is raised inside the
hypothesis test so hypothesis shrinks it; the last failing example per invariant (the
shrunk one) becomes a curated case (findings.py).

Differential mode (`reference` set): the one binary is a candidate, and each example also
runs on the reference (real qemu-img), side by side in the pool; D1-D3
(differential.py) compare the two, and the kind's checks run on the candidate.

A slow candidate must not cost minutes of silence: `on_example` and `on_failure` report
as the run goes, and a Budget bounds the run, checked at each example. In differential
mode a failure does not end the exploration (hypothesis would stop generating and spend
the budget shrinking one finding): failures are collected until `max_examples`,
`max_time` or `stop_after` failing checks, then simplify.py shrinks each, in domain
terms, within `max_shrink_time`. Otherwise hypothesis shrinks, and `max_shrink_time`
counts from the first failure (its shrink ends where it is; the smallest failing example
so far is kept), then simplify.py gets another `max_shrink_time`. ^C stops either the
same way. Whatever was found is collected and saved (run.py).

hypothesis is imported only when fuzz runs (strategies.py), so other commands start
without it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.model.errors import ToolkitError
from toolkit.model.records import CaseResult, QemuBinary
from toolkit.model.replay import reproduce
from toolkit.qemu.runner import run_case
from toolkit.qemu.tools import program_argv
from toolkit.stages.fuzz import differential, findings, grammar, invariants
from toolkit.stages.fuzz.differential import DIFFERENTIAL
from toolkit.stages.fuzz.drift import drift
from toolkit.stages.fuzz.invariants import INVARIANTS, Verdict
from toolkit.stages.fuzz.kinds import kind

if TYPE_CHECKING:
    from toolkit.stages.fuzz.strategies import FuzzExample

__all__ = ["CHECKS", "AbortRun", "Budget", "BudgetStop", "Failure", "InvariantViolation", "Session"]

CHECKS = {**INVARIANTS, **DIFFERENTIAL}  # every check a run can select, by id


class InvariantViolation(AssertionError):
    """Raised inside the hypothesis test; one subclass per invariant, so each shrinks apart."""


_VIOLATIONS = {i: type(f"{i}Violation", (InvariantViolation,), {}) for i in CHECKS}


class BudgetStop(BaseException):
    """A budget ran out: hypothesis lets a BaseException through, ending the run at once."""


@dataclass(frozen=True)
class Budget:
    max_time: float | None = None  # seconds of exploring while nothing fails
    max_shrink_time: float | None = None  # seconds from the first failure to the end
    stop_after: int | None = None  # failing checks that end the exploration


@dataclass(frozen=True)
class Failure:
    """A check's first failure, as it is found (before shrinking)."""

    check: str
    verdict: Verdict
    example: FuzzExample
    result: CaseResult | None  # the run that failed (the candidate's); None for I5 alone
    at_example: int
    seconds: float
    reproduce: tuple[str, ...] = ()  # shell lines replaying `result` (model.replay)


class AbortRun(BaseException):
    """Carries a toolkit error through hypothesis, which neither shrinks nor wraps it."""

    def __init__(self, error: ToolkitError) -> None:
        super().__init__(str(error))
        self.error = error


class Session:
    """Runs examples on every binary with the one runner, and keeps the tallies."""

    def __init__(self, binaries: Sequence[QemuBinary], selected: Sequence[str], jobs: int,
                 timeout: float, run_dir: Path, reference: QemuBinary | None = None,
                 budget: Budget = Budget(), command: str = "resize") -> None:  # fmt: skip
        self.binaries, self.selected = list(binaries), set(selected)
        self.kind = kind(command)
        self.spec = self.kind.spec  # the steps each example runs
        # Its checking steps (StepSpec.checking): the kind's checks read them; I6, drift
        # and D1-D3 compare the command's own.
        self.checking = frozenset(s.name for s in self.spec.steps if s.checking)
        self.reference, self.budget = reference, budget
        self.collecting = reference is not None  # failures are recorded, never raised
        self.drifts = len(self.binaries) > 1  # cross-version mode
        self.timeout, self.run_dir = timeout, run_dir
        # One example's pipelines (runs, a second run for I6, the reference) all at once.
        self.pool = ThreadPoolExecutor(max_workers=max(jobs, 2 * len(self.binaries) + 2))
        self.started = time.monotonic()
        self.stopped = ""  # why the run ended early: a budget, ^C
        self.deadline = None if budget.max_time is None else self.started + budget.max_time
        self.on_example: Callable[[Session], None] = lambda _s: None
        self.on_failure: Callable[[Failure], None] = lambda _f: None
        self.tally: Counter[tuple[str, str]] = Counter()
        self.examples = 0
        self.first_failure: dict[str, int] = {}
        self.failing: dict[str, tuple[FuzzExample, list[Verdict]]] = {}
        self.drift: dict[str, FuzzExample] = {}
        self.notes: dict[str, grammar.GrammarNote] = {}
        self.unsaveable = 0  # findings whose size string the case loader cannot take

    def check(self, example: FuzzExample) -> None:
        """The hypothesis test body: run, judge, tally, raise the first violation."""
        self._within_budget()
        self.examples += 1
        try:
            verdicts, result = self.judge(example)
        except ToolkitError as exc:
            raise AbortRun(exc) from exc
        for v in verdicts:
            self.tally[v.invariant, {True: "passed", False: "failed", None: "n/a"}[v.ok]] += 1
        failed = [v for v in verdicts if v.ok is False]
        for inv in sorted({v.invariant for v in failed}):
            self.failing[inv] = (example, [v for v in failed if v.invariant == inv])
            if inv not in self.first_failure:
                self.first_failure[inv] = self.examples
                self._failed()
                first = next(v for v in failed if v.invariant == inv)
                lines = reproduce(result, program_argv, self.spec.images) if result else []
                self.on_failure(Failure(inv, first, example, result, self.examples,
                                        time.monotonic() - self.started, tuple(lines)))  # fmt: skip
        self.on_example(self)
        stop_after = self.budget.stop_after
        if self.collecting and stop_after is not None and len(self.failing) >= stop_after:
            self.stopped = f"--stop-after {stop_after} reached"
            raise BudgetStop
        if failed and not self.collecting:
            v = failed[0]
            raise _VIOLATIONS[v.invariant](f"{v.invariant} on {v.version}: {v.detail}")

    def _within_budget(self) -> None:
        """Raise BudgetStop when the run's deadline has passed (checked before each example)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            b = self.budget
            self.stopped = (
                f"--max-shrink-time {b.max_shrink_time:g} s reached"
                if self.first_failure and not self.collecting
                else f"--max-time {b.max_time:g} s reached"
            )
            raise BudgetStop

    def _failed(self) -> None:
        """The first failure starts hypothesis's shrink clock, replacing --max-time's."""
        if self.collecting:
            return
        if len(self.first_failure) == 1 and self.budget.max_shrink_time is not None:
            self.deadline = time.monotonic() + self.budget.max_shrink_time

    def judge(self, example: FuzzExample) -> tuple[list[Verdict], CaseResult | None]:
        # Runs feed I1-I4, I6 (a second run) and drift; I5 alone needs only the probe.
        repeat = 2 if "I6" in self.selected else int(self.selected != {"I5"} or self.drifts)
        repeat = max(repeat, int(self.reference is not None))
        # A candidate's checking steps (StepSpec.checking) run with the real qemu-img.
        runs: list[Future[CaseResult]] = [
            self.pool.submit(
                run_case,
                example.case,
                b,
                self.spec,
                self.run_dir,
                self.timeout,
                reference=self.reference,
            )
            for _ in range(repeat)
            for b in self.binaries
        ]
        against = self.reference and self.pool.submit(
            run_case, example.case, self.reference, self.spec, self.run_dir, self.timeout
        )
        probes = {
            b.version: self.pool.submit(
                grammar.real_answer, b, example.size_text, self.run_dir, self.timeout
            )
            for b in (self.binaries if "I5" in self.selected and self.kind.grammar_probe else [])
        }
        results = [f.result() for f in runs]
        first, second = results[: len(self.binaries)], results[len(self.binaries) :]
        verdicts = [v for r in first for v in self.kind.judge(r)]
        verdicts += [invariants.i6_determinism(a, b, self.checking)
                     for a, b in zip(first, second, strict=False)]  # fmt: skip
        if probes:
            v5, note = grammar.i5_grammar(
                example.size_text, {v: f.result() for v, f in probes.items()}
            )
            verdicts += v5
            kept = self.notes.get(note.key) if note else None
            if note and (kept is None or len(note.text) < len(kept.text)):
                self.notes[note.key] = note
        simple = findings.simplicity
        for d in drift(first, self.kind.drift_steps):
            kept_ex = self.drift.get(d.key)
            if kept_ex is None or simple(example.case) < simple(kept_ex.case):
                self.drift[d.key] = example
        if against:
            verdicts += differential.compare(first[0], against.result(), self.checking)
        return [v for v in verdicts if v.invariant in self.selected], (first[0] if first else None)

    def failures(self) -> int:
        return sum(n for (_inv, what), n in self.tally.items() if what == "failed")
