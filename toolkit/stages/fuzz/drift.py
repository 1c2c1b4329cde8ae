"""Drift: versions that disagree on a step of the same example (a finding, never a failure).

Each step of the same case, run on several versions, is compared on its return code, its
stdout (info JSON after the whitelist) and its stderr; every aspect that differs is one
Drift, keyed by the versions that agree with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.model.records import CaseResult
from toolkit.stages.fuzz.invariants import masked_stdout

__all__ = ["Drift", "drift"]


@dataclass(frozen=True)
class Drift:
    """Versions disagree on one aspect of one step; `groups` lists versions per distinct value."""

    format: str
    step: str
    aspect: str  # "rc", "stdout" or "stderr"
    groups: tuple[tuple[str, ...], ...]

    @property
    def key(self) -> str:
        groups = " | ".join(",".join(g) for g in self.groups)
        return f"drift {self.format} {self.step}.{self.aspect} {groups}"


def drift(results: Sequence[CaseResult], steps: Sequence[str]) -> list[Drift]:
    """Differences between versions running the same case (one result per version), on
    each of `steps` that ran (the command's own steps, as its baselines record them)."""
    if len(results) < 2:
        return []
    if any(s.timed_out for r in results for s in r.steps):
        return []  # a step killed at --timeout says the host was slow, not how versions differ
    found = []
    ran = {s.name for s in results[0].steps}
    for name in (n for n in steps if n in ran):
        each = [(r.binary.version, r.step(name), r.case.format) for r in results]
        aspects = {
            "rc": [(v, repr(s.return_code)) for v, s, _ in each],
            "stdout": [(v, masked_stdout(s, f)) for v, s, f in each if s.ran],
            "stderr": [(v, s.stderr) for v, s, _ in each if s.ran],
        }
        for aspect, values in aspects.items():
            groups: dict[str, list[str]] = {}
            for version, value in values:
                groups.setdefault(value, []).append(version)
            if len(groups) > 1:
                found.append(
                    Drift(results[0].case.format, name, aspect, tuple(map(tuple, groups.values())))
                )
    return found
