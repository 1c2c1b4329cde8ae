"""`generate TYPE...`: run a type's cases on every qemu-img; write its baselines.

`generate resize` records the curated matrix; `generate resize-discovered` the fuzzer's
findings, into their own output type (`nox -s generate_resize` runs both). A type over the
image corpus (`qemu-img-json`, `map-human`, ...) first makes sure the corpus is built and
current (toolkit.cli.corpus).
"""

from __future__ import annotations

import argparse
import sys

from toolkit.baseline import guard
from toolkit.baseline.cases import case_file
from toolkit.cli import options, resolve
from toolkit.cli.corpus import corpus_roots
from toolkit.model.errors import EXIT_FAILED
from toolkit.model.pipeline import CommandSpec
from toolkit.render.generate import commit_hint, summary
from toolkit.render.progress import progress_bar
from toolkit.render.words import plural
from toolkit.stages.generate import generate
from toolkit.stages.git_commit import check_commit, commit_tree

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "generate",
        help="run curated cases (or findings) on every qemu-img; write baselines",
        description="Run each output type's cases on every qemu-img and write its baselines. "
        "TYPE is a curated matrix (resize, create, rebase, ...) or its fuzz findings "
        "(resize-discovered, create-discovered, ...), each recorded in an output type of its "
        "own; a command's name records all its types (commit: commit-overlay and "
        "commit-backing, from one run of each case; commit-discovered: their findings types).",
    )
    p.add_argument(
        "commands",
        nargs="+",
        type=options.type_name,
        metavar="TYPE",
        help=f"which output types to record ({', '.join(options.type_names())})",
    )
    options.add_tree_options(p)
    options.add_filter_options(p)
    options.add_discovery_options(p)
    options.add_jobs_option(p)
    options.add_timeout_option(p)
    p.add_argument("--commit", action="store_true", help="git add + commit the regenerated tree")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    specs = resolve.types_of(args.commands)
    known, chosen = resolve.select_cases(args, specs)
    for spec in chosen:  # bad input in the tree: before any discovery
        guard.prepare(args.expected_outputs, spec)
        if args.commit:
            check_commit(args.expected_outputs / spec.output_type)
    binaries = resolve.find_binaries(args) if chosen else []
    roots = corpus_roots(args, list(chosen), write=True)  # the image corpus, when one reads it
    code, changed = 0, []
    done: set[CommandSpec] = set()
    for spec in specs:
        if spec in done:
            continue
        if not known[spec]:
            print(f"generate {spec.name}: no findings to record "
                  f"({case_file(args.curated_cases, spec)} holds none; `nox -s fuzz` saves "
                  "them there)")  # fmt: skip
            continue
        if spec not in chosen:
            print(f"generate {spec.name}: the selection (--format, --case) matches none of its "
                  "cases")  # fmt: skip
            continue
        # Types of one pipeline with the same steps, selected with the same cases (commit's
        # two, or their two findings types), share its runs; measure's human and json,
        # whose steps differ, run apart.
        together = [t for t in specs if t == spec or (
            spec.pipeline and t.pipeline == spec.pipeline
            and bool(t.findings_of) == bool(spec.findings_of)
            and t.steps == spec.steps and chosen.get(t) == chosen[spec])]  # fmt: skip
        done.update(together)
        for s in generate(together, chosen[spec], binaries, args.expected_outputs, args.jobs,
                          args.timeout, progress_bar, known=known[spec],
                          fixes=resolve.fixes(args), roots=roots):  # fmt: skip
            print(summary(s), end="")
            for line in s.unrepaired:
                options.warn(f"unfinished triple left by a killed run, not in this selection: "
                             f"{line}")  # fmt: skip
            if s.refused:
                print(f"error: {plural(len(s.refused), 'run')} of {s.spec.name} not recorded "
                      "(verify would reject them):\n  " + "\n  ".join(s.refused),
                      file=sys.stderr)  # fmt: skip
                code = EXIT_FAILED
            if s.written and args.commit and commit_tree(s.tree, s.versions):
                print(f"committed {s.tree}")
            elif s.written and not args.commit:
                changed.append((str(s.tree), s.spec.name))
    versions = ", ".join(b.version for b in binaries)
    if changed:
        print(commit_hint(changed, versions), end="")
    elif chosen and not args.commit:
        print("nothing to commit: every file already held what this run recorded")
    return code
