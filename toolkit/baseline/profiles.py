"""Profiles: for each format x case, the versions whose recorded behaviour is identical.

Two versions share a profile for a case when their views are equal (see
toolkit.baseline.view: info JSON after the whitelist, stderr, meta without identity
fields and derived byte counts), which is exactly when `drift` reports that case
unchanged between them.

`expected-outputs/<output-type>/version-map.json`:

    {
      "profiles": {"<format>": {"<case>": {"A": ["5.2.0", "7.2.22"], "B": ["10.0.2"]}}},
      "version_to_profile": {"<version>": {"<format>": {"<case>": "A"}}}
    }

Letters are given per case in order of first appearance, oldest version first:
the oldest version that has the case is always "A", and each new letter is
behaviour that no earlier version showed (A..Z, then AA, AB, ...). A profile
lists its versions oldest first, so its first version is its representative. A
version without a triple for a case appears in neither map for that case. The
file is a pure function of the tree, written with sorted keys: `generate`
refreshes it (`write_version_map`), verify compares it with `expected_version_map`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.baseline.tree import Tree
from toolkit.baseline.triple import dump_json
from toolkit.baseline.view import view
from toolkit.model import atomic
from toolkit.model.pipeline import CommandSpec

__all__ = [
    "VERSION_MAP_FILE",
    "ProfileTable",
    "Row",
    "compute",
    "expected_version_map",
    "version_map",
    "version_map_path",
    "version_map_text",
    "write_version_map",
]

VERSION_MAP_FILE = "version-map.json"


def letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, ..."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(ord("A") + rem) + out
    return out


@dataclass(frozen=True)
class Row:
    format: str
    case: str
    letters: dict[str, str]  # version -> profile letter, only versions that have the case

    @property
    def profile_count(self) -> int:
        return len(set(self.letters.values()))


@dataclass(frozen=True)
class ProfileTable:
    output_type: str
    versions: tuple[str, ...]  # oldest first
    rows: tuple[Row, ...]  # sorted by (format, case)

    @property
    def drifted(self) -> bool:
        return any(r.profile_count > 1 for r in self.rows)

    def first_seen(self) -> Counter[str]:
        """Per version: how many rows show a profile for the first time there (not A)."""
        counts: Counter[str] = Counter()
        for row in self.rows:
            seen: set[str] = set()
            for v in self.versions:
                p = row.letters.get(v)
                if p is not None and p not in seen:
                    if seen:
                        counts[v] += 1
                    seen.add(p)
        return counts


def compute(tree: Tree) -> ProfileTable:
    versions = tuple(tree.versions)
    rows = []
    for fmt in tree.formats:
        present = {v: set(tree.cases(fmt, v)) for v in versions}
        for name in sorted(set().union(*present.values())):
            by_print: dict[str, str] = {}
            letters: dict[str, str] = {}
            have = [v for v in versions if name in present[v]]
            if len(have) == 1:  # nothing to compare with: profile A, no need to read it
                letters[have[0]] = letter(0)
            else:
                for v in have:
                    fp = view(tree.read(fmt, v, name), fmt, tree.spec).fingerprint()
                    letters[v] = by_print.setdefault(fp, letter(len(by_print)))
            rows.append(Row(fmt, name, letters))
    return ProfileTable(tree.spec.output_type, versions, tuple(rows))


def version_map(table: ProfileTable) -> dict[str, Any]:
    profiles: dict[str, dict[str, dict[str, list[str]]]] = {}
    to_profile: dict[str, dict[str, dict[str, str]]] = {v: {} for v in table.versions}
    for row in table.rows:
        groups = profiles.setdefault(row.format, {}).setdefault(row.case, {})
        for v in table.versions:
            if v in row.letters:
                groups.setdefault(row.letters[v], []).append(v)
                to_profile[v].setdefault(row.format, {})[row.case] = row.letters[v]
    return {"profiles": profiles, "version_to_profile": to_profile}


def version_map_path(root: Path, spec: CommandSpec) -> Path:
    return root / spec.output_type / VERSION_MAP_FILE


def expected_version_map(root: Path, spec: CommandSpec) -> dict[str, Any]:
    """The map as the tree under `root` says it should be (what verify compares against)."""
    return version_map(compute(Tree(root, spec)))


def version_map_text(table: ProfileTable) -> str:
    """version-map.json's exact text for a table."""
    return dump_json(version_map(table))


def write_version_map(root: Path, spec: CommandSpec, table: ProfileTable | None = None) -> bool:
    """Refresh version-map.json from the tree (atomic). Returns whether the file changed."""
    path = version_map_path(root, spec)
    if not path.parent.is_dir():
        return False
    return atomic.write_text(path, version_map_text(table or compute(Tree(root, spec))))
