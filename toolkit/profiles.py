"""`profiles`: for each format x case, the versions whose recorded behaviour is identical.

Two versions share a profile for a case when their views are equal (see
toolkit.golden: info JSON after the whitelist, stderr, meta without identity
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

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit import artefacts, atomic
from toolkit.commands import COMMANDS, CommandSpec
from toolkit.errors import EXIT_FAILED, EXIT_OK
from toolkit.golden import Tree, add_tree_arguments, view

VERSION_MAP_FILE = "version-map.json"
ABSENT = "-"
LEGEND = (
    "A = the oldest version's behaviour for that case; each new letter is behaviour no "
    f"earlier version showed; {ABSENT} = no baseline"
)


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


def write_version_map(root: Path, spec: CommandSpec) -> bool:
    """Refresh version-map.json from the tree (atomic). Returns whether the file changed."""
    path = version_map_path(root, spec)
    if not path.parent.is_dir():
        return False
    return atomic.write_text(path, artefacts.dump_json(expected_version_map(root, spec)))


def _cells(table: ProfileTable) -> tuple[list[str], list[list[str]]]:
    header = ["format", "case", *table.versions]
    body = [
        [r.format, r.case, *(r.letters.get(v, ABSENT) for v in table.versions)] for r in table.rows
    ]
    return header, body


def headline(table: ProfileTable) -> str:
    changing = sum(r.profile_count > 1 for r in table.rows)
    seen = table.first_seen()
    firsts = ", ".join(f"{v} ({seen[v]})" for v in table.versions if seen[v]) or "none"
    return (
        f"{table.output_type}: {len(table.rows)} format x case rows, {len(table.versions)} "
        f"versions; {changing} rows change across versions. New behaviour first seen in "
        f"(rows): {firsts}"
    )


def render_text(table: ProfileTable) -> str:
    header, body = _cells(table)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [headline(table), ""]
    for r in [header, *body]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join([*lines, "", LEGEND, ""])


def render_markdown(table: ProfileTable) -> str:
    header, body = _cells(table)
    lines = [f"### qemu-img version profiles: `{table.output_type}`", "", headline(table), ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in body:
        lines.append("| " + " | ".join([r[0], f"`{r[1]}`", *r[2:]]) + " |")
    return "\n".join([*lines, "", LEGEND, ""])


def render(table: ProfileTable, fmt: str) -> str:
    """The matrix as text, markdown, json (the version map itself) or a self-contained page."""
    if fmt == "json":
        return artefacts.dump_json(version_map(table))
    if fmt == "markdown":
        return render_markdown(table)
    if fmt == "html":
        from toolkit import report_html

        return report_html.render_matrix_page(table)
    return render_text(table)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "profiles",
        help="group versions with identical behaviour per case; write version-map.json",
        description="For each format x case, group the versions whose normalised outputs are "
        f"identical; write <output-type>/{VERSION_MAP_FILE} and print the version x case matrix.",
    )
    add_tree_arguments(p)
    p.add_argument(
        "--check",
        action="store_true",
        help=f"write nothing; exit 1 when {VERSION_MAP_FILE} is missing or not current",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = COMMANDS[args.command]
    tree = Tree(args.expected_outputs, spec)
    tree.require_versions()
    path = version_map_path(args.expected_outputs, spec)
    if args.check:
        wanted = artefacts.dump_json(version_map(compute(tree)))
        try:
            current: str | None = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != wanted:
            print(
                f"{path} is missing or not current: run `python -m toolkit profiles` "
                "(generate also refreshes it)"
            )
            return EXIT_FAILED
        print(f"{path} is current")
        return EXIT_OK
    from toolkit.generate import tree_lock  # generate imports this module

    with tree_lock(args.expected_outputs):  # never while a generate is rewriting the tree
        table = compute(tree)
        changed = atomic.write_text(path, artefacts.dump_json(version_map(table)))
    print(render_text(table), end="")
    print(f"{'wrote' if changed else 'unchanged:'} {path}")
    return EXIT_OK
