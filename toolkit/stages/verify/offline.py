"""Offline checks of the golden tree (`verify --offline`): no qemu-img needed.

Every problem carries the id of the check that found it (messages, --report, tests):

  missing         each selected curated case has its whole triple in every version directory
  unfinished      no staged file of a killed generate is left beside a triple (its files may
                  mix two runs: new stdout, old meta)
  stale           a file or directory that belongs to no curated case (--allow-stale: warning)
  schema          the meta is a JSON object that validates against toolkit/data/meta.schema.json
  identity        the meta names the command, case, format and version of the place it lives
  case-data       the meta's inputs (start, end, options, prealloc and preallocation, shrink)
                  are the case's
  plan            applied_shrink_flag and expected_final_size, recomputed from the case
  argv            every step's argv, recomputed from the case
  return-codes    which steps ran follows from the return codes; a step that did not run has
                  only nulls; a failed step said why on stderr; byte counts match the texts
  stdout-json     stdout.txt is the artefact's JSON object (array) when it returned 0 or an
                  answer, else empty; text (human output): what it printed, of its size
  stderr-markers  stderr.txt is exactly the stderr of the steps that ran, joined by markers
  final-size      resize returned 0 => info's virtual-size is expected_final_size (see below)
  abs-path        no absolute path and no temp-directory name in any file ($FILENAME only)
  versions-json   versions.json lists exactly the version directories, with their version lines
  version-map     version-map.json is current (toolkit.baseline.profiles computes it)
  profiles        profiles/<profile>/<target>-<case>.* are exact copies of each profile's
                  representative triples, and nothing else (toolkit.baseline.profile_files)
  profile-rules   (the consumer's) a profile stdout is as long as its meta says; no two
                  profiles hold identical stdout (toolkit.baseline.profile_rules)
  file-type       nothing in the tree is a link, a FIFO, a device, or a directory where a file
                  belongs (toolkit.baseline.guard): named, never read; the run goes on

A findings type (`resize-discovered`) is checked the same way, but a finding with no
triple yet is no error (fuzz saved it, generate has not recorded it): those are counted
(`OfflineResult.unrecorded`) and reported in one line, with the command that records them.

Tree-level checks live here, per-triple ones in toolkit.stages.verify.triple_checks. With any
--version/--format/--case filter (and in candidate mode) only the selection is checked: stale
directories outside it, versions.json's listing and the map wait for an unfiltered run.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.baseline import guard
from toolkit.baseline.layout import (
    PROFILES_DIR,
    SUFFIXES,
    VERSION_MAP_FILE,
    VERSIONS_FILE,
    temp_file_owner,
    triple_paths,
)
from toolkit.baseline.tree import case_dir
from toolkit.model.advice import AS_DEFAULTS, Fixes
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Case
from toolkit.model.versions import is_version_name
from toolkit.stages.verify.triple_checks import Problem, check_triple, relative
from toolkit.stages.verify.type_files import check_version_map, load_versions_json

__all__ = ["CHECKS", "OfflineResult", "Scope", "check_tree"]

CHECKS = (
    "missing", "unfinished", "stale", "schema", "identity", "case-data", "plan", "argv",
    "return-codes", "stdout-json", "stderr-markers", "final-size", "abs-path", "versions-json",
    "version-map", "profiles", "profile-rules", "file-type",
)  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """What to check: the selected cases and versions; stale files are judged on all cases."""

    root: Path
    spec: CommandSpec
    all_cases: tuple[Case, ...]
    cases: tuple[Case, ...]
    versions: tuple[str, ...]  # selected version directories
    case_globs: tuple[str, ...] = ()
    filtered: bool = False  # any --version/--format/--case: the tree-wide checks are skipped
    allow_stale: bool = False
    fixes: Fixes = AS_DEFAULTS  # what the commands in its messages carry

    @property
    def type_dir(self) -> Path:
        return self.root / self.spec.output_type


@dataclass
class OfflineResult:
    problems: list[Problem] = field(default_factory=list)
    triples: int = 0
    readable: set[tuple[str, str, str]] = field(default_factory=set)  # (format, version, case)
    version_map: str = "not checked"
    # Findings types: (format, version, case) of findings with no triple yet (version "*":
    # the type has no version directory at all).
    unrecorded: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def unrecorded_findings(self) -> int:
        return len({(f, c) for f, _v, c in self.unrecorded})

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]


def check_tree(scope: Scope) -> OfflineResult:
    result = OfflineResult()
    if not scope.filtered:  # a filtered run meets an odd file of its selection when reading it
        for path, what in guard.odd_entries(scope.root, scope.spec):
            result.problems.append(Problem("file-type", relative(scope.root, path), _odd(what)))
    versions_json, problems = load_versions_json(scope.root, scope.spec, scope.fixes)
    result.problems.extend(problems)
    if scope.filtered:  # only the per-triple version lines; the listing is tree-wide
        result.problems = [p for p in result.problems if p.check != "versions-json"]
    for fmt, version, case in _layout(scope, result):
        result.triples += 1
        problems, readable = check_triple(scope.root, scope.spec, case, version, versions_json)
        result.problems.extend(problems)
        if readable:
            result.readable.add((fmt, version, case.name))
    if scope.filtered:
        result.version_map = "not checked (filtered)"
    else:
        result.version_map, problems = check_version_map(scope.root, scope.spec, scope.fixes)
        result.problems.extend(problems)
    odd = [p for p in result.problems if p.check == "file-type"]
    once = {p.where: p for p in reversed(odd)}  # named once, by the first check that met it
    result.problems = [p for p in result.problems if p.check != "file-type" or once[p.where] is p]
    return result


def _odd(what: str) -> str:
    return (
        f"is {what}: the golden tree may hold only regular files and directories (a link or a "
        "special file reads or writes outside it, or hangs); remove it and regenerate what it "
        "stood for"
    )


Stale = Callable[[Path, str], None]


def _layout(scope: Scope, result: OfflineResult) -> Iterator[tuple[str, str, Case]]:
    """missing + stale; yields (format, version, case) for each complete triple in scope."""

    def stale(path: Path, why: str) -> None:
        result.problems.append(Problem("stale", relative(scope.root, path), why, scope.allow_stale))

    if not scope.filtered:
        _stale_around_versions(scope, stale)
    for fmt in sorted({c.format for c in scope.cases}):
        for version in scope.versions:
            yield from _version_dir(scope, fmt, version, result, stale)


def _stale_around_versions(scope: Scope, stale: Stale) -> None:
    """Files beside the format directories, formats without cases, non-version directories."""
    formats = sorted({c.format for c in scope.all_cases})
    tops = {VERSIONS_FILE, VERSION_MAP_FILE}
    for entry in sorted(scope.type_dir.iterdir()):
        if entry.name in tops:
            continue  # their own checks (and file-type, when one is no regular file)
        if not entry.is_dir():
            stale(entry, "a file outside the <format>/<version>/<case>.* layout")
        elif entry.name == PROFILES_DIR:
            continue  # the profiles check judges every file in it
        elif entry.name not in formats:
            stale(entry, f"a format with no curated case (formats with cases: {formats})")
        else:
            for sub in sorted(entry.iterdir()):
                if not (sub.is_dir() and is_version_name(sub.name)):
                    stale(sub, "not a version directory (expected <format>/<version>/)")


def _version_dir(
    scope: Scope, fmt: str, version: str, result: OfflineResult, stale: Stale
) -> Iterator[tuple[str, str, Case]]:
    d = case_dir(scope.root, scope.spec, fmt, version)
    cases = [c for c in scope.cases if c.format == fmt]

    def regenerate(*case: str) -> str:
        selection = ("--version", version, "--format", fmt, *case)
        return f"`{scope.fixes.generate(scope.spec.name, *selection)}`"

    pending = scope.spec.findings_of is not None  # a finding without a triple: not recorded yet
    if not d.is_dir():
        if pending:
            result.unrecorded.update((fmt, version, c.name) for c in cases)
            return
        why = f"directory missing: {len(cases)} curated cases have no triple; run {regenerate()}"
        result.problems.append(Problem("missing", relative(scope.root, d), why))
        return
    known = {c.name for c in scope.all_cases if c.format == fmt}
    names = {p.name for p in d.iterdir()}
    staged: dict[str, list[str]] = {}  # case -> files a killed generate staged for it
    for name, owner in ((n, temp_file_owner(n)) for n in sorted(names)):
        if owner is not None and owner[0] in known:
            staged.setdefault(owner[0], []).append(name)
    for name in sorted(names - {n for left in staged.values() for n in left}):
        stem, suffix = _split_name(name)
        if scope.case_globs and not any(fnmatch.fnmatchcase(stem, g) for g in scope.case_globs):
            continue
        if suffix is None:
            stale(d / name, f"not a baseline file (suffixes: {', '.join(SUFFIXES)})")
        elif stem not in known:
            stale(d / name, f"belongs to no curated {fmt} case (renamed or removed?)")
    for case in cases:
        if case.name in staged:
            why = f"unfinished triple: a killed generate left staged files {staged[case.name]}, "
            why += f"its files may mix two runs; repair it with {regenerate('--case', case.name)}"
            result.problems.append(Problem("unfinished", relative(scope.root, d / case.name), why))
            continue
        absent = [p for p in triple_paths(d, case.name) if p.name not in names]
        if pending and len(absent) == len(SUFFIXES):
            result.unrecorded.add((fmt, version, case.name))
            continue
        for p in absent:
            why = f"missing, of curated case {case.name!r}; run {regenerate('--case', case.name)}"
            result.problems.append(Problem("missing", relative(scope.root, p), why))
        if not absent:
            yield fmt, version, case


def _split_name(name: str) -> tuple[str, str | None]:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return name, None
