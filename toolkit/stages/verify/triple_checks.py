"""The per-triple offline checks: one case in one version directory.

(Over 250 lines on purpose: one class reads the triple once, and every check works
on the same parsed texts and meta; split up, each would re-read or be handed them.)

The meta, the stderr layout and the argv are not re-derived here: the triple is
turned back into a CaseResult and rebuilt with triple.build_meta and
triple.combined_stderr, the very functions that wrote it; every key that
differs is reported under the check it belongs to.

Which steps ran and how stderr.txt is cut into steps: toolkit.stages.verify.step_checks.

The final-size rule: qemu's block layer keeps lengths in whole 512-byte sectors, so
info reports the virtual size rounded up to a multiple of 512, and the rule is
virtual-size == expected_final_size as qemu-img reports it
(pipeline.expected_virtual_size, toolkit.model.rounding; checked on every provisioned
version). qcow2 refuses an unaligned size and vmdk, vhd and vhdx refuse resize, so in
real baselines the rule meets raw alone; every size in the curated matrix is a multiple
of 512, where the rule is equality. A findings type records a run that breaks the rule
(the disagreement is the finding) in its meta's `model_disagreement`, rebuilt here.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.tree import case_dir
from toolkit.baseline.triple import build_meta, combined_stderr, meta_errors, triple_paths
from toolkit.model.pipeline import QEMU_IMG, CommandSpec, expected_virtual_size
from toolkit.model.records import Case, CaseResult, QemuBinary, StepResult
from toolkit.model.sizes import grammar_for
from toolkit.qemu.runner import RUN_DIR_PREFIX
from toolkit.stages.verify.step_checks import Report, return_codes, stderr_sections

__all__ = ["Problem", "check_triple", "relative"]

# Meta keys that say where a triple belongs: its command, case, format and version.
PLACE_KEYS = ("command", "case_name", "format", "qemu_version")
PLAN_KEYS = ("applied_shrink_flag", "expected_final_size")
# A findings type's meta records how its run contradicts the size model (final-size).
DISAGREEMENT_KEY = "model_disagreement"
REBUILD_HINTS = {
    "identity": "the triple is filed under the wrong case, format or version",
    "plan": "recomputed from the case data and the version's size grammar",
    "argv": "recomputed from the case data",
    "case-data": "the curated case ({source}) changed since this was recorded; regenerate it",
    "final-size": "recomputed from the info JSON and the size model; regenerate it",
    "stdout-json": "the byte count of the recorded stdout; regenerate it",
}
# An absolute path: a '/' that starts a path component, not one inside a word like "on/off".
ABS_PATH_RE = re.compile(r"(?<![\w$.~+-])/[\w.+-]+")
TEMP_NAME_RE = re.compile(r"\b(?:tmp[a-z0-9_]{8}|case-[a-z0-9_]{8})\b")  # mkdtemp names
# qemu's block-graph node paths (human info from 10.0: `Child node '/file':`) are names
# of nodes, not host paths.
NODE_PATH_RE = re.compile(r"Child node '/[\w.-]+(?:/[\w.-]+)*'")


@dataclass(frozen=True)
class Problem:
    check: str  # one of toolkit.stages.verify.offline.CHECKS
    where: str  # path relative to the tree root
    message: str
    warning: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "where": self.where, "message": self.message}


def _check_for_key(key: str) -> str:
    """Which check owns a meta key that the rebuild disagrees with."""
    if key in PLACE_KEYS:
        return "identity"
    if key in PLAN_KEYS:
        return "plan"
    if key == DISAGREEMENT_KEY:
        return "final-size"
    if key == "stdout_bytes":
        return "stdout-json"
    return "argv" if key.endswith("_argv") else "case-data"


def relative(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@cache
def host_paths() -> tuple[str, ...]:
    """This host's home and temp directories, as text that must never reach a baseline."""
    tmp = tempfile.gettempdir()
    found = {str(Path.home()), tmp, os.path.realpath(tmp), RUN_DIR_PREFIX}
    return tuple(sorted(p for p in found if len(p) > 1))


