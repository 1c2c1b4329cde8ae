"""`drift [A B]`: how recorded behaviour changes between two versions (offline).

With no versions it prints the version x case profile matrix across every version.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

from toolkit.baseline.cases import load_cases
from toolkit.baseline.profiles import compute
from toolkit.baseline.tree import Tree
from toolkit.cli import options, resolve
from toolkit.model import atomic
from toolkit.model.errors import EXIT_FAILED, EXIT_OK, BadInput
from toolkit.model.outputs import output_file
from toolkit.model.pipeline import COMMANDS
from toolkit.render.pages import RENDER_FORMATS, drift_page, profiles_page
from toolkit.stages.drift import drift_between

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drift",
        help="how recorded behaviour changes between two qemu-img versions (offline)",
        description="Compare the golden tree of two versions. A and B: an exact version, a "
        "prefix such as 10.0 (highest match), 'oldest' or 'latest'. Without A and B, print "
        "the version x case profile matrix across all versions.",
    )
    p.add_argument("a", nargs="?", metavar="A", help="the version to compare from")
    p.add_argument("b", nargs="?", metavar="B", help="the version to compare to")
    p.add_argument(
        "--format", dest="render", choices=RENDER_FORMATS, default="text", help="(default: text)"
    )
    p.add_argument(
        "--output",
        type=options.output_file_path,
        metavar="FILE",
        help="write the report here, atomically",
    )
    p.add_argument("--all", dest="show_all", action="store_true", help="show whitelisted noise too")
    p.add_argument("--fail-on-drift", action="store_true", help="exit 1 when anything changed")
    options.add_command_option(p)
    p.add_argument(
        "--curated-cases",
        type=Path,
        default=Path("curated_cases"),
        metavar="DIR",
        help="case files: a findings type's report says why fuzz saved each case "
        "(default: ./curated_cases)",
    )
    p.set_defaults(func=run)


def _why(comment: str) -> str:
    """A finding's comment without its `[finding: KEY]` tags."""
    return comment.split("[finding: ")[0].removeprefix("fuzz: ").strip()


def run(args: argparse.Namespace) -> int:
    tree = Tree(args.expected_outputs, COMMANDS[args.command], resolve.fixes(args))
    if (args.a is None) != (args.b is None):
        raise BadInput(
            "drift takes two versions (drift A B), or none for the version x case matrix"
        )
    tree.require_versions()
    if args.a is None:
        table = compute(tree)
        text = profiles_page(table, args.render)
        drifted = table.drifted
    else:
        a, b = tree.resolve(args.a), tree.resolve(args.b)
        if a == b:
            options.warn(
                f"{args.a!r} and {args.b!r} are both {a}: this compares a version with itself, "
                "so nothing can drift; name two different versions"
            )
        report = drift_between(tree, a, b, args.show_all)
        if tree.spec.findings_of:  # each finding says why fuzz saved it
            found = load_cases(args.curated_cases, tree.spec)
            notes = {(c.format, c.name): _why(c.comment) for c in found if c.comment}
            report = replace(report, notes=notes)
        text = drift_page(report, args.render, partial(compute, tree))
        drifted = report.drifted
    output = args.output
    if output is None and args.render == "html" and sys.stdout.isatty():
        # A page is for a browser, not a terminal: write it where the run is, and say where.
        versions = f"{tree.resolve(args.a)}-{tree.resolve(args.b)}" if args.a else "matrix"
        output = output_file(Path(f"drift-{tree.spec.name}-{versions}.html"))
    if output is not None:
        atomic.write_text(output, text)
        how = "" if args.output else " (open it in a browser; --output FILE writes it elsewhere)"
        print(f"drift: wrote {output}{how}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_FAILED if drifted and args.fail_on_drift else EXIT_OK
