"""`generate <command>`: run the curated cases on every qemu-img; write the baselines."""

from __future__ import annotations

import argparse

from toolkit.baseline.cases import filter_cases, load_cases
from toolkit.cli import options
from toolkit.model.pipeline import COMMANDS
from toolkit.render.progress import progress_bar
from toolkit.stages.generate import commit_tree, generate

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
    cases = filter_cases(load_cases(args.curated_cases, spec), args.formats, args.cases)
    binaries = options.find_binaries(args)
    s = generate(
        spec, cases, binaries, args.expected_outputs, args.jobs, args.timeout, progress_bar
    )
    nonzero = ", ".join(f"{n} {c}" for n, c in s.nonzero.items()) or "none"
    print(
        f"generate {spec.name}: {len(s.binaries)} versions ({s.versions}), {s.cases} cases, "
        f"{s.runs} runs; non-zero exits per step: {nonzero}; "
        f"files written {s.written}, unchanged {s.unchanged}"
    )
    if not args.commit:
        print(
            f"To commit: git add {s.tree} && git commit -m 'baselines: {spec.name} ({s.versions})'"
        )
    elif not commit_tree(s.tree, s.versions):
        print("nothing to commit: the tree is unchanged")
    return 0
