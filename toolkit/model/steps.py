"""What a recorded command is made of: steps (one qemu-img or qemu-io call each), and the
output type that records them (CommandSpec). The commands themselves live in
toolkit.model.commands; toolkit.model.pipeline is their registry.

A case runs its steps in order in a private scratch directory; each step runs only when
the steps it needs returned 0. A step's argv is a template: placeholders such as
`$FILENAME` (the case's main image) or `$BASE` (another image of the case) stand for
paths in the scratch directory, anywhere in an argument (`if=$INPUT`); the runner puts
the real paths in, and puts the placeholders back into everything the step prints. Each
step's stderr after the first is introduced by its marker line in `<case>.stderr.txt`,
and one step's stdout (the command's `artefact`) is `<case>.stdout.txt`.

Adding a command is a module of step definitions, a case schema and a case file: the
runner, the triple, verify, drift and profiles take every CommandSpec as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolkit.model.formats import FORMATS
from toolkit.model.images import IMAGES_FILE, CorpusCases
from toolkit.model.records import Case, CaseResult
from toolkit.model.scratch import CASE_BUDGET
from toolkit.model.sizes import Grammar

__all__ = [
    "IMAGE",
    "NO_PLAN",
    "QEMU_IMG",
    "QEMU_IO",
    "TESTDATA_ROOT",
    "CommandSpec",
    "Plan",
    "StepSpec",
    "image_name",
]

IMAGE = "$FILENAME"  # the case's main image (the consuming harness's placeholder)
TESTDATA_ROOT = "$TESTDATA_ROOT"  # the image corpus's root (the harness substitutes it)
QEMU_IMG = "qemu-img"  # argv[0] as recorded in baselines, whatever binary actually ran
QEMU_IO = "qemu-io"  # the tool that writes data into images; ships beside qemu-img


def image_name(images: tuple[tuple[str, str], ...], token: str, case: Case) -> str:
    """The file name `images` (CommandSpec.images) gives the image `token` stands for in
    `case`'s scratch directory: what a step names relatively (`backing_file=base.qcow2`)."""
    fmt = FORMATS.get(case.format)
    driver = fmt.driver if fmt is not None else case.format
    return dict(images)[token].format(
        format=case.format, case=case.name, ext=case.format, driver=driver
    )


@dataclass(frozen=True)
class Plan:
    """What the harness decided for a case before running it (resize: --shrink and the size
    it expects; other commands decide nothing)."""

    applied_shrink_flag: bool
    expected_final_size: int | None


NO_PLAN = Plan(applied_shrink_flag=False, expected_final_size=None)


@dataclass(frozen=True)
class StepSpec:
    name: str
    argv: Callable[[Case, Plan], list[str]]  # without argv[0]; placeholders mark paths
    marker: str | None  # stderr marker line; None for the first step
    # Steps that must have returned 0 for this one to run; None means "the step before".
    requires: tuple[str, ...] | None = None
    program: str = QEMU_IMG  # or QEMU_IO
    env: tuple[tuple[str, str], ...] = ()  # set for this step only (e.g. TZ=UTC)
    # Non-zero return codes that answer rather than fail (compare: 1, the images differ;
    # check: 2 and 3, corruptions and leaks), so they need not come with a stderr.
    answers: tuple[int, ...] = ()
    # A step that checks what the command did (fuzz's convert, compare, map), not one of
    # the command's own: with a reference qemu-img (run_case's `reference`) it runs with
    # that one, so a candidate never vouches for itself; and it is no later step's
    # implicit predecessor, so the command's own steps follow each other as without it.
    checking: bool = False


