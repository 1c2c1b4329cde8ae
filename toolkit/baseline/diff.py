"""Differences between two triples of one case, and the one deepdiff wrapper.

Every difference between two views (see toolkit.baseline.view) is a Change
`(artefact, kind, path, from, to)`:
- stdout: deepdiff of the info JSON (after the whitelist mask unless --all); kind
  added, removed or changed; path in deepdiff's spelling (`root['children']`),
  or `root` when info printed nothing on one side. Text (human output) is a line
  diff, as stderr's: path `line:<n>`.
- stderr: a line diff per step section; path `<step>:<line>`, the 1-based line
  number on the side that has the line (the old side for changed lines).
- meta: deepdiff of the meta; a `<step>_return_code` change has kind return_code.
`deep_differences` is the only place deepdiff is called (drift and verify both use
it). It always runs with threshold_to_diff_deeper=0: by default it reports a
dict whose keys mostly differ as one opaque change, hiding the nested paths
(deepdiff issue 487).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.baseline import whitelist
from toolkit.baseline.view import View
from toolkit.model.pipeline import CommandSpec

__all__ = ["ARTEFACTS", "Change", "deep_differences", "diff_views"]

ARTEFACTS = ("stdout", "stderr", "meta")
_DEEPDIFF_KINDS = {
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


def deep_differences(a: Any, b: Any) -> Iterator[tuple[str, str, list[str | int], Any, Any]]:
    """(kind, path, path as keys, from, to) for every difference, nested ones included."""
    from deepdiff import DeepDiff  # ~0.15 s to import: only when something is compared

    diff = DeepDiff(a, b, threshold_to_diff_deeper=0, view="tree")
    for report_type, levels in diff.items():
        kind = _DEEPDIFF_KINDS.get(report_type, "changed")
        for level in levels:
            before = None if kind == "added" else level.t1
            after = None if kind == "removed" else level.t2
            yield kind, level.path(), level.path(output_format="list"), before, after


def stdout_changes(a: Any, b: Any, fmt: str, show_all: bool) -> list[Change]:
    if isinstance(a, dict | list) and isinstance(b, dict | list):
        # deepdiff, not ==: 1, 1.0 and true differ in a view's fingerprint, so here too
        out = []
        for kind, path, keys, before, after in deep_differences(a, b):
            entry = whitelist.matching_entry(keys, fmt) if show_all else None
            out.append(Change("stdout", kind, path, before, after, entry.id if entry else None))
        return out
    if a == b:  # both None (info did not run), or the same text
        return []
    if isinstance(a, str) and isinstance(b, str):
        return line_changes("stdout", "line", a.splitlines(), b.splitlines())
    if a is None:
        return [Change("stdout", "added", "root", None, b)]
    if b is None:
        return [Change("stdout", "removed", "root", a, None)]
    return [Change("stdout", "changed", "root", a, b)]


def line_changes(artefact: str, label: str, la: list[str], lb: list[str]) -> list[Change]:
    """A line diff: path `<label>:<n>`, the 1-based line number on the side that has the
    line (the old side for changed lines)."""
    out: list[Change] = []
    matcher = difflib.SequenceMatcher(a=la, b=lb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for k in range(paired):
            out.append(Change(artefact, "changed", f"{label}:{i1 + k + 1}", la[i1 + k], lb[j1 + k]))
        for i in range(i1 + paired, i2):
            out.append(Change(artefact, "removed", f"{label}:{i + 1}", la[i], None))
        for j in range(j1 + paired, j2):
            out.append(Change(artefact, "added", f"{label}:{j + 1}", None, lb[j]))
    return out


def stderr_changes(
    a: dict[str, list[str]], b: dict[str, list[str]], steps: list[str]
) -> list[Change]:
    out: list[Change] = []
    for step in [*steps, *sorted((a.keys() | b.keys()) - set(steps))]:
        out += line_changes("stderr", step, a.get(step, []), b.get(step, []))
    return out


def meta_changes(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    out = []
    for kind, path, keys, before, after in deep_differences(a, b):
        is_rc = len(keys) == 1 and str(keys[0]).endswith("_return_code")
        out.append(Change("meta", "return_code" if is_rc else kind, path, before, after))
    return out


def diff_views(a: View, b: View, fmt: str, spec: CommandSpec, show_all: bool) -> list[Change]:
    """Meta first (return codes lead: they explain the rest), then stdout by path, then stderr."""
    meta = sorted(meta_changes(a.meta, b.meta), key=lambda c: (c.kind != "return_code", c.path))
    stdout = stdout_changes(a.stdout, b.stdout, fmt, show_all)
    if not (isinstance(a.stdout, str) and isinstance(b.stdout, str)):  # text: in line order
        stdout.sort(key=lambda c: (c.path, c.kind))
    return [*meta, *stdout, *stderr_changes(a.stderr, b.stderr, list(spec.step_names()))]
