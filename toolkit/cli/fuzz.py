"""`fuzz`: hypothesis-generated resize cases checked against invariants on real qemu-img."""

from __future__ import annotations

import argparse
from pathlib import Path

from toolkit.cli import options
from toolkit.model.errors import EXIT_FAILED, EXIT_OK, BadInput
from toolkit.model.formats import FORMATS
from toolkit.render.fuzz import summary
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.invariants import INVARIANTS
from toolkit.stages.fuzz.session import FuzzRequest, fuzz

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fuzz", help="hypothesis-generated resize cases checked against invariants")
    options.add_discovery_options(p)
    # Several --version: each example runs on each, and differences are drift findings.
    options.add_filter_options(p, with_cases=False)
    add = p.add_argument
    # fmt: off
    add("--invariant", dest="invariants", action="append", default=[], metavar="I",
        help=f"only this invariant (repeatable): {', '.join(INVARIANTS)}")
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
        help=f"where new findings go (default: DIR/{findings.DEFAULT_FILE})")
    add("--no-save", action="store_true", help="report findings without saving them")
    # fmt: on
    options.add_jobs_option(p)
    options.add_timeout_option(p)
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> tuple[list[str], tuple[str, ...], Path]:
    selected = [i.upper() for i in args.invariants] or list(INVARIANTS)
    unknown = [i for i in selected if i not in INVARIANTS]
    if unknown:
        raise BadInput(f"unknown --invariant {', '.join(unknown)}; known: {', '.join(INVARIANTS)}")
    bad = [f for f in args.formats if f not in FORMATS]
    if bad:
        raise BadInput(f"unknown --format {', '.join(bad)}; known: {', '.join(sorted(FORMATS))}")
    save_to: Path = args.save_cases or args.curated_cases / findings.DEFAULT_FILE
    if save_to.exists() and not save_to.is_file():
        raise BadInput(f"--save-cases {save_to}: not a file")
    return selected, tuple(dict.fromkeys(args.formats)) or tuple(FORMATS), save_to


def run(args: argparse.Namespace) -> int:
    selected, formats, save_to = _check_args(args)
    request = FuzzRequest(
        binaries=tuple(options.find_binaries(args)),
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
    )
    result = fuzz(request)
    print(summary(result), end="")
    return EXIT_FAILED if result.failed else EXIT_OK
