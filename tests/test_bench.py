"""The benchmark: its bare loop makes generate's calls, and a run writes every figure."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from helpers import REPO, case_files, toolkit

from toolkit.baseline.cases import load_cases
from toolkit.model.pipeline import COMMANDS, IMAGE
from toolkit.model.records import QemuBinary
from toolkit.stages.bench import TARGETS, bare_loop_script, targets
from toolkit.stages.bench_fuzz import TARGETS as FUZZ_TARGETS

pytestmark = pytest.mark.qemu

SPEC = COMMANDS["resize"]
TREE = REPO / "expected-outputs" / SPEC.output_type


@pytest.mark.parametrize("direct", [False, True])
def test_the_bare_loop_makes_the_calls_generate_recorded(
    tmp_path: Path, qemu_binaries: list[QemuBinary], direct: bool
) -> None:
    for binary in qemu_binaries:
        _check_loop(tmp_path, binary, direct)


def _check_loop(tmp_path: Path, binary: QemuBinary, direct: bool) -> None:
    script = bare_loop_script(binary, REPO / "curated_cases", tmp_path, direct)
    lines = script.splitlines()[2:]  # after `set +e` and `cd`
    cases = load_cases(REPO / "curated_cases", SPEC)
    assert len(lines) == len(cases) == 41
    start = binary.command() if direct else [str(binary.path)]
    for line, case in zip(lines, cases, strict=True):
        chain, cleanup = line.rsplit("; ", 1)
        assert cleanup == "rm -f img*"
        meta = json.loads(
            (TREE / case.format / binary.version / f"{case.name}.meta.json").read_text()
        )
        calls = chain.split(" && ")
        assert len(calls) == len(SPEC.steps)
        for call, step in zip(calls, SPEC.steps, strict=True):
            words = shlex.split(call)
            assert words[: len(start)] == start and words[-2:] == [">out", "2>err"]
            args = [IMAGE if w == "img" else w for w in words[len(start) : -2]]
            assert ["qemu-img", *args] == meta[f"{step.name}_argv"], (case.name, step.name)


def _stamps(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")}


# A few cases of each command: bench times whatever case set and tree it is given, and
# the whole matrix would make this one test a fifth of the suite's CPU time.
SMALL_RESIZE = """
[[case]]
format = "qcow2"
name = "1M-to-64M-default"
start = "1M"
end = "64M"

[[case]]
format = "raw"
name = "64M-to-1M-shrink"
start = "64M"
end = "1M"
"""
SMALL_IMAGES = """
[[image]]
id = "snap"
format = "qcow2"
size = "1M"
steps = ["write -P 0x11 0 64k", "snapshot -c s1"]
tags = ["snapshots"]
description = "d"

[[image]]
id = "dyn"
format = "vpc"
size = "1M"
description = "d"
"""
SMALL_CREATE = """
[[case]]
format = "vhd"
name = "64M-default"
start = "64M"
"""


@pytest.mark.slow
def test_a_bench_run_writes_every_figure(
    tmp_path: Path, qemu_binaries: list[QemuBinary], latest: QemuBinary
) -> None:
    cases = case_files(tmp_path, "resize", SMALL_RESIZE)
    (cases / "create.toml").write_text(SMALL_CREATE)
    (cases / "images.toml").write_text(SMALL_IMAGES)
    tree = tmp_path / "tree"
    two = ["--version", qemu_binaries[0].version, "--version", latest.version]
    gen = toolkit(
        "generate", "resize", *two, "--curated-cases", str(cases), "--expected-outputs", str(tree)
    )
    assert gen.returncode == 0, gen.stderr
    out = tmp_path / "bench.json"
    before = _stamps(tree)
    proc = toolkit(
        "bench", "--version", latest.version, "--runs", "1", "--skip-fuzz", "--output", str(out),
        "--curated-cases", str(cases), "--expected-outputs", str(tree),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(out.read_text())
    assert figures == json.loads(proc.stdout)
    assert figures["qemu_version"] == latest.version and figures["runs"] == 1
    for key in ("bare_loop_s", "bare_direct_loop_s", "generate_j1_s", "generate_j2_s",
                "generate_j2_no_bytecode_s", "verify_offline_s", "drift_s",
                "provision_noop_s", "corpus_build_cold_s", "corpus_build_warm_s",
                "corpus_mib_on_disk"):  # fmt: skip
        assert 0 < figures[key] < 60, key
    # scratch peaks are sampled: one short create may fall between two samples
    assert figures["tmp_peak_mib_j2"] > 0 and figures["create_tmp_peak_mib_j2"] >= 0
    assert 0 < figures["generate_j2_vs_loop"] < 60 and 0 < figures["generate_j1_vs_loop"] < 60
    assert set(figures["targets"]) == set(TARGETS) - set(FUZZ_TARGETS)  # --skip-fuzz
    for name, target in figures["targets"].items():
        assert target["target"] == TARGETS[name] and isinstance(target["met"], bool), name
    # It generates into its own scratch tree: the tree it reads is not touched.
    assert _stamps(tree) == before


def test_a_target_is_a_ceiling() -> None:
    figures = {"generate_j2_vs_loop": 0.6, "generate_j1_vs_loop": 1.2, "drift_s": 0.1}
    assert targets(figures) == {
        "generate_j2_vs_loop": {"target": 0.6, "met": True},  # exactly at the ceiling
        "generate_j1_vs_loop": {"target": 1.15, "met": False},
        "drift_s": {"target": 1.0, "met": True},
    }  # figures without a measurement (verify_offline_s, ...) are not judged
