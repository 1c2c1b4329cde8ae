"""Verify: keep the golden tree true, re-run it, and check another implementation against it.

1. The offline checks (offline.py, triple_checks.py) always run.
2. Online, the default: each selected version with both baselines and a binary is
   re-run and compared (online.py). A version without a binary is "not run" (not a
   failure); a binary without baselines is listed. Offline mode skips this.
   On a mismatch the obtained triple goes to `obtained`/<format>/<version>/ and the
   differences are kept; `update` writes it into the tree instead.
3. Candidate mode (candidate.py) replaces 2: another qemu-img-compatible CLI is held
   to one version's baselines.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.baseline import guard
from toolkit.baseline.profiles import write_version_map
from toolkit.baseline.tree import (
    VERSIONS_FILE,
    Tree,
    case_dir,
    load_json_or_empty,
    write_versions_file,
)
from toolkit.baseline.triple import write_baseline
from toolkit.model.advice import AS_DEFAULTS, Fixes
from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import QEMU_IMG, CommandSpec
from toolkit.model.records import Baseline, Case, QemuBinary
from toolkit.model.versions import select_versions
from toolkit.qemu.discovery import MISSING_BUILD
from toolkit.qemu.pool import Progress, no_progress
from toolkit.qemu.tools import tool_command
from toolkit.stages.verify.candidate import candidate_binary, run_candidate
from toolkit.stages.verify.offline import OfflineResult, Scope, check_tree
from toolkit.stages.verify.online import run_online
from toolkit.stages.verify.outcome import Outcome

__all__ = ["VerifyRequest", "verify"]


@dataclass(frozen=True)
class VerifyRequest:
    spec: CommandSpec
    root: Path
    all_cases: tuple[Case, ...]
    cases: tuple[Case, ...]  # the selection (--format, --case)
    versions: tuple[str, ...]  # --version requests
    case_globs: tuple[str, ...]
    filtered: bool  # any selection: tree-wide checks wait for an unfiltered run
    allow_stale: bool
    mode: str  # offline | online | candidate
    update: bool
    obtained: Path
    jobs: int
    timeout: float
    candidate: Path | None = None
    candidate_version: str | None = None
    candidate_names: tuple[str, ...] = ()  # the candidate's own name in its messages
    candidate_qemu_io: tuple[str, ...] = ()  # --qemu-io: argv of the qemu-io for its images
    binaries_from: str = "discovery (--binaries, the store, PATH)"  # for "not run" reasons
    fixes: Fixes = AS_DEFAULTS  # what the commands it suggests carry
    # Directories the steps read outside their scratch directory, by placeholder
    # ($TESTDATA_ROOT: the image corpus), for the runs (online and candidate).
    roots: tuple[tuple[str, Path], ...] = ()


def verify(
    req: VerifyRequest, binaries: Sequence[QemuBinary], progress: Progress = no_progress
) -> Outcome:
    """Every check the request asks for; `binaries` are those discovered for online mode."""
    tree = Tree(req.root, req.spec, req.fixes)
    if req.spec.findings_of and not tree.versions:
        # Findings fuzz saved, none recorded yet: nothing to check, nothing wrong.
        pending = {(c.format, "*", c.name) for c in req.cases}
        offline = OfflineResult(unrecorded=pending, version_map="none yet")
        return Outcome(req.spec, req.root, req.mode, [], offline, all_cases=len(req.all_cases))
    in_tree = tree.require_versions()
    candidate: QemuBinary | None = None
    if req.candidate is not None:
        assert req.candidate_version is not None
        (version,) = select_versions(in_tree, [req.candidate_version])
        candidate = candidate_binary(req.candidate, version, req.timeout, req.candidate_names,
                                     req.candidate_qemu_io)  # fmt: skip
        # A tool some selected case runs (qemu-io writing data): MissingTool, exit 2,
        # before any case runs.
        for program in {s.program for c in req.cases for s, _ in req.spec.schedule(c)}:
            if program != QEMU_IMG:
                tool_command(candidate, program)
        versions = [version]
    else:
        recorded_or_found = [*in_tree, *(b.version for b in binaries)]
        versions = select_versions(recorded_or_found, req.versions, MISSING_BUILD)
    scope = Scope(
        root=req.root,
        spec=req.spec,
        all_cases=req.all_cases,
        cases=req.cases,
        versions=tuple(v for v in versions if v in in_tree),
        case_globs=req.case_globs,
        filtered=req.filtered or candidate is not None,
        allow_stale=req.allow_stale,
        fixes=req.fixes,
    )
    lock = guard.writing(req.root, req.spec) if req.update else contextlib.nullcontext()
    with lock:
        # A generate rewriting the tree while it is read (before or during the checks)
        # makes unfinished and missing triples expected: say so first.
        busy = None if req.update else guard.lock_holder(req.root)
        out = Outcome(req.spec, req.root, req.mode, versions, check_tree(scope),
                      all_cases=len(req.all_cases))  # fmt: skip
        busy = busy or (None if req.update else guard.lock_holder(req.root))
        if busy is not None:
            out.notes.append(f"a generate is running on this tree ({busy}): results may be partial")
        start = time.monotonic()
        if candidate is not None:
            out.cases = run_candidate(
                req.root, req.spec, candidate, list(req.cases), out.offline.readable,
                req.jobs, req.timeout, req.obtained, progress, dict(req.roots),
            )  # fmt: skip
            out.ran = [candidate.version]
            out.candidate = {
                "path": str(candidate.path),
                "version": candidate.version,
                "version_line": candidate.version_line,
                "names": list(candidate.program_names),
            }
        elif req.mode == "online":
            obtained = _run_online(req, out, binaries, in_tree, progress)
            if req.update and obtained:
                _update(out, obtained, binaries)
                out.offline = check_tree(scope)
        if req.mode != "offline":
            out.seconds = time.monotonic() - start
    return out


def _run_online(
    req: VerifyRequest,
    out: Outcome,
    binaries: Sequence[QemuBinary],
    in_tree: list[str],
    progress: Progress,
) -> dict[tuple[str, str, str], Baseline]:
    by_version = {b.version: b for b in binaries}
    versions_json = req.root / req.spec.output_type / VERSIONS_FILE
    recorded = load_json_or_empty(req.root, versions_json, guard.VERSIONS)
    for v in out.versions:
        b = by_version.get(v)
        if v not in in_tree and b is not None:
            out.without_baselines.append(b)
        elif b is None:
            out.not_run[v] = f"no qemu-img {v} found by {req.binaries_from}"
        else:
            out.ran.append(v)
            sha = b.provenance_dict().get("sha256")
            was = recorded.get(v, {}).get("sha256") if isinstance(recorded.get(v), dict) else None
            if sha and was and sha != was:
                out.notes.append(
                    f"{v}: {b.path} is not the build that recorded the baselines "
                    f"(sha256 {sha[:12]}… vs versions.json {was[:12]}…)"
                )
    jobs = [
        (by_version[v], c)
        for v in out.ran
        for c in req.cases
        if (c.format, v, c.name) in out.offline.readable
    ]
    target = None if req.update else req.obtained
    out.cases, obtained = run_online(
        req.root, req.spec, jobs, req.jobs, req.timeout, target, progress, dict(req.roots)
    )
    return obtained


def _update(
    out: Outcome, obtained: dict[tuple[str, str, str], Baseline], binaries: Sequence[QemuBinary]
) -> None:
    """The obtained triples replace the mismatching baselines (the caller holds the lock)."""
    for c in out.cases:
        if c.status != "diff":
            continue
        d = case_dir(out.root, out.spec, c.format, c.version)
        try:
            write_baseline(out.root, d, c.case, obtained[c.format, c.version, c.case])
        except OSError as exc:
            raise ToolkitFailure(
                f"--update cannot write {d / c.case}.*: {exc.strerror or exc}; no file was left "
                "half-written; fix the cause and run again"
            ) from exc
        c.updated = True
    touched = {c.version for c in out.cases if c.updated}
    write_versions_file(out.root, out.spec, [b for b in binaries if b.version in touched])
    write_version_map(out.root, out.spec)
