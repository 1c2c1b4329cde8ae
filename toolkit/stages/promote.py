"""Promote: move fuzz findings into the curated matrix, one case file to the other.

A finding lives in `curated_cases/discovered/<command>.toml` and is recorded in its own
output type (`<command>-discovered`). Promoting it moves its `[[case]]` table (with the
`#` lines above it) to `curated_cases/<command>.toml`, removes its recorded triples
from the findings type, and leaves the curated type to `generate` to record: the curated
tree is only ever written by generate.

Everything is checked before anything is written (exit 2 on bad input): each name
names exactly one finding, it is valid as a curated case, no curated case has its name
(case-insensitively: `CON` and `con` are one file on some disks) or its inputs, and no
recording of it contradicts the size model (a curated triple must agree with it, see
recordable.size_disagreement). Then the curated file is written first, the findings file
second (each atomically), so a run killed in between leaves the case in both files,
which a second promote of the same name completes.
"""

from __future__ import annotations

import contextlib
import fnmatch
import itertools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.case_schema import parse_case
from toolkit.baseline.cases import case_file, load_cases
from toolkit.baseline.profiles import refresh
from toolkit.baseline.tree import Tree, case_dir
from toolkit.baseline.triple import SUFFIXES
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import CommandSpec, family, findings_types
from toolkit.model.records import Case

__all__ = ["Promoted", "promote"]


@dataclass(frozen=True)
class Promoted:
    curated: tuple[CommandSpec, ...]  # the command's curated types (commit: two)
    findings: tuple[CommandSpec, ...]  # its findings types, the same way
    cases: tuple[Case, ...]
    curated_file: Path
    findings_file: Path
    removed: int  # recorded files of the findings type removed
    per_format: dict[str, int]  # curated cases per format, after the move


@dataclass(frozen=True)
class _Block:
    """One `[[case]]` table of a file as text: its `#` lines and the table itself."""

    text: str
    entry: dict[str, Any] | None  # the parsed table; None for the file's header

    @property
    def key(self) -> tuple[Any, Any] | None:
        return None if self.entry is None else (self.entry.get("format"), self.entry.get("name"))


def _blocks(curated_dir: Path, path: Path) -> list[_Block]:
    """The file cut before each `[[case]]`, a table's `#` lines going with it."""
    lines = guard.read_text(curated_dir, path, guard.CASE_FILE).splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == "[[case]]"]
    cuts = []
    for i in starts:
        j = i
        while j > 0 and lines[j - 1].lstrip().startswith("#"):
            j -= 1
        cuts.append(j)
    bounds = [0, *cuts, len(lines)]
    out = []
    for a, b in itertools.pairwise(bounds):
        chunk = "".join(lines[a:b])
        if not chunk:
            continue  # a file that starts with a table has no header
        if a not in cuts:
            out.append(_Block(chunk, None))
            continue
        try:
            (entry,) = tomllib.loads(chunk)["case"]
        except (tomllib.TOMLDecodeError, KeyError, ValueError):
            raise BadInput(
                f"{path}: the table at line {a + 1} does not stand on its own; keep each "
                "[[case]] table with its keys on the lines below it"
            ) from None
        out.append(_Block(chunk, entry if isinstance(entry, dict) else None))
    return out


def _pick(found: Sequence[Case], names: Sequence[str]) -> list[Case]:
    """Each NAME (a case name, `format/name`, or a glob of either) -> the findings it names."""
    picked: dict[tuple[str, str], Case] = {}
    for name in names:
        hits = [c for c in found if any(fnmatch.fnmatchcase(t, name) for t in _labels(c))]
        if not hits:
            shown = ", ".join(f"{c.format}/{c.name}" for c in found[:10])
            more = f" and {len(found) - 10} more" if len(found) > 10 else ""
            raise BadInput(
                f"no finding is named {name!r}; findings: {shown or 'none'}{more} "
                "(`python -m toolkit cases list` shows them all)"
            )
        by_name = {c.name for c in hits}
        if len(hits) > 1 and len(by_name) == 1 and "/" not in name:
            formats = ", ".join(f"{c.format}/{c.name}" for c in hits)
            raise BadInput(
                f"{name!r} names findings of several formats ({formats}): give FORMAT/NAME"
            )
        picked.update({(c.format, c.name): c for c in hits})
    return list(picked.values())


def _labels(c: Case) -> tuple[str, str]:
    return c.name, f"{c.format}/{c.name}"


def _check_curated(cases: Sequence[Case], matrix: Sequence[Case]) -> None:
    """Each finding is a valid curated case and clashes with no curated case."""
    problems = []
    taken = {(c.format, c.name.lower()): c for c in matrix}
    inputs = {_inputs(c): c for c in matrix}
    for c in cases:
        clash = taken.get((c.format, c.name.lower()))
        same = inputs.get(_inputs(c))
        if clash is not None and _inputs(clash) != _inputs(c):
            problems.append(
                f"{c.format}/{c.name}: the curated case {clash.name!r} has that name (names "
                "are compared case-insensitively); rename the finding first"
            )
        elif same is not None and same.name.lower() != c.name.lower():
            problems.append(
                f"{c.format}/{c.name}: the curated case {same.name!r} already has its inputs"
            )
    if problems:
        raise BadInput("cannot promote (nothing was changed):\n  " + "\n  ".join(problems))


