"""`drift [A B]`: how qemu-img's recorded behaviour changes between two versions.

The input is the golden tree only (see toolkit.golden for what is compared and
what is ignored), so drift runs on any checkout without qemu-img. With no
versions it prints the version x case profile matrix across every version.

Each case present on either side gets a status (changed, unchanged, only_in_from,
only_in_to) and its changes (toolkit.drift_diff). Changes that share (artefact,
kind, path) form a pattern, counted per format. Renderings: text and markdown
(toolkit.drift_render), html (toolkit.report_html), json (the contract in
toolkit/data/drift.schema.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from toolkit import atomic, data_text, profiles, report_html
from toolkit.artefacts import dump_json
from toolkit.commands import COMMANDS, CommandSpec
from toolkit.drift_diff import ARTEFACTS, Change, diff_views
from toolkit.drift_render import render_markdown, render_text
from toolkit.errors import EXIT_FAILED, EXIT_OK, BadInput, ToolkitFailure
from toolkit.golden import Tree, add_tree_arguments, view

STATUSES = ("changed", "unchanged", "only_in_from", "only_in_to")
RENDER_FORMATS = ("text", "markdown", "json", "html")


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
        counts = Counter(fmt for fmt, _ in self.cases)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class Report:
    spec: CommandSpec
    from_version: str
    to_version: str
    show_all: bool
    cases: tuple[CaseDrift, ...]  # sorted by (format, case)

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


def compare(tree: Tree, a: str, b: str, show_all: bool = False) -> Report:
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drift",
        help="how recorded behaviour changes between two qemu-img versions (offline)",
        description="Compare the golden tree of two versions. A and B: an exact version, a "
        "prefix such as 10.0 (highest match), 'oldest' or 'latest'. Without A and B, print "
        "the version x case profile matrix across all versions.",
    )
    p.add_argument("a", nargs="?", metavar="A", help="the version to compare from")
    p.add_argument("b", nargs="?", metavar="B", help="the version to compare to")
    p.add_argument(
        "--format", dest="render", choices=RENDER_FORMATS, default="text", help="(default: text)"
    )
    p.add_argument("--output", type=Path, metavar="FILE", help="write the report here, atomically")
    p.add_argument("--all", dest="show_all", action="store_true", help="show whitelisted noise too")
    p.add_argument("--fail-on-drift", action="store_true", help="exit 1 when anything changed")
    add_tree_arguments(p)
    p.set_defaults(func=run)


@cache
def report_schema() -> Any:
    """The JSON contract (toolkit/data/drift.schema.json) that other tools read."""
    return json.loads(data_text("drift.schema.json"))


def render(report: Report, fmt: str, tree: Tree) -> str:
    if fmt == "json":
        import jsonschema  # only the json rendering needs it

        data = report.to_json()
        try:
            jsonschema.validate(data, report_schema())
        except jsonschema.ValidationError as exc:
            raise ToolkitFailure(f"drift JSON breaks its contract: {exc.message}") from exc
        return dump_json(data)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "html":  # the page also shows the profile grid across every version
        return report_html.render_report(report, profiles.compute(tree))
    return render_text(report)


def run(args: argparse.Namespace) -> int:
    tree = Tree(args.expected_outputs, COMMANDS[args.command])
    if (args.a is None) != (args.b is None):
        raise BadInput(
            "drift takes two versions (drift A B), or none for the version x case matrix"
        )
    tree.require_versions()
    if args.a is None:
        table = profiles.compute(tree)
        text = profiles.render(table, args.render)
        drifted = table.drifted
    else:
        report = compare(tree, tree.resolve(args.a), tree.resolve(args.b), args.show_all)
        text = render(report, args.render, tree)
        drifted = report.drifted
    if args.output is not None:
        atomic.write_text(args.output, text)
        print(f"drift: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_FAILED if drifted and args.fail_on_drift else EXIT_OK
