"""The records every layer shares: binaries, cases, step results, baselines.

Data flows one way: Case (from curated_cases/) -> runner -> CaseResult ->
Baseline triple on disk -> checks (verify, drift, fuzz).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Baseline", "Case", "CaseResult", "QemuBinary", "StepResult"]


@dataclass(frozen=True)
class QemuBinary:
    """One runnable qemu-img, keyed by the upstream version it reports."""

    version: str  # upstream version parsed from the first line of --version, e.g. "7.2.22"
    path: Path  # what we exec: a real binary, a launcher or any wrapper, used as given
    source: str  # "qemu-img" (--qemu-img), "binaries", "store" or "PATH"
    version_line: str  # the whole first line of --version, kept as provenance
    provenance: tuple[tuple[str, str], ...] = ()  # e.g. suite, package_version, sha256
    # A store build's own loader invocation: exec'ed instead of `path` (its launcher script)
    # so no shell starts per call. Empty: exec `path` exactly as given.
    exec_prefix: tuple[str, ...] = ()
    # Names a candidate calls itself in its messages (`instar: ...`): they read as qemu-img.
    program_names: tuple[str, ...] = ()
    # Sibling tools given explicitly (a candidate's `--qemu-io`): (tool, argv prefix) pairs,
    # used before any tool found beside `path`.
    tools: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def provenance_dict(self) -> dict[str, str]:
        return dict(self.provenance)

    def command(self) -> list[str]:
        """argv[0...] that starts this qemu-img."""
        return list(self.exec_prefix) or [str(self.path)]

    def host_paths(self) -> tuple[Path, ...]:
        """Every path of this binary that may show up in its output."""
        return (self.path, *(Path(a) for a in self.exec_prefix if a.startswith("/")))


@dataclass(frozen=True)
class Case:
    """One case: the inputs of one run of a command's pipeline."""

    command: str  # "resize", "create", ...: selects the step definition
    # The directory level under the output type (<type>/<format>/<version>/<case>.*): the
    # image format ("vhd", not qemu's "vpc") for most commands; a command may group by
    # something else (measure's size cases: "_size", an image's manifest format: "vpc").
    format: str
    name: str
    start_size: str  # the size create makes ("" for a command that creates no image)
    end_spec: str | None = None  # resize's [+-]SIZE positional, verbatim
    create_options: tuple[str, ...] = ()
    prealloc: str | None = None  # None = no --preallocation flag at all (distinct from "off")
    shrink: bool | None = None  # None = infer; False = never pass --shrink (rejection case)
    source: str = ""  # "<file>" the case came from, for messages
    comment: str = ""
    # Every other input of the command, by key, as its case schema reads it (lists become
    # tuples, so a case stays hashable): rebase's `flags`, bitmap's `ops`, dd's `operands`.
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, key: str, default: Any = None) -> Any:
        return next((v for k, v in self.params if k == key), default)


@dataclass(frozen=True)
class StepResult:
    """What one qemu-img invocation did. Text is already normalised."""

    name: str  # "create", "resize", "info"
    argv: tuple[str, ...]  # normalised: "qemu-img" and "$FILENAME" in place of real paths
    return_code: int | None  # None when the step did not run; -N when killed by signal N
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int | None = None  # UTF-8 length of the normalised text (host-independent)
    stderr_bytes: int | None = None
    timed_out: bool | None = None
    image_bytes: int | None = None  # host file length of the image after this step
    # Output past the capture cap (toolkit.qemu.process.CAPTURE_CAP) is not kept: bytes
    # dropped per stream (0: the text is whole). Never recorded as a baseline.
    stdout_dropped: int = 0
    stderr_dropped: int = 0
    # Processes the step left running outside its process group (named; killed).
    escaped: tuple[str, ...] = ()
    # A checking step run with the run's reference qemu-img (CaseResult.reference).
    by_reference: bool = False

    @property
    def ran(self) -> bool:
        return self.return_code is not None

    def overflow(self) -> list[str]:
        """What this step's run said beyond its outputs: text cut at the capture cap,
        processes left behind. [] for every run of a real qemu-img."""
        notes = [
            f"{self.name} {what} was cut at the capture cap: {n} more bytes were not kept"
            for what, n in (("stdout", self.stdout_dropped), ("stderr", self.stderr_dropped))
            if n
        ]
        notes += [f"{self.name}: {e}; killed" for e in self.escaped]
        return notes


@dataclass(frozen=True)
class CaseResult:
    """A case run against one binary: every step, in order (steps that did not run included)."""

    case: Case
    binary: QemuBinary
    steps: tuple[StepResult, ...]
    applied_shrink_flag: bool
    expected_final_size: int | None
    # The real qemu-img that ran the checking steps of a candidate's run (None: `binary`
    # ran every step).
    reference: QemuBinary | None = None

    def step(self, name: str) -> StepResult:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True)
class Baseline:
    """The on-disk triple for one case and version, as text."""

    stdout: str
    stderr: str
    meta: dict[str, Any] = field(default_factory=dict)
