"""`profiles`: group versions into profiles; write version-map.json and profiles/.

With `--for VERSION` or `--qemu-img PATH`: which recorded baseline (version directory
and profile) applies to that qemu-img (toolkit.baseline.selection); nothing is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from toolkit.baseline import guard, profile_files
from toolkit.baseline.profile_rules import rule_problems
from toolkit.baseline.profiles import (
    VERSION_MAP_FILE,
    compute,
    representatives,
    version_map,
    version_map_path,
    version_map_text,
    write_version_map,
)
from toolkit.baseline.selection import Selection, select_baseline
from toolkit.baseline.tree import Tree
from toolkit.cli import options, resolve
from toolkit.model.errors import EXIT_FAILED, EXIT_OK, BadInput
from toolkit.model.outputs import output_dir
from toolkit.model.pipeline import COMMANDS
from toolkit.qemu.discovery import discover
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
        help=f"write nothing; exit 1 when {VERSION_MAP_FILE} or profiles/ is not current, or "
        "profiles/ breaks the consumer's rules (a stdout longer or shorter than its meta's "
        "stdout_bytes, two identical profiles)",
    )
    pick = p.add_mutually_exclusive_group()
    pick.add_argument(
        "--for",
        dest="host",
        metavar="VERSION",
        help="which baseline applies to this qemu-img: a full version (7.2.22: the highest "
        "recorded <= it) or its `--version` line ('qemu-img version 7.2.22 (Debian ...)'), a "
        "prefix (10.0: the highest recorded 10.0.x), 'oldest' or 'latest'; writes nothing",
    )
    pick.add_argument(
        "--qemu-img",
        dest="probe",
        type=Path,
        metavar="PATH",
        help="as --for, with the version this qemu-img reports (it is run with --version)",
    )
    p.add_argument("--json", action="store_true", help="with --for/--qemu-img: print JSON")
    p.set_defaults(func=run)


def _select(args: argparse.Namespace) -> int:
    spec = COMMANDS[args.command]
    host = args.host
    if args.probe is not None:
        found = discover([args.probe], None, None, options.warn)
        if not found:
            raise BadInput(f"--qemu-img {args.probe}: not a usable qemu-img (see above)")
        host = found[0].version_line
    pick: Selection = select_baseline(args.expected_outputs, spec.output_type, host)
    if pick.relation == "older":
        options.warn(pick.note)
    if args.json:
        answer = {"command": spec.name, **pick.as_dict(), "targets": pick.targets()}
        print(json.dumps(answer, indent=2, sort_keys=True))
        return EXIT_OK
    print(
        f"{spec.output_type} for qemu-img {pick.host}: version {pick.version}, profile "
        f"{pick.profile} (representative {pick.representative}); {pick.note}"
    )
    targets = pick.targets()
    print(
        f"  version dir: {pick.version_dir('<target>')}/<case>.{{stdout.txt,stderr.txt,meta.json}}"
        f" (<target>: {', '.join(targets) if targets else 'none recorded'})"
    )
    stem = pick.profile_stem("<target>", "<case>")
    print(f"  profile dir: {pick.profile_dir}/{stem}.{{stdout.txt,stderr.txt,meta.json}}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.check and (args.host is not None or args.probe is not None):
        raise BadInput(
            "--check checks the map and profiles/ of the whole tree, --for/--qemu-img picks "
            "one baseline: run them separately"
        )
    if args.host is not None or args.probe is not None:
        return _select(args)
    if args.json:
        raise BadInput("--json goes with --for VERSION or --qemu-img PATH")
    spec = COMMANDS[args.command]
    tree = Tree(args.expected_outputs, spec, resolve.fixes(args))
    tree.require_versions()
    path = version_map_path(args.expected_outputs, spec)
    refresh = resolve.fixes(args).profiles(spec.name)
    if args.check:
        table = compute(tree)
        try:  # bytes: a map that is not UTF-8 is just not current
            current: bytes | None = guard.read_bytes(args.expected_outputs, path, guard.VERSION_MAP)
        except FileNotFoundError:
            current = None
        if current != version_map_text(table).encode():
            print(f"{path} is missing or not current: run `{refresh}` (generate also refreshes it)")
            return EXIT_FAILED
        profiles = representatives(version_map(table))
        wrong = profile_files.problems(args.expected_outputs, spec, profiles, refresh)
        wrong += rule_problems(args.expected_outputs, spec, refresh)
        odd = [f"{where}: {message}" for where, message, check in wrong if check == "file-type"]
        if odd:  # a link or a special file: bad input, as for every reader of the tree
            raise BadInput("\n  ".join(odd))
        for where, message, _check in wrong:
            print(f"{where}: {message}")
        if wrong:
            return EXIT_FAILED
        print(f"{path} and its profiles/ are current")
        return EXIT_OK
    output_dir(args.expected_outputs, "--expected-outputs", create=False)
    # the writers' checks (links, FIFOs, the lock), then never while a generate rewrites it
    with guard.writing(args.expected_outputs, spec):
        table = compute(tree)
        changed = write_version_map(args.expected_outputs, spec, table)
    print(render_text(table), end="")
    print(f"{'wrote' if changed else 'unchanged:'} {path}")
    return EXIT_OK