@dataclass(frozen=True)
class CommandSpec:
    """One recorded output type: the pipeline a case runs, and where its triples go.

    A curated type (`resize`) records `curated_cases/resize.toml`, exactly the matrix a
    compatible tool's harness expects. Its findings type (`resize-discovered`, see
    pipeline.findings_type) runs the same steps on the cases fuzz found, kept in
    `curated_cases/discovered/resize.toml` and recorded in an output type of their own,
    so findings never change what the harness reads. Two types may share one pipeline
    and case file (`commit-overlay` and `commit-backing` record two images of one run;
    `measure-human` and `measure-json` run the cases of one file, each its own way).
    """

    name: str  # what the command line calls the type: "resize", "resize-discovered"
    output_type: str  # directory under expected-outputs/
    steps: tuple[StepSpec, ...]  # every step the command may run, in order
    needs_end_spec: bool = False  # resize: a case has an `end`
    findings_of: str | None = None  # the curated type whose fuzz findings this one records
    # The command several types record: their case file, schema and meta `command`. Types
    # with the same steps share each run (commit's overlay and backing); others run apart
    # (measure's human and json).
    pipeline: str = ""
    artefact: str = "info"  # the step whose stdout is <case>.stdout.txt
    stdout_kind: str = "object"  # that stdout is a JSON "object", a JSON "array", or "text"
    # placeholder -> the file's name in the scratch directory ({format}, {case}, {ext}: the
    # file extension, the format's name (`vhd`), {driver}: qemu's name for it (`vpc`));
    # relative names in argv (backing_file=base.qcow2) use it too
    images: tuple[tuple[str, str], ...] = ((IMAGE, "img.{format}"),)
    planner: Callable[[Case, Grammar], Plan] | None = None  # None: NO_PLAN
    expand: Callable[[Case], tuple[str, ...]] | None = None  # the steps this case runs
    inputs: Callable[[Case, Plan], dict[str, Any]] | None = None  # the case as meta keys
    derived: Callable[[CaseResult], dict[str, Any]] | None = None  # meta keys from the run
    derived_keys: tuple[str, ...] = ()  # the keys `derived` gives (their schema: x-derived)
    profile_names: str = "format-case"  # profiles/<p>/<format>-<case>.*, or "case": <case>.*
    return_code_of: str | None = None  # meta `return_code` is this step's (harness key)
    # Steps whose stdout another type of the same pipeline records as its artefact (commit's
    # overlay and backing info): this type's meta does not repeat it, nor its byte count.
    recorded_elsewhere: tuple[str, ...] = ()
    # A type over the image corpus: its cases are the corpus's images (or compare pairs),
    # read from curated_cases/images.toml, not a [[case]] file; its steps read them under
    # $TESTDATA_ROOT (steps.TESTDATA_ROOT), the corpus root the runner is given.
    corpus: CorpusCases | None = None
    # The most a case allocates in its scratch directory at once, for a command whose
    # cases may need more than CASE_BUDGET (the pool schedules by it: model/scratch.py).
    scratch: Callable[[Case], int] | None = None
    # A type over the corpus that also records the `[[case]]` tables of
    # curated_cases/<command>.toml (measure's `--size` cases, which read no image): its cases
    # are both, names unique across the two (toolkit.baseline.cases.load_cases).
    with_case_file: bool = False

    @property
    def command(self) -> str:
        """The pipeline recorded (meta `command`, case schema, case file): "resize"."""
        return self.pipeline or self.findings_of or self.name

    @property
    def case_file(self) -> str:
        """The `[[case]]` file, relative to the curated-cases directory (a type over the
        corpus without one: the corpus's data)."""
        if self.corpus is not None and not self.with_case_file:
            return IMAGES_FILE
        return f"discovered/{self.command}.toml" if self.findings_of else f"{self.command}.toml"

    @property
    def case_files(self) -> tuple[str, ...]:
        """Every file the type's cases come from: the corpus's data first, if it reads it."""
        if self.corpus is not None and self.with_case_file:
            return (IMAGES_FILE, self.case_file)
        return (self.case_file,)

    def image_name(self, token: str, case: Case) -> str:
        """The file name of the image `token` stands for ($BASE -> `base.qcow2`)."""
        return image_name(self.images, token, case)

    def stdout_keys(self, step: str) -> tuple[str, ...]:
        """The meta keys of `step`'s stdout: its byte count, and the text itself unless it is
        the stdout file (the artefact's); none when another type of the pipeline records it."""
        if step in self.recorded_elsewhere:
            return ()
        return ("stdout_bytes",) if step == self.artefact else ("stdout_bytes", "stdout")

    def scratch_bytes(self, case: Case) -> int:
        """What `case` may allocate in its scratch directory: CASE_BUDGET, or more."""
        return max(CASE_BUDGET, self.scratch(case)) if self.scratch else CASE_BUDGET

    def step_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    def step(self, name: str) -> StepSpec:
        return next(s for s in self.steps if s.name == name)

    def steps_for(self, case: Case) -> tuple[StepSpec, ...]:
        """The steps `case` runs, in order (every step unless the command picks per case)."""
        if self.expand is None:
            return self.steps
        names = set(self.expand(case))
        return tuple(s for s in self.steps if s.name in names)

    def image_names(self, case: Case) -> dict[str, str]:
        """Each placeholder of the case's images -> its file name in the scratch directory
        (`{format}`, `{case}`; `{ext}` the format's name, `vhd`; `{driver}` qemu's, `vpc`)."""
        return {token: image_name(self.images, token, case) for token, _ in self.images}

    def plan(self, case: Case, grammar: Grammar) -> Plan:
        return NO_PLAN if self.planner is None else self.planner(case, grammar)

    def schedule(self, case: Case) -> list[tuple[StepSpec, tuple[str, ...]]]:
        """Each step of `case` with the steps that must have succeeded for it to run.

        The one statement of "which step runs": the runner follows it, and verify checks
        recorded return codes against it. A step without `requires` needs the last step
        before it that is not a checking step.
        """
        out: list[tuple[StepSpec, tuple[str, ...]]] = []
        previous: tuple[str, ...] = ()
        for step in self.steps_for(case):
            out.append((step, step.requires if step.requires is not None else previous))
            if not step.checking:
                previous = (step.name,)
        return out
