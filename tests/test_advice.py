"""What the toolkit tells the user to run, and small bad inputs (#21 items 11, 12).

A suggested command is pasted into a real shell here: it must run what it says on the tree
and cases that were checked (the non-default --expected-outputs and --curated-cases carried
along), and a path holding `$(...)` must stay a path. Case files: names that collide on a
case-insensitive file system, nesting that overflows the TOML parser, a FIFO; a --case glob
that matches nothing among thousands of names.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, TOOLKIT, case_files, in_process

from toolkit.model.records import QemuBinary

GOLDEN = REPO / "expected-outputs"
T = "resize-info-json"
UNSAFE = "odd $(touch PWNED) 'dir'"  # a directory name that runs a command if unquoted
CASE = """[[case]]
format = "raw"
name = "{name}"
start = "1M"
end = "2M"
"""


def elsewhere(tmp_path: Path) -> list[str]:
    """A tree and a qemu-img of the test's own: a regression writes nothing in the checkout."""
    return ["--expected-outputs", str(tmp_path / "out"), "--qemu-img", str(tmp_path / "none")]


def shell(line: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a pasted line in bash as a user would: `python` is this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "python").exists():
        (bin_dir / "python").symlink_to(sys.executable)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    return subprocess.run(
        ["bash", "-c", line], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def pwned(tmp_path: Path) -> list[Path]:
    return [*tmp_path.rglob("PWNED"), *REPO.glob("PWNED")]


@pytest.mark.qemu
def test_verify_fix_commands_carry_the_users_tree_and_cases(tmp_path: Path) -> None:
    base = tmp_path / UNSAFE
    tree, cases = base / "expected-outputs", base / "my cases"
    shutil.copytree(GOLDEN / T, tree / T)
    shutil.copytree(REPO / "curated_cases", cases)
    for p in (tree / T / "raw" / "11.1.3").glob("1M-to-64M-default.*"):
        p.unlink()
    where = ["--expected-outputs", str(tree), "--curated-cases", str(cases)]
    first = in_process("verify", "--offline", *where)
    assert first.returncode == 1
    fixes = set(re.findall(r"\[missing\] .*?; run `([^`]*)`", first.stdout))
    assert len(fixes) == 1, first.stdout  # the same command for each of the three files
    (fix,) = fixes
    assert "--curated-cases" in fix and "--expected-outputs" in fix
    pasted = shell(fix, tmp_path, tmp_path)  # not the checkout: the default tree is not there
    assert pasted.returncode == 0, pasted.stderr
    assert not pwned(tmp_path)
    second = in_process("verify", "--offline", *where)
    assert second.returncode == 0, second.stdout


@pytest.mark.qemu
def test_to_commit_is_quoted_and_runs_as_pasted(tmp_path: Path, latest: QemuBinary) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    tree = repo / UNSAFE / "expected-outputs"
    proc = in_process("generate", "resize", "--expected-outputs", str(tree),
                      "--qemu-img", str(latest.path), "--format", "raw",
                      "--case", "1M-to-64M-default")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("To commit: ")]
    pasted = shell(line.removeprefix("To commit: "), repo, tmp_path)
    assert pasted.returncode == 0, pasted.stderr
    assert not pwned(tmp_path)
    committed = subprocess.run(["git", "-C", str(repo), "show", "--name-only", "--format="],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert f"{UNSAFE}/expected-outputs/{T}/raw/11.1.3/1M-to-64M-default.meta.json" in committed


def test_a_case_glob_that_matches_nothing_lists_a_bounded_few(tmp_path: Path) -> None:
    cases = case_files(
        tmp_path, "resize", "".join(CASE.format(name=f"c{n:05}") for n in range(10_000))
    )
    proc = in_process("verify", "resize", "--offline", "--curated-cases", str(cases), "--case",
                      "nomatch*")  # fmt: skip
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: --case 'nomatch*' matches no case; available: c00000, c00001,")
    assert line.endswith(", c00019 … and 9980 more")
    assert len(line) < 300


def test_profiles_check_with_for_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from toolkit.cli import main as cli

    for pick in (["--for", "7.2.22"], ["--qemu-img", "/bin/true"]):
        assert cli.main(["profiles", "--check", *pick]) == 2
        err = capsys.readouterr().err
        assert "--check checks the map and profiles/ of the whole tree" in err
        assert "run them separately" in err


def test_case_names_that_differ_only_in_letter_case_collide(tmp_path: Path) -> None:
    cases = case_files(tmp_path, "resize", CASE.format(name="CON") + CASE.format(name="con"))
    proc = in_process("generate", "resize", "--curated-cases", str(cases), *elsewhere(tmp_path))
    assert proc.returncode == 2
    f = cases / "resize.toml"
    assert (
        f"{f}: case 'con' (raw): duplicate name, already defined in {f} as 'CON'; 'CON' and "
        "'con' differ only in letter case, and would share files on a case-insensitive file "
        "system" in proc.stderr
    )


def test_a_case_file_nested_past_the_parser_is_bad_input(tmp_path: Path) -> None:
    deep = CASE.format(name="deep") + "options = " + "[" * 100_000 + "]" * 100_000 + "\n"
    cases = case_files(tmp_path, "resize", deep)
    proc = in_process("generate", "resize", "--curated-cases", str(cases), *elsewhere(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: invalid curated cases (nothing was run or written):\n"
        f"  {cases / 'resize.toml'}: not valid TOML: nested too deeply. Fix it and re-run.\n"
    )


def test_a_case_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    os.mkfifo(cases / "resize.toml")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [*TOOLKIT, "verify", "resize", "--offline", "--curated-cases", str(cases)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("a FIFO case file was opened and waited on")
    assert proc.returncode == 2
    assert f"{cases / 'resize.toml'}: a FIFO, where a case file must be a regular file" in (
        proc.stderr
    )


def test_drift_and_profiles_advice_carries_the_tree(tmp_path: Path) -> None:
    tree = tmp_path / UNSAFE / "expected-outputs"
    shutil.copytree(GOLDEN / T, tree / T)
    meta = tree / T / "raw" / "11.1.3" / "1M-to-64M-default.meta.json"
    meta.write_text("{")
    drift = in_process("drift", "11.1.2", "11.1.3", "--expected-outputs", str(tree))
    assert drift.returncode == 2
    assert (
        "regenerate it with `python -m toolkit generate resize --version 11.1.3 --format raw "
        f"--case 1M-to-64M-default --expected-outputs {shlex.quote(str(tree))}`" in drift.stderr
    )
    meta.unlink()
    (tree / T / "version-map.json").write_text("{}")
    check = in_process("profiles", "--check", "--expected-outputs", str(tree))
    assert check.returncode == 1
    (fix,) = re.findall(r"run `([^`]*)`", check.stdout)
    assert fix.startswith("python -m toolkit profiles --expected-outputs ")
    assert shell(fix, tmp_path, tmp_path).returncode == 0
    assert not pwned(tmp_path)
    assert in_process("profiles", "--check", "--expected-outputs", str(tree)).returncode == 0
