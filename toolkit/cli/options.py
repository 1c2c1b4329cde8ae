"""Options shared by several commands, so every command spells them the same way.

What several commands do with them (finding binaries, selecting cases, the options a
suggested command carries) is toolkit.cli.resolve.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from toolkit.model.errors import BadInput
from toolkit.model.outputs import output_file
from toolkit.model.pipeline import COMMANDS, CURATED, FINDINGS_SUFFIX, findings_types, types_named
from toolkit.render.printable import printable

__all__ = [
    "add_command_option",
    "add_discovery_options",
    "add_expected_outputs_option",
    "add_filter_options",
    "add_jobs_option",
    "add_timeout_option",
    "add_tree_options",
    "output_file_path",
    "positive_int",
    "timeout_seconds",
    "type_name",
    "type_names",
    "warn",
]


def warn(message: str) -> None:
    print(f"warning: {printable(message)}", file=sys.stderr)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


MAX_TIMEOUT = 1e6  # seconds (11 days): far beyond any step, well inside what waits accept


def timeout_seconds(text: str) -> float:
    """The one validator of a timeout: a finite number of seconds, above 0.

    inf overflowed the watchdog's wait (its thread died, nothing was ever killed) and
    nan compares false with every deadline (a hanging step was never killed).
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds above 0 and at most {MAX_TIMEOUT:.0f}, "
            f"got {text!r}"
        )
    return value


def type_names() -> list[str]:
    """What a TYPE may be: an output type's name, or a command's whose types have other
    names (`commit`: commit-overlay and commit-backing; `commit-discovered`: their findings
    types)."""
    grouped = [s.command for s in CURATED if s.command not in COMMANDS]
    grouped += [f"{c}{FINDINGS_SUFFIX}" for c in grouped if findings_types(c)]
    return [*COMMANDS, *dict.fromkeys(grouped)]


def type_name(text: str) -> str:
    """argparse type of an output type's name (`resize`, `resize-discovered`, ...), or of a
    command that names its types (`commit`; toolkit.cli.resolve.types_of expands it)."""
    if not types_named(text):
        raise argparse.ArgumentTypeError(
            f"unknown output type {text!r}; known: {', '.join(type_names())}"
        )
    return text


def output_file_path(text: str) -> Path:
    """argparse type of an option naming a file to write: checked before any work."""
    try:
        return output_file(Path(text))
    except BadInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_discovery_options(parser: argparse.ArgumentParser) -> None:
    """Where qemu-img binaries come from (see toolkit.qemu.discovery for precedence)."""
    group = parser.add_argument_group("qemu-img binaries")
    group.add_argument(
        "--qemu-img",
        dest="qemu_img",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="use exactly this qemu-img (repeatable); when given, nothing else is discovered",
    )
    group.add_argument(
        "--binaries",
        type=Path,
        default=None,
        metavar="DIR",
        help="a version farm laid out DIR/<version>/qemu-img or DIR/<version>/bin/qemu-img "
        "(default: $QEMU_IMG_BINARIES)",
    )
    group.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help="the provision store (default: $QEMU_IMG_STORE or "
        "$XDG_CACHE_HOME/qemu-img-baselines/qemu-img)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list every candidate that discovery skipped, not just a summary",
    )


CURATED_CASES = Path("curated_cases")
EXPECTED_OUTPUTS = Path("expected-outputs")


def add_tree_options(parser: argparse.ArgumentParser) -> None:
    """The curated case data and the golden tree."""
    parser.add_argument(
        "--curated-cases",
        type=Path,
        default=CURATED_CASES,
        metavar="DIR",
        help="directory of case files (default: ./curated_cases)",
    )
    add_expected_outputs_option(parser)


def add_expected_outputs_option(parser: argparse.ArgumentParser) -> None:
    """The golden tree alone (for commands that read no case data)."""
    parser.add_argument(
        "--expected-outputs",
        type=Path,
        default=EXPECTED_OUTPUTS,
        metavar="DIR",
        help="root of the golden tree (default: ./expected-outputs)",
    )


def add_filter_options(parser: argparse.ArgumentParser, with_cases: bool = True) -> None:
    """Selection of versions, formats and (unless with_cases is False) cases."""
    add = parser.add_argument
    # fmt: off
    add("--version", dest="versions", action="append", default=[], metavar="V",
        help="only this qemu-img version (repeatable; exact, a prefix like 10.0, "
        "'oldest' or 'latest')")
    add("--format", dest="formats", action="append", default=[], metavar="F",
        help="only this image format (repeatable)")
    if with_cases:
        add("--case", dest="cases", action="append", default=[], metavar="GLOB",
            help="only cases whose name matches this glob (repeatable)")
    # fmt: on


def add_jobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-j",
        "--jobs",
        type=positive_int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="run N qemu-img pipelines at once (default: the CPU count)",
    )


def add_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=timeout_seconds,
        default=60.0,
        metavar="S",
        help="kill a qemu-img step (and its process group) after S seconds (default: 60)",
    )


def add_command_option(parser: argparse.ArgumentParser) -> None:
    """--command and --expected-outputs, for commands that only read the golden tree."""
    parser.add_argument(
        "--command",
        default="resize",
        choices=sorted(COMMANDS),
        help="whose baselines to read (default: resize)",
    )
    add_expected_outputs_option(parser)
