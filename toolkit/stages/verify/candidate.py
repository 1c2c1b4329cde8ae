"""Candidate mode: another qemu-img-compatible CLI against one version's baselines.

`verify --candidate PATH --candidate-version V` runs the curated cases with PATH
through the same runner, with the same argv as the version-V baselines (the
candidate's QemuBinary carries version V, so the plan uses V's size grammar), and
reports each case as one of:

  skip  V's baseline has nothing to compare: the step that makes its image (create) failed
        (or it is unreadable); a one-step command (info over the corpus) always compares;
  gap   V refused the resize and the candidate did it (vmdk, vhd and vhdx on every
        qemu version). No diff then, but internal consistency: info's virtual-size is
        expected_final_size (rounded up to a sector, see toolkit.model.rounding), and
        `PATH check` returns 0 when the candidate has a `check` command (63, qemu-img's
        "this format does not support checks", is accepted and noted);
  pass  the same as the baseline under the whitelist (online.triple_differences);
  diff  anything else, a gap that fails its consistency checks included.

`check` runs as one more step of the same pipeline (it needs the image, which the
runner removes with its case directory), for a command whose case makes an image;
whether the candidate has `check` at all is asked once, with `PATH check --help`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from toolkit.baseline.tree import case_dir
from toolkit.baseline.triple import read_baseline, to_baseline
from toolkit.model.formats import driver_for
from toolkit.model.info import info_object
from toolkit.model.pipeline import IMAGE, CommandSpec, Plan, StepSpec
from toolkit.model.records import Baseline, Case, CaseResult, QemuBinary
from toolkit.model.replay import reproduce
from toolkit.model.rounding import resized_size
from toolkit.model.text import clip
from toolkit.qemu.candidate import SOURCE, candidate_binary
from toolkit.qemu.pool import Progress, no_progress, run_many
from toolkit.qemu.process import run_process
from toolkit.qemu.runner import run_directory
from toolkit.qemu.tools import program_argv
from toolkit.stages.verify.candidate_report import process_records, records
from toolkit.stages.verify.obtained import ObtainedDir
from toolkit.stages.verify.online import triple_differences
from toolkit.stages.verify.outcome import CaseOutcome

__all__ = ["candidate_binary", "run_candidate"]  # candidate_binary: from toolkit.qemu

CHECK_NOT_SUPPORTED = 63  # qemu-img check: "This image format does not support checks"


def _check_argv(case: Case, plan: Plan) -> list[str]:
    return ["check", "-f", driver_for(case.format), IMAGE]


def with_check_step(spec: CommandSpec) -> CommandSpec:
    """The command's steps plus `check`, run when the resize (or else the first step)
    succeeded; a command that picks its steps per case (bitmap's ops) picks check too;
    unchanged for a command that makes no image (it reads the corpus)."""
    if not spec.images:
        return spec
    anchor = "resize" if "resize" in spec.step_names() else spec.steps[0].name
    check = StepSpec("check", _check_argv, None, requires=(anchor,))
    expand = spec.expand
    return dataclasses.replace(
        spec,
        steps=(*spec.steps, check),
        expand=None if expand is None else (lambda case: (*expand(case), check.name)),
    )


def supports_check(binary: QemuBinary, timeout: float) -> bool:
    with run_directory() as scratch:
        raw = run_process([*binary.command(), "check", "--help"], scratch, timeout)
    return raw.return_code == 0 and not raw.timed_out


def _first_message(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("---")]
    return clip(lines[0]) if lines else "(no message)"


def classify(
    result: CaseResult,
    expected: Baseline,
    spec: CommandSpec,
    has_check: bool,
    roots: Mapping[str, Path] | None = None,
) -> tuple[CaseOutcome, Baseline]:
    """pass / diff / skip / gap for one case, and the obtained triple (without `check`)."""
    case, version = result.case, result.binary.version
    own = dataclasses.replace(result, steps=result.steps[: len(spec.steps_for(case))])
    obtained = to_baseline(own, spec)
    outcome = CaseOutcome(case.format, version, case.name, "pass")
    outcome.reproduce = reproduce(
        result, program_argv, spec.images, roots, {s.name: s.env for s in spec.steps}
    )
    steps = spec.steps_for(case)
    setup = steps[0].name if len(steps) > 1 else None  # the step that makes the image
    setup_rc = expected.meta.get(f"{setup}_return_code") if setup else 0
    if setup_rc != 0:
        outcome.status = "skip"
        outcome.reason = f"the {version} baseline's {setup} failed (rc {setup_rc}): nothing to do"
        return _beyond(result, outcome), obtained
    base_rc = expected.meta.get("resize_return_code")
    resize = result.step("resize") if "resize" in spec.step_names() else None
    if base_rc not in (0, None) and resize is not None and resize.return_code == 0:
        return _beyond(result, _gap(result, expected, base_rc, has_check, outcome)), obtained
    outcome.differences = triple_differences(expected, obtained, case.format, spec)
    outcome.records = records(expected, obtained, case.format, spec)
    if outcome.differences:
        outcome.status, outcome.reason = "diff", f"differs from the {version} baseline"
    return _beyond(result, outcome), obtained


def _beyond(result: CaseResult, outcome: CaseOutcome) -> CaseOutcome:
    """A run that printed past the capture cap or left processes behind differs from
    qemu-img whatever its outputs: named first among the case's differences."""
    found = process_records(result)
    if found:
        outcome.differences = [line for line, _ in found] + outcome.differences
        outcome.records = [rec for _, rec in found] + outcome.records
        if outcome.status != "diff":
            outcome.status, outcome.reason = "diff", "the candidate's run did more than qemu-img's"
    return outcome


def _gap(
    result: CaseResult, expected: Baseline, base_rc: int, has_check: bool, outcome: CaseOutcome
) -> CaseOutcome:
    problems: list[str] = []
    notes: list[str] = []
    info = result.step("info")
    final = result.expected_final_size
    case = result.case
    if info.return_code != 0:
        problems.append(f"info returned {info.return_code}: {_first_message(info.stderr)}")
        outcome.records.append(_consistency("info_return_code", 0, info.return_code))
    elif final is not None:
        data = info_object(info.stdout)
        size = data.get("virtual-size") if data is not None else None
        # what qemu-img reports for that size: sectors, and vhd's CHS geometry
        want = resized_size(case.format, case.create_options, final)
        if size == want:
            notes.append(f"virtual-size {size} = expected_final_size {final} as qemu rounds it")
        else:
            problems.append(f"virtual-size is {size!r}, expected {want} (expected_final_size "
                            f"{final} as qemu rounds it for {case.format})")  # fmt: skip
            outcome.records.append(_consistency("virtual-size", want, size))
    check = result.step("check")
    if not has_check:
        notes.append("the candidate has no `check` command")
    elif check.return_code == 0:
        notes.append("check passed")
    elif check.return_code == CHECK_NOT_SUPPORTED:
        notes.append(f"check: not supported for {result.case.format} (rc 63)")
    else:
        problems.append(f"check returned {check.return_code}: {_first_message(check.stderr)}")
        outcome.records.append(_consistency("check_return_code", 0, check.return_code))
    refused = f"qemu-img {result.binary.version} refuses it (rc {base_rc}: "
    refused += f"{_first_message(expected.stderr)})"
    if problems:
        outcome.status = "diff"
        outcome.reason = f"capability gap that fails internal consistency; {refused}"
        outcome.differences = problems
    else:
        outcome.status = "gap"
        outcome.reason = f"capability gap: the candidate resized, {refused}; {', '.join(notes)}"
    return outcome


def _consistency(path: str, want: object, got: object) -> dict[str, object]:
    return {"artefact": "consistency", "path": path, "kind": "changed", "from": want, "to": got}


def run_candidate(
    root: Path,
    spec: CommandSpec,
    binary: QemuBinary,
    cases: list[Case],
    readable: set[tuple[str, str, str]],
    workers: int,
    timeout: float,
    obtained_root: Path,
    progress: Progress = no_progress,
    roots: Mapping[str, Path] | None = None,
) -> list[CaseOutcome]:
    """Every selected case of version binary.version, run with the candidate (`roots`: as
    generate's, the image corpus)."""
    version = binary.version
    outcomes: dict[tuple[str, str], CaseOutcome] = {}
    jobs = []
    for case in cases:
        if (case.format, version, case.name) in readable:
            jobs.append((binary, case))
        else:
            outcomes[case.format, case.name] = CaseOutcome(
                case.format,
                version,
                case.name,
                "skip",
                "no readable baseline (see the offline problems)",
            )
    has_check = supports_check(binary, timeout)
    cspec = with_check_step(spec)
    keep = ObtainedDir(obtained_root)
    ran = run_many(jobs, cspec, workers, timeout, label="candidate", progress=progress, roots=roots)
    for result in ran:
        fmt, name = result.case.format, result.case.name
        expected = read_baseline(root, case_dir(root, spec, fmt, version), name)
        outcome, obtained = classify(result, expected, spec, has_check, roots)
        out_dir = obtained_root / SOURCE / fmt / version
        if outcome.status == "diff":
            outcome.obtained = keep.write(out_dir, name, obtained)
        else:
            keep.clear(out_dir, name)
        outcomes[fmt, name] = outcome
    return [outcomes[c.format, c.name] for c in cases]
