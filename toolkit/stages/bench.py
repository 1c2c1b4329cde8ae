"""Bench: speed as ratios against a bare shell loop of the same qemu-img calls.

Every figure is a median over paired runs (toolkit run, then the bare loop, in
alternation, so both see the same machine state). The CLI prints the results and
keeps them as JSON under benchmarks/.
"""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from toolkit.baseline.cases import load_cases
from toolkit.baseline.tree import version_dirs
from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import COMMANDS, IMAGE, plan_for
from toolkit.model.records import QemuBinary
from toolkit.model.sizes import grammar_for
from toolkit.qemu.store import default_store
from toolkit.stages.bench_corpus import TARGETS as CORPUS_TARGETS
from toolkit.stages.bench_corpus import corpus_figures
from toolkit.stages.bench_fuzz import TARGETS as FUZZ_TARGETS
from toolkit.stages.bench_fuzz import fuzz_candidate_figures, fuzz_rate
from toolkit.stages.bench_peak import scratch_figures

__all__ = ["TARGETS", "BenchRequest", "bare_loop_script", "bench", "targets", "toolkit_env"]

TARGETS = {
    "generate_j1_vs_loop": 1.15,
    "generate_j2_vs_loop": 0.6,
    "verify_offline_s": 1.0,
    "drift_s": 1.0,
    "tmp_peak_mib_j2": 16.0,
    "create_tmp_peak_mib_j2": 100.0,  # the create matrix: 1G sparse images, 16M fixed vhd
    "every_type_tmp_peak_mib_j2": 100.0,  # every curated type: chains, dd's copies, the corpus
    "provision_noop_s": 2.0,
    **CORPUS_TARGETS,
    **FUZZ_TARGETS,
}
# Nothing listens on the discard port: a provision run that touches the network fails.
UNREACHABLE_MIRROR = "http://127.0.0.1:9/debian"


@dataclass(frozen=True)
class BenchRequest:
    binary: QemuBinary
    selection: tuple[str, ...]  # discovery arguments that pick `binary` in a toolkit run
    curated_cases: Path
    expected_outputs: Path
    runs: int
    skip_fuzz: bool
    store: Path | None = None  # --store, for the provision no-op


def _toolkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolkit", *args]


def _timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        output = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise ToolkitFailure(f"benchmark step failed ({shlex.join(argv)}):\n{output}")
    return elapsed


def bare_loop_script(binary: QemuBinary, curated: Path, workdir: Path, direct: bool) -> str:
    """The same qemu-img calls as `generate resize` for one version, as plain sh.

    direct=False calls the binary's path (for a store build, its launcher script: what a
    user's own loop would call); direct=True execs what the toolkit execs (the loader).
    """
    spec = COMMANDS["resize"]
    q = shlex.join(binary.command() if direct else [str(binary.path)])
    lines = ["set +e", f"cd {shlex.quote(str(workdir))}"]
    img = "img"
    for case in load_cases(curated, spec):
        plan = plan_for(case, grammar_for(binary.version))  # as the runner plans it
        calls = []
        for step in spec.steps:
            argv = [img if a == IMAGE else a for a in step.argv(case, plan)]
            calls.append(f"{q} {shlex.join(argv)} >out 2>err")
        # Same control flow as the runner: each step only if the one before succeeded.
        lines.append(" && ".join(calls) + f"; rm -f {img}*")
    return "\n".join(lines) + "\n"


