"""generate resize against the real qemu-img builds."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import case_files, toolkit

from toolkit.baseline import triple as artefacts
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary

REPO = Path(__file__).resolve().parent.parent
TREE = REPO / "expected-outputs"

pytestmark = pytest.mark.qemu


def generate(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return toolkit("generate", "resize", *args, cwd=cwd)


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


CASES = """
[[case]]
format = "qcow2"
name = "create-fails"
start = "1M"
end = "4M"
options = ["cluster_size=3k"]

[[case]]
format = "vmdk"
name = "resize-fails"
start = "1M"
end = "4M"

[[case]]
format = "raw"
name = "all-ran"
start = "1M"
end = "-512k"

[[case]]
format = "vhd"
name = "vpc-on-the-command-line"
start = "1M"
end = "2M"
"""


@pytest.fixture
def small_run(tmp_path: Path, latest: QemuBinary) -> Path:
    cases = case_files(tmp_path, "resize", CASES)
    out = tmp_path / "out"
    proc = generate(
        "--curated-cases",
        str(cases),
        "--expected-outputs",
        str(out),
        "--qemu-img",
        str(latest.path),
        "-j",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    return out / "resize-info-json"


def test_stderr_layout_per_outcome(small_run: Path, latest: QemuBinary) -> None:
    v = latest.version
    create_failed = (small_run / "qcow2" / v / "create-fails.stderr.txt").read_text()
    assert "---" not in create_failed and "Cluster size must be a power of two" in create_failed
    assert (small_run / "qcow2" / v / "create-fails.stdout.txt").read_text() == ""

    resize_failed = (small_run / "vmdk" / v / "resize-fails.stderr.txt").read_text()
    assert resize_failed == (
        "---RESIZE STDERR---\nqemu-img: Image format driver does not support resize\n"
    )

    all_ran = (small_run / "raw" / v / "all-ran.stderr.txt").read_text()
    assert all_ran == "---RESIZE STDERR---\n---INFO STDERR---\n"
    info = json.loads((small_run / "raw" / v / "all-ran.stdout.txt").read_text())
    assert info["virtual-size"] == 512 * 1024


def test_meta_contract(small_run: Path, latest: QemuBinary) -> None:
    v = latest.version
    meta = json.loads((small_run / "raw" / v / "all-ran.meta.json").read_text())
    assert meta["applied_shrink_flag"] is True  # subtractive end spec
    assert meta["expected_final_size"] == 512 * 1024
    assert meta["resize_argv"] == [
        "qemu-img",
        "resize",
        "-f",
        "raw",
        "--shrink",
        "$FILENAME",
        "-512k",
    ]
    assert meta["create_stdout"].startswith("Formatting '$FILENAME', fmt=raw size=1048576")
    assert meta["qemu_version_line"] == latest.version_line
    failed = json.loads((small_run / "qcow2" / v / "create-fails.meta.json").read_text())
    assert failed["create_return_code"] == 1
    for key in ("return_code", "stdout_bytes", "stderr_bytes", "timed_out"):
        assert failed[f"resize_{key}"] is None and failed[f"info_{key}"] is None
    text = (small_run / "raw" / v / "all-ran.meta.json").read_text()
    assert text == json.dumps(meta, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_every_generated_meta_fits_the_schema(small_run: Path) -> None:
    # generate leaves schema checks to verify (jsonschema's import is too slow for
    # every run), so the metas of each outcome (create, resize failing; all ran) are
    # checked here against the shipped schema.
    metas = sorted(m for m in small_run.glob("*/*/*.meta.json") if m.parts[-3] != "profiles")
    assert len(metas) == 4
    any_case = Case("resize", "raw", "any", "1M", "4M")  # resize runs every step for every case
    for meta in metas:
        data = json.loads(meta.read_text())
        assert artefacts.meta_errors(data, COMMANDS["resize"], any_case) == [], meta


def test_vhd_is_vpc_on_the_command_line_only(small_run: Path, latest: QemuBinary) -> None:
    d = small_run / "vhd" / latest.version
    meta = json.loads((d / "vpc-on-the-command-line.meta.json").read_text())
    assert meta["create_argv"][:4] == ["qemu-img", "create", "-f", "vpc"]
    assert meta["format"] == "vhd"
    assert not (small_run / "vpc").exists()


def test_no_path_leaks(small_run: Path) -> None:
    home = str(Path.home())
    for name, data in files_under(small_run).items():
        text = data.decode()
        assert "/tmp" not in text and "qemu-img-baselines-run-" not in text, name
        assert home not in text, name
        if name.endswith(".stdout.txt") and text:
            assert '"filename": "$FILENAME"' in text


def test_versions_json(small_run: Path, latest: QemuBinary) -> None:
    versions = json.loads((small_run / "versions.json").read_text())
    assert list(versions) == [latest.version]
    assert versions[latest.version]["version_line"] == latest.version_line
    assert len(versions[latest.version]["sha256"]) == 64
    assert latest.source == "store", (
        "the tests expect the provisioned builds (nox -s provision_qemu)"
    )
    # provenance survives being passed as --qemu-img
    assert set(versions[latest.version]["source"]) == {"suite", "package_version"}


def test_regenerating_is_byte_identical_and_touches_nothing(
    tmp_path: Path, latest: QemuBinary
) -> None:
    out = tmp_path / "out"
    args = ("--expected-outputs", str(out), "--qemu-img", str(latest.path), "--format", "qcow2")
    first = generate(*args, "-j", "1")
    assert first.returncode == 0, first.stderr
    before = files_under(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.txt")}
    second = generate(*args, "-j", "2")
    assert second.returncode == 0, second.stderr
    assert files_under(out) == before
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.txt")} == mtimes
    assert "files written 0," in second.stdout
    # the hint to commit only when there is something to commit
    assert f"To commit: git add -- {out / 'resize-info-json'} && git commit" in first.stdout
    assert "To commit" not in second.stdout and "nothing to commit: every file" in second.stdout


def test_no_shrink_cases_are_rejected_without_the_flag(tmp_path: Path, latest: QemuBinary) -> None:
    out = tmp_path / "out"
    proc = generate(
        "--expected-outputs", str(out), "--qemu-img", str(latest.path), "--case", "*no-shrink"
    )
    assert proc.returncode == 0, proc.stderr
    for fmt in ("qcow2", "raw"):
        meta = json.loads(
            (
                out / "resize-info-json" / fmt / latest.version / "64M-to-1M-no-shrink.meta.json"
            ).read_text()
        )
        assert meta["applied_shrink_flag"] is False
        assert "--shrink" not in meta["resize_argv"]
        assert meta["resize_return_code"] == 1
        assert meta["info_return_code"] is None


def test_only_selected_files_are_rewritten(tmp_path: Path, latest: QemuBinary) -> None:
    out = tmp_path / "out"
    sentinel = out / "resize-info-json" / "raw" / latest.version / "unrelated.stdout.txt"
    sentinel.parent.mkdir(parents=True)
    sentinel.write_text("keep me")
    proc = generate(
        "--expected-outputs", str(out), "--qemu-img", str(latest.path), "--format", "vmdk"
    )
    assert proc.returncode == 0, proc.stderr
    assert sentinel.read_text() == "keep me"
    assert not list((out / "resize-info-json" / "raw" / latest.version).glob("1M-*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "qcow3"), "unknown format 'qcow3'"),
        (("--case", "no-such-*"), "--case 'no-such-*' matches no case; available:"),
        (("--version", "9.9.9"), "unknown qemu-img version '9.9.9': available are"),
        (("-j", "0"), "must be at least 1"),
        (("--timeout", "-1"), "must be a finite number of seconds above 0"),
    ],
)
def test_bad_filters_exit_2_and_write_nothing(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "out"
    proc = generate("--expected-outputs", str(out), *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_committed_tree_reproduces_byte_for_byte(
    tmp_path: Path, qemu_binaries: list[QemuBinary]
) -> None:
    """Every case on every recorded version, regenerated over a copy of the committed tree,
    leaves each file byte-identical: what a clean clone's `nox -s generate_resize` does.

    (Into an empty directory, `actual-size` would be this file system's: whitelisted host
    noise that generate keeps from the recorded triple, and that ext4 reports a block more
    or less of from run to run.)"""
    committed = TREE / "resize-info-json"
    versions = json.loads((committed / "versions.json").read_text())
    here = [b for b in qemu_binaries if b.version in versions]
    assert {b.version for b in here} == set(versions)  # every recorded build (conftest)
    out = tmp_path / "out"
    shutil.copytree(committed, out / "resize-info-json")
    args = [a for b in here for a in ("--qemu-img", str(b.path))]
    proc = generate("--expected-outputs", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    regenerated = files_under(out / "resize-info-json")
    assert regenerated.keys() == files_under(committed).keys()
    for name, data in regenerated.items():
        assert (committed / name).read_bytes() == data, name
    assert "files written 0, " in proc.stdout, proc.stdout  # and says so


def test_commit_names_the_versions(tmp_path: Path, latest: QemuBinary) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "curated_cases").mkdir()
    (repo / "curated_cases" / "resize.toml").write_text(CASES)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "root"], check=True)
    env_git = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t.invalid",
    }
    proc = toolkit(
        "generate", "resize", "--qemu-img", str(latest.path), "--commit", cwd=repo, env=env_git
    )
    assert proc.returncode == 0, proc.stderr
    log = subprocess.run([*git, "log", "-1", "--format=%s"], capture_output=True, text=True)
    assert log.stdout.strip() == f"baselines: resize-info-json for qemu-img {latest.version}"
    tracked = subprocess.run([*git, "ls-files"], capture_output=True, text=True).stdout
    assert f"expected-outputs/resize-info-json/raw/{latest.version}/all-ran.meta.json" in tracked
    assert ".generate.lock" not in tracked


def test_store_builds_skip_the_launcher_shell_with_identical_results(
    qemu_binaries: list[QemuBinary], tmp_path: Path
) -> None:
    from dataclasses import replace

    from toolkit.baseline.cases import load_cases
    from toolkit.model.pipeline import COMMANDS
    from toolkit.qemu.runner import run_case

    store = [b for b in qemu_binaries if b.source == "store"]
    assert store, "no store build discovered (run nox -s provision_qemu)"
    spec = COMMANDS["resize"]
    cases = [c for c in load_cases(REPO / "curated_cases", spec) if c.name == "1M-to-64M-default"]
    for b in store:
        assert b.exec_prefix and b.exec_prefix[-1].endswith("/root/usr/bin/qemu-img")
        assert "sh" not in Path(b.exec_prefix[0]).name  # the loader itself, not a shell
        for case in cases:
            direct = run_case(case, b, spec, tmp_path)
            launcher = run_case(case, replace(b, exec_prefix=()), spec, tmp_path)
            assert direct.steps == launcher.steps, (b.version, case.format)


def test_a_create_info_command_needs_only_a_case_file(tmp_path: Path, latest: QemuBinary) -> None:
    cases = case_files(
        tmp_path,
        "create",
        '[[case]]\nformat = "qcow2"\nname = "1M-cs-4k"\nstart = "1M"\n'
        'options = ["cluster_size=4k"]\n',
    )
    out = tmp_path / "out"
    proc = toolkit("generate", "create", "--curated-cases", str(cases),
                   "--expected-outputs", str(out), "--qemu-img", str(latest.path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    d = out / "create-info-json" / "qcow2" / latest.version
    meta = json.loads((d / "1M-cs-4k.meta.json").read_text())
    assert meta["create_argv"] == [
        "qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=4k", "$FILENAME", "1M",
    ]  # fmt: skip
    assert "resize_argv" not in meta and meta["end_spec"] is None
    assert json.loads((d / "1M-cs-4k.stdout.txt").read_text())["cluster-size"] == 4096
    assert (d / "1M-cs-4k.stderr.txt").read_text() == "---INFO STDERR---\n"


def test_output_paths_are_confined_to_the_tree(tmp_path: Path, latest: QemuBinary) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "resize-info-json").mkdir(parents=True)
    elsewhere.mkdir()
    (out / "resize-info-json" / "raw").symlink_to(elsewhere)  # a planted escape
    proc = generate("--expected-outputs", str(out), "--qemu-img", str(latest.path),
                    "--format", "raw")  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert f"not: {out / 'resize-info-json' / 'raw'}" in proc.stderr  # a link is refused
    assert list(elsewhere.iterdir()) == []
