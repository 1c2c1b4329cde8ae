"""`python -m toolkit <command>`: argument parsing and exit-code mapping only.

Each sub-command is one module of this package exposing `register(subparsers)`,
which adds its sub-command with `set_defaults(func=run)` where `run(args) -> int`
composes typed stage functions and renders what they return.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from toolkit.model.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Interrupted,
    ToolkitError,
)
from toolkit.render.printable import printable

__all__ = ["COMMAND_MODULES", "build_parser", "exit_now", "main"]

# Command -> the module that registers it, in --help order. Only the module of the
# command being run is imported: heavy dependencies (deepdiff, hypothesis) and the
# stages a command does not use stay out of its start-up.
COMMAND_MODULES = {
    name: f"toolkit.cli.{name}"
    for name in (
        "provision",
        "versions",
        "generate",
        "verify",
        "drift",
        "profiles",
        "fuzz",
        "cases",
        "images",
        "bench",
    )
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse already exits 2; we only add the hint of where to look.
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` alone when it is known, else for every command."""
    parser = _Parser(
        prog="python -m toolkit",
        description="Record what real qemu-img does, version by version.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    modules = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values()
    for name in dict.fromkeys(modules):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except Interrupted as exc:
        print(exc, file=sys.stderr)
        return exc.exit_code
    except ToolkitError as exc:  # it may quote what a qemu-img or a candidate printed
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `... | head` is normal use; don't print a traceback.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return 0


def exit_now(code: int) -> NoReturn:
    """Exit `python -m toolkit` without the interpreter's teardown.

    Teardown frees every module and object one by one. Every file the toolkit writes
    is closed by now, so it buys nothing, and it cost a 0.4 s generate run about
    18 ms (measured). atexit handlers still run, and standard output and error are
    flushed first.
    """
    atexit._run_exitfuncs()
    for name, stream in (("output", sys.stdout), ("error", sys.stderr)):
        try:
            stream.flush()
        except BrokenPipeError:
            pass  # `... | head` is normal use: the reader has what it wanted
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.write(2, f"error: cannot write standard {name}: {exc}\n".encode())
            code = code or EXIT_FAILED
    os._exit(code)
