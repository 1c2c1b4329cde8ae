"""Online verify: re-run the baselines with the one runner and compare what comes back.

Comparison (`triple_differences`), shared with candidate mode:
  - every step's return code and timed-out flag, exactly;
  - stderr.txt, exactly (unified diff);
  - the stdout a step keeps in the meta (create's `Formatting ...` line), exactly;
  - the artefact's JSON after `whitelist.mask` (deepdiff paths, old -> new); a text
    artefact (human output) after `whitelist.mask_text`, as a unified diff.
Byte counts are not compared on their own: they restate texts compared above,
and info's follows the whitelisted actual-size.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit.baseline import whitelist
from toolkit.baseline.diff import deep_differences
from toolkit.baseline.tree import case_dir
from toolkit.baseline.triple import read_baseline, to_baseline
from toolkit.model.info import parse_info
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Baseline, Case, CaseResult, QemuBinary
from toolkit.model.text import clip_lines
from toolkit.qemu.pool import Progress, no_progress, run_many
from toolkit.stages.verify.obtained import ObtainedDir
from toolkit.stages.verify.outcome import CaseOutcome

__all__ = ["run_online", "triple_differences"]

MAX_VALUE = 160  # characters of a JSON value shown in a diff line
MAX_COMPARED = 2000  # lines of each text a diff compares
MAX_DIFF_LINES = 200  # lines of one diff kept (each cut at LINE_LIMIT characters)
_ABSENT = "(absent)"


def triple_differences(
    expected: Baseline, obtained: Baseline, fmt: str, spec: CommandSpec
) -> list[str]:
    """Readable differences between two triples of one case; [] when they agree."""
    out: list[str] = []
    for n in spec.step_names():
        for key in (f"{n}_return_code", f"{n}_timed_out"):
            a, b = expected.meta.get(key), obtained.meta.get(key)
            if a != b:
                out.append(f"{key}: {json.dumps(a)} → {json.dumps(b)}")
    for s in spec.steps:
        key = f"{s.name}_stdout"
        if s.name != spec.artefact and expected.meta.get(key) != obtained.meta.get(key):
            out += text_diff(key, expected.meta.get(key) or "", obtained.meta.get(key) or "")
    if expected.stderr != obtained.stderr:
        out += text_diff("stderr", expected.stderr, obtained.stderr)
    if spec.stdout_kind == "text":
        a, b = whitelist.mask_text(expected.stdout), whitelist.mask_text(obtained.stdout)
        return out + ([] if a == b else text_diff("stdout", a, b))
    return out + json_diff(expected.stdout, obtained.stdout, fmt)


def text_diff(label: str, a: str, b: str) -> list[str]:
    """A unified diff, bounded: the first MAX_COMPARED lines of each side are compared and
    at most MAX_DIFF_LINES diff lines kept (a candidate may print megabytes)."""
    a_lines, b_lines = a.splitlines(), b.splitlines()
    lines = list(
        difflib.unified_diff(
            a_lines[:MAX_COMPARED],
            b_lines[:MAX_COMPARED],
            fromfile=f"baseline {label}",
            tofile=f"obtained {label}",
            lineterm="",
        )
    )
    if not lines and max(len(a_lines), len(b_lines)) <= MAX_COMPARED:
        # equal line by line: only the final line break differs
        lines = [f"{label}: differs only in the trailing line break ({a[-1:]!r} → {b[-1:]!r})"]
    lines = clip_lines(lines, MAX_DIFF_LINES)
    if max(len(a_lines), len(b_lines)) > MAX_COMPARED:
        lines.append(f"{label}: only the first {MAX_COMPARED} lines were compared (baseline "
                     f"{len(a_lines)} lines, obtained {len(b_lines)})")  # fmt: skip
    return lines


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def json_diff(a_text: str, b_text: str, fmt: str) -> list[str]:
    """The stdout JSON (info, map, measure ...) after the whitelist: one `path: old → new`
    line per difference."""
    a, b = parse_info(a_text), parse_info(b_text)
    if not (isinstance(a, dict | list) and isinstance(b, dict | list)):
        # empty or not JSON on either side: compare as text
        return [] if a_text == b_text else text_diff("stdout", a_text, b_text)
    ma, mb = whitelist.mask(a, fmt), whitelist.mask(b, fmt)
    if ma == mb:
        return []
    rows = sorted(
        (
            path,
            f"  {path}: {_ABSENT if kind == 'added' else _show(before)} → "
            f"{_ABSENT if kind == 'removed' else _show(after)}",
        )
        for kind, path, _keys, before, after in deep_differences(ma, mb)
    )
    return [
        "stdout JSON (after the whitelist):",
        *clip_lines([row for _, row in rows], MAX_DIFF_LINES),
    ]


def run_online(
    root: Path,
    spec: CommandSpec,
    jobs: list[tuple[QemuBinary, Case]],
    workers: int,
    timeout: float,
    obtained_root: Path | None,
    progress: Progress = no_progress,
    roots: Mapping[str, Path] | None = None,
) -> tuple[list[CaseOutcome], dict[tuple[str, str, str], Baseline]]:
    """Re-run every job; pass or diff per case. Also returns each diff's obtained triple.

    Obtained triples go to obtained_root/<format>/<version>/ (None: keep them in memory
    only, for --update). `roots`: as generate's (the image corpus).
    """
    results: list[CaseResult] = run_many(
        jobs, spec, workers, timeout, label="verify", progress=progress, roots=roots
    )
    outcomes: list[CaseOutcome] = []
    obtained_by_case: dict[tuple[str, str, str], Baseline] = {}
    keep = ObtainedDir(obtained_root) if obtained_root is not None else None
    for result in results:
        fmt, version, name = result.case.format, result.binary.version, result.case.name
        expected = read_baseline(root, case_dir(root, spec, fmt, version), name)
        obtained = to_baseline(result, spec)
        diffs = triple_differences(expected, obtained, fmt, spec)
        out_dir = obtained_root / fmt / version if obtained_root is not None else None
        if not diffs:
            if keep is not None and out_dir is not None:
                keep.clear(out_dir, name)
            outcomes.append(CaseOutcome(fmt, version, name, "pass"))
            continue
        obtained_by_case[fmt, version, name] = obtained
        where = keep.write(out_dir, name, obtained) if keep and out_dir else None
        outcomes.append(
            CaseOutcome(fmt, version, name, "diff", "not reproduced", diffs, obtained=where)
        )
    return outcomes, obtained_by_case
