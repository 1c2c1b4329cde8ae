"""`fuzz`: hypothesis-generated resize cases, checked against invariants on real qemu-img.

Each example (a resize case and a raw size string, see toolkit.strategies) runs through
the one runner on every selected version, as FUZZ_SPEC: create -> info-before -> resize ->
info. I1-I4 are checked on each run, I6 on a second run of the same example, I5 on the
size string (toolkit.grammar_probe). With several versions, differences between them are
drift: reported and saved, never failures. A violated invariant is raised inside the
hypothesis test, so hypothesis shrinks it; the last failing example per invariant (the
shrunk one) is saved as a curated case (toolkit.findings).

Profiles: `fuzz` (default; random, example database in the user cache) and `ci`
(derandomized, small, no database). `--seed` makes a `fuzz` run reproducible and turns the
database off, since replayed database entries would change what runs.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from toolkit import findings, grammar_probe, invariants, options
from toolkit.discovery import user_cache_dir
from toolkit.errors import EXIT_FAILED, EXIT_OK, BadInput, ToolkitError
from toolkit.formats import FORMATS
from toolkit.generate import binaries_for
from toolkit.invariants import FUZZ_SPEC, INVARIANTS, Verdict
from toolkit.model import CaseResult, QemuBinary
from toolkit.runner import LIVE, run_case, run_directory
from toolkit.strategies import FuzzExample, fuzz_examples

_BASE = settings(
    deadline=None,
    verbosity=Verbosity.quiet,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci", _BASE, derandomize=True, max_examples=10, database=None)
settings.register_profile(
    "fuzz",
    _BASE,
    max_examples=100,
    database=DirectoryBasedExampleDatabase(user_cache_dir() / "hypothesis"),
)


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

    def __init__(
        self, binaries: Sequence[QemuBinary], selected: Sequence[str], jobs: int, timeout: float
    ) -> None:
        self.binaries, self.selected, self.timeout = list(binaries), set(selected), timeout
        self.pool = ThreadPoolExecutor(max_workers=jobs)
        self.run_dir = Path()
        self.tally: Counter[tuple[str, str]] = Counter()
        self.examples = 0
        self.first_failure: dict[str, int] = {}
        self.failing: dict[str, tuple[FuzzExample, list[Verdict]]] = {}
        self.drift: dict[str, tuple[FuzzExample, invariants.Drift]] = {}
        self.notes: dict[str, grammar_probe.GrammarNote] = {}

    def _submit_runs(self, example: FuzzExample) -> list[Future[CaseResult]]:
        runs = 2 if "I6" in self.selected else 1
        return [
            self.pool.submit(run_case, example.case, b, FUZZ_SPEC, self.run_dir, self.timeout)
            for _ in range(runs)
            for b in self.binaries
        ]

    def check(self, example: FuzzExample) -> None:
        """The hypothesis test body: run, judge, tally, raise the first violation."""
        self.examples += 1
        try:
            verdicts = self._judge(example)
        except ToolkitError as exc:
            raise _Abort(exc) from exc
        failed = [v for v in verdicts if v.ok is False]
        for v in verdicts:
            self.tally[v.invariant, {True: "passed", False: "failed", None: "n/a"}[v.ok]] += 1
        for inv in sorted({v.invariant for v in failed}):
            self.first_failure.setdefault(inv, self.examples)
            self.failing[inv] = (example, [v for v in failed if v.invariant == inv])
        if failed:
            first = failed[0]
            raise _VIOLATIONS[first.invariant](f"{first.invariant} on {first.version}: "
                                               f"{first.detail}")  # fmt: skip

    def _judge(self, example: FuzzExample) -> list[Verdict]:
        runs = self._submit_runs(example)
        probes = {
            b.version: self.pool.submit(
                grammar_probe.probe, b, example.size_text, self.run_dir, self.timeout
            )
            for b in self.binaries
            if "I5" in self.selected
        }
        results = [f.result() for f in runs]
        first, second = results[: len(self.binaries)], results[len(self.binaries) :]
        verdicts = [v for r in first for v in invariants.check_run(r)]
        verdicts += [invariants.i6_determinism(a, b) for a, b in zip(first, second, strict=False)]
        if probes:
            real = {v: f.result() for v, f in probes.items()}
            v5, note = grammar_probe.i5_grammar(example.size_text, real)
            verdicts += v5
            if note is not None and (
                note.key not in self.notes or len(note.text) < len(self.notes[note.key].text)
            ):
                self.notes[note.key] = note  # fmt: skip
        for d in invariants.drift(first):
            kept = self.drift.get(d.key)
            if kept is None or findings.simplicity(example.case) < findings.simplicity(
                kept[0].case
            ):
                self.drift[d.key] = (example, d)
        return [v for v in verdicts if v.invariant in self.selected]


def _settings(args: argparse.Namespace) -> settings:
    base = settings.get_profile(args.profile)
    overrides: dict[str, object] = {}
    if args.max_examples is not None:
        overrides["max_examples"] = args.max_examples
    if args.seed is not None:
        overrides["database"] = None
    if args.no_shrink:
        overrides["phases"] = [p for p in base.phases if p is not Phase.shrink]
    return settings(base, **overrides)  # type: ignore[arg-type]


def explore(session: Session, args: argparse.Namespace, formats: tuple[str, ...]) -> None:
    """Drive hypothesis over the session; violations are recorded, not propagated."""

    @_settings(args)
    @given(fuzz_examples(formats))
    def fuzz_resize(example: FuzzExample) -> None:
        session.check(example)

    test = hypothesis.seed(args.seed)(fuzz_resize) if args.seed is not None else fuzz_resize
    try:
        test()
    except _Abort as abort:
        raise abort.error from None
    except Exception as exc:  # hypothesis reports violations (and flaky ones) by raising
        if not _only_violations(exc):
            raise


def _only_violations(exc: BaseException) -> bool:
    if isinstance(exc, InvariantViolation | hypothesis.errors.Flaky):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_violations(e) for e in exc.exceptions)
    return False


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fuzz", help="hypothesis-generated resize cases checked against invariants")
    options.add_discovery_options(p)
    p.add_argument(
        "--version",
        dest="versions",
        action="append",
        default=[],
        metavar="V",
        help="a qemu-img version to fuzz (repeatable; several: cross-version drift)",
    )
    p.add_argument(
        "--format",
        dest="formats",
        action="append",
        default=[],
        metavar="F",
        help="only this image format (repeatable)",
    )
    p.add_argument(
        "--invariant",
        dest="invariants",
        action="append",
        default=[],
        metavar="I",
        help=f"only this invariant (repeatable): {', '.join(INVARIANTS)}",
    )
    p.add_argument(
        "--max-examples",
        type=options.positive_int,
        default=None,
        metavar="N",
        help="examples to generate (default: the profile's, fuzz 100, ci 10)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="reproducible run with this seed (turns the example database off)",
    )
    p.add_argument(
        "--profile",
        choices=("fuzz", "ci"),
        default="fuzz",
        help="hypothesis profile (default: fuzz)",
    )
    p.add_argument("--no-shrink", action="store_true", help="save falsifying examples unshrunk")
    p.add_argument(
        "--curated-cases",
        type=Path,
        default=Path("curated_cases"),
        metavar="DIR",
        help="existing cases, to skip findings already recorded (default: ./curated_cases)",
    )
    p.add_argument(
        "--save-cases",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"where findings go (default: DIR/{findings.DEFAULT_FILE})",
    )
    p.add_argument("--no-save", action="store_true", help="report findings without saving them")
    options.add_jobs_option(p)
    options.add_timeout_option(p)
    p.set_defaults(func=run)  # fmt: skip


def _check_args(args: argparse.Namespace) -> tuple[list[str], tuple[str, ...], Path]:
    selected = [i.upper() for i in args.invariants] or list(INVARIANTS)
    unknown = [i for i in selected if i not in INVARIANTS]
    if unknown:
        raise BadInput(f"unknown --invariant {', '.join(unknown)}; known: {', '.join(INVARIANTS)}")
    bad = [f for f in args.formats if f not in FORMATS]
    if bad:
        raise BadInput(f"unknown --format {', '.join(bad)}; known: {', '.join(sorted(FORMATS))}")
    save_to = args.save_cases or args.curated_cases / findings.DEFAULT_FILE
    if save_to.exists() and not save_to.is_file():
        raise BadInput(f"--save-cases {save_to}: not a file")
    return selected, tuple(args.formats) or tuple(FORMATS), save_to


def run(args: argparse.Namespace) -> int:
    selected, formats, save_to = _check_args(args)
    binaries = binaries_for(args)
    session = Session(binaries, selected, args.jobs, args.timeout)
    started = time.monotonic()
    try:
        with run_directory() as run_dir:
            session.run_dir = run_dir
            explore(session, args, formats)
    except BaseException:
        LIVE.kill_all()
        raise
    finally:
        session.pool.shutdown(wait=True, cancel_futures=True)
    elapsed = time.monotonic() - started
    found = collect(session)
    saved = [] if args.no_save else findings.save(found, save_to, args.curated_cases)
    summary(session, elapsed, found, saved, None if args.no_save else save_to)
    failed = sum(n for (_inv, what), n in session.tally.items() if what == "failed")
    return EXIT_FAILED if failed else EXIT_OK


def collect(session: Session) -> list[findings.Finding]:
    """Failures first (invariant order), then drift and grammar notes, simplest first."""
    out: list[findings.Finding | None] = []
    for inv in sorted(session.failing):
        example, failed = session.failing[inv]
        out.append(findings.from_failure(inv, INVARIANTS[inv], example.case,
                                         example.size_text, failed))  # fmt: skip
    drift = sorted(session.drift.items(), key=lambda kv: findings.simplicity(kv[1][0].case))
    out += [findings.from_drift(example.case, key) for key, (example, _d) in drift]
    out += [findings.from_note(note.text, key) for key, note in sorted(session.notes.items())]
    return [f for f in out if f is not None]


def summary(
    session: Session,
    elapsed: float,
    found: Sequence[findings.Finding],
    saved: Sequence[findings.Finding],
    save_to: Path | None,
) -> None:
    n, versions = session.examples, [b.version for b in session.binaries]
    rate = n / elapsed if elapsed else 0.0
    print(
        f"fuzz resize: {len(versions)} version(s) ({', '.join(versions)}), {n} examples in "
        f"{elapsed:.1f} s: {rate:.1f} examples/s, {rate * len(versions):.1f} per version"
    )
    for inv, name in INVARIANTS.items():
        if inv in session.selected:
            t = {w: session.tally[inv, w] for w in ("passed", "failed", "n/a")}
            first = session.first_failure.get(inv)
            when = f" (first at example {first})" if first else ""
            print(
                f"  {inv} {name:<24} {t['passed']} passed, {t['failed']} failed{when}, "
                f"{t['n/a']} n/a"
            )
    for key, note in sorted(session.notes.items()):
        print(f"  grammar note {note.text!r}: {key}")
    if session.drift:
        print(f"  drift: {len(session.drift)} distinct differences between versions (not failures)")
    where = f" to {save_to}" if save_to else " (--no-save)"
    print(
        f"findings: {len(found)}; cases saved: {len(saved)}{where}"
        f"{f', {len(found) - len(saved)} already recorded' if save_to else ''}"
    )
    for inv in sorted(session.failing):
        _ex, failed = session.failing[inv]
        print(f"FAILED {inv} {INVARIANTS[inv]} on {failed[0].version}: {failed[0].detail}")
