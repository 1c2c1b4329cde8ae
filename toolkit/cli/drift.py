"""`drift [A B]`: how recorded behaviour changes between two versions (offline).

With no versions it prints the version x case profile matrix across every version.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

from toolkit.baseline.profiles import compute
from toolkit.baseline.tree import Tree
from toolkit.cli import options
from toolkit.model import atomic
from toolkit.model.errors import EXIT_FAILED, EXIT_OK, BadInput
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tree = Tree(args.expected_outputs, COMMANDS[args.command], options.fixes(args))
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
        text = drift_page(report, args.render, partial(compute, tree))
        drifted = report.drifted
    if args.output is not None:
        atomic.write_text(args.output, text)
        print(f"drift: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_FAILED if drifted and args.fail_on_drift else EXIT_OK
