"""Helpers shared by the tests (imported as `helpers`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.cli.main import main
from toolkit.model.images import Corpus
from toolkit.qemu.store import default_store
from toolkit.stages.images.build import BuildResult

REPO = Path(__file__).resolve().parent.parent
TOOLKIT = [sys.executable, "-m", "toolkit"]

# conftest's `spawn` fixture: Popen in text mode, the child killed when the test ends
Spawn = Callable[..., "subprocess.Popen[str]"]


def toolkit(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m toolkit ARGS` as a user would, from any directory."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    return subprocess.run([*TOOLKIT, *args], capture_output=True, text=True, cwd=cwd, env=full_env)


def in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m toolkit ARGS` run by `main()` in this process: the same parsing, checks,
    messages and exit code, without a Python start-up (~0.1 s of CPU each). For the many
    bad-input rows; what depends on the process itself (signals, the environment, exit_now's
    flushing) runs through `toolkit()`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own errors exit 2
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["toolkit", *args], code, out.getvalue(), err.getvalue())


def case_files(parent: Path, command: str, text: str) -> Path:
    """A curated-cases directory under `parent` holding `<command>.toml` = text."""
    cases = parent / "cases"
    cases.mkdir()
    (cases / f"{command}.toml").write_text(text)
    return cases


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie has ended: only its parent's wait is due)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def cache_env(cache: Path, **extra: str) -> dict[str, str]:
    """A toolkit run with its own user cache ($XDG_CACHE_HOME), still finding the
    provisioned builds."""
    return {"XDG_CACHE_HOME": str(cache), "QEMU_IMG_STORE": str(default_store()), **extra}


@dataclass(frozen=True)
class Build:
    """The curated image corpus as one build made it."""

    corpus: Corpus
    cache: Path  # $XDG_CACHE_HOME of the build: `images build` finds it current there
    root: Path  # the corpus directory
    result: BuildResult
    finished: float  # time.time() when it ended


def edit_meta(path: Path, **changes: Any) -> None:
    """Plant a defect in a recorded meta: set each key, or delete it where the value is None."""
    meta = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            del meta[key]
        else:
            meta[key] = value
    path.write_text(json.dumps(meta))
