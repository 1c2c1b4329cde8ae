"""rebase's and commit's invariants (R1-R4, C1-C4; their titles are in invariants.INVARIANTS),
over runs of chain_spec's steps.

Each holds on every qemu-img we record (5.2.0 ... 11.1.3); what differs between them is
drift, never a failure. The checking steps that feed them (compare, map) ran with the
real qemu-img even when the command ran on a candidate.

rebase
  R1  a safe rebase (no -u) that succeeded keeps the guest view: the overlay reads as the
      chain read before (a detach too; the new backing file may be larger or smaller)
  R2  an unsafe rebase (-u) that succeeded leaves the overlay's own data as it was
  R3  after a successful rebase, info names the new backing file (`backing-filename`, and
      `backing-filename-format` as -F said), or none at all after a detach
  R4  a rebase that failed leaves the guest view as it was (vmdk: every version refuses
      to rebase it; without -F, 7.2.18 and later refuse)
commit
  C1  after a successful commit, the base reads as the chain read before it
  C2  ... and the base and the overlay read the same (`compare base overlay`), where the
      overlay still reads its base (READS_BASE_SINCE: qcow2 on every version; a vmdk
      overlay records its base's CID, which the commit's writes change, and from then on
      every read that falls through to the base fails, EINVAL, on every version)
  C3  ... without -b, the overlay holds no data of its own any more, where the format
      empties it (EMPTIED_SINCE: qcow2 on every version; vmdk never does, it has no
      make_empty, and commit returns 0 keeping the data)
  C4  ... with -b (which implies -d), or where the format keeps it, the overlay's own
      data is as it was
"""

from __future__ import annotations

import json
from typing import Any

from toolkit.model.commands.chain import NEXT
from toolkit.model.commands.commit import explicit_base
from toolkit.model.commands.rebase import IMAGES, backing_size, rebase_flags
from toolkit.model.records import CaseResult, StepResult
from toolkit.model.steps import image_name
from toolkit.model.versions import version_key
from toolkit.stages.fuzz.chain_spec import unsafe
from toolkit.stages.fuzz.invariants import Verdict, info_json

__all__ = ["EMPTIED_SINCE", "READS_BASE_SINCE", "check_commit", "check_rebase"]

# Per format, the first version we record on which it holds: `commit` (no -b) empties the
# overlay; after a commit, the overlay still reads through to its base.
EMPTIED_SINCE = {"qcow2": "5.2.0"}
READS_BASE_SINCE = {"qcow2": "5.2.0"}


def _v(inv: str, r: CaseResult, ok: bool | None, detail: str = "") -> Verdict:
    return Verdict(inv, r.binary.version, ok, "" if ok else detail)


def _succeeded(step: StepResult) -> bool:
    return step.return_code == 0 and not step.timed_out


def _same(r: CaseResult, name: str, inv: str, what: str) -> Verdict:
    """A compare step's answer as a verdict: 0 identical; anything else, what it said."""
    step = r.step(name)
    if not step.ran or step.timed_out:
        return _v(inv, r, None)
    said = (step.stdout + step.stderr).strip().splitlines()
    detail = f"{what}: compare returned {step.return_code} ({said[0] if said else 'no output'})"
    return _v(inv, r, step.return_code == 0, detail)


def check_rebase(r: CaseResult) -> list[Verdict]:
    rebase = r.step("rebase")
    out = {i: _v(i, r, None) for i in ("R1", "R2", "R3", "R4")}
    if not rebase.ran or rebase.timed_out:
        return list(out.values())
    if not _succeeded(rebase):
        changed = f"rebase returned {rebase.return_code} and the guest view changed"
        out["R4"] = _same(r, "compare", "R4", changed)
    elif unsafe(r.case):
        out["R2"] = _same(r, "compare_own", "R2", "the overlay's own data changed")
    else:
        out["R1"] = _same(r, "compare", "R1", "the guest view changed")
    if _succeeded(rebase):
        out["R3"] = _r3_backing(r)
    return list(out.values())


def _r3_backing(r: CaseResult) -> Verdict:
    info = info_json(r.step("info"))
    if info is None:
        return _v("R3", r, None)
    problems = []
    keys = ("backing-filename", "full-backing-filename", "backing-filename-format")
    if backing_size(r.case) is None:
        problems = [f"{k} {info[k]!r} after a detach" for k in keys if k in info]
    else:
        want = image_name(IMAGES, NEXT, r.case)
        if info.get("backing-filename") != want:
            problems.append(f"backing-filename {info.get('backing-filename')!r}, not {want!r}")
        flags = list(rebase_flags(r.case))
        if "-F" in flags and flags.index("-F") + 1 < len(flags):
            fmt = flags[flags.index("-F") + 1]
            got = info.get("backing-filename-format")
            if got != fmt:
                problems.append(f"backing-filename-format {got!r}, not -F {fmt!r}")
    return _v("R3", r, not problems, "; ".join(problems))


def check_commit(r: CaseResult) -> list[Verdict]:
    out = {i: _v(i, r, None) for i in ("C1", "C2", "C3", "C4")}
    if not _succeeded(r.step("commit")):
        return list(out.values())
    out["C1"] = _same(r, "base_vs_before", "C1", "the base does not read as the chain did")
    if _holds(READS_BASE_SINCE, r):
        out["C2"] = _same(r, "base_vs_overlay", "C2", "the base and the overlay differ")
    if _holds(EMPTIED_SINCE, r) and explicit_base(r.case) is None:
        out["C3"] = _c3_emptied(r)
    else:
        out["C4"] = _same(r, "own_after", "C4", "the overlay's own data changed")
    return list(out.values())


def _holds(since_by_format: dict[str, str], r: CaseResult) -> bool:
    since = since_by_format.get(r.case.format)
    return since is not None and version_key(r.binary.version) >= version_key(since)


def _c3_emptied(r: CaseResult) -> Verdict:
    step = r.step("map_after")
    try:
        extents: Any = json.loads(step.stdout) if _succeeded(step) else None
    except json.JSONDecodeError:
        extents = None
    if not isinstance(extents, list):
        return _v("C3", r, None)
    own = [e for e in extents if isinstance(e, dict) and e.get("depth") == 0]
    shown = ", ".join(f"{e.get('start')}+{e.get('length')}" for e in own[:3])
    return _v("C3", r, not own, f"the overlay still holds data of its own at {shown}")
