"""`fuzz`: hypothesis-generated resize cases, checked against invariants on real qemu-img.

Each example (a resize case and a raw size string, see toolkit.strategies) runs through
the one runner on every selected version as FUZZ_SPEC: create -> info-before -> resize ->
info. I1-I4 are checked on each run, I6 on a second run of the same example, I5 on the
size string (toolkit.grammar_probe). With several versions, differences between them are
drift: reported and saved, never failures. A violated invariant is raised inside the
hypothesis test so hypothesis shrinks it; the last failing example per invariant (the
shrunk one) becomes a curated case (toolkit.findings).

hypothesis is imported only when fuzz runs, so other commands start without it.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit import findings, grammar_probe, invariants, options
from toolkit.errors import EXIT_FAILED, EXIT_OK, BadInput, ToolkitError
from toolkit.formats import FORMATS
from toolkit.generate import binaries_for
from toolkit.invariants import FUZZ_SPEC, INVARIANTS, Verdict
from toolkit.model import CaseResult, QemuBinary
from toolkit.process import LIVE
from toolkit.runner import run_case, run_directory

if TYPE_CHECKING:
    from toolkit.strategies import FuzzExample


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
        self.notes: dict[str, grammar_probe.GrammarNote] = {}
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
                grammar_probe.probe, b, example.size_text, self.run_dir, self.timeout
            )
            for b in (self.binaries if "I5" in self.selected else [])
        }
        results = [f.result() for f in runs]
        first, second = results[: len(self.binaries)], results[len(self.binaries) :]
        verdicts = [v for r in first for v in invariants.check_run(r)]
        verdicts += [invariants.i6_determinism(a, b) for a, b in zip(first, second, strict=False)]
        if probes:
            v5, note = grammar_probe.i5_grammar(
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fuzz", help="hypothesis-generated resize cases checked against invariants")
    options.add_discovery_options(p)
    # Several --version: each example runs on each, and differences are drift findings.
    options.add_filter_options(p, with_cases=False)
    add = p.add_argument
    # fmt: off
    add("--invariant", dest="invariants", action="append", default=[], metavar="I",
        help=f"only this invariant (repeatable): {', '.join(INVARIANTS)}")
    add("--max-examples", type=options.positive_int, default=None, metavar="N",
        help="examples to generate (default: the profile's; fuzz 100, ci 10)")
    add("--seed", type=int, default=None, metavar="S",
        help="reproducible run with this seed (turns the example database off)")
    add("--profile", choices=("fuzz", "ci"), default="fuzz",
        help="hypothesis profile: fuzz (random, example database) or ci (derandomized)")
    add("--no-shrink", action="store_true", help="keep falsifying examples as first found")
    add("--curated-cases", type=Path, default=Path("curated_cases"), metavar="DIR",
        help="existing cases: findings already recorded are skipped (default: ./curated_cases)")
    add("--save-cases", type=Path, default=None, metavar="FILE",
        help=f"where new findings go (default: DIR/{findings.DEFAULT_FILE})")
    add("--no-save", action="store_true", help="report findings without saving them")
    # fmt: on
    options.add_jobs_option(p)
    options.add_timeout_option(p)
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> tuple[list[str], tuple[str, ...], Path]:
    selected = [i.upper() for i in args.invariants] or list(INVARIANTS)
    unknown = [i for i in selected if i not in INVARIANTS]
    if unknown:
        raise BadInput(f"unknown --invariant {', '.join(unknown)}; known: {', '.join(INVARIANTS)}")
    bad = [f for f in args.formats if f not in FORMATS]
    if bad:
        raise BadInput(f"unknown --format {', '.join(bad)}; known: {', '.join(sorted(FORMATS))}")
    save_to: Path = args.save_cases or args.curated_cases / findings.DEFAULT_FILE
    if save_to.exists() and not save_to.is_file():
        raise BadInput(f"--save-cases {save_to}: not a file")
    return selected, tuple(dict.fromkeys(args.formats)) or tuple(FORMATS), save_to


def run(args: argparse.Namespace) -> int:
    from toolkit.strategies import explore  # hypothesis only when fuzzing

    selected, formats, save_to = _check_args(args)
    binaries = binaries_for(args)
    started = time.monotonic()
    with run_directory() as run_dir:
        session = Session(binaries, selected, args.jobs, args.timeout, run_dir)
        try:
            explore(session.check, formats, args.profile, InvariantViolation,
                    args.max_examples, args.seed, shrink=not args.no_shrink)  # fmt: skip
        except _Abort as abort:
            raise abort.error from None
        except BaseException:
            LIVE.kill_all()
            raise
        finally:
            session.pool.shutdown(wait=True, cancel_futures=True)
    elapsed = time.monotonic() - started
    found = collect(session)
    saved = [] if args.no_save else findings.save(found, save_to, args.curated_cases)
    summary(session, elapsed, found, saved, None if args.no_save else save_to)
    return EXIT_FAILED if session.failures() else EXIT_OK


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


def summary(session: Session, elapsed: float, found: Sequence[findings.Finding],
            saved: Sequence[findings.Finding], save_to: Path | None) -> None:  # fmt: skip
    n, versions = session.examples, [b.version for b in session.binaries]
    rate = n / elapsed if elapsed else 0.0
    print(
        f"fuzz resize: {n} examples on {len(versions)} version(s) ({', '.join(versions)}) in "
        f"{elapsed:.1f} s: {rate:.1f} examples/s, {rate * len(versions):.1f} version-examples/s"
    )
    for inv, name in INVARIANTS.items():
        if inv in session.selected:
            t = {w: session.tally[inv, w] for w in ("passed", "failed", "n/a")}
            first = session.first_failure.get(inv)
            when = f" (first at example {first})" if first else ""
            print(
                f"  {inv} {name:<24} {t['passed']:>5} passed {t['failed']:>5} failed{when}"
                f" {t['n/a']:>5} n/a"
            )
    for key in sorted(session.notes):
        print(f"  grammar note ({session.notes[key].text!r}): {key}")
    for key in sorted(session.drift):
        print(f"  {key}")
    where = f" to {save_to}" if save_to else " (--no-save)"
    skipped = f", {len(found) - len(saved)} already recorded" if save_to else ""
    lost = session.unsaveable
    unsaved = f", {lost} not saveable (the case loader rejects the size)" if lost else ""
    print(
        f"findings: {len(session.failing)} invariant failures, {len(session.drift)} drift, "
        f"{len(session.notes)} grammar notes; cases saved: {len(saved)}{where}{skipped}{unsaved}"
    )
    for inv in sorted(session.failing):
        ex, failed = session.failing[inv]
        print(
            f"FAILED {inv} {INVARIANTS[inv]} on {failed[0].version}: {failed[0].detail}\n"
            f"  example: {ex.case.format} start={ex.case.start_size!r} end={ex.case.end_spec!r}"
            f" options={list(ex.case.create_options)} prealloc={ex.case.prealloc}"
            f" shrink={ex.case.shrink} size-string={ex.size_text!r}"
        )