def toolkit_env(pycache: Path | None, **extra: str) -> dict[str, str]:
    """The toolkit's environment for a timed run.

    With a `pycache`, compiled modules are cached there (never in the checkout), as on
    any machine that doesn't set PYTHONDONTWRITEBYTECODE. With None, nothing is cached,
    so every start compiles the toolkit's own modules from source.
    """
    env = {**os.environ, **extra}
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def bench(req: BenchRequest) -> dict[str, Any]:
    """Every figure, with each target and whether it was met."""
    binary = req.binary
    results: dict[str, Any] = {
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "qemu_version": binary.version,
        "runs": req.runs,
    }
    with tempfile.TemporaryDirectory(prefix="qemu-img-bench-") as scratch:
        root = Path(scratch)
        for d in ("work", "peak", "pycache"):
            (root / d).mkdir()
        env = toolkit_env(root / "pycache")
        loops = {}
        for name, direct in (("loop", False), ("direct_loop", True)):
            script = root / f"{name}.sh"
            script.write_text(bare_loop_script(binary, req.curated_cases, root / "work", direct))
            loops[name] = partial(_timed, ["sh", str(script)])
        gen = _toolkit(
            "generate", "resize", *req.selection, "--curated-cases",
            str(req.curated_cases), "--expected-outputs", str(root / "tree"),
        )  # fmt: skip
        _timed([*gen, "-j", "1"], env)  # warm-up: page cache, probe cache, bytecode, first write
        uncompiled = toolkit_env(None)
        timings: dict[str, list[float]] = {}
        for _ in range(req.runs):  # paired: every figure sees the same machine state
            for name, measure in (
                ("generate_j1_s", partial(_timed, [*gen, "-j", "1"], env)),
                ("bare_loop_s", loops["loop"]),
                ("generate_j2_s", partial(_timed, [*gen, "-j", "2"], env)),
                ("bare_direct_loop_s", loops["direct_loop"]),
                ("generate_j2_no_bytecode_s", partial(_timed, [*gen, "-j", "2"], uncompiled)),
            ):
                timings.setdefault(name, []).append(measure())
        med = {k: statistics.median(v) for k, v in timings.items()}
        results.update({k: round(v, 4) for k, v in med.items()})
        for j in (1, 2):
            results[f"generate_j{j}_vs_loop"] = round(
                med[f"generate_j{j}_s"] / med["bare_loop_s"], 3
            )
            results[f"generate_j{j}_vs_direct_loop"] = round(
                med[f"generate_j{j}_s"] / med["bare_direct_loop_s"], 3
            )
        results["generate_j2_no_bytecode_vs_loop"] = round(
            med["generate_j2_no_bytecode_s"] / med["bare_loop_s"], 3
        )
        peak_env = toolkit_env(root / "pycache", TMPDIR=str(root / "peak"))
        results.update(scratch_figures(gen, req.curated_cases, req.selection, root, peak_env))
        results.update(_tree_timings(req, env))
        results["provision_noop_s"] = _provision_noop(req, env)
        if (req.curated_cases / "images.toml").is_file():  # runs move the cache, not the store
            store, curated = req.store or default_store(), req.curated_cases
            results.update(corpus_figures(_toolkit(), curated, store, req.runs, env, root / "c"))
        if not req.skip_fuzz:
            results.update(fuzz_rate(list(req.selection), env))
            fz = root / "fuzz-candidate"
            fz.mkdir()
            results.update(fuzz_candidate_figures(binary, list(req.selection), fz, env))
    results["targets"] = targets(results)
    return results


def targets(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each measured figure that has a target: the target, and whether it was met
    (every target is a ceiling; reaching it exactly meets it)."""
    return {
        k: {"target": v, "met": figures[k] is not None and figures[k] <= v}
        for k, v in TARGETS.items()
        if k in figures
    }


def _tree_timings(req: BenchRequest, env: dict[str, str]) -> dict[str, float]:
    """Offline verify of the whole tree, and drift between its two newest versions."""
    tree = req.expected_outputs
    versions = version_dirs(tree / "resize-info-json")
    out: dict[str, float] = {}
    if versions:
        verify = _toolkit(
            "verify", "resize", "--offline", "--expected-outputs", str(tree),
            "--curated-cases", str(req.curated_cases),
        )  # fmt: skip
        out["verify_offline_s"] = round(
            statistics.median(_timed(verify, env) for _ in range(req.runs)), 4
        )
    if len(versions) >= 2:
        drift = _toolkit(
            "drift", versions[-2], versions[-1], "--expected-outputs", str(tree),
            "--format", "json",
        )  # fmt: skip
        out["drift_s"] = round(statistics.median(_timed(drift, env) for _ in range(req.runs)), 4)
    return out


def _provision_noop(req: BenchRequest, env: dict[str, str]) -> float:
    """A second provision run with every build present: no network I/O at all."""
    store = ["--store", str(req.store)] if req.store is not None else []
    argv = _toolkit("provision", *store, "--mirror", UNREACHABLE_MIRROR)
    return round(statistics.median(_timed(argv, env) for _ in range(req.runs)), 4)
