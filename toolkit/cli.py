"""`python -m toolkit <command>`: argument parsing and exit-code mapping only.

Each stage module exposes `register(subparsers)`, adding its sub-command with
`set_defaults(func=run)` where `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from toolkit.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, ToolkitError

# Stage modules in the order their commands are listed in --help.
COMMAND_MODULES = (
    "toolkit.provision",
    "toolkit.discovery",
    "toolkit.generate",
    "toolkit.verify",
    "toolkit.drift",
    "toolkit.profiles",
    "toolkit.fuzz",
    "toolkit.bench",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse already exits 2; we only add the hint of where to look.
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m toolkit",
        description="Record what real qemu-img does, version by version.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # stage not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ToolkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `... | head` is normal use; don't print a traceback.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return 0
