"""Bench: the scratch directory's peak (bytes allocated, sampled every 2 ms) while
`generate` runs at -j 2: the resize matrix, the create matrix, and every curated type at
once (the plan's 100 MiB; toolkit/model/scratch.py)."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import CURATED

__all__ = ["peak_dir_bytes", "scratch_figures"]


def peak_dir_bytes(argv: list[str], tmp: Path, env: dict[str, str]) -> int:
    """Run argv (env sets TMPDIR=tmp) and sample the size of everything under tmp."""
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            total = 0
            for dirpath, _dirs, files in os.walk(tmp):
                for f in files:
                    with contextlib.suppress(OSError):  # removed while we looked
                        total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            peak = max(peak, total)
            time.sleep(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        _run(argv, env)
    finally:
        done.set()
        t.join()
    return peak


def scratch_figures(
    resize: list[str], curated: Path, selection: Sequence[str], root: Path, env: dict[str, str]
) -> dict[str, float]:
    """Each peak in MiB; `resize` is the bench's `generate resize` argv, `env` sets TMPDIR
    to `root/peak`."""
    peak_dir = root / "peak"
    out = {"tmp_peak_mib_j2": _mib(peak_dir_bytes([*resize, "-j", "2"], peak_dir, env))}
    if (curated / "create.toml").is_file():
        create = _generate(["create"], curated, selection, root / "create-tree")
        out["create_tmp_peak_mib_j2"] = _mib(peak_dir_bytes(create, peak_dir, env))
    # Every curated type whose case file is there, in one generate: the peak a user's
    # `nox -s generate_all` reaches on this version.
    every = [s.name for s in CURATED if (curated / s.case_file).is_file()]
    if len(every) > 2:
        everything = _generate(every, curated, selection, root / "every-tree")
        out["every_type_tmp_peak_mib_j2"] = _mib(peak_dir_bytes(everything, peak_dir, env))
    return out


def _generate(types: list[str], curated: Path, selection: Sequence[str], tree: Path) -> list[str]:
    return [sys.executable, "-m", "toolkit", "generate", *types, *selection, "--curated-cases",
            str(curated), "--expected-outputs", str(tree), "-j", "2"]  # fmt: skip


def _run(argv: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        output = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise ToolkitFailure(f"benchmark step failed ({shlex.join(argv)}):\n{output}")


def _mib(n: int) -> float:
    return round(n / 2**20, 2)
