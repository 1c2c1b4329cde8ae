"""Drift: how qemu-img's recorded behaviour changes between two versions.

The input is the golden tree only (see toolkit.baseline.view for what is compared
and what is ignored), so drift runs on any checkout without qemu-img.

Each case present on either side gets a status (changed, unchanged, only_in_from,
only_in_to) and its changes (toolkit.baseline.diff). Changes that share (artefact,
kind, path) form a pattern, counted per format. Renderings live in toolkit.render:
text and markdown (render.drift), html (render.html), json (Report.to_json, the
contract in toolkit/data/drift.schema.json).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from toolkit.baseline.diff import ARTEFACTS, Change, diff_views
from toolkit.baseline.tree import Tree
from toolkit.baseline.view import view
from toolkit.model.pipeline import CommandSpec

__all__ = ["STATUSES", "CaseDrift", "Pattern", "Report", "drift_between"]

STATUSES = ("changed", "unchanged", "only_in_from", "only_in_to")


@dataclass(frozen=True)
class CaseDrift:
    format: str
    case: str
    status: str
    changes: tuple[Change, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "case": self.case,
            "status": self.status,
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True)
class Pattern:
    artefact: str
    kind: str
    path: str
    cases: tuple[tuple[str, str], ...]  # (format, case), sorted
    example: Change  # the change in the first case

    def per_format(self) -> list[tuple[str, int]]:
        counts = Counter(fmt for fmt, _ in self.cases)  # formats in order: cases are sorted
        return sorted(counts.items(), key=lambda kv: -kv[1])  # stable: ties keep that order


@dataclass(frozen=True)
class Report:
    spec: CommandSpec
    from_version: str
    to_version: str
    show_all: bool
    cases: tuple[CaseDrift, ...]  # sorted by (format, case)
    # Findings types: why fuzz saved each case ((format, case) -> its case comment).
    notes: dict[tuple[str, str], str] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        counts = Counter(c.status for c in self.cases)
        return {s: counts[s] for s in STATUSES}

    @property
    def drifted(self) -> bool:
        return any(c.status != "unchanged" for c in self.cases)

    def patterns(self) -> list[Pattern]:
        """Most cases first, then by artefact, kind and path."""
        groups: dict[tuple[str, str, str], list[tuple[CaseDrift, Change]]] = {}
        for cd in self.cases:
            seen: set[tuple[str, str, str]] = set()
            for ch in cd.changes:
                key = (ch.artefact, ch.kind, ch.path)
                if key not in seen:
                    seen.add(key)
                    groups.setdefault(key, []).append((cd, ch))
        out = [
            Pattern(*key, tuple((cd.format, cd.case) for cd, _ in hits), hits[0][1])
            for key, hits in groups.items()
        ]
        out.sort(key=lambda p: (-len(p.cases), ARTEFACTS.index(p.artefact), p.kind, p.path))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.from_version,
            "to": self.to_version,
            "summary": self.summary(),
            "cases": [c.to_json() for c in self.cases],
        }


def drift_between(tree: Tree, a: str, b: str, show_all: bool = False) -> Report:
    """Drift from version `a` to version `b` (both as present in the tree)."""
    results: list[CaseDrift] = []
    for fmt in tree.formats:
        left, right = set(tree.cases(fmt, a)), set(tree.cases(fmt, b))
        for name in sorted(left | right):
            if name not in right:
                results.append(CaseDrift(fmt, name, "only_in_from"))
                continue
            if name not in left:
                results.append(CaseDrift(fmt, name, "only_in_to"))
                continue
            va = view(tree.read(fmt, a, name), fmt, tree.spec, show_all)
            vb = view(tree.read(fmt, b, name), fmt, tree.spec, show_all)
            # The profiles' equality (canonical JSON: 1, 1.0 and true differ), so the two agree.
            same = va.fingerprint() == vb.fingerprint()
            changes = [] if same else diff_views(va, vb, fmt, tree.spec, show_all)
            status = "changed" if changes else "unchanged"
            results.append(CaseDrift(fmt, name, status, tuple(changes)))
    return Report(tree.spec, a, b, show_all, tuple(results))
