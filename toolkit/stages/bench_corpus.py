"""Bench figures of the image corpus (part of `bench`): `images build` cold (an empty user
cache each run) and warm (the corpus present: nothing to build), and what the corpus takes
on disk (allocated blocks, holes not counted)."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

from toolkit.model.errors import ToolkitFailure

__all__ = ["TARGETS", "corpus_figures"]

TARGETS = {
    "corpus_build_cold_s": 15.0,
    "corpus_build_warm_s": 1.0,
    "corpus_mib_on_disk": 100.0,
}


def _timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise ToolkitFailure(f"benchmark step failed (images build):\n{proc.stderr[-2000:]}")
    return elapsed


def corpus_figures(
    toolkit: list[str], curated: Path, store: Path, runs: int, env: dict[str, str], scratch: Path
) -> dict[str, float]:
    """`toolkit` is the argv that starts `python -m toolkit`; `store` the provisioned builds
    (the runs set $XDG_CACHE_HOME to a scratch directory, which would move the store)."""
    argv = [*toolkit, "images", "build", "--curated-cases", str(curated),
            "--expected-outputs", str(scratch / "tree")]  # fmt: skip
    cold, warm = [], []
    for n in range(runs):
        run_env = {
            **env,
            "XDG_CACHE_HOME": str(scratch / f"cache-{n}"),
            "QEMU_IMG_STORE": str(store),
        }
        cold.append(_timed(argv, run_env))
        warm.append(_timed(argv, run_env))
    corpus = scratch / "cache-0" / "qemu-img-baselines" / "corpus"
    on_disk = sum(p.lstat().st_blocks * 512 for p in corpus.rglob("*") if p.is_file())
    return {
        "corpus_build_cold_s": round(statistics.median(cold), 4),
        "corpus_build_warm_s": round(statistics.median(warm), 4),
        "corpus_mib_on_disk": round(on_disk / 2**20, 2),
    }
