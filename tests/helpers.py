"""Helpers shared by the tests (imported as `helpers`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLKIT = [sys.executable, "-m", "toolkit"]


def toolkit(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m toolkit ARGS` as a user would, from any directory."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    return subprocess.run([*TOOLKIT, *args], capture_output=True, text=True, cwd=cwd, env=full_env)


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
