"""What verify found, as a compact terminal summary and as the --report JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.commands import CommandSpec
from toolkit.errors import EXIT_FAILED, EXIT_OK
from toolkit.model import QemuBinary
from toolkit.verify_offline import OfflineResult
from toolkit.verify_online import CaseOutcome

STATUSES = ("pass", "diff", "skip", "gap")
SHOW_PER_CHECK = 20  # offline problems printed per check; --report has them all


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


@dataclass
class Outcome:
    spec: CommandSpec
    root: Path
    mode: str
    versions: list[str]
    offline: OfflineResult
    cases: list[CaseOutcome] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    not_run: dict[str, str] = field(default_factory=dict)
    without_baselines: list[QemuBinary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float | None = None
    candidate: dict[str, Any] | None = None

    @property
    def counts(self) -> dict[str, int]:
        seen = Counter(c.status for c in self.cases)
        return {s: seen[s] for s in STATUSES}

    @property
    def failures(self) -> list[CaseOutcome]:
        return [c for c in self.cases if c.status == "diff" and not c.updated]

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.offline.errors or self.failures else EXIT_OK


def print_summary(out: Outcome) -> None:
    off = out.offline
    versions = f"{plural(len(out.versions), 'version')}: {', '.join(out.versions)}"
    print(f"verify {out.spec.name}: {out.root} ({versions})")
    print(
        f"offline: {plural(off.triples, 'triple')} checked: {plural(len(off.errors), 'error')}, "
        f"{plural(len(off.warnings), 'warning')}; version-map: {off.version_map}"
    )
    shown: Counter[str] = Counter()
    for p in off.problems:
        shown[p.check] += 1
        if shown[p.check] <= SHOW_PER_CHECK:
            print(f"  {'warning' if p.warning else 'error'} [{p.check}] {p.where}: {p.message}")
    for check, n in sorted(shown.items()):
        if n > SHOW_PER_CHECK:
            print(f"  ... and {n - SHOW_PER_CHECK} more [{check}] (see --report)")
    if out.mode != "offline":
        tally = ", ".join(f"{n} {s}" for s, n in out.counts.items() if n or s == "pass")
        print(
            f"{out.mode}: {plural(len(out.ran), 'version')}, {plural(len(out.cases), 'case')} "
            f"in {out.seconds or 0:.1f} s: {tally}"
        )
    if out.candidate:
        print(f"  candidate: {out.candidate['path']}, held to {out.candidate['version']}")
    for v, why in out.not_run.items():
        print(f"  not run: {v}: {why}")
    for b in out.without_baselines:
        print(f"  binary without baselines: {b.version} ({b.path})")
    for note in out.notes:
        print(f"  note: {note}")
    for c in out.cases:
        if c.status in ("skip", "gap"):
            print(f"  {c.status} {c.label}: {c.reason}")
    for c in out.cases:
        if c.status != "diff":
            continue
        where = "rewritten in the tree" if c.updated else f"obtained: {c.obtained}.*"
        print(f"diff {c.label}: {c.reason} ({where})")
        for line in c.differences:
            print(f"    {line}")
    updated = sum(c.updated for c in out.cases)
    if updated:
        print(f"--update: rewrote {plural(updated, 'baseline')} from what was obtained")
    verdict = "OK" if out.exit_code == EXIT_OK else "FAILED"
    print(
        f"{verdict}: {plural(len(off.errors), 'offline error')}, "
        f"{plural(len(out.failures), 'case')} differing"
    )


def report(out: Outcome) -> dict[str, Any]:
    return {
        "command": out.spec.name,
        "expected_outputs": str(out.root),
        "mode": out.mode,
        "ok": out.exit_code == EXIT_OK,
        "exit_code": out.exit_code,
        "versions": out.versions,
        "offline": {
            "triples": out.offline.triples,
            "errors": [p.as_dict() for p in out.offline.errors],
            "warnings": [p.as_dict() for p in out.offline.warnings],
            "version_map": out.offline.version_map,
        },
        "run": {
            "seconds": None if out.seconds is None else round(out.seconds, 3),
            "versions": out.ran,
            "not_run": out.not_run,
            "binaries_without_baselines": [
                {"version": b.version, "path": str(b.path)} for b in out.without_baselines
            ],
            "notes": out.notes,
        },
        "candidate": out.candidate,
        "counts": out.counts,
        "cases": [c.as_dict() for c in out.cases],
    }
