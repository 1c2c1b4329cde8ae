"""What verify found: one outcome per case, and the whole run's Outcome.

toolkit.render.verify prints it and turns it into the --report JSON.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.model.errors import EXIT_FAILED, EXIT_OK
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import QemuBinary
from toolkit.stages.verify.offline import OfflineResult

__all__ = ["STATUSES", "CaseOutcome", "Outcome"]

STATUSES = ("pass", "diff", "skip", "gap")


@dataclass
class CaseOutcome:
    format: str
    version: str
    case: str
    status: str  # pass | diff | skip | gap
    reason: str = ""
    differences: list[str] = field(default_factory=list)
    obtained: str | None = None  # where the obtained triple went (stem, without suffix)
    updated: bool = False
    # candidate mode: structured differences (candidate_report.py) and the replay commands
    records: list[dict[str, Any]] = field(default_factory=list)
    reproduce: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.format}/{self.version}/{self.case}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "version": self.version,
            "case": self.case,
            "status": self.status,
            "reason": self.reason,
            "differences": self.differences,
            "obtained": self.obtained,
            "updated": self.updated,
            "records": self.records,
            "reproduce": self.reproduce,
        }


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
    all_cases: int = 1  # the type's cases; 0: a findings type with no findings (nothing ran)
    empty_reason: str = ""  # why a type has no cases, for the summary

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
