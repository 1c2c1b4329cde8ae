"""What several commands do with the shared options (toolkit.cli.options): find the
qemu-img binaries (provisioning on a fresh machine), select each output type's cases, and
carry the user's places into every command the toolkit suggests.
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path
from shlex import quote

from toolkit.baseline import cases
from toolkit.cli.options import CURATED_CASES, EXPECTED_OUTPUTS, warn
from toolkit.model.advice import Fixes
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import CommandSpec, types_named
from toolkit.model.records import Case, QemuBinary
from toolkit.model.versions import parse_query
from toolkit.qemu.discovery import discover, select_binaries, store_builds
from toolkit.qemu.tools import tool_command

__all__ = [
    "discover_binaries",
    "find_binaries",
    "fixes",
    "qemu_io_argv",
    "select_cases",
    "types_of",
]


def fixes(args: argparse.Namespace) -> Fixes:
    """What the commands a command suggests must carry: the non-default --curated-cases and
    --expected-outputs the user gave (toolkit.model.advice)."""
    curated = getattr(args, "curated_cases", CURATED_CASES)
    tree = args.expected_outputs
    return Fixes(
        ("--curated-cases", str(curated)) if curated != CURATED_CASES else (),
        ("--expected-outputs", str(tree)) if tree != EXPECTED_OUTPUTS else (),
    )


def discover_binaries(args: argparse.Namespace) -> list[QemuBinary]:
    """discover() with the command's options. An explicit --store must hold a build:
    a mistyped one is bad input, never a store to provision or to find nothing in."""
    if args.store is not None and not args.qemu_img and not store_builds(args.store):
        raise BadInput(
            f"--store {args.store}: holds no provisioned qemu-img; check the path, or "
            f"provision into it first with `python -m toolkit provision --store {args.store}`"
        )
    return discover(args.qemu_img, args.binaries, args.store, warn, verbose=args.verbose)


def find_binaries(args: argparse.Namespace, allow_provision: bool = True) -> list[QemuBinary]:
    """Discovered binaries, filtered by --version; provisions the default store first on a
    fresh machine."""
    found = discover_binaries(args)
    if not found and not args.qemu_img and args.store is None and allow_provision:
        # Only a fresh machine gets here: the provisioning modules load only then.
        from toolkit.qemu.provision.install import can_provision, provision

        if can_provision():
            print("no qemu-img found: provisioning Debian's builds first (nox -s provision_qemu)")
            provision(None, args.store, None, log=print)
            found = discover_binaries(args)
    if not found:
        raise BadInput(
            "no qemu-img found. Run `nox -s provision_qemu` on a Debian/Ubuntu host, or pass "
            "--qemu-img PATH (repeatable) or --binaries DIR"
        )
    return select_binaries(found, args.versions) if args.versions else found


def types_of(names: list[str]) -> list[CommandSpec]:
    """The output types TYPE arguments name, each once, in order (`commit`: both of its)."""
    return list(dict.fromkeys(spec for name in names for spec in types_named(name)))


def select_cases(
    args: argparse.Namespace, specs: list[CommandSpec]
) -> tuple[dict[CommandSpec, list[Case]], dict[CommandSpec, list[Case]]]:
    """baseline.cases.select with the command's options; an older toolkit's findings file
    beside the matrix is named, with the command that moves it where it is read."""
    picked = cases.select(args.curated_cases, specs, args.formats, args.cases)
    for old, new in picked.legacy:
        move = f"mkdir -p {quote(str(new.parent))} && mv {quote(str(old))} {quote(str(new))}"
        warn(
            f"{old} is not read: it holds findings an older toolkit saved beside the curated "
            f"matrix; move it with `{move}` to record them in their own output type"
        )
    return picked.known, picked.chosen


def qemu_io_argv(args: argparse.Namespace) -> tuple[str, ...]:
    """The candidate's --qemu-io: () when not given; an executable file as given; otherwise
    a version (`11.1.3`, `11.1`): the qemu-io of that discovered build, as it runs beside
    its qemu-img. BadInput, naming both readings, when it is neither."""
    given: str | None = args.qemu_io
    if given is None:
        return ()
    if args.candidate is None:
        raise BadInput("--qemu-io gives a candidate its qemu-io: it needs --candidate PATH")
    path = Path(given)
    if path.is_file() and os.access(path, os.X_OK):
        return (os.path.abspath(path),)
    try:
        parse_query(given)
    except BadInput:
        raise BadInput(
            f"--qemu-io {given}: neither an executable file nor a version; pass the path of a "
            "qemu-io, or a version whose store build has one (e.g. --qemu-io 11.1.3; "
            "`python -m toolkit versions` lists them)"
        ) from None
    query = copy.copy(args)
    query.versions = [given]
    (binary, *_) = find_binaries(query)
    return tuple(tool_command(binary, "qemu-io"))
