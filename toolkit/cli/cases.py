"""`cases list` and `cases promote NAME...`: the fuzzer's findings, and moving one into the
curated matrix (toolkit.stages.promote)."""

from __future__ import annotations

import argparse
import fnmatch

from toolkit.baseline.cases import case_file, load_cases
from toolkit.baseline.tree import Tree
from toolkit.cli import options
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS, CURATED, FINDINGS_SUFFIX
from toolkit.render.words import plural
from toolkit.stages.promote import Promoted, promote

__all__ = ["register", "run"]

FINDING_KEY = "[finding: "


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "cases",
        help="list fuzz findings; promote one into the curated matrix",
        description="Findings live in curated_cases/discovered/<command>.toml and their own "
        "output type. `cases list` shows them; `cases promote NAME...` moves findings into "
        "curated_cases/<command>.toml (the curated matrix a compatible tool's harness checks).",
    )
    p.add_argument("action", choices=("list", "promote"), help="what to do")
    p.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="promote: findings by case name, FORMAT/NAME, or a glob of either",
    )
    p.add_argument(
        "--command",
        choices=[s.name for s in CURATED if s.name + FINDINGS_SUFFIX in COMMANDS],
        default=None,
        help="whose findings (default: list every command's; promote needs it unless the "
        "name is found under one command only)",
    )
    options.add_tree_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        if args.names:
            raise BadInput("`cases list` takes no NAME; `cases promote NAME...` does")
        return _list(args)
    if not args.names:
        raise BadInput("`cases promote` needs the findings to move: NAME... "
                               "(`python -m toolkit cases list` shows them)")  # fmt: skip
    command = args.command or _command_of(args)
    result = promote(args.curated_cases, args.expected_outputs, command, args.names)
    print(_report(result), end="")
    return 0


def _command_of(args: argparse.Namespace) -> str:
    """The one command whose findings any NAME names (else --command must say)."""
    holders = []
    for spec in (s for s in CURATED if s.name + FINDINGS_SUFFIX in COMMANDS):  # fuzzed ones
        found = load_cases(args.curated_cases, COMMANDS[spec.name + FINDINGS_SUFFIX])
        labels = [t for c in found for t in (c.name, f"{c.format}/{c.name}")]
        if any(fnmatch.fnmatchcase(t, n) for n in args.names for t in labels):
            holders.append(spec.name)
    if len(holders) != 1:
        which = " or ".join(holders) or "resize or create"
        raise BadInput(
            f"no single command has findings named {' '.join(args.names)!r}: add --command "
            f"({which}); `python -m toolkit cases list` shows every finding"
        )
    return holders[0]


def _list(args: argparse.Namespace) -> int:
    specs = [COMMANDS[args.command + FINDINGS_SUFFIX]] if args.command else [
        COMMANDS[s.name + FINDINGS_SUFFIX] for s in CURATED if s.name + FINDINGS_SUFFIX in COMMANDS
    ]  # fmt: skip
    for spec in specs:
        found = load_cases(args.curated_cases, spec)
        path = case_file(args.curated_cases, spec)
        if not found:
            print(f"{spec.name}: no findings ({path} holds none)")
            continue
        tree = Tree(args.expected_outputs, spec)
        print(
            f"{spec.name}: {plural(len(found), 'finding')} in {path}, recorded in {tree.type_dir}"
        )
        for c in found:
            versions = [v for v in tree.versions if c.name in tree.cases(c.format, v)]
            where = (
                f"recorded for {plural(len(versions), 'version')}"
                if versions
                else "not yet recorded"
            )
            why = c.comment.split(FINDING_KEY)[0].removeprefix("fuzz: ").strip()
            print(f"  {c.format}/{c.name} ({where}): {why}")
    return 0


def _report(r: Promoted) -> str:
    """What moved, and what the next generate and the consuming harness will see."""
    lines = []
    for c in r.cases:
        lines.append(f"promoted {c.format}/{c.name}: {r.findings_file} -> {r.curated_file}")
    if r.removed:
        lines.append(f"  removed its {r.removed} recorded files from "
                     f"{r.findings.output_type} (and refreshed its version map)")  # fmt: skip
    lines.append(f"next: `nox -s generate_{r.curated.name}` records it in "
                 f"{r.curated.output_type}/<format>/<version>/ (until then `verify` reports it "
                 "missing there)")  # fmt: skip
    for fmt in sorted({c.format for c in r.cases}):
        names = ", ".join(repr(c.name) for c in r.cases if c.format == fmt)
        lines.append(
            f"the consumer: a compatible tool's harness checks that each {r.curated.output_type}"
            f"/{fmt}/<version>/ holds exactly its own case list; {fmt} now has "
            f"{r.per_format[fmt]} cases: add {names} to its {fmt} list, or its case-set check "
            "fails"
        )
    return "\n".join(lines) + "\n"
