"""Generate: curated cases x discovered versions -> the golden tree."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.guard import Debris, Place
from toolkit.baseline.profiles import refresh
from toolkit.baseline.recordable import unrecordable
from toolkit.baseline.tree import case_dir, write_versions_file
from toolkit.baseline.triple import read_baseline, to_baseline, write_baseline
from toolkit.baseline.view import same_recording
from toolkit.model.advice import AS_DEFAULTS, Fixes
from toolkit.model.errors import Interrupted, ToolkitFailure
from toolkit.model.pipeline import FINDINGS_SUFFIX, CommandSpec, types_named
from toolkit.model.records import Baseline, Case, CaseResult, QemuBinary
from toolkit.model.rejections import reason_class
from toolkit.qemu.pool import Progress, no_progress, run_many

__all__ = ["GenerateSummary", "generate"]


@dataclass(frozen=True)
class GenerateSummary:
    spec: CommandSpec
    binaries: tuple[QemuBinary, ...]
    cases: int
    runs: int
    nonzero: dict[str, int]  # step -> runs where it returned non-zero
    written: int  # files whose content changed
    unchanged: int
    tree: Path  # expected-outputs/<output-type>
    refused: tuple[str, ...] = ()  # runs not recorded, each with why (see recordable)
    repaired: tuple[str, ...] = ()  # unfinished triples a killed run left, rewritten now
    unrepaired: tuple[str, ...] = ()  # unfinished triples outside this run, with their fix
    swept: int = 0  # stray temp files removed
    # step -> why qemu-img rejected it (model.rejections.reason_class, or "other") -> runs
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    answered: dict[str, dict[int, int]] = field(default_factory=dict)  # step -> answer -> runs

    @property
    def versions(self) -> str:
        return ", ".join(b.version for b in self.binaries)


@dataclass
class _Tally:
    """What the run recorded so far (also what an interrupted run reports)."""

    runs: int
    recorded: int = 0
    written: int = 0
    unchanged: int = 0
    nonzero: Counter[str] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)


def generate(
    specs: Sequence[CommandSpec],
    cases: Sequence[Case],
    binaries: Sequence[QemuBinary],
    root: Path,
    jobs: int,
    timeout: float,
    progress: Progress = no_progress,
    known: Sequence[Case] = (),
    fixes: Fixes = AS_DEFAULTS,
    roots: Mapping[str, Path] | None = None,
) -> list[GenerateSummary]:
    """Run every case on every binary; each type writes its triples, versions.json, the map
    and profiles/. One summary per type, in order.

    `specs` is one type, or the types that record one pipeline (CommandSpec.pipeline:
    commit's overlay and backing types): each case then runs once, and every type writes
    its triple of that run. Unfinished triples a killed run left are rewritten too when
    `known` (every curated case) has their case and a binary of their version is selected.
    `fixes`: the options the commands it suggests carry. `roots`: as run_case's
    ($TESTDATA_ROOT: the image corpus).
    """
    if len({s.steps for s in specs}) != 1:
        raise ValueError(f"{[s.name for s in specs]} do not run one pipeline")
    runs = [(b, c) for b in binaries for c in cases]
    # guard.prepare: bad input (links, special files, a malformed versions.json) exits 2
    # before the lock file is made and anything runs. (A generate that holds the lock now
    # makes the lock fail; one that finished since removed its own temp files, so this
    # debris is at worst a triple rewritten twice.)
    debris = {s: guard.prepare(root, s) for s in specs}
    with guard.tree_lock(root):
        repairs = {s: _repairs(s, debris[s], runs, binaries, known or cases, fixes) for s in specs}
        runs = list(dict.fromkeys(run for s in specs for run in repairs[s][0]))
        tallies = {s: _Tally(len(runs)) for s in specs}
        leftovers = {
            s: {p: temps for p, temps in debris[s].unfinished.items() if p in repairs[s][1]}
            for s in specs
        }

        def record(result: CaseResult) -> None:
            for s in specs:
                _record(root, s, result, tallies[s], leftovers[s])

        for s in specs:
            for tmp in debris[s].stray:
                tmp.unlink(missing_ok=True)
        try:
            label = f"generate {'+'.join(s.name for s in specs)}"
            run_many(runs, specs[0], jobs, timeout, record, label=label, progress=progress,
                     roots=roots)  # fmt: skip
        except KeyboardInterrupt:
            done = tallies[specs[0]]
            raise Interrupted(_interrupted(specs, done, binaries, cases, fixes)) from None
        for s in specs:
            tallies[s].written += write_versions_file(root, s, binaries)
            tallies[s].written += refresh(root, s)  # version-map.json and profiles/
    return [
        GenerateSummary(s, tuple(binaries), len(cases), len(runs),
                        {n: t.nonzero[n] for n in s.step_names()}, t.written, t.unchanged,
                        root / s.output_type, tuple(t.refused),
                        tuple(f"{f}/{v}/{c}" for f, v, c in sorted(repairs[s][1])),
                        tuple(repairs[s][2]), len(debris[s].stray), _per_step(s, t.reasons),
                        _per_step(s, t.answered))
        for s, t in tallies.items()
    ]  # fmt: skip


def _record(
    root: Path, spec: CommandSpec, result: CaseResult, tally: _Tally,
    leftovers: dict[Place, tuple[Path, ...]],
) -> None:  # fmt: skip
    """Write `spec`'s triple of one run (unless it is unrecordable), and count it."""
    case, version = result.case, result.binary.version
    why = unrecordable(result, spec)
    if why is not None:
        tally.refused.append(f"{case.format}/{version}/{case.name}: {why}")
        return
    d = case_dir(root, spec, case.format, version)
    new, place = to_baseline(result, spec), (case.format, version, case.name)
    if place not in leftovers and _recorded_already(root, d, case, new, spec):
        changed = 0
    else:
        try:
            changed = write_baseline(root, d, case.name, new)
        except OSError as exc:
            raise ToolkitFailure(
                f"cannot write the baseline of {case.format}/{case.name} in {d}: "
                f"{exc.strerror or exc}. No file was left half-written; fix the "
                "cause and run again"
            ) from exc
    for tmp in leftovers.pop(place, ()):
        tmp.unlink(missing_ok=True)  # only now: the rewrite is whole
    tally.recorded += 1
    tally.written += changed
    tally.unchanged += 3 - changed
    for step in (s for s in result.steps if s.return_code not in (None, 0)):
        if step.return_code in spec.step(step.name).answers:
            tally.answered[step.name, step.return_code] += 1
        else:
            tally.nonzero[step.name] += 1
            tally.reasons[step.name, reason_class(step.stderr) or "other"] += 1


def _per_step(spec: CommandSpec, counts: Counter[tuple[str, Any]]) -> dict[str, dict[Any, int]]:
    """step -> (why it was rejected, or the code it answered) -> runs, in step order."""
    out: dict[str, dict[Any, int]] = {}
    for (step, key), n in sorted(counts.items()):
        out.setdefault(step, {})[key] = n
    return {s: out[s] for s in spec.step_names() if s in out}


def _recorded_already(root: Path, d: Path, case: Case, new: Baseline, spec: CommandSpec) -> bool:
    """The triple on disk records the same behaviour (see view.same_recording): keep it."""
    try:
        old = read_baseline(root, d, case.name)
    except (OSError, ValueError, guard.UnsafeFile):  # absent or unusable: write the new one
        return False
    return isinstance(old.meta, dict) and same_recording(old, new, case.format, spec)


def _repairs(
    spec: CommandSpec,
    debris: Debris,
    runs: list[tuple[QemuBinary, Case]],
    binaries: Sequence[QemuBinary],
    known: Sequence[Case],
    fixes: Fixes,
) -> tuple[list[tuple[QemuBinary, Case]], set[Place], list[str]]:
    """The runs plus one per unfinished triple this run can rewrite; the rest, with fixes."""
    by_version = {b.version: b for b in binaries}
    by_place = {(c.format, c.name): c for c in known}
    planned = {(c.format, b.version, c.name) for b, c in runs}
    extra: list[tuple[QemuBinary, Case]] = []
    repaired: set[Place] = set()
    unrepaired: list[str] = []
    for place in sorted(debris.unfinished):
        fmt, version, name = place
        binary, case = by_version.get(version), by_place.get((fmt, name))
        if binary is not None and case is not None:
            repaired.add(place)
            if place not in planned:
                extra.append((binary, case))
        else:
            command = fixes.generate(
                spec.name, "--version", version, "--format", fmt, "--case", name
            )
            unrepaired.append(
                f"{fmt}/{version}/{name}: run `{command}`"
                + ("" if case is not None else " (no curated case has that name: remove it)")
            )
    return runs + extra, repaired, unrepaired


def _interrupted(
    specs: Sequence[CommandSpec],
    tally: _Tally,
    binaries: Sequence[QemuBinary],
    cases: Sequence[Case],
    fixes: Fixes,
) -> str:
    """What an interrupted run left: how much was recorded, and the command that completes it."""
    versions = [w for b in binaries for w in ("--version", b.version)]
    formats = [w for f in sorted({c.format for c in cases}) for w in ("--format", f)]
    return (
        f"interrupted: {tally.recorded} of {tally.runs} runs were recorded, the tree is "
        f"partial (versions.json and the version map were not refreshed); complete it with "
        f"`{fixes.generate(*_type_names(specs), *versions, *formats)}`"
    )


def _type_names(specs: Sequence[CommandSpec]) -> tuple[str, ...]:
    """What `generate` is told to record them all: their command when they are all of its
    curated types (`commit`), or all of its findings types (`commit-discovered`), else
    their names."""
    command = specs[0].command
    for name in (command, command + FINDINGS_SUFFIX):
        if len(specs) > 1 and tuple(specs) == types_named(name):
            return (name,)
    return tuple(s.name for s in specs)
