"""The registry of recorded output types: every CommandSpec, by the name the command line
uses, and the findings type of each command fuzz explores.

What a command is (steps, placeholders, its output type) is toolkit.model.steps; each
command's steps are a module of toolkit.model.commands. The names most stages use are
importable from here too, so a stage needs one import for the pipeline.
"""

from __future__ import annotations

from dataclasses import replace

from toolkit.model.commands.amend import AMEND
from toolkit.model.commands.bitmap import BITMAP
from toolkit.model.commands.check import CHECK_HUMAN, CHECK_JSON
from toolkit.model.commands.commit import COMMIT_BACKING, COMMIT_OVERLAY
from toolkit.model.commands.compare import COMPARE_HUMAN
from toolkit.model.commands.dd import DD
from toolkit.model.commands.info import QEMU_IMG_HUMAN, QEMU_IMG_JSON
from toolkit.model.commands.map import MAP_HUMAN, MAP_JSON
from toolkit.model.commands.measure import MEASURE_HUMAN, MEASURE_JSON
from toolkit.model.commands.rebase import REBASE
from toolkit.model.commands.resize import (
    CREATE,
    CREATE_STEP,
    INFO_STEP,
    RESIZE,
    expected_virtual_size,
    plan_for,
    preallocation_mode,
)
from toolkit.model.commands.snapshot import SNAPSHOT_LIST_HUMAN
from toolkit.model.steps import (
    IMAGE,
    NO_PLAN,
    QEMU_IMG,
    QEMU_IO,
    TESTDATA_ROOT,
    CommandSpec,
    Plan,
    StepSpec,
)

__all__ = [
    "COMMANDS",
    "CREATE_STEP",
    "CURATED",
    "FINDINGS_DIR",
    "FINDINGS_SUFFIX",
    "IMAGE",
    "INFO_STEP",
    "INSPECT",
    "NO_PLAN",
    "QEMU_IMG",
    "QEMU_IO",
    "TESTDATA_ROOT",
    "CommandSpec",
    "Plan",
    "StepSpec",
    "expected_virtual_size",
    "family",
    "findings_type",
    "findings_types",
    "plan_for",
    "preallocation_mode",
    "types_named",
]

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
        corpus=None,  # findings are case tables only (measure's size cases), never the corpus
        with_case_file=False,
    )


# The image corpus's inspection types (issue 23): one case per image or compare pair.
INSPECT: tuple[CommandSpec, ...] = (
    QEMU_IMG_HUMAN,
    QEMU_IMG_JSON,
    CHECK_HUMAN,
    CHECK_JSON,
    COMPARE_HUMAN,
    MAP_HUMAN,
    MAP_JSON,
    SNAPSHOT_LIST_HUMAN,
)
CURATED: tuple[CommandSpec, ...] = (
    RESIZE,
    CREATE,
    REBASE,
    COMMIT_OVERLAY,
    COMMIT_BACKING,
    AMEND,
    BITMAP,
    DD,
    *INSPECT,
    MEASURE_HUMAN,  # size cases (measure.toml) and the corpus's safe images, raw and qcow2
    MEASURE_JSON,
)
# The commands fuzz explores: each of their types has a findings type.
FUZZED = frozenset({"resize", "create", "rebase", "commit", "amend", "measure"})
# Every output type by its command-line name: the curated ones, then the findings types.
COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (*CURATED, *(findings_type(s) for s in CURATED if s.command in FUZZED))
}


def family(command: str) -> tuple[CommandSpec, ...]:
    """Every type that records `command`: its curated types, then their findings types
    (`generate resize` records both; `commit` is `commit-overlay` and `commit-backing`)."""
    curated = [s for s in CURATED if s.command == command]
    return (*curated, *(COMMANDS[s.name + FINDINGS_SUFFIX] for s in curated if s.command in FUZZED))


def findings_types(command: str) -> tuple[CommandSpec, ...]:
    """The types that record `command`'s fuzz findings, one per curated type, all reading
    curated_cases/discovered/<command>.toml (commit: two, from one run of each finding)."""
    return tuple(s for s in family(command) if s.findings_of)


def types_named(name: str) -> tuple[CommandSpec, ...]:
    """What a TYPE on the command line names: the output type of that name, or else every
    curated type of the command (`commit`: commit-overlay and commit-backing), or every
    findings type of it (`commit-discovered`). Empty: none."""
    if name in COMMANDS:
        return (COMMANDS[name],)
    curated = tuple(s for s in CURATED if s.command == name)
    if curated:
        return curated
    command = name.removesuffix(FINDINGS_SUFFIX)
    return findings_types(command) if command != name else ()
