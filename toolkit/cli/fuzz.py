"""`fuzz`: hypothesis-generated cases of one command (`--command`, resize by default; each
is a FuzzKind, toolkit/stages/fuzz/kinds.py) checked against invariants on real qemu-img.

With `--candidate PATH --against V` it is differential: each example runs on the
candidate and on real qemu-img V side by side (D1-D3, and the kind's checks on the
candidate).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from toolkit.cli import options, resolve
from toolkit.model.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, BadInput
from toolkit.model.pipeline import QEMU_IO
from toolkit.model.records import QemuBinary
from toolkit.qemu.candidate import candidate_binary
from toolkit.qemu.tools import tool_command
from toolkit.render.fuzz import summary
from toolkit.render.fuzz_live import LiveReport
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.differential import DIFFERENTIAL
from toolkit.stages.fuzz.kinds import KINDS
from toolkit.stages.fuzz.run import FuzzRequest, fuzz
from toolkit.stages.fuzz.session import CHECKS, Budget

__all__ = ["register", "run"]

DEFAULT_SHRINK_TIME = 15.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fuzz",
        help="hypothesis-generated cases checked against invariants on real qemu-img",
        description="Generate cases of one command with hypothesis (--command; resize by "
        "default), run each on every selected qemu-img version through the same runner as "
        "generate, and check the command's invariants ("
        + "; ".join(f"{c}: {', '.join(k.invariants)}" for c, k in KINDS.items())
        + "): "
        + "; ".join(f"{i} {t}" for i, t in CHECKS.items())
        + ". rebase and commit examples build a backing chain with data in its images; "
        "their checks compare images with `qemu-img compare` and `map`; amend's compare the "
        "image and its info before and after; measure's create what was measured and read "
        "its allocation (with --candidate, the real qemu-img makes those checks). "
        "Differences between versions are drift. "
        "Every finding is saved as a case to curated_cases/discovered/<command>.toml (never "
        "the curated matrix); `nox -s generate_<command>` records them in their own output "
        "types (<command>-discovered). With --candidate PATH --against V, each example also "
        "runs on another qemu-img-compatible program, held to real qemu-img V (D1-D3).",
    )
    options.add_discovery_options(p)
    # Several --version: each example runs on each, and differences are drift findings.
    options.add_filter_options(p, with_cases=False)
    add = p.add_argument
    # fmt: off
    add("--command", choices=tuple(KINDS), default="resize",
        help=f"the command each example records: {', '.join(KINDS)} (default resize)")
    add("--invariant", dest="invariants", action="append", default=[], metavar="I",
        help=f"only this check (repeatable): {', '.join(CHECKS)} (D1-D3 need --candidate)")
    add("--max-examples", type=options.positive_int, default=None, metavar="N",
        help="examples to generate (default: the profile's; fuzz 100, ci 10)")
    add("--seed", type=int, default=None, metavar="S",
        help="reproducible run with this seed (turns the example database off)")
    add("--profile", choices=("fuzz", "ci"), default="fuzz",
        help="hypothesis profile: fuzz (random, example database) or ci (derandomized)")
    add("--no-shrink", action="store_true", help="keep falsifying examples as first found")
    add("--curated-cases", type=Path, default=Path("curated_cases"), metavar="DIR",
        help="existing cases: findings already recorded are skipped (default: ./curated_cases)")
    add("--save-cases", type=Path, default=None, metavar="FILE",
        help="where new findings go (default: DIR/discovered/COMMAND.toml)")
    add("--no-save", action="store_true", help="report findings without saving them")
    g = p.add_argument_group("differential (a candidate against real qemu-img)")
    g.add_argument("--candidate", type=Path, metavar="PATH",
                   help="a qemu-img-compatible CLI: each example runs on it and on --against")
    g.add_argument("--against", metavar="V",
                   help="the real qemu-img version it is held to (exact, a prefix, 'latest')")
    g.add_argument("--candidate-name", dest="candidate_names", action="append", default=[],
                   metavar="NAME", help="the candidate's own name in its messages (repeatable)")
    g.add_argument("--qemu-io", metavar="PATH|VERSION",
                   help="the qemu-io that writes data into the candidate's images (default: "
                   "one beside it): a PATH, or a VERSION for that store build's")
    g = p.add_argument_group("budget")
    g.add_argument("--max-time", type=options.timeout_seconds, metavar="S",
                   help="stop exploring after S seconds (then a bounded shrink, and report)")
    g.add_argument("--max-shrink-time", type=options.timeout_seconds, metavar="S",
                   default=DEFAULT_SHRINK_TIME,
                   help="seconds for each shrinking stage: hypothesis's (from the first "
                   "failure; not with --candidate), then the domain simplification "
                   f"(default {DEFAULT_SHRINK_TIME:g})")
    g.add_argument("--stop-after", type=options.positive_int, metavar="N",
                   help="stop exploring once N checks have failed")
    # fmt: on
    options.add_jobs_option(p)
    options.add_timeout_option(p)
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> tuple[list[str], tuple[str, ...], Path]:
    differential = args.candidate is not None
    if differential != (args.against is not None):
        raise BadInput("--candidate PATH and --against V go together, e.g. "
                       "`fuzz --candidate ./instar --against 11.1`")  # fmt: skip
    if differential and args.versions:
        raise BadInput("--version does not apply with --candidate: use --against V")
    if args.candidate_names and not differential:
        raise BadInput("--candidate-name needs --candidate")
    if args.qemu_io is not None and not differential:
        raise BadInput("--qemu-io gives a candidate its qemu-io: it needs --candidate PATH "
                       "(plain fuzz runs the qemu-io beside each qemu-img)")  # fmt: skip
    kind = KINDS[args.command]
    default = [*kind.invariants, *(DIFFERENTIAL if differential else ())]
    selected = [i.upper() for i in args.invariants] or default
    unknown = [i for i in selected if i not in CHECKS]
    if unknown:
        raise BadInput(f"unknown --invariant {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    for i in (i for i in selected if i not in default and i not in DIFFERENTIAL):
        raise BadInput(f"--invariant {i} does not apply with --command {kind.command}: "
                       f"{kind.why_not(i)}; its checks: {', '.join(kind.invariants)}")  # fmt: skip
    if not differential and set(selected) & set(DIFFERENTIAL):
        raise BadInput("--invariant D1-D3 compare a candidate with qemu-img: add --candidate "
                       "PATH --against V")  # fmt: skip
    bad = [f for f in args.formats if f not in kind.formats]
    if bad:
        raise BadInput(f"unknown --format {', '.join(bad)} for --command {kind.command}; "
                       f"known: {', '.join(sorted(kind.formats))}")  # fmt: skip
    save_to: Path = args.save_cases or findings.default_path(args.curated_cases, args.command)
    if save_to.exists() and not save_to.is_file():
        raise BadInput(f"--save-cases {save_to}: not a file")
    if args.no_save:
        pass
    elif args.save_cases is not None:  # checked before any work: a late failure loses findings
        _check_writable_dir(save_to.parent, f"--save-cases {save_to}")
    else:  # the default goes under --curated-cases, made if missing (as generate's tree is)
        existing = next(p for p in (save_to.parent, *save_to.parent.parents) if p.exists())
        _check_writable_dir(existing, f"--curated-cases {args.curated_cases}")
    return selected, tuple(dict.fromkeys(args.formats)) or kind.formats, save_to


def _check_writable_dir(directory: Path, what: str) -> None:
    if not directory.is_dir():
        raise BadInput(f"{what}: directory {directory} does not exist; create it or pick another")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise BadInput(f"{what}: directory {directory} is not writable; pick another")


def _binaries(args: argparse.Namespace) -> tuple[tuple[QemuBinary, ...], QemuBinary | None]:
    """The binaries examples run on, and (differential mode) the real qemu-img they're held to."""
    if args.candidate is None:
        return tuple(resolve.find_binaries(args)), None
    args.versions = [args.against]
    (reference,) = resolve.find_binaries(args)
    names = tuple(args.candidate_names)
    qemu_io = resolve.qemu_io_argv(args)
    cand = candidate_binary(args.candidate, reference.version, args.timeout, names, qemu_io)
    return (cand,), reference


def _check_tools(command: str, binaries: tuple[QemuBinary, ...]) -> None:
    """A kind that writes data with qemu-io needs one beside each binary that runs its
    examples (as verify --candidate does): MissingTool (exit 2) before any example runs."""
    if any(s.program == QEMU_IO for s in KINDS[command].spec.steps):
        for binary in binaries:
            tool_command(binary, QEMU_IO)


def run(args: argparse.Namespace) -> int:
    selected, formats, save_to = _check_args(args)
    binaries, reference = _binaries(args)
    _check_tools(args.command, binaries)
    request = FuzzRequest(
        binaries=binaries,
        invariants=tuple(selected),
        formats=formats,
        profile=args.profile,
        max_examples=args.max_examples,
        seed=args.seed,
        shrink=not args.no_shrink,
        jobs=args.jobs,
        timeout=args.timeout,
        curated_cases=args.curated_cases,
        save_to=None if args.no_save else save_to,
        reference=reference,
        budget=Budget(args.max_time, args.max_shrink_time, args.stop_after),
        command=args.command,
    )
    live = LiveReport()
    try:
        result = fuzz(request, live.on_example, live.on_failure)
    finally:
        live.clear()
    print(summary(result), end="")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if result.failed else EXIT_OK
