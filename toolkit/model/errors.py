"""The three outcomes every command maps to an exit code.

0: all good. 1: a check failed or the toolkit itself failed. 2: bad input
(the message names the file or case, what is wrong and how to fix it).
"""

from __future__ import annotations

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "BadInput",
    "Interrupted",
    "ToolkitError",
    "ToolkitFailure",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class ToolkitError(Exception):
    """Base class: carries the exit code the CLI should return."""

    exit_code = EXIT_FAILED


class BadInput(ToolkitError):
    """The user gave us something we cannot use. Nothing has been written."""

    exit_code = EXIT_BAD_INPUT


class ToolkitFailure(ToolkitError):
    """Something went wrong inside the toolkit (not in qemu-img, whose failures are data)."""

    exit_code = EXIT_FAILED


class Interrupted(ToolkitError):
    """^C or SIGTERM: the message says what the run left behind and how to complete it."""

    exit_code = EXIT_INTERRUPTED
