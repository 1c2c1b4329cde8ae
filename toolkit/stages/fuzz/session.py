"""Fuzz: hypothesis-generated resize cases, checked against invariants on real qemu-img.

Each example (a resize case and a raw size string, see strategies.py) runs through
the one runner on every selected version as FUZZ_SPEC: create -> info-before -> resize ->
info. I1-I4 are checked on each run, I6 on a second run of the same example, I5 on the
size string (grammar.py). With several versions, differences between them are drift:
reported and saved, never failures. A violated invariant is raised inside the
hypothesis test so hypothesis shrinks it; the last failing example per invariant (the
shrunk one) becomes a curated case (findings.py).

hypothesis is imported only when fuzz runs (strategies.py), so other commands start
without it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.model.errors import ToolkitError
from toolkit.model.records import CaseResult, QemuBinary
from toolkit.qemu.process import LIVE
from toolkit.qemu.runner import run_case, run_directory
from toolkit.stages.fuzz import findings, grammar, invariants
from toolkit.stages.fuzz.invariants import FUZZ_SPEC, INVARIANTS, Verdict

if TYPE_CHECKING:
    from toolkit.stages.fuzz.strategies import FuzzExample

__all__ = ["FuzzRequest", "FuzzResult", "Session", "collect", "fuzz"]


class InvariantViolation(AssertionError):
    """Raised inside the hypothesis test; one subclass per invariant, so each shrinks apart."""


_VIOLATIONS = {i: type(f"{i}Violation", (InvariantViolation,), {}) for i in INVARIANTS}


class _Abort(BaseException):
    """Carries a toolkit error through hypothesis, which neither shrinks nor wraps it."""

    def __init__(self, error: ToolkitError) -> None:
        super().__init__(str(error))
        self.error = error


class Session:
    """Runs examples on every binary with the one runner, and keeps the tallies."""

    def __init__(self, binaries: Sequence[QemuBinary], selected: Sequence[str], jobs: int,
                 timeout: float, run_dir: Path) -> None:  # fmt: skip
        self.binaries, self.selected = list(binaries), set(selected)
        self.drifts = len(self.binaries) > 1  # cross-version mode
        self.timeout, self.run_dir = timeout, run_dir
        self.pool = ThreadPoolExecutor(max_workers=jobs)
        self.tally: Counter[tuple[str, str]] = Counter()
        self.examples = 0
        self.first_failure: dict[str, int] = {}
        self.failing: dict[str, tuple[FuzzExample, list[Verdict]]] = {}
        self.drift: dict[str, FuzzExample] = {}
        self.notes: dict[str, grammar.GrammarNote] = {}
        self.unsaveable = 0  # findings whose size string the case loader cannot take

    def check(self, example: FuzzExample) -> None:
        """The hypothesis test body: run, judge, tally, raise the first violation."""
        self.examples += 1
        try:
            verdicts = self._judge(example)
        except ToolkitError as exc:
            raise _Abort(exc) from exc
        for v in verdicts:
            self.tally[v.invariant, {True: "passed", False: "failed", None: "n/a"}[v.ok]] += 1
        failed = [v for v in verdicts if v.ok is False]
        for inv in sorted({v.invariant for v in failed}):
            self.first_failure.setdefault(inv, self.examples)
            self.failing[inv] = (example, [v for v in failed if v.invariant == inv])
        if failed:
            v = failed[0]
            raise _VIOLATIONS[v.invariant](f"{v.invariant} on {v.version}: {v.detail}")

    def _judge(self, example: FuzzExample) -> list[Verdict]:
        # Runs feed I1-I4, I6 (a second run) and drift; I5 alone needs only the probe.
        repeat = 2 if "I6" in self.selected else int(self.selected != {"I5"} or self.drifts)
        runs: list[Future[CaseResult]] = [
            self.pool.submit(run_case, example.case, b, FUZZ_SPEC, self.run_dir, self.timeout)
            for _ in range(repeat)
            for b in self.binaries
        ]
        probes = {
            b.version: self.pool.submit(
                grammar.real_answer, b, example.size_text, self.run_dir, self.timeout
            )
            for b in (self.binaries if "I5" in self.selected else [])
        }
        results = [f.result() for f in runs]
        first, second = results[: len(self.binaries)], results[len(self.binaries) :]
        verdicts = [v for r in first for v in invariants.check_run(r)]
        verdicts += [invariants.i6_determinism(a, b) for a, b in zip(first, second, strict=False)]
        if probes:
            v5, note = grammar.i5_grammar(
                example.size_text, {v: f.result() for v, f in probes.items()}
            )
            verdicts += v5
            kept = self.notes.get(note.key) if note else None
            if note and (kept is None or len(note.text) < len(kept.text)):
                self.notes[note.key] = note
        simple = findings.simplicity
        for d in invariants.drift(first):
            kept_ex = self.drift.get(d.key)
            if kept_ex is None or simple(example.case) < simple(kept_ex.case):
                self.drift[d.key] = example
        return [v for v in verdicts if v.invariant in self.selected]

    def failures(self) -> int:
        return sum(n for (_inv, what), n in self.tally.items() if what == "failed")


def collect(session: Session) -> list[findings.Finding]:
    """Failures first (in invariant order), then drift and grammar notes, simplest first."""
    out: list[findings.Finding | None] = []
    for inv in sorted(session.failing):
        ex, failed = session.failing[inv]
        out.append(findings.from_failure(inv, INVARIANTS[inv], ex.case, ex.size_text, failed))
    drift = sorted(session.drift.items(), key=lambda kv: findings.simplicity(kv[1].case))
    out += [findings.from_drift(ex.case, key) for key, ex in drift]
    out += [findings.from_note(note.text, key) for key, note in sorted(session.notes.items())]
    session.unsaveable = sum(f is None for f in out)
    return [f for f in out if f is not None]


@dataclass(frozen=True)
class FuzzRequest:
    binaries: tuple[QemuBinary, ...]
    invariants: tuple[str, ...]  # the selected ones, e.g. ("I1", "I5")
    formats: tuple[str, ...]
    profile: str  # hypothesis profile: fuzz or ci
    max_examples: int | None
    seed: int | None
    shrink: bool
    jobs: int
    timeout: float
    curated_cases: Path
    save_to: Path | None  # None: report findings without saving them


@dataclass(frozen=True)
class FuzzResult:
    session: Session
    elapsed: float
    found: tuple[findings.Finding, ...]
    saved: tuple[findings.Finding, ...]
    save_to: Path | None

    @property
    def failed(self) -> bool:
        return self.session.failures() > 0


def fuzz(req: FuzzRequest) -> FuzzResult:
    """Explore examples until the budget is spent; findings become curated cases."""
    from toolkit.stages.fuzz.explore import explore  # hypothesis only when fuzzing

    started = time.monotonic()
    with run_directory() as run_dir:
        session = Session(req.binaries, req.invariants, req.jobs, req.timeout, run_dir)
        try:
            explore(session.check, req.formats, req.profile, InvariantViolation,
                    req.max_examples, req.seed, shrink=req.shrink)  # fmt: skip
        except _Abort as abort:
            raise abort.error from None
        except BaseException:
            LIVE.kill_all()
            raise
        finally:
            session.pool.shutdown(wait=True, cancel_futures=True)
    elapsed = time.monotonic() - started
    found = collect(session)
    saved = [] if req.save_to is None else findings.save(found, req.save_to, req.curated_cases)
    return FuzzResult(session, elapsed, tuple(found), tuple(saved), req.save_to)
