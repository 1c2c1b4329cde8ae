"""`generate <command>`: run the curated cases on every qemu-img; write the baselines."""

from __future__ import annotations

import argparse
import sys

from toolkit.baseline import guard
from toolkit.baseline.cases import filter_cases, load_cases
from toolkit.cli import options
from toolkit.model.advice import shell
from toolkit.model.errors import EXIT_FAILED
from toolkit.model.pipeline import COMMANDS
from toolkit.render.progress import progress_bar
from toolkit.stages.generate import check_commit, commit_tree, generate

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("generate", help="run curated cases on every qemu-img; write baselines")
    p.add_argument("command", choices=sorted(COMMANDS), help="which command's cases to record")
    options.add_tree_options(p)
    options.add_filter_options(p)
    options.add_discovery_options(p)
    options.add_jobs_option(p)
    options.add_timeout_option(p)
    p.add_argument("--commit", action="store_true", help="git add + commit the regenerated tree")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = COMMANDS[args.command]
    known = load_cases(args.curated_cases, spec)
    cases = filter_cases(known, args.formats, args.cases)
    guard.prepare(args.expected_outputs, spec)  # bad input in the tree: before any discovery
    if args.commit:
        check_commit(args.expected_outputs / spec.output_type)
    binaries = options.find_binaries(args)
    s = generate(
        spec,
        cases,
        binaries,
        args.expected_outputs,
        args.jobs,
        args.timeout,
        progress_bar,
        known=known,
        fixes=options.fixes(args),
    )
    nonzero = ", ".join(f"{n} {c}" for n, c in s.nonzero.items()) or "none"
    print(
        f"generate {spec.name}: {len(s.binaries)} versions ({s.versions}), {s.cases} cases, "
        f"{s.runs} runs; non-zero exits per step: {nonzero}; "
        f"files written {s.written}, unchanged {s.unchanged}"
    )
    if s.repaired or s.swept:
        print(
            f"a killed run had left {len(s.repaired)} unfinished triples "
            f"({', '.join(s.repaired) or 'none'}): rewritten; and {s.swept} stray temp "
            "files: removed"
        )
    for line in s.unrepaired:
        options.warn(f"unfinished triple left by a killed run, not in this selection: {line}")
    if s.refused:
        print(
            f"error: {len(s.refused)} runs not recorded (verify would reject them):\n  "
            + "\n  ".join(s.refused),
            file=sys.stderr,
        )
        return EXIT_FAILED
    if not args.commit and not s.written:
        print("nothing to commit: every file already held what this run recorded")
    elif not args.commit:
        add = shell("git", "add", "--", str(s.tree))
        commit = shell("git", "commit", "-m", f"baselines: {spec.name} ({s.versions})")
        print(f"To commit: {add} && {commit}")
    elif not commit_tree(s.tree, s.versions):
        print("nothing to commit: the tree is unchanged")
    return 0
