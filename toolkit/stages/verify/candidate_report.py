"""What a candidate's developers act on: structured differences, patterns, reproducing argv.

Each difference of a candidate case is a record `{artefact, path, kind, from, to}`
(toolkit/data/candidate-report.schema.json):

  artefact  "meta" (a step's return code, timed-out flag, or kept stdout), "stderr",
            "info" (the info JSON after the whitelist), "consistency" (a capability
            gap's own checks: virtual-size, check) or "process" (what a step's run did
            beyond its outputs: output cut at the capture cap, processes left running
            outside its process group; qemu-img does neither);
  path      the meta key, "stderr", a deepdiff path like root['children'], or the check;
  kind      "changed", "added" (only the candidate has it) or "removed" (only qemu-img);
  from, to  the baseline's value and the candidate's (null when absent); a text or value
            longer than MAX_VALUE characters (as JSON) is cut, with a note of how much.

Cases whose differences have the same `pattern` are reported together: for info JSON the
path and kind (values differ per case, e.g. a child's size), otherwise the values too
(a stderr line that says `instar:` is the same in every case).
"""

from __future__ import annotations

import json
import re
from typing import Any

from toolkit.baseline import whitelist
from toolkit.baseline.diff import deep_differences
from toolkit.model.info import parse_info
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Baseline, CaseResult
from toolkit.model.text import clip

__all__ = ["MAX_VALUE", "pattern", "process_records", "records"]

Record = dict[str, Any]
_ANY_INDEX = re.compile(r"\[\d+\]")
MAX_VALUE = 4096  # characters of a record's from/to kept (a 4 MiB stdout is not a report line)


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return clip(value, MAX_VALUE)
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        return value if len(text) <= MAX_VALUE else clip(text, MAX_VALUE)
    return value


def _record(artefact: str, path: str, before: Any, after: Any, kind: str = "changed") -> Record:
    return {"artefact": artefact, "path": path, "kind": kind, "from": _bounded(before),
            "to": _bounded(after)}  # fmt: skip


def process_records(result: CaseResult) -> list[tuple[str, Record]]:
    """A difference line and a record per thing a step's run did beyond its outputs
    (StepResult.overflow): nothing qemu-img does, so always a difference."""
    return [
        (note, _record("process", step.name, None, note, "added"))
        for step in result.steps
        for note in step.overflow()
    ]


def records(expected: Baseline, obtained: Baseline, fmt: str, spec: CommandSpec) -> list[Record]:
    """The differences of one case as records (the same comparison as triple_differences)."""
    out: list[Record] = []
    for n in spec.step_names():
        for key in (f"{n}_return_code", f"{n}_timed_out"):
            a, b = expected.meta.get(key), obtained.meta.get(key)
            if a != b:
                out.append(_record("meta", key, a, b))
    for s in spec.steps:
        key = f"{s.name}_stdout"
        if s.name != spec.artefact and expected.meta.get(key) != obtained.meta.get(key):
            out.append(_record("meta", key, expected.meta.get(key), obtained.meta.get(key)))
    if expected.stderr != obtained.stderr:
        out.append(_record("stderr", "stderr", expected.stderr, obtained.stderr))
    if spec.stdout_kind == "text":  # human output: whole, after the text whitelist
        if whitelist.mask_text(expected.stdout) != whitelist.mask_text(obtained.stdout):
            out.append(_record("info", "stdout", expected.stdout, obtained.stdout))
        return out
    a, b = parse_info(expected.stdout), parse_info(obtained.stdout)
    if isinstance(a, dict | list) and isinstance(b, dict | list):
        ma, mb = whitelist.mask(a, fmt), whitelist.mask(b, fmt)
        for kind, path, _keys, before, after in deep_differences(ma, mb):
            kind = kind if kind in ("added", "removed") else "changed"
            out.append(_record("info", path, None if kind == "added" else before,
                               None if kind == "removed" else after, kind))  # fmt: skip
    elif expected.stdout != obtained.stdout:
        out.append(_record("info", "stdout", expected.stdout, obtained.stdout))
    return out


def pattern(recs: list[Record]) -> tuple[tuple[Any, ...], ...]:
    """What cases with the same problem share (see the module docstring). A list index in a
    JSON path is any index (`root[*]['compressed']`): map's extents differ in number."""
    keys: set[tuple[Any, ...]] = set()
    for r in recs:
        if r["artefact"] == "process" or (r["artefact"] == "info" and r["path"] != "stdout"):
            keys.add((r["artefact"], _ANY_INDEX.sub("[*]", r["path"]), r["kind"]))
        else:
            keys.add((r["artefact"], r["path"], r["kind"], repr(r["from"]), repr(r["to"])))
    return tuple(sorted(keys))
