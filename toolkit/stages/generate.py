"""Generate: curated cases x discovered versions -> the golden tree."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.baseline.profiles import refresh
from toolkit.baseline.tree import case_dir, confined, tree_lock, write_versions_file
from toolkit.baseline.triple import read_baseline, to_baseline, write_baseline
from toolkit.baseline.view import same_recording
from toolkit.model import atomic
from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Baseline, Case, CaseResult, QemuBinary
from toolkit.qemu.pool import Progress, no_progress, run_many

__all__ = ["GenerateSummary", "commit_tree", "generate"]


@dataclass(frozen=True)
class GenerateSummary:
    spec: CommandSpec
    binaries: tuple[QemuBinary, ...]
    cases: int
    runs: int
    nonzero: dict[str, int]  # step -> runs where it returned non-zero
    written: int  # files whose content changed
    unchanged: int
    tree: Path  # expected-outputs/<output-type>

    @property
    def versions(self) -> str:
        return ", ".join(b.version for b in self.binaries)


def generate(
    spec: CommandSpec,
    cases: Sequence[Case],
    binaries: Sequence[QemuBinary],
    root: Path,
    jobs: int,
    timeout: float,
    progress: Progress = no_progress,
) -> GenerateSummary:
    """Run every case on every binary; write the triples, versions.json, the map, profiles/."""
    runs = [(b, c) for b in binaries for c in cases]
    written = unchanged = 0
    nonzero: Counter[str] = Counter()
    checked: set[Path] = set()  # directories already confined: resolve() is not free

    def record(result: CaseResult) -> None:
        nonlocal written, unchanged
        d = case_dir(root, spec, result.case.format, result.binary.version)
        if d not in checked:
            checked.add(confined(root, d))
        for step in result.steps:
            if step.ran and step.return_code != 0:
                nonzero[step.name] += 1
        new = to_baseline(result, spec)
        if _recorded_already(d, result.case, new, spec):
            unchanged += 3
            return
        try:
            changed = write_baseline(d, result.case.name, new)
        except OSError as exc:
            raise ToolkitFailure(
                f"cannot write the baseline of {result.case.format}/{result.case.name} "
                f"in {d}: {exc.strerror or exc}. No file was left half-written; fix the "
                f"cause and run again"
            ) from exc
        written += changed
        unchanged += 3 - changed

    with tree_lock(root):
        atomic.sweep_temp_files(root / spec.output_type)
        run_many(
            runs, spec, jobs, timeout, record, label=f"generate {spec.name}", progress=progress
        )
        write_versions_file(root, spec, binaries)
        written += refresh(root, spec)  # version-map.json and profiles/
    return GenerateSummary(
        spec,
        tuple(binaries),
        len(cases),
        len(runs),
        {n: nonzero[n] for n in spec.step_names()},
        written,
        unchanged,
        root / spec.output_type,
    )


def _recorded_already(d: Path, case: Case, new: Baseline, spec: CommandSpec) -> bool:
    """The triple on disk records the same behaviour (see view.same_recording): keep it."""
    try:
        old = read_baseline(d, case.name)
    except (OSError, ValueError):  # absent, unreadable or not JSON: write the new one
        return False
    return isinstance(old.meta, dict) and same_recording(old, new, case.format, spec)


def commit_tree(tree: Path, versions: str) -> bool:
    """git add + commit the regenerated tree. False when there was nothing to commit."""
    try:
        subprocess.run(["git", "add", "--", str(tree)], check=True)
        staged = subprocess.run(["git", "diff", "--cached", "--quiet", "--", str(tree)])
        if staged.returncode == 0:
            return False
        msg = f"baselines: {tree.name} for qemu-img {versions}"
        subprocess.run(["git", "commit", "-m", msg, "--", str(tree)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ToolkitFailure(f"--commit failed: {exc}") from exc
    return True
