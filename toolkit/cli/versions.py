"""`versions`: list every qemu-img that discovery finds."""

from __future__ import annotations

import argparse
import json
import sys

from toolkit.cli import options, resolve
from toolkit.model.text import clip
from toolkit.render.printable import printable

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "versions",
        help="list the qemu-img binaries that discovery finds",
        description="List every qemu-img version found, with where it came from.",
    )
    options.add_discovery_options(p)
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    found = resolve.discover_binaries(args)
    if args.json:
        rows = [
            {
                "version": b.version,
                "path": str(b.path),
                "source": b.source,
                "version_line": b.version_line,
                "provenance": b.provenance_dict(),
            }
            for b in found
        ]
        print(json.dumps(rows, indent=2))
    elif found:
        table = [("VERSION", "SOURCE", "PATH", "VERSION LINE")]
        table += [
            (b.version, b.source, printable(str(b.path)), printable(clip(b.version_line)))
            for b in found
        ]
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row[:3], widths, strict=True)]
            print("  ".join([*cells, row[3]]))
    if not found:
        print(
            "no qemu-img found: run `python -m toolkit provision` (Debian hosts) "
            "or pass --qemu-img PATH / --binaries DIR",
            file=sys.stderr,
        )
        return 1
    return 0