def check_triple(
    root: Path,
    spec: CommandSpec,
    case: Case,
    version: str,
    versions_json: dict[str, Any] | None,
) -> tuple[list[Problem], bool]:
    """Every per-triple problem, and whether the triple could be read (meta valid)."""
    found = _TripleCheck(root, spec, case, version, versions_json).run()
    return found.problems, found.readable


@dataclass
class _Found:
    problems: list[Problem] = field(default_factory=list)
    readable: bool = False


class _TripleCheck:
    """Every per-triple check of one case in one version directory."""

    def __init__(
        self,
        root: Path,
        spec: CommandSpec,
        case: Case,
        version: str,
        versions_json: dict[str, Any] | None,
    ) -> None:
        self.root, self.spec, self.case, self.version = root, spec, case, version
        self.paths = triple_paths(case_dir(root, spec, case.format, version), case.name)
        self.versions_json = versions_json
        self.found = _Found()

    def problem(self, check: str, path: Path, message: str) -> None:
        self.found.problems.append(Problem(check, relative(self.root, path), message))

    def on(self, path: Path) -> Report:
        """Records problems of one file of the triple."""
        return lambda check, message: self.problem(check, path, message)

    def run(self) -> _Found:
        meta_p = self.paths[2]
        texts: list[str] = []
        for p, kind in zip(self.paths, (guard.TEXT, guard.TEXT, guard.META), strict=True):
            try:  # through the guard: never a link, a FIFO or a device; bounded
                texts.append(guard.read_bytes(self.root, p, kind).decode())  # UTF-8, not locale
            except UnicodeDecodeError as exc:
                self.problem("schema", p, f"not UTF-8 text: {exc}")
            except guard.UnsafeFile as exc:
                self.problem("file-type", exc.path, f"{exc.found}; {exc.fix}")
            except OSError as exc:
                self.problem("schema", p, f"cannot be read: {exc.strerror or exc}")
        if len(texts) != 3:
            return self.found
        stdout, stderr, meta_text = texts
        for p, text in zip(self.paths, texts, strict=True):
            self._abs_path(p, text)
        try:
            meta = guard.parse_json(meta_text)
        except json.JSONDecodeError as exc:
            self.problem("schema", meta_p, f"not valid JSON: {exc}")
            return self.found
        errors = meta_errors(meta, self.spec, self.case)
        for e in errors[:5]:
            self.problem("schema", meta_p, f"fails the meta schema at {e}")
        if errors:
            return self.found
        self.found.readable = True
        self._version_line(meta)
        sections = stderr_sections(self.spec, self.case, stderr, meta, self.on(self.paths[1]))
        return_codes(self.spec, self.case, meta, self.on(meta_p))
        info = self._stdout_json(stdout, meta)
        self._rebuild(meta, sections, stdout, stderr)
        self._final_size(meta, info)
        return self.found

    def _abs_path(self, path: Path, text: str) -> None:
        text = NODE_PATH_RE.sub("Child node", text)
        hits = [n for n in host_paths() if n in text]
        hits += [m.group(0) for m in (ABS_PATH_RE.search(text), TEMP_NAME_RE.search(text)) if m]
        if hits:
            self.problem(
                "abs-path",
                path,
                f"contains host path material {hits[0]!r}: only $FILENAME (and $TEST_DIR) may "
                "stand for scratch paths; fix toolkit/qemu/normalise.py and regenerate",
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

    def _stdout_json(self, stdout: str, meta: dict[str, Any]) -> dict[str, Any] | None:
        out_p = self.paths[0]
        artefact = self.spec.artefact
        if artefact not in {s.name for s in self.spec.steps_for(self.case)}:
            return None  # no step's stdout is the file: it stays empty (the rebuild says so)
        rc, timed_out = meta[f"{artefact}_return_code"], meta[f"{artefact}_timed_out"]
        size = meta[f"{artefact}_stdout_bytes"]
        if rc is not None and len(stdout.encode()) != size:
            self.problem(
                "stdout-json",
                out_p,
                f"is {len(stdout.encode())} bytes, {artefact}_stdout_bytes says {size}",
            )
        answered = rc in self.spec.step(artefact).answers
        kind = self.spec.stdout_kind
        if rc is None or (rc != 0 and not answered) or timed_out:
            # Text is whatever the step printed, failed or not (`qemu-img map` prints its
            # header, then refuses compressed clusters); JSON only comes with success.
            if stdout and (kind != "text" or rc is None):
                state = "did not run" if rc is None else f"returned {rc}"
                self.problem(
                    "stdout-json", out_p, f"has {len(stdout)} characters but {artefact} {state}"
                )
            return None
        if kind == "text":
            return None  # text (human output): its size is all there is to check
        try:
            data = guard.parse_json(stdout)
        except json.JSONDecodeError as exc:
            self.problem("stdout-json", out_p, f"{artefact} returned 0 but this is not JSON: {exc}")
            return None
        if not isinstance(data, dict if kind == "object" else list):
            self.problem("stdout-json", out_p, f"{artefact} returned 0 but this is no JSON {kind}")
            return None
        if not isinstance(data, dict):
            return None
        return data

    def _rebuild(
        self, meta: dict[str, Any], sections: list[str] | None, stdout: str, stderr: str
    ) -> None:
        """Rebuild meta and stderr from the case and the recorded step results; compare."""
        case, spec = self.case, self.spec
        plan = spec.plan(case, grammar_for(self.version))
        section = iter(sections or [])
        steps = []
        for s in spec.steps_for(case):
            n = s.name
            ran = meta[f"{n}_return_code"] is not None
            steps.append(
                StepResult(
                    name=n,
                    argv=(s.program, *s.argv(case, plan)),
                    return_code=meta[f"{n}_return_code"],
                    stdout=stdout if n == spec.artefact else meta.get(f"{n}_stdout") or "",
                    stderr=next(section) if ran and sections is not None else "",
                    stdout_bytes=meta.get(f"{n}_stdout_bytes"),  # absent: recorded elsewhere
                    stderr_bytes=meta[f"{n}_stderr_bytes"],
                    timed_out=meta[f"{n}_timed_out"],
                )
            )
        binary = QemuBinary(self.version, Path(QEMU_IMG), "tree", meta["qemu_version_line"])
        result = CaseResult(
            case, binary, tuple(steps), plan.applied_shrink_flag, plan.expected_final_size
        )
        expected = build_meta(result, spec)
        # stdout_bytes restates the artefact step's byte count (checked against the file
        # by stdout-json): held to that count, a changed stdout.txt is reported once.
        expected["stdout_bytes"] = meta.get(f"{spec.artefact}_stdout_bytes") or 0
        for key in sorted(expected):  # the schema gave meta exactly these keys
            have, want = meta[key], expected[key]
            if have == want:
                continue
            check = _check_for_key(key)
            hint = REBUILD_HINTS[check].format(source=case.source)
            self.problem(check, self.paths[2], f"{key} is {have!r}, expected {want!r} ({hint})")
        if sections is not None and combined_stderr(result, spec) != stderr:
            self.problem(
                "stderr-markers",
                self.paths[1],
                "does not match the layout: first step's stderr, then '<marker>' and the stderr "
                "of each later step that ran, each marker on its own line",
            )

    def _final_size(self, meta: dict[str, Any], info: dict[str, Any] | None) -> None:
        """A curated type must agree with the size model (a findings type records where it
        does not, in a meta key the rebuild checks)."""
        if self.spec.findings_of or "resize" not in self.spec.step_names():
            return
        if meta["resize_return_code"] != 0:
            return
        grammar = grammar_for(self.version)
        plan = self.spec.plan(self.case, grammar)
        want = expected_virtual_size(self.case, grammar)
        if info is None or want is None:
            return
        if info.get("virtual-size") != want:
            self.problem(
                "final-size",
                self.paths[0],
                f"resize returned 0 but virtual-size is {info.get('virtual-size')!r}, not "
                f"expected_final_size {plan.expected_final_size}"
                + (f" as qemu-img reports it ({want})" if want != plan.expected_final_size else ""),
            )
