"""`profiles`: group versions with identical behaviour per case; write version-map.json."""

from __future__ import annotations

import argparse

from toolkit.baseline.profiles import (
    VERSION_MAP_FILE,
    compute,
    version_map_path,
    version_map_text,
    write_version_map,
)
from toolkit.baseline.tree import Tree, tree_lock
from toolkit.cli import options
from toolkit.model.errors import EXIT_FAILED, EXIT_OK
from toolkit.model.outputs import output_dir
from toolkit.model.pipeline import COMMANDS
from toolkit.render.profiles import render_text

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "profiles",
        help="group versions with identical behaviour per case; write version-map.json",
        description="For each format x case, group the versions whose normalised outputs are "
        f"identical; write <output-type>/{VERSION_MAP_FILE} and print the version x case matrix.",
    )
    options.add_command_option(p)
    p.add_argument(
        "--check",
        action="store_true",
        help=f"write nothing; exit 1 when {VERSION_MAP_FILE} is missing or not current",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = COMMANDS[args.command]
    tree = Tree(args.expected_outputs, spec)
    tree.require_versions()
    path = version_map_path(args.expected_outputs, spec)
    if args.check:
        wanted = version_map_text(compute(tree))
        try:
            current: str | None = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != wanted:
            print(
                f"{path} is missing or not current: run `python -m toolkit profiles` "
                "(generate also refreshes it)"
            )
            return EXIT_FAILED
        print(f"{path} is current")
        return EXIT_OK
    output_dir(args.expected_outputs, "--expected-outputs", create=False)
    with tree_lock(args.expected_outputs):  # never while a generate is rewriting the tree
        table = compute(tree)
        changed = write_version_map(args.expected_outputs, spec, table)
    print(render_text(table), end="")
    print(f"{'wrote' if changed else 'unchanged:'} {path}")
    return EXIT_OK
