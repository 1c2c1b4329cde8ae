"""Step definitions: which qemu-img calls make up each recorded command.

The pipeline is generic: a command is its output type plus an ordered list of
steps. Each step runs only when the one before it returned 0, and each step's
stderr after the first is introduced by its marker line in `<case>.stderr.txt`.
Adding a `create -> info` command is one CommandSpec and a case file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from toolkit.model.formats import driver_for, split_option_string
from toolkit.model.records import Case
from toolkit.model.rounding import created_size, resized_size
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
    "CURATED",
    "FINDINGS_DIR",
    "FINDINGS_SUFFIX",
    "IMAGE",
    "QEMU_IMG",
    "CommandSpec",
    "Plan",
    "StepSpec",
    "expected_virtual_size",
    "family",
    "findings_type",
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
    """One recorded output type: the qemu-img pipeline a case runs, and where it goes.

    A curated type (`resize`) records `curated_cases/resize.toml`, exactly the matrix a
    compatible tool's harness expects. Its findings type (`resize-discovered`, see
    `findings_type`) runs the same steps on the cases fuzz found, kept in
    `curated_cases/discovered/resize.toml` and recorded in an output type of their own,
    so findings never change what the harness reads.
    """

    name: str  # what the command line calls the type: "resize", "resize-discovered"
    output_type: str  # directory under expected-outputs/
    steps: tuple[StepSpec, ...]
    needs_end_spec: bool
    findings_of: str | None = None  # the curated type whose fuzz findings this one records

    @property
    def command(self) -> str:
        """The qemu-img pipeline recorded (meta `command`, case schema): "resize"."""
        return self.findings_of or self.name

    @property
    def case_file(self) -> str:
        """The case file, relative to the curated-cases directory."""
        return f"{FINDINGS_DIR}/{self.command}.toml" if self.findings_of else f"{self.name}.toml"

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

# Findings live apart from the curated matrix: curated_cases/discovered/<command>.toml.
FINDINGS_DIR = "discovered"
FINDINGS_SUFFIX = "-discovered"


def findings_type(spec: CommandSpec) -> CommandSpec:
    """The type that records `spec`'s fuzz findings: the same steps, its own case file and
    output type (`resize-info-json` -> `resize-discovered-info-json`)."""
    rest = spec.output_type.removeprefix(spec.name)
    return replace(
        spec,
        name=spec.name + FINDINGS_SUFFIX,
        output_type=spec.name + FINDINGS_SUFFIX + rest,
        findings_of=spec.name,
    )


CURATED: tuple[CommandSpec, ...] = (
    CommandSpec(
        "resize",
        "resize-info-json",
        (CREATE_STEP, StepSpec("resize", _resize, "---RESIZE STDERR---"), INFO_STEP),
        needs_end_spec=True,
    ),
    CommandSpec("create", "create-info-json", (CREATE_STEP, INFO_STEP), needs_end_spec=False),
)
# Every output type by its command-line name: the curated ones, then their findings types.
COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec for spec in (*CURATED, *map(findings_type, CURATED))
}


def family(command: str) -> tuple[CommandSpec, ...]:
    """A curated type and its findings type: what `generate <command>` records."""
    return (COMMANDS[command], COMMANDS[command + FINDINGS_SUFFIX])


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

    A relative end spec (`+N`, `-N`) applies to the size the image has, which is the
    start as `create` rounded it (whole sectors; vhd's CHS geometry), not the start as
    written: qemu-img 5.2.0 reads `0.00000286102g` as 3071 bytes and creates 3072, so
    `-0.000000953674g` (1023 bytes) leaves 2049, and `info` reports 2560. The same size
    decides --shrink: `resize 3071` of that image is a shrink.

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
    current = created_size(case.format, case.create_options, start)
    return Plan(shrink_flag(current, end, case.shrink), end.final_size(current))


def expected_virtual_size(case: Case, plan: Plan) -> int | None:
    """What info's virtual-size must say after a successful resize: the planned final size
    as qemu-img reports it (toolkit.model.rounding.resized_size). None: a size the
    grammar refuses, so there is nothing to expect."""
    if plan.expected_final_size is None:
        return None
    return resized_size(case.format, case.create_options, plan.expected_final_size)
