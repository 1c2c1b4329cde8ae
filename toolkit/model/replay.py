"""The shell commands that replay a run by hand: what `verify --candidate` prints for a
pattern and `fuzz` for a failure, in one spelling.

Each step's recorded argv, in a fresh scratch directory: every image placeholder becomes
the file name the run gave it (CommandSpec.images), and each program the binary that ran
the step (a checking step of a candidate's run: the reference qemu-img; qemu-io: the one
beside it). How a binary starts a program is the caller's (`program`: toolkit.qemu.tools
knows where qemu-io is), so this stays a pure function of the run. A root placeholder
(`$TESTDATA_ROOT`, `roots`) is spelled as the directory it stood for, and a step's own
environment (`env`, by step name: snapshot's TZ=UTC) goes before its program.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from pathlib import Path

from toolkit.model.records import CaseResult, QemuBinary
from toolkit.model.steps import IMAGE, image_name

__all__ = ["Program", "reproduce"]

# (the binary that ran a step, the step's program: qemu-img or qemu-io) -> its argv prefix
Program = Callable[[QemuBinary, str], list[str]]


def reproduce(
    result: CaseResult, program: Program,
    images: tuple[tuple[str, str], ...] = ((IMAGE, "img.{format}"),),
    roots: Mapping[str, Path] | None = None,
    env: Mapping[str, tuple[tuple[str, str], ...]] | None = None,
) -> list[str]:  # fmt: skip
    """`cd "$(mktemp -d)"`, then each step of `result` as one shell line."""
    names = {token: image_name(images, token, result.case) for token, _ in images}
    names.update({token: str(path) for token, path in (roots or {}).items()})
    lines = ['cd "$(mktemp -d)"']
    for step in result.steps:
        words = list(step.argv[1:])
        for token in sorted(names, key=len, reverse=True):  # as the runner substitutes
            words = [w.replace(token, names[token]) for w in words]
        ran = result.reference if step.by_reference and result.reference else result.binary
        assigned = [f"{k}={v}" for k, v in (env or {}).get(step.name, ())]
        lines.append(shlex.join([*assigned, *program(ran, step.argv[0]), *words]))
    return lines
