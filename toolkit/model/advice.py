"""The commands the toolkit suggests (`run ...`, `repair it with ...`, `To commit: ...`).

Pasted into a shell, each must run exactly what it says: every word is shell-quoted (a path
holding `$(...)` or a space stays one word and runs nothing), and the options the user gave
that say where the toolkit reads and writes (--curated-cases, --expected-outputs) are carried
along, so a fix never repairs the default tree instead of the one that was checked.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

__all__ = ["AS_DEFAULTS", "Fixes", "shell", "toolkit_command"]


def shell(*words: str) -> str:
    """One shell command line of `words`, each quoted as needed."""
    return shlex.join(words)


def toolkit_command(*words: str) -> str:
    """`python -m toolkit WORDS`, shell-quoted."""
    return shell("python", "-m", "toolkit", *words)


@dataclass(frozen=True)
class Fixes:
    """The options a suggested command carries: the user's non-default --curated-cases and
    --expected-outputs, as argv words (empty when they were the defaults)."""

    cases: tuple[str, ...] = ()  # ("--curated-cases", DIR) or ()
    tree: tuple[str, ...] = ()  # ("--expected-outputs", DIR) or ()

    def generate(self, command: str, *selection: str) -> str:
        """`python -m toolkit generate COMMAND SELECTION...` for this tree and these cases."""
        return toolkit_command("generate", command, *selection, *self.cases, *self.tree)

    def profiles(self, command: str) -> str:
        """`python -m toolkit profiles` refreshing this tree's map of `command`."""
        which = () if command == "resize" else ("--command", command)
        return toolkit_command("profiles", *which, *self.tree)


AS_DEFAULTS = Fixes()  # the default places: suggested commands carry no option
