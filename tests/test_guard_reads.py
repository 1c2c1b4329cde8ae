"""Every reader of the golden tree goes through the guard (#21 items 5, 6, 11): a link, a FIFO,
a device or a directory where a file belongs is refused with its name, never followed, never
opened; nothing is read whole past its limit; JSON nested too deep is a named problem.

Each test plants the defect for real in a copy of the committed tree (real symlinks, real
FIFOs from os.mkfifo, /dev/zero) and runs `python -m toolkit` as a user would. A FIFO test
runs the command in a child process with a short timeout, so a regression fails instead of
hanging the suite. drift and profiles exit 2 naming the file; verify --offline reports it
under the check `file-type` (exit 1) and goes on listing everything else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REPO, TOOLKIT, in_process

from toolkit.baseline.triple import triple_paths

GOLDEN = REPO / "expected-outputs"
T = "resize-info-json"
CASE = "1M-to-64M-default"
SECRET = "TOPSECRET-not-for-the-tree"
HANG = 30  # seconds: each of these commands takes well under 2 s on the committed tree


def within(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m toolkit ARGS` in a child process that must end within HANG seconds."""
    full_env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    try:
        return subprocess.run(
            [*TOOLKIT, *args], capture_output=True, text=True, cwd=REPO, env=full_env, timeout=HANG
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(args)}` hung (a FIFO was opened?) and was killed after {HANG} s")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "expected-outputs"
    shutil.copytree(GOLDEN / T, root / T)
    return root


def stderr_file(root: Path, version: str = "11.1.3") -> Path:
    return triple_paths(root / T / "raw" / version, CASE)[1]


def plant(path: Path, what: str, tmp_path: Path) -> None:
    """Replace `path` by a link to a secret, a link to /dev/zero, a FIFO, or a link to one."""
    path.unlink()
    if what == "link-to-secret":
        secret = tmp_path / "secret.txt"
        secret.write_text(SECRET + "\n")
        path.symlink_to(secret)
    elif what == "link-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif what == "fifo":
        os.mkfifo(path)
    else:
        os.mkfifo(tmp_path / "elsewhere.fifo")
        path.symlink_to(tmp_path / "elsewhere.fifo")


PLANTS = {
    "link-to-secret": "a symbolic link",
    "link-to-dev-zero": "a symbolic link",
    "fifo": "a FIFO",
    "link-to-fifo": "a symbolic link",
}


@pytest.mark.parametrize("what", sorted(PLANTS))
def test_drift_refuses_a_triple_file_that_is_no_regular_file(
    tree: Path, tmp_path: Path, what: str
) -> None:
    f = stderr_file(tree)
    plant(f, what, tmp_path)
    proc = within("drift", "11.1.2", "11.1.3", "--expected-outputs", str(tree))
    assert proc.returncode == 2, proc.stderr
    assert f"error: {f}: {PLANTS[what]}" in proc.stderr
    assert "must be a regular file" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr


@pytest.mark.parametrize("what", sorted(PLANTS))
def test_verify_offline_names_it_as_file_type_and_goes_on(
    tree: Path, tmp_path: Path, what: str
) -> None:
    f = stderr_file(tree)
    report = tmp_path / "report.json"
    plant(f, what, tmp_path)
    proc = within("verify", "--offline", "--expected-outputs", str(tree), "--report", str(report))
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert f"error [file-type] {T}/raw/11.1.3/{CASE}.stderr.txt: is {PLANTS[what]}" in proc.stdout
    assert SECRET not in proc.stdout + report.read_text()
    errors = json.loads(report.read_text())["types"][0]["offline"]["errors"]
    assert [e["where"] for e in errors if e["check"] == "file-type"] == [
        f"{T}/raw/11.1.3/{CASE}.stderr.txt"
    ]  # once, although the scan and the triple's reading both met it
    # The run went on: every other triple was checked, and the map could not be recomputed.
    assert "offline: 287 triples checked" in proc.stdout
    assert "version-map: failed" in proc.stdout


def test_a_linked_version_directory_is_refused_by_every_reader(tree: Path) -> None:
    d = tree / T / "raw" / "11.1.3"
    shutil.rmtree(d)
    d.symlink_to(tree / T / "raw" / "11.1.2", target_is_directory=True)
    drift = in_process("drift", "11.1.2", "11.1.3", "--expected-outputs", str(tree))
    assert drift.returncode == 2
    assert drift.stderr.startswith(f"error: {d}: a symbolic link where a directory belongs")
    check = in_process("profiles", "--check", "--expected-outputs", str(tree))
    assert check.returncode == 2 and f"{d}: a symbolic link" in check.stderr
    offline = in_process("verify", "--offline", "--expected-outputs", str(tree))
    assert offline.returncode == 1
    assert f"error [file-type] {T}/raw/11.1.3: is a symbolic link to {d.parent}/11.1.2" in (
        offline.stdout
    )


def test_a_file_past_its_limit_is_refused_not_read_whole(tree: Path) -> None:
    meta = triple_paths(tree / T / "raw" / "11.1.3", CASE)[2]
    with open(meta, "r+b") as fh:
        fh.truncate(17 << 20)  # sparse: 17 MiB that cost nothing, over the meta's 16 MiB
    proc = in_process("drift", "11.1.2", "11.1.3", "--expected-outputs", str(tree))
    assert proc.returncode == 2
    assert (
        f"error: {meta}: 17825792 bytes or more, over the 16777216 read of a baseline's meta"
        in (proc.stderr)
    )


# ------------------------------------------------------------------ item 6: FIFOs never hang


def test_a_fifo_version_map_hangs_no_command(tree: Path) -> None:
    vmap = tree / T / "version-map.json"
    vmap.unlink()
    os.mkfifo(vmap)
    named = f"{vmap}: a FIFO, where version-map.json must be a regular file"
    for argv, code, where in [
        (["verify", "--offline"], 1, "stdout"),
        (["profiles"], 2, "stderr"),
        (["profiles", "--check"], 2, "stderr"),
        (["profiles", "--for", "7.2.22"], 2, "stderr"),
    ]:
        proc = within(*argv, "--expected-outputs", str(tree))
        assert proc.returncode == code, (argv, proc.stdout, proc.stderr)
        out = proc.stdout if where == "stdout" else proc.stderr
        if argv == ["verify", "--offline"]:
            assert f"error [file-type] {T}/version-map.json: is a FIFO" in out
        elif argv == ["profiles"]:  # a writer: the pre-write scan names it first
            assert f"{vmap} (a FIFO)" in out
        else:
            assert named in out, (argv, out)
    assert vmap.is_fifo()  # never replaced, never written through


def test_a_fifo_profile_copy_hangs_no_command(tree: Path) -> None:
    copy = next((tree / T / "profiles").glob(f"profile-*/raw-{CASE}.stdout.txt"))
    copy.unlink()
    os.mkfifo(copy)
    offline = within("verify", "--offline", "--expected-outputs", str(tree))
    assert offline.returncode == 1
    assert f"error [file-type] {copy.relative_to(tree)}: is a FIFO" in offline.stdout
    write = within("profiles", "--expected-outputs", str(tree))
    assert write.returncode == 2 and f"{copy} (a FIFO)" in write.stderr
    check = within("profiles", "--check", "--expected-outputs", str(tree))
    assert check.returncode == 2
    assert f"{copy}: a FIFO, where a profile's copy of a baseline file must be" in check.stderr
    assert copy.is_fifo()


def test_a_fifo_probe_cache_is_neither_read_nor_written(tmp_path: Path) -> None:
    from toolkit.qemu.discovery import discover

    cache = tmp_path / "cache" / "qemu-img-baselines" / "probe-cache.json"
    cache.parent.mkdir(parents=True)
    os.mkfifo(cache)
    (real,) = [b for b in discover([], None, None) if b.version == "11.1.3"]
    proc = within(
        "versions", "--qemu-img", str(real.path), env={"XDG_CACHE_HOME": str(cache.parents[1])}
    )
    assert proc.returncode == 0, proc.stderr
    assert "11.1.3" in proc.stdout
    assert proc.stderr == (
        f"warning: probe cache not used: {cache}: a FIFO, where the probe cache must be a "
        "regular file (a link or a special file would read or write elsewhere, or hang); "
        "remove it (it is only a cache)\n"
    )
    assert cache.is_fifo()


# ------------------------------------------------------- item 11: JSON nested past any document


def test_deeply_nested_meta_json_is_a_named_problem(tree: Path) -> None:
    meta = triple_paths(tree / T / "raw" / "11.1.3", CASE)[2]
    meta.write_text("[" * 100_000 + "]" * 100_000)
    offline = in_process("verify", "--offline", "--expected-outputs", str(tree))
    assert offline.returncode == 1
    assert (
        f"error [schema] {T}/raw/11.1.3/{CASE}.meta.json: not valid JSON: nested deeper than 64 "
        "levels" in offline.stdout
    )
    for argv in (["drift", "11.1.2", "11.1.3"], ["profiles", "--check"]):
        proc = in_process(*argv, "--expected-outputs", str(tree))
        assert proc.returncode == 2, (argv, proc.stderr)
        assert f"error: unreadable baseline {meta.parent / CASE}.*: nested deeper than 64" in (
            proc.stderr
        )
    meta.write_text("[" * 65 + "]" * 65)  # within json's recursion, past any meta
    proc = in_process("drift", "11.1.2", "11.1.3", "--expected-outputs", str(tree))
    assert proc.returncode == 2 and "nested deeper than 64 levels" in proc.stderr


def test_deeply_nested_info_json_in_stdout_is_text_to_drift(tree: Path) -> None:
    out = triple_paths(tree / T / "raw" / "11.1.3", CASE)[0]
    out.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    proc = in_process("drift", "11.1.2", "11.1.3", "--expected-outputs", str(tree))
    assert proc.returncode == 0, proc.stderr  # a change like any other, not a crash
    assert "raw/1M-to-64M-default" in proc.stdout
