"""Offline checks of the golden tree (`verify --offline`): no qemu-img needed.

Every problem carries the id of the check that found it (messages, --report, tests):

  missing         each selected curated case has its whole triple in every version directory
  stale           a file or directory that belongs to no curated case (--allow-stale: warning)
  schema          the meta is a JSON object that validates against toolkit/data/meta.schema.json
  identity        the meta names the command, case, format and version of the place it lives
  case-data       the meta's inputs (start, end, options, prealloc, shrink) are the case's
  plan            applied_shrink_flag and expected_final_size, recomputed from the case
  argv            every step's argv, recomputed from the case
  return-codes    which steps ran follows from the return codes; a step that did not run has
                  only nulls; a failed step said why on stderr; byte counts match the texts
  stdout-json     stdout.txt is info's JSON object when info returned 0, and empty otherwise
  stderr-markers  stderr.txt is exactly the stderr of the steps that ran, joined by markers
  final-size      resize returned 0 => info's virtual-size is expected_final_size (see below)
  abs-path        no absolute path and no temp-directory name in any file ($FILENAME only)
  versions-json   versions.json lists exactly the version directories, with their version lines
  version-map     version-map.json is current (when toolkit.profiles provides the expectation)

The meta, the stderr layout and the argv are not re-derived here: the triple is
turned back into a CaseResult and rebuilt with artefacts.build_meta and
artefacts.combined_stderr, the very functions that wrote it.

The final-size rule, checked against every provisioned version (5.2.0 .. 11.1.3):
qemu's block layer keeps lengths in whole 512-byte sectors, so info reports the
virtual size rounded up to a multiple of 512, and the rule is
virtual-size == ceil512(expected_final_size).
  - raw: resize takes any byte count; the file gets exactly that length and info
    reports it rounded up (1M -> 1048577 gives virtual-size 1049088).
  - qcow2: resize refuses a size that is not a multiple of 512 ("The new size must
    be a multiple of 512", rc 1), so the rule never meets an unaligned size.
  - vmdk, vhd (vpc), vhdx: resize is refused on every version; the rule only
    applies to a candidate's capability gaps. vhd is the one format that rounds
    beyond sectors: `create -f vpc` rounds up to its CHS geometry (4M -> 4212736,
    64M -> 67125248) unless force_size=on, so a candidate that resizes vhd to a CHS
    size fails the rule.
Every size in the curated matrix is a multiple of 512: there the rule is equality.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit import artefacts
from toolkit.commands import QEMU_IMG, CommandSpec, plan_for
from toolkit.errors import ToolkitError
from toolkit.model import Case, CaseResult, QemuBinary, StepResult
from toolkit.runner import RUN_DIR_PREFIX
from toolkit.sizes import grammar_for

CHECKS = (
    "missing",
    "stale",
    "schema",
    "identity",
    "case-data",
    "plan",
    "argv",
    "return-codes",
    "stdout-json",
    "stderr-markers",
    "final-size",
    "abs-path",
    "versions-json",
    "version-map",
)
SECTOR = 512
VERSION_RE = re.compile(r"\d+(\.\d+)+")
IDENTITY_KEYS = ("command", "case_name", "format", "qemu_version")
PLAN_KEYS = ("applied_shrink_flag", "expected_final_size")
# An absolute path: a '/' that starts a path component, not one inside a word like "on/off".
ABS_PATH_RE = re.compile(r"(?<![\w$.~+-])/[\w.+-]+")
TEMP_NAME_RE = re.compile(r"\b(?:tmp[a-z0-9_]{8}|case-[a-z0-9_]{8})\b")  # mkdtemp names


@dataclass(frozen=True)
class Problem:
    check: str  # one of CHECKS
    where: str  # path relative to the tree root
    message: str
    warning: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "where": self.where, "message": self.message}


@dataclass(frozen=True)
class Scope:
    """What to check: the selected cases and versions; stale files are judged on all cases."""

    root: Path
    spec: CommandSpec
    all_cases: tuple[Case, ...]
    cases: tuple[Case, ...]
    versions: tuple[str, ...]  # selected version directories
    case_globs: tuple[str, ...] = ()
    filtered: bool = False  # any --version/--format/--case: tree-wide stale dirs not judged
    allow_stale: bool = False

    @property
    def type_dir(self) -> Path:
        return self.root / self.spec.output_type


@dataclass
class OfflineResult:
    problems: list[Problem] = field(default_factory=list)
    triples: int = 0
    readable: set[tuple[str, str, str]] = field(default_factory=set)  # (format, version, case)
    version_map: str = "not checked"

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]


def is_version_name(name: str) -> bool:
    return VERSION_RE.fullmatch(name) is not None


def ceil_sector(size: int) -> int:
    return -(-size // SECTOR) * SECTOR


def check_tree(scope: Scope) -> OfflineResult:
    result = OfflineResult()
    versions_json = _load_versions_json(scope, result)
    for fmt, version, case in _layout(scope, result):
        result.triples += 1
        d = artefacts.case_dir(scope.root, scope.spec, fmt, version)
        found = _TripleCheck(scope, case, version, d, versions_json).run()
        result.problems.extend(found.problems)
        if found.readable:
            result.readable.add((fmt, version, case.name))
    result.version_map = _check_version_map(scope, result)
    return result


def _rel(scope: Scope, path: Path) -> str:
    try:
        return str(path.relative_to(scope.root))
    except ValueError:
        return str(path)


def _layout(scope: Scope, result: OfflineResult) -> Iterator[tuple[str, str, Case]]:
    """missing + stale; yields (format, version, case) for each complete triple in scope."""

    def stale(path: Path, why: str) -> None:
        result.problems.append(Problem("stale", _rel(scope, path), why, scope.allow_stale))

    known = {(c.format, c.name) for c in scope.all_cases}
    formats_with_cases = sorted({c.format for c in scope.all_cases})
    selected = sorted({c.format for c in scope.cases})
    tops = {artefacts.VERSIONS_FILE, _version_map_name()}
    for entry in sorted(scope.type_dir.iterdir()):
        if entry.is_file() and entry.name in tops:
            continue
        if not entry.is_dir():
            if not scope.filtered:
                stale(entry, "a file outside the <format>/<version>/<case>.* layout")
        elif entry.name not in formats_with_cases:
            if not scope.filtered:
                stale(entry, f"a format with no curated case (formats: {formats_with_cases})")
        elif entry.name in selected:
            for sub in sorted(entry.iterdir()):
                if not (sub.is_dir() and is_version_name(sub.name)) and not scope.filtered:
                    stale(sub, "not a version directory (expected <format>/<version>/)")
    for fmt in selected:
        cases = [c for c in scope.cases if c.format == fmt]
        for version in scope.versions:
            d = artefacts.case_dir(scope.root, scope.spec, fmt, version)
            if not d.is_dir():
                result.problems.append(
                    Problem(
                        "missing",
                        _rel(scope, d),
                        f"directory missing: {len(cases)} curated cases have no triple; run "
                        f"`python -m toolkit generate {scope.spec.name} --version {version} "
                        f"--format {fmt}`",
                    )
                )
                continue
            names = {p.name for p in d.iterdir()}
            for name in sorted(names):
                stem, suffix = _split_name(name)
                if scope.case_globs and not any(fnmatch.fnmatch(stem, g) for g in scope.case_globs):
                    continue
                if suffix is None:
                    stale(d / name, f"not a baseline file (suffixes: {artefacts.SUFFIXES})")
                elif (fmt, stem) not in known:
                    stale(d / name, f"belongs to no curated {fmt} case (renamed or removed?)")
            for case in cases:
                paths = artefacts.triple_paths(d, case.name)
                absent = [p for p in paths if p.name not in names]
                for p in absent:
                    result.problems.append(
                        Problem(
                            "missing",
                            _rel(scope, p),
                            f"missing file of curated case {case.name!r}; regenerate with "
                            f"`python -m toolkit generate {scope.spec.name} --version {version} "
                            f"--format {fmt} --case {case.name}`",
                        )
                    )
                if not absent:
                    yield fmt, version, case


def _split_name(name: str) -> tuple[str, str | None]:
    for suffix in artefacts.SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return name, None


@dataclass
class _Found:
    problems: list[Problem] = field(default_factory=list)
    readable: bool = False


class _TripleCheck:
    """Every per-triple check of one case in one version directory."""

    def __init__(
        self,
        scope: Scope,
        case: Case,
        version: str,
        directory: Path,
        versions_json: dict[str, Any] | None,
    ) -> None:
        self.scope, self.spec, self.case, self.version = scope, scope.spec, case, version
        self.paths = artefacts.triple_paths(directory, case.name)
        self.versions_json = versions_json
        self.found = _Found()

    def problem(self, check: str, path: Path, message: str) -> None:
        self.found.problems.append(Problem(check, _rel(self.scope, path), message))

    def run(self) -> _Found:
        meta_p = self.paths[2]
        texts: list[str] = []
        for p in self.paths:
            try:
                texts.append(p.read_bytes().decode("utf-8"))
            except UnicodeDecodeError as exc:
                self.problem("schema", p, f"not UTF-8 text: {exc}")
            except OSError as exc:
                self.problem("schema", p, f"cannot be read: {exc.strerror or exc}")
        if len(texts) != 3:
            return self.found
        stdout, stderr, meta_text = texts
        for p, text in zip(self.paths, texts, strict=True):
            self._abs_path(p, text)
        try:
            meta = json.loads(meta_text)
        except json.JSONDecodeError as exc:
            self.problem("schema", meta_p, f"not valid JSON: {exc}")
            return self.found
        errors = artefacts.meta_errors(meta, self.spec)
        for e in errors[:5]:
            self.problem("schema", meta_p, f"fails the meta schema at {e}")
        if errors:
            return self.found
        self.found.readable = True
        self._version_line(meta)
        sections = self._stderr_sections(stderr, meta)
        self._return_codes(stdout, meta)
        info = self._stdout_json(stdout, meta)
        self._rebuild(meta, sections, stderr)
        self._final_size(meta, info)
        return self.found

    def _abs_path(self, path: Path, text: str) -> None:
        needles = {str(Path.home()), tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir())}
        hits = [n for n in sorted(needles) if len(n) > 1 and n in text]
        hits += [m.group(0) for m in (ABS_PATH_RE.search(text), TEMP_NAME_RE.search(text)) if m]
        hits += [RUN_DIR_PREFIX] if RUN_DIR_PREFIX in text else []
        if hits:
            self.problem(
                "abs-path",
                path,
                f"contains host path material {hits[0]!r}: only $FILENAME (and $TEST_DIR) may "
                "stand for scratch paths; fix toolkit/normalise.py and regenerate",
            )

    def _version_line(self, meta: dict[str, Any]) -> None:
        entry = (self.versions_json or {}).get(self.version)
        if not isinstance(entry, dict):
            return  # reported once, by the versions.json check
        if entry.get("version_line") != meta["qemu_version_line"]:
            self.problem(
                "versions-json",
                self.paths[2],
                f"qemu_version_line {meta['qemu_version_line']!r} is not versions.json's "
                f"{entry.get('version_line')!r} for {self.version}: recorded by another build",
            )

    def _steps_ran(self, meta: dict[str, Any]) -> list[bool]:
        return [meta[f"{s.name}_return_code"] is not None for s in self.spec.steps]

    def _stderr_sections(self, stderr: str, meta: dict[str, Any]) -> list[str] | None:
        """Each ran step's own stderr, cut out of stderr.txt with the meta's byte counts."""
        err_p = self.paths[1]
        ran = [s for s, r in zip(self.spec.steps, self._steps_ran(meta), strict=True) if r]
        markers = {s.marker for s in self.spec.steps if s.marker is not None}
        wanted = [s.marker for s in ran[1:]]
        lines = stderr.splitlines(keepends=True)
        found = [(i, ln.rstrip("\n")) for i, ln in enumerate(lines) if ln.rstrip("\n") in markers]
        if [m for _, m in found] != wanted:
            self.problem(
                "stderr-markers",
                err_p,
                f"marker lines {[m for _, m in found]} do not match the steps that ran "
                f"({', '.join(s.name for s in ran)}): expected {wanted}",
            )
            return None
        bounds = [0, *(sum(len(x) for x in lines[:i]) for i, _ in found), len(stderr)]
        starts = [0, *(sum(len(x) for x in lines[: i + 1]) for i, _ in found)]
        sections: list[str] = []
        for k, step in enumerate(ran):
            raw = stderr[starts[k] : bounds[k + 1]]
            size = meta[f"{step.name}_stderr_bytes"]
            data = raw.encode()
            if len(data) == size:
                sections.append(raw)
            elif len(data) == (size or 0) + 1 and raw.endswith("\n") and k + 1 < len(ran):
                sections.append(raw[:-1])  # the line break combined_stderr puts before a marker
            else:
                self.problem(
                    "stderr-markers",
                    err_p,
                    f"the {step.name} section is {len(data)} bytes but {step.name}_stderr_bytes "
                    f"is {size}",
                )
                return None
        return sections

    def _return_codes(self, stdout: str, meta: dict[str, Any]) -> None:
        meta_p = self.paths[2]
        ok: dict[str, bool] = {}
        previous: str | None = None
        for step in self.spec.steps:
            n = step.name
            needs = step.requires if step.requires is not None else (previous,)
            previous = n
            should = all(r is None or ok.get(r, False) for r in needs)
            rc, timed_out = meta[f"{n}_return_code"], meta[f"{n}_timed_out"]
            ran = rc is not None
            ok[n] = ran and rc == 0 and not timed_out
            keys = [f"{n}_{k}" for k in ("stdout_bytes", "stderr_bytes", "timed_out")]
            keys += [] if step.stdout_is_artefact else [f"{n}_stdout"]
            if ran != should:
                why = "ran although" if ran else "did not run although"
                self.problem(
                    "return-codes",
                    meta_p,
                    f"{n} {why} {', '.join(x for x in needs if x)} returned "
                    f"{[meta[f'{x}_return_code'] for x in needs if x]}",
                )
            nulls = [k for k in keys if (meta[k] is None) == ran]
            if nulls:
                state = "ran, but has null" if ran else "did not run, but has a value in"
                self.problem("return-codes", meta_p, f"{n} {state} {', '.join(nulls)}")
            elif ran and rc > 0 and not timed_out and meta[f"{n}_stderr_bytes"] == 0:
                self.problem(
                    "return-codes",
                    meta_p,
                    f"{n} returned {rc} with an empty stderr: qemu-img always says why it failed",
                )
            text = meta.get(f"{n}_stdout")
            if ran and isinstance(text, str) and len(text.encode()) != meta[f"{n}_stdout_bytes"]:
                self.problem(
                    "return-codes",
                    meta_p,
                    f"{n}_stdout is {len(text.encode())} bytes, {n}_stdout_bytes says "
                    f"{meta[f'{n}_stdout_bytes']}",
                )

    def _stdout_json(self, stdout: str, meta: dict[str, Any]) -> dict[str, Any] | None:
        out_p = self.paths[0]
        artefact = next((s.name for s in self.spec.steps if s.stdout_is_artefact), None)
        if artefact is None:
            return None
        rc, timed_out = meta[f"{artefact}_return_code"], meta[f"{artefact}_timed_out"]
        size = meta[f"{artefact}_stdout_bytes"]
        if rc is not None and len(stdout.encode()) != size:
            self.problem(
                "stdout-json",
                out_p,
                f"is {len(stdout.encode())} bytes, {artefact}_stdout_bytes says {size}",
            )
        if rc != 0 or timed_out:
            if stdout:
                state = "did not run" if rc is None else f"returned {rc}"
                self.problem(
                    "stdout-json", out_p, f"has {len(stdout)} characters but {artefact} {state}"
                )
            return None
        try:
            data = json.loads(stdout)
        except json.JSONDecodeError as exc:
            self.problem("stdout-json", out_p, f"{artefact} returned 0 but this is not JSON: {exc}")
            return None
        if not isinstance(data, dict):
            self.problem("stdout-json", out_p, f"{artefact} returned 0 but this is no JSON object")
            return None
        return data

    def _rebuild(self, meta: dict[str, Any], sections: list[str] | None, stderr: str) -> None:
        """Rebuild meta and stderr from the case and the recorded step results; compare."""
        case, spec = self.case, self.spec
        plan = plan_for(case, grammar_for(self.version))
        section = iter(sections or [])
        steps = []
        for s in spec.steps:
            n = s.name
            ran = meta[f"{n}_return_code"] is not None
            steps.append(
                StepResult(
                    name=n,
                    argv=(QEMU_IMG, *s.argv(case, plan)),
                    return_code=meta[f"{n}_return_code"],
                    stdout=meta.get(f"{n}_stdout") or "",
                    stderr=next(section) if ran and sections is not None else "",
                    stdout_bytes=meta[f"{n}_stdout_bytes"],
                    stderr_bytes=meta[f"{n}_stderr_bytes"],
                    timed_out=meta[f"{n}_timed_out"],
                )
            )
        binary = QemuBinary(self.version, Path(QEMU_IMG), "tree", meta["qemu_version_line"])
        result = CaseResult(
            case, binary, tuple(steps), plan.applied_shrink_flag, plan.expected_final_size
        )
        expected = artefacts.build_meta(result, spec)
        for key in sorted(set(expected) | set(meta)):
            have, want = meta.get(key, "(absent)"), expected.get(key, "(absent)")
            if have == want:
                continue
            check = (
                "identity"
                if key in IDENTITY_KEYS
                else "plan"
                if key in PLAN_KEYS
                else "argv"
                if key.endswith("_argv")
                else "case-data"
            )
            hint = {
                "identity": "the triple is filed under the wrong case, format or version",
                "plan": "recomputed from the case data and the version's size grammar",
                "argv": "recomputed from the case data",
                "case-data": f"the curated case ({case.source}) changed since this was recorded; "
                "regenerate it",
            }[check]
            self.problem(check, self.paths[2], f"{key} is {have!r}, expected {want!r} ({hint})")
        if sections is not None and artefacts.combined_stderr(result, spec) != stderr:
            self.problem(
                "stderr-markers",
                self.paths[1],
                "does not match the layout: first step's stderr, then '<marker>' and the stderr "
                "of each later step that ran, each marker on its own line",
            )

    def _final_size(self, meta: dict[str, Any], info: dict[str, Any] | None) -> None:
        if "resize" not in self.spec.step_names() or meta["resize_return_code"] != 0:
            return
        final = plan_for(self.case, grammar_for(self.version)).expected_final_size
        if info is None or final is None:
            return
        want = ceil_sector(final)
        if info.get("virtual-size") != want:
            self.problem(
                "final-size",
                self.paths[0],
                f"resize returned 0 but virtual-size is {info.get('virtual-size')!r}, not "
                f"expected_final_size {final}"
                + (f" rounded up to a sector ({want})" if want != final else ""),
            )


def _load_versions_json(scope: Scope, result: OfflineResult) -> dict[str, Any] | None:
    path = scope.type_dir / artefacts.VERSIONS_FILE

    def problem(message: str) -> None:
        result.problems.append(Problem("versions-json", _rel(scope, path), message))

    fix = f"regenerate it with `python -m toolkit generate {scope.spec.name}`"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problem(f"missing; {fix}")
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem(f"unreadable: {exc}; {fix}")
        return None
    if not isinstance(data, dict):
        problem(f"must be a JSON object mapping version -> provenance; {fix}")
        return None
    present = set(artefacts.version_dirs(scope.type_dir))
    for v in sorted(present - set(data)):
        problem(f"does not list version directory {v}; {fix}")
    for v in sorted(set(data) - present):
        problem(f"lists {v}, which has no version directory")
    for v, entry in sorted(data.items()):
        shape_ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("version_line"), str)
            and isinstance(entry.get("source"), dict)
            and isinstance(entry.get("sha256"), str)
        )
        if not shape_ok:
            problem(f"entry {v!r} needs version_line (text), source (object) and sha256 (text)")
    return data


def profiles_module() -> Any:
    """toolkit.profiles when it provides the version map, else None (the check is skipped)."""
    import importlib

    try:
        module = importlib.import_module("toolkit.profiles")
    except ModuleNotFoundError as exc:
        if exc.name == "toolkit.profiles":
            return None
        raise
    return module if hasattr(module, "expected_version_map") else None


def _version_map_name() -> str:
    profiles = profiles_module()
    return str(getattr(profiles, "VERSION_MAP_FILE", "version-map.json"))


def _check_version_map(scope: Scope, result: OfflineResult) -> str:
    profiles = profiles_module()
    if profiles is None:
        return "skipped: toolkit.profiles provides no expected_version_map"
    expected_map: Callable[[Path, CommandSpec], dict[str, Any]] = profiles.expected_version_map
    path = scope.type_dir / _version_map_name()
    fix = "refresh it with `python -m toolkit profiles` (generate refreshes it too)"
    try:
        want = artefacts.dump_json(expected_map(scope.root, scope.spec))
    except ToolkitError as exc:
        result.problems.append(
            Problem("version-map", _rel(scope, path), f"cannot be recomputed: {exc}")
        )
        return "failed"
    try:
        have = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        result.problems.append(Problem("version-map", _rel(scope, path), f"missing; {fix}"))
        return "failed"
    if have != want:
        result.problems.append(
            Problem("version-map", _rel(scope, path), f"not current for this tree; {fix}")
        )
        return "failed"
    return "current"
