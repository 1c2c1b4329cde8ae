"""`drift [A B]`: how qemu-img's recorded behaviour changes between two versions.

The input is the golden tree only (see toolkit.golden for what is compared and
what is ignored), so drift runs on any checkout without qemu-img. With no
versions it prints the version x case profile matrix across every version.

Every change is `(artefact, kind, path, from, to)`:
- stdout: deepdiff of the info JSON after the whitelist mask; kind added, removed
  or changed; path in deepdiff's spelling (`root['children']`); `root` when info
  printed nothing on one side.
- stderr: line diff per step section; path `<step>:<line>` (1-based, the line's
  number on the side that has it).
- meta: deepdiff of the meta; a `<step>_return_code` change has kind return_code.
Changes that share (artefact, kind, path) form a pattern, counted per format.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff

from toolkit import atomic, profiles, report_html, whitelist
from toolkit.artefacts import dump_json
from toolkit.commands import COMMANDS, CommandSpec
from toolkit.drift_render import render_markdown, render_text
from toolkit.errors import EXIT_FAILED, EXIT_OK, BadInput
from toolkit.golden import Tree, View, add_tree_arguments, view

STATUSES = ("changed", "unchanged", "only_in_from", "only_in_to")
ARTEFACTS = ("stdout", "stderr", "meta")
RENDER_FORMATS = ("text", "markdown", "json", "html")
_KINDS = {
    "dictionary_item_added": "added",
    "iterable_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_removed": "removed",
}


@dataclass(frozen=True)
class Change:
    artefact: str  # stdout | stderr | meta
    kind: str  # added | removed | changed | return_code
    path: str
    before: Any  # None when added
    after: Any  # None when removed
    whitelisted: str | None = None  # id of the whitelist entry covering it (only seen with --all)

    def to_json(self) -> dict[str, Any]:
        return {
            "artefact": self.artefact,
            "kind": self.kind,
            "path": self.path,
            "from": self.before,
            "to": self.after,
        }


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


def _deep(a: Any, b: Any) -> Iterator[tuple[str, str, list[str | int], Any, Any]]:
    """(kind, path, path as keys, from, to) for every difference, nested ones included."""
    # threshold_to_diff_deeper=0: always descend (deepdiff issue 487).
    diff = DeepDiff(a, b, threshold_to_diff_deeper=0, view="tree")
    for report_type, levels in diff.items():
        kind = _KINDS.get(report_type, "changed")
        for level in levels:
            before = None if kind == "added" else level.t1
            after = None if kind == "removed" else level.t2
            yield kind, level.path(), level.path(output_format="list"), before, after


def stdout_changes(a: Any, b: Any, fmt: str, show_all: bool) -> list[Change]:
    if a == b:
        return []
    if a is None:
        return [Change("stdout", "added", "root", None, b)]
    if b is None:
        return [Change("stdout", "removed", "root", a, None)]
    if not (isinstance(a, dict | list) and isinstance(b, dict | list)):
        return [Change("stdout", "changed", "root", a, b)]
    out = []
    for kind, path, keys, before, after in _deep(a, b):
        entry = whitelist.matching_entry(keys, fmt) if show_all else None
        out.append(Change("stdout", kind, path, before, after, entry.id if entry else None))
    return out


def stderr_changes(
    a: dict[str, list[str]], b: dict[str, list[str]], steps: list[str]
) -> list[Change]:
    out: list[Change] = []
    for step in [*steps, *sorted((a.keys() | b.keys()) - set(steps))]:
        la, lb = a.get(step, []), b.get(step, [])
        matcher = difflib.SequenceMatcher(a=la, b=lb, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            paired = min(i2 - i1, j2 - j1)
            for k in range(paired):
                out.append(
                    Change("stderr", "changed", f"{step}:{i1 + k + 1}", la[i1 + k], lb[j1 + k])
                )
            for i in range(i1 + paired, i2):
                out.append(Change("stderr", "removed", f"{step}:{i + 1}", la[i], None))
            for j in range(j1 + paired, j2):
                out.append(Change("stderr", "added", f"{step}:{j + 1}", None, lb[j]))
    return out


def meta_changes(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    out = []
    for kind, path, keys, before, after in _deep(a, b):
        is_rc = len(keys) == 1 and str(keys[0]).endswith("_return_code")
        out.append(Change("meta", "return_code" if is_rc else kind, path, before, after))
    return out


def diff_views(a: View, b: View, fmt: str, spec: CommandSpec, show_all: bool) -> list[Change]:
    """Meta first (return codes lead: they explain the rest), then stdout by path, then stderr."""
    meta = sorted(meta_changes(a.meta, b.meta), key=lambda c: (c.kind != "return_code", c.path))
    stdout = sorted(
        stdout_changes(a.stdout, b.stdout, fmt, show_all), key=lambda c: (c.path, c.kind)
    )
    return [*meta, *stdout, *stderr_changes(a.stderr, b.stderr, list(spec.step_names()))]


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
            changes = diff_views(va, vb, fmt, tree.spec, show_all) if va != vb else []
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


def render(report: Report, fmt: str, tree: Tree) -> str:
    if fmt == "json":
        return dump_json(report.to_json())
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
