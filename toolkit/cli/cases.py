"""`cases list` and `cases promote NAME...`: the fuzzer's findings, and moving one into the
curated matrix (toolkit.stages.promote)."""

from __future__ import annotations

import argparse
import fnmatch

from toolkit.baseline.cases import case_file, load_cases
from toolkit.baseline.tree import Tree
from toolkit.cli import options
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import CURATED, FUZZED, findings_types
from toolkit.render.words import plural
from toolkit.stages.promote import Promoted, promote

__all__ = ["register", "run"]

FINDING_KEY = "[finding: "
# The commands fuzz saves findings of (commit's findings are one file for both its types).
EXPLORED = list(dict.fromkeys(s.command for s in CURATED if s.command in FUZZED))


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
        choices=EXPLORED,
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
    for command in EXPLORED:
        found = load_cases(args.curated_cases, findings_types(command)[0])
        labels = [t for c in found for t in (c.name, f"{c.format}/{c.name}")]
        if any(fnmatch.fnmatchcase(t, n) for n in args.names for t in labels):
            holders.append(command)
    if len(holders) != 1:
        which = " or ".join(holders) or ", ".join(EXPLORED)
        raise BadInput(
            f"no single command has findings named {' '.join(args.names)!r}: add --command "
            f"({which}); `python -m toolkit cases list` shows every finding"
        )
    return holders[0]


def _list(args: argparse.Namespace) -> int:
    for command in [args.command] if args.command else EXPLORED:
        types = findings_types(command)  # one case file; commit records it in two types
        found = load_cases(args.curated_cases, types[0])
        path = case_file(args.curated_cases, types[0])
        if not found:
            print(f"{command}: no findings ({path} holds none)")
            continue
        trees = [Tree(args.expected_outputs, t) for t in types]
        where = " and ".join(str(t.type_dir) for t in trees)
        print(f"{command}: {plural(len(found), 'finding')} in {path}, recorded in {where}")
        for c in found:
            # recorded for a version: in every type of the command (generate writes them so)
            versions = [v for v in trees[0].versions
                        if all(c.name in t.cases(c.format, v) for t in trees)]  # fmt: skip
            state = (
                f"recorded for {plural(len(versions), 'version')}"
                if versions
                else "not yet recorded"
            )
            why = c.comment.split(FINDING_KEY)[0].removeprefix("fuzz: ").strip()
            print(f"  {c.format}/{c.name} ({state}): {why}")
    return 0


def _report(r: Promoted) -> str:
    """What moved, and what the next generate and the consuming harness will see."""
    lines = []
    for c in r.cases:
        lines.append(f"promoted {c.format}/{c.name}: {r.findings_file} -> {r.curated_file}")
    if r.removed:
        lines.append(f"  removed its {r.removed} recorded files from "
                     f"{' and '.join(t.output_type for t in r.findings)} (and refreshed "
                     "its version map)")  # fmt: skip
    command = r.curated[0].command
    for curated in r.curated:
        lines.append(f"next: `nox -s generate_{command}` records it in "
                     f"{curated.output_type}/<format>/<version>/ (until then `verify` reports "
                     "it missing there)")  # fmt: skip
    for fmt in sorted({c.format for c in r.cases}):
        names = ", ".join(repr(c.name) for c in r.cases if c.format == fmt)
        dirs = " and ".join(f"{t.output_type}/{fmt}/<version>/" for t in r.curated)
        lines.append(
            f"the consumer: a compatible tool's harness checks that each {dirs} holds exactly "
            f"its own case list; {fmt} now has {r.per_format[fmt]} cases: add {names} to its "
            f"{fmt} list, or its case-set check fails"
        )
    return "\n".join(lines) + "\n"