def _inputs(c: Case) -> tuple[Any, ...]:
    return (c.format, c.start_size, c.end_spec, c.create_options, c.prealloc, c.shrink, c.params)


def _recordings(root: Path, spec: CommandSpec, case: Case) -> list[Path]:
    """The finding's recorded files in the findings type, every version."""
    tree = Tree(root, spec)
    return [
        p
        for v in tree.versions
        for suffix in SUFFIXES
        if (p := case_dir(root, spec, case.format, v) / f"{case.name}{suffix}").is_file()
    ]


def _disagreements(root: Path, paths: Sequence[Path]) -> list[str]:
    found = []
    for meta in (p for p in paths if p.name.endswith(".meta.json")):
        with contextlib.suppress(OSError, ValueError, guard.UnsafeFile):
            why = guard.read_json(root, meta, guard.META).get("model_disagreement")
            if why:
                found.append(f"{meta.parent.name}: {why}")
    return found


def promote(curated_dir: Path, root: Path, command: str, names: Sequence[str]) -> Promoted:
    """Move the named findings of `command` into its curated case file (one file for all
    its types: commit's two read the same one), and remove their recordings from each of
    its findings types."""
    curated_types = tuple(t for t in family(command) if not t.findings_of)
    found_in = findings_types(command)
    curated, findings = curated_types[0], found_in[0]  # the files, the schema
    source, target = case_file(curated_dir, findings), case_file(curated_dir, curated)
    found = load_cases(curated_dir, findings)
    if not found:
        raise BadInput(f"{source} holds no findings to promote; `nox -s fuzz` saves them there")
    matrix = load_cases(curated_dir, curated)
    cases = _pick(found, names)
    for c in cases:
        errors = parse_case(_entry_of(curated_dir, source, c), curated, str(target))[1]
        if errors:
            raise BadInput("not a valid curated case:\n  " + "\n  ".join(errors))
    _check_curated(cases, matrix)
    recorded = {(c, t): _recordings(root, t, c) for c in cases for t in found_in}
    contradicted = [
        f"{c.format}/{c.name} on {d}"
        for (c, _t), paths in recorded.items()
        for d in _disagreements(root, paths)
    ]
    if contradicted:
        raise BadInput(
            "a curated case must agree with the size model (verify's final-size rule), and "
            "these recordings contradict it:\n  " + "\n  ".join(contradicted) + "\nkeep them as "
            "findings, or fix the model (toolkit/model) so that it agrees with qemu-img"
        )
    moving = {(c.format, c.name) for c in cases}
    blocks = _blocks(curated_dir, source)
    move = [b for b in blocks if b.key in moving]
    keep = [b for b in blocks if b.key not in moving]
    already = {(c.format, c.name) for c in matrix}  # a killed promote left it in both files
    added = [b.text.rstrip("\n") + "\n" for b in move if b.key not in already]
    old = guard.read_text(curated_dir, target, guard.CASE_FILE)
    new_target = old.rstrip("\n") + "\n\n" + "\n".join(added) if added else old
    new_source = "".join(b.text for b in keep)
    _validate(new_target, target, curated)
    holding = [t for t in found_in if any(recorded[c, t] for c in cases)]
    for t in holding:
        guard.prepare(root, t)  # bad input in the tree: before either file changes
    # the matrix first: a run killed in between leaves the case in both files, which a
    # second promote of the name completes (see the module docstring)
    guard.write_text(curated_dir, target, new_target, guard.CASE_FILE)
    guard.write_text(curated_dir, source, new_source, guard.CASE_FILE)
    removed = 0
    for t in holding:
        with guard.writing(root, t):  # the writers' checks, then the tree's lock
            for c in cases:
                for p in recorded[c, t]:
                    guard.remove(root, p)
                    removed += 1
            refresh(root, t)
    per_format: dict[str, int] = {}
    for c in [*matrix, *cases]:
        per_format[c.format] = per_format.get(c.format, 0) + 1
    return Promoted(curated_types, found_in, tuple(cases), target, source, removed, per_format)


def _entry_of(curated_dir: Path, path: Path, case: Case) -> dict[str, Any]:
    entry = next(
        (b.entry for b in _blocks(curated_dir, path) if b.key == (case.format, case.name)), None
    )
    assert entry is not None  # load_cases read it from this very file
    return entry


def _validate(text: str, path: Path, spec: CommandSpec) -> None:
    """The curated file must load as load_cases will load it after the move."""
    entries = tomllib.loads(text).get("case", [])
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries, start=1):
        case, errors = parse_case(entry, spec, str(path), index)
        if case is None or (case.format, case.name.lower()) in seen:
            why = "; ".join(errors) or f"duplicate name {entry.get('name')!r}"
            raise BadInput(f"refusing to write {path}: {why}")
        seen.add((case.format, case.name.lower()))
