"""One fuzz run: explore with hypothesis, simplify, collect findings, save them.

The Session (session.py) judges each example; this module drives it, stops it on a
budget or ^C, and turns what it found into curated cases (findings.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.baseline.recordable import unrecordable
from toolkit.model.pipeline import CommandSpec, family, findings_types
from toolkit.model.records import QemuBinary
from toolkit.qemu.pool import run_many
from toolkit.qemu.process import LIVE
from toolkit.qemu.runner import run_directory
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.session import (
    CHECKS,
    AbortRun,
    Budget,
    BudgetStop,
    Failure,
    InvariantViolation,
    Session,
)

__all__ = ["FuzzRequest", "FuzzResult", "collect", "fuzz"]


def collect(session: Session) -> list[findings.Finding]:
    """Failures first (in invariant order), then drift and grammar notes, simplest first."""
    out: list[findings.Finding | None] = []
    for inv in sorted(session.failing):
        ex, failed = session.failing[inv]
        who = "the candidate against qemu-img " if session.reference else ""
        out.append(findings.from_failure(inv, CHECKS[inv], ex.case, ex.size_text, failed, who))
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
    reference: QemuBinary | None = None  # differential mode: binaries is the one candidate
    budget: Budget = field(default_factory=Budget)
    command: str = "resize"  # a kinds.KINDS command: what each example records


@dataclass(frozen=True)
class FuzzResult:
    session: Session
    elapsed: float
    found: tuple[findings.Finding, ...]
    saved: tuple[findings.Finding, ...]
    save_to: Path | None
    interrupted: bool = False  # ^C: the summary and the findings so far, then exit 130
    # Findings not saved because `generate` could not record them, each with why.
    unrecordable: tuple[str, ...] = ()
    # The output types generate records them in ("": saved elsewhere); commit has two.
    findings_type: str = ""
    curated_cases: Path = Path("curated_cases")  # where the run read and saved case files

    @property
    def failed(self) -> bool:
        return self.session.failures() > 0


def _simplify_all(session: Session) -> None:
    """Each failing check's example, simplified in domain terms within the shrink budget."""
    from toolkit.stages.fuzz.simplify import simplify_all  # hypothesis only when fuzzing

    budget = session.budget.max_shrink_time
    deadline = time.monotonic() + (budget if budget is not None else 60.0)
    try:
        simplify_all(session.failing, lambda ex: session.judge(ex)[0], deadline)
    except KeyboardInterrupt:
        LIVE.kill_all()
        session.stopped = "interrupted (^C) while shrinking"


def fuzz(
    req: FuzzRequest,
    on_example: Callable[[Session], None] = lambda _s: None,
    on_failure: Callable[[Failure], None] = lambda _f: None,
) -> FuzzResult:
    """Explore examples until a budget is spent or ^C; findings become curated cases."""
    from toolkit.stages.fuzz.explore import explore  # hypothesis only when fuzzing

    started = time.monotonic()
    interrupted = False
    with run_directory() as run_dir:
        session = Session(req.binaries, req.invariants, req.jobs, req.timeout, run_dir,
                          req.reference, req.budget, req.command)  # fmt: skip
        session.on_example, session.on_failure = on_example, on_failure
        try:
            explore(session.check, req.formats, req.profile, InvariantViolation,
                    req.max_examples, req.seed, shrink=req.shrink,
                    one_bug=req.budget.stop_after == 1, command=req.command)  # fmt: skip
        except AbortRun as abort:
            raise abort.error from None
        except BudgetStop:
            pass  # a budget ran out: session.stopped says which
        except KeyboardInterrupt:
            LIVE.kill_all()
            interrupted, session.stopped = True, "interrupted (^C)"
        except BaseException:
            LIVE.kill_all()
            session.pool.shutdown(wait=True, cancel_futures=True)
            raise
        if req.shrink and not interrupted and session.failing:
            _simplify_all(session)
        session.pool.shutdown(wait=True, cancel_futures=True)
        elapsed = time.monotonic() - started
        found = collect(session)
        spec, save_to = family(req.command)[0], req.save_to  # a curated type: its schema
        targets = findings_types(req.command)  # commit: two types, one run of each finding
        refused: list[str] = []
        if save_to is not None and not interrupted:
            found, refused = _recordable(found, targets, req, run_dir)
        saved = [] if save_to is None else findings.save(found, save_to, req.curated_cases, spec)
    # Saved elsewhere (--save-cases), the findings are for the user to move: no type records them.
    home = save_to == findings.default_path(req.curated_cases, req.command)
    return FuzzResult(session, elapsed, tuple(found), tuple(saved), req.save_to, interrupted,
                      tuple(refused), " and ".join(t.output_type for t in targets) if home else "",
                      req.curated_cases)  # fmt: skip


def _recordable(
    found: list[findings.Finding],
    targets: tuple[CommandSpec, ...],
    req: FuzzRequest,
    run_dir: Path,
) -> tuple[list[findings.Finding], list[str]]:
    """The findings `generate` can record: each case replayed with the findings types' own
    steps on every binary it will be recorded with (real qemu-img: the reference in
    differential mode), each type judging its own artefact; types with the same steps share
    one run (commit's two), others run apart (measure's human and json). A case generate
    would refuse is never saved: it would come back on every run of generate and verify,
    with no way to record it."""
    binaries = (req.reference,) if req.reference is not None else req.binaries
    jobs = [(b, f.case) for f in found for b in binaries]
    why: dict[int, str] = {}
    runs: list[tuple[CommandSpec, list[CommandSpec]]] = []
    for t in targets:  # one run per distinct pipeline of steps
        shared = next((judged for spec, judged in runs if spec.steps == t.steps), None)
        if shared is None:
            runs.append((t, [t]))
        else:
            shared.append(t)
    for spec, judged in runs:
        results = run_many(jobs, spec, req.jobs, req.timeout, tmp_parent=run_dir)
        for index, result in enumerate(results):
            reason = next((r for t in judged if (r := unrecordable(result, t))), None)
            if reason is not None:
                why.setdefault(index // len(binaries), f"{result.binary.version}: {reason}")
    refused = [f"{found[i].case.format}/{found[i].case.name}: {w}" for i, w in why.items()]
    return [f for i, f in enumerate(found) if i not in why], refused
