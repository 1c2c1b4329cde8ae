"""Step definitions: which qemu-img calls make up each recorded command.

The pipeline is generic: a command is its output type plus an ordered list of
steps. Each step runs only when the one before it returned 0, and each step's
stderr after the first is introduced by its marker line in `<case>.stderr.txt`.
Adding a `create -> info` command is one CommandSpec and a case file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from toolkit.model.formats import driver_for, split_option_string
from toolkit.model.records import Case
from toolkit.model.sizes import (
    MODERN,
    EndSpec,
    Grammar,
    SizeError,
    parse_end_spec,
    parse_size,
    shrink_flag,
)

__all__ = [
    "COMMANDS",
    "IMAGE",
    "QEMU_IMG",
    "CommandSpec",
    "Plan",
    "StepSpec",
    "plan_for",
    "preallocation_mode",
]

IMAGE = "$FILENAME"  # placeholder in argv templates; the runner substitutes the temp image
QEMU_IMG = "qemu-img"  # argv[0] as recorded in baselines, whatever binary actually ran


@dataclass(frozen=True)
class Plan:
    """What the harness decided for a case before running it."""

    applied_shrink_flag: bool
    expected_final_size: int | None


@dataclass(frozen=True)
class StepSpec:
    name: str
    argv: Callable[[Case, Plan], list[str]]  # without argv[0]; IMAGE marks the image path
    marker: str | None  # stderr marker line; None for the first step
    # Steps that must have returned 0 for this one to run; None means "the step before".
    requires: tuple[str, ...] | None = None

    @property
    def stdout_is_artefact(self) -> bool:
        return self.name == "info"


@dataclass(frozen=True)
class CommandSpec:
    name: str
    output_type: str  # directory under expected-outputs/
    steps: tuple[StepSpec, ...]
    needs_end_spec: bool

    def step_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    def schedule(self) -> list[tuple[StepSpec, tuple[str, ...]]]:
        """Each step with the steps that must have succeeded for it to run.

        The one statement of "which step runs": the runner follows it, and verify checks
        recorded return codes against it.
        """
        out: list[tuple[StepSpec, tuple[str, ...]]] = []
        previous: tuple[str, ...] = ()
        for step in self.steps:
            out.append((step, step.requires if step.requires is not None else previous))
            previous = (step.name,)
        return out


def _create(case: Case, plan: Plan) -> list[str]:
    argv = ["create", "-f", driver_for(case.format)]
    for opt in case.create_options:
        argv += ["-o", opt]
    return [*argv, IMAGE, case.start_size]


def _resize(case: Case, plan: Plan) -> list[str]:
    argv = ["resize", "-f", driver_for(case.format)]
    if plan.applied_shrink_flag:
        argv.append("--shrink")
    if case.prealloc is not None:
        argv += ["--preallocation", case.prealloc]
    assert case.end_spec is not None
    # Passed verbatim: qemu-img takes the size off the end of argv itself, so a
    # leading '-' is not parsed as an option.
    return [*argv, IMAGE, case.end_spec]


def _info(case: Case, plan: Plan) -> list[str]:
    return ["info", "--output=json", IMAGE]


CREATE_STEP = StepSpec("create", _create, None)
INFO_STEP = StepSpec("info", _info, "---INFO STDERR---")

COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec(
            "resize",
            "resize-info-json",
            (CREATE_STEP, StepSpec("resize", _resize, "---RESIZE STDERR---"), INFO_STEP),
            needs_end_spec=True,
        ),
        CommandSpec("create", "create-info-json", (CREATE_STEP, INFO_STEP), needs_end_spec=False),
    )
}


def preallocation_mode(case: Case, spec: CommandSpec) -> str | None:
    """The preallocation mode the command applies: resize's `--preallocation` flag (the
    case's `prealloc`), or for a command without a resize step, create's
    `-o preallocation=` (the last one, as qemu takes it). None: no mode was asked for."""
    if "resize" in spec.step_names():
        return case.prealloc
    found = [
        v for o in case.create_options for k, v in split_option_string(o) if k == "preallocation"
    ]
    return found[-1] if found else None


def plan_for(case: Case, grammar: Grammar = MODERN) -> Plan:
    """--shrink and the expected final size, computed from the case data alone.

    A size this grammar rejects gives expected_final_size None; qemu-img is then
    expected to reject it too, and the shrink flag is inferred from the sign alone.
    """
    try:
        start: int | None = parse_size(case.start_size, grammar)
    except SizeError:
        start = None
    if case.end_spec is None:
        return Plan(applied_shrink_flag=False, expected_final_size=start)
    try:
        end: EndSpec | None = parse_end_spec(case.end_spec, grammar)
    except SizeError:
        end = None
    if start is None or end is None:
        subtractive = case.end_spec.startswith("-")
        flag = case.shrink if case.shrink is not None else subtractive
        return Plan(applied_shrink_flag=flag, expected_final_size=None)
    return Plan(shrink_flag(start, end, case.shrink), end.final_size(start))
