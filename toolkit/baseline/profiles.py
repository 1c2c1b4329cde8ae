"""Profiles: which versions behave identically, per case and over a whole output type.

Two versions share a behaviour for a case when their views are equal (see
toolkit.baseline.view: info JSON after the whitelist in toolkit/data/whitelist.toml,
stderr, meta without identity fields and derived byte counts), which is exactly when
`drift` reports that case unchanged between them.

`expected-outputs/<output-type>/version-map.json`, in the layout the consuming harnesses
read across their testdata:

    {
      "profiles": {"profile-5-2-0": {"representative": "5.2.0", "versions": ["5.2.0", "7.2.22"]},
                   "profile-10-0-2": {"representative": "10.0.2", "versions": ["10.0.2", ...]}},
      "version_to_profile": {"5.2.0": "profile-5-2-0", "7.2.22": "profile-5-2-0", ...},
      "cases": {"<format>": {"<case>": {"A": ["5.2.0", "7.2.22"], "B": ["10.0.2"]}}}
    }

A *profile* is a maximal run of consecutive versions (sorted by full version) whose
views are equal for every case of the output type (a case present in one and absent
in the other is a difference). It is named `profile-X-Y-Z` after its oldest version,
which is its representative; `profiles/<profile>/` holds the representative's triples
once (toolkit.baseline.profile_files).

`cases` is the per-case grid: letters per case in order of first appearance, oldest
version first ("A" is always the oldest version that has the case; each new letter
is behaviour no earlier version showed: A..Z, AA, AB, ...). A version without a
triple for a case is absent from that case's grid.

The file is a pure function of the tree, written with sorted keys: `generate` refreshes
it (`write_version_map`), verify compares it with `expected_version_map`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.baseline import guard, profile_files
from toolkit.baseline.layout import VERSION_MAP_FILE
from toolkit.baseline.tree import Tree
from toolkit.baseline.triple import dump_json
from toolkit.baseline.view import view
from toolkit.model.pipeline import CommandSpec

__all__ = [
    "PROFILE_PREFIX",
    "VERSION_MAP_FILE",
    "ProfileTable",
    "Row",
    "compute",
    "expected_version_map",
    "profile_name",
    "refresh",
    "representatives",
    "version_map",
    "version_map_path",
    "version_map_text",
    "write_version_map",
]

PROFILE_PREFIX = "profile-"


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

    def profiles(self) -> list[tuple[str, ...]]:
        """Maximal runs of consecutive versions whose behaviour is equal in every row."""
        runs: list[list[str]] = []
        for v in self.versions:
            if runs and all(r.letters.get(v) == r.letters.get(runs[-1][-1]) for r in self.rows):
                runs[-1].append(v)
            else:
                runs.append([v])
        return [tuple(run) for run in runs]

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


def profile_name(representative: str) -> str:
    """`7.2.18` -> `profile-7-2-18`."""
    return PROFILE_PREFIX + representative.replace(".", "-")


def version_map(table: ProfileTable) -> dict[str, Any]:
    cases: dict[str, dict[str, dict[str, list[str]]]] = {}
    for row in table.rows:
        groups = cases.setdefault(row.format, {}).setdefault(row.case, {})
        for v in table.versions:
            if v in row.letters:
                groups.setdefault(row.letters[v], []).append(v)
    runs = table.profiles()
    return {
        "profiles": {
            profile_name(run[0]): {"representative": run[0], "versions": list(run)} for run in runs
        },
        "version_to_profile": {v: profile_name(run[0]) for run in runs for v in run},
        "cases": cases,
    }


def representatives(vmap: dict[str, Any]) -> dict[str, str]:
    """profile -> its representative (the oldest version, whose files profiles/ holds)."""
    return {name: info["representative"] for name, info in vmap["profiles"].items()}


def version_map_path(root: Path, spec: CommandSpec) -> Path:
    return root / spec.output_type / VERSION_MAP_FILE


def expected_version_map(root: Path, spec: CommandSpec) -> dict[str, Any]:
    """The map as the tree under `root` says it should be (what verify compares against)."""
    return version_map(compute(Tree(root, spec)))


def version_map_text(table: ProfileTable) -> str:
    """version-map.json's exact text for a table."""
    return dump_json(version_map(table))


def write_version_map(root: Path, spec: CommandSpec, table: ProfileTable | None = None) -> bool:
    """Refresh version-map.json and profiles/ from the tree. Returns whether anything changed."""
    return refresh(root, spec, table) > 0


def refresh(root: Path, spec: CommandSpec, table: ProfileTable | None = None) -> int:
    """Rewrite version-map.json and profiles/ where they differ from the tree (each file
    atomic and through the guard, the map last). Returns how many files changed or were
    removed. A full disk is a ToolkitFailure naming the file; what was written is whole."""
    path = version_map_path(root, spec)
    if not path.parent.is_dir():
        return 0
    table = table or compute(Tree(root, spec))
    changed = profile_files.write(root, spec, representatives(version_map(table)))
    return changed + int(guard.write_text(root, path, version_map_text(table), guard.VERSION_MAP))
