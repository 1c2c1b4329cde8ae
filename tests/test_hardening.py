"""Bad input and faults found by trying the CLI as a careful user and as an attacker (#12).

Each test plants its defect for real and runs `python -m toolkit` as a user would. The
contract: bad input exits 2 with a message naming the file or option, what is wrong and
how to fix it, and nothing is written; a check that fails exits 1.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

import pytest
from helpers import REPO, alive, toolkit

from toolkit.cli import main as cli
from toolkit.model.records import QemuBinary

pytestmark = pytest.mark.qemu

STAND_INS = REPO / "tests" / "stand_ins"
ONE_CASE = ["--format", "qcow2", "--case", "1M-to-4M-default"]


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (a link: where it points)."""
    return {
        str(p.relative_to(root)): os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() or p.is_symlink()
    }


@pytest.fixture
def one_triple(tmp_path: Path, latest: QemuBinary) -> Path:
    """A tree holding one real triple (qcow2 1M-to-4M-default on the newest build)."""
    out = tmp_path / "out"
    proc = toolkit("generate", "resize", "--expected-outputs", str(out),
                   "--qemu-img", str(latest.path), *ONE_CASE)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


# ----------------------------------------------------------- item 2: links out of the tree


def test_links_and_fifos_in_the_tree_are_refused(
    one_triple: Path, latest: QemuBinary, tmp_path: Path
) -> None:
    d = one_triple / "resize-info-json" / "qcow2" / latest.version
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (d / "1M-to-4M-default.stderr.txt").unlink()
    (d / "1M-to-4M-default.stderr.txt").symlink_to(fifo)
    (d / "1M-to-4M-default.meta.json").unlink()
    (d / "1M-to-4M-default.meta.json").symlink_to("/dev/null")
    os.mkfifo(d / "planted.fifo")
    before = {p.name: (p.is_symlink(), os.readlink(p) if p.is_symlink() else None)
              for p in d.iterdir()}  # fmt: skip
    for command in (["generate", "resize"], ["verify", "--update"]):
        proc = toolkit(*command, "--expected-outputs", str(one_triple),
                       "--qemu-img", str(latest.path), *ONE_CASE)  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        for name in ("1M-to-4M-default.stderr.txt", "1M-to-4M-default.meta.json", "planted.fifo"):
            assert str(d / name) in proc.stderr
        assert "only regular files and directories" in proc.stderr
    after = {p.name: (p.is_symlink(), os.readlink(p) if p.is_symlink() else None)
             for p in d.iterdir()}  # fmt: skip
    assert after == before  # nothing was written, through the links or over them


def _env(tmp_path: Path, latest: QemuBinary, **extra: str) -> dict[str, str]:
    """A private probe cache (so every probe really runs) and the real binary for stand-ins."""
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "REAL_QEMU_IMG": str(latest.path), **extra}


# ------------------------------------------- item 3: generate records only what verify accepts

UNRECORDABLE = {
    "non-json-info": (
        [f"--qemu-img={STAND_INS / 'qemu-img-fault-non-json-info'}"],
        "raw/9.9.9/1M-to-64M-default: info returned 0 but printed no JSON object",
    ),
    "wrong-final-size": (
        [f"--qemu-img={STAND_INS / 'qemu-img-fault-wrong-size'}"],
        "virtual-size is 67109376, not 67108864 (the end spec applied to the size create made",
    ),
    "timeout-1e-9": ([], "1M-to-64M-default: create was killed at --timeout"),
}


@pytest.mark.parametrize("label", sorted(UNRECORDABLE))
def test_generate_refuses_to_record_what_verify_rejects(
    label: str, tmp_path: Path, latest: QemuBinary
) -> None:
    extra, message = UNRECORDABLE[label]
    binary = extra or [f"--qemu-img={latest.path}", "--timeout=1e-9"]
    out = tmp_path / "out"
    proc = toolkit("generate", "resize", "--expected-outputs", str(out), *binary,
                   "--format", "raw", "--case", "1M-to-64M-default",
                   env=_env(tmp_path, latest))  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "1 run of resize not recorded (verify would reject them)" in proc.stderr
    assert message in proc.stderr
    assert list(out.rglob("*.meta.json")) == []


# ----------------------------------------------- item 5: the --version probe kills its group


def test_version_probe_leaves_no_orphan(tmp_path: Path, latest: QemuBinary) -> None:
    pids = tmp_path / "pids"
    stand_in = STAND_INS / "qemu-img-fault-version-leaves-child"
    proc = toolkit("versions", "--qemu-img", str(stand_in),
                   env=_env(tmp_path, latest, CHILD_PID_FILE=str(pids)))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (child,) = [int(x) for x in pids.read_text().split()]
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = alive(child)
    if survived:
        os.kill(child, signal.SIGKILL)  # the orphan this test made: don't leave it running
    assert not survived, f"`sleep 999` ({child}) outlived the probe"


# ------------------------------------- items 7, 11: the same bad binary input exits 2 everywhere


def _garbage(tmp_path: Path) -> Path:
    script = tmp_path / "garbage-qemu-img"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    return script


BAD_QEMU_IMG = {
    "not-executable": (lambda t: Path("/etc/passwd"), "is not an executable file"),
    "directory": (lambda t: Path("/etc"), "is not an executable file"),
    "missing": (lambda t: t / "missing", "cannot be read"),
    "garbage-version": (_garbage, "printed no parsable version"),
}


@pytest.mark.parametrize("label", sorted(BAD_QEMU_IMG))
def test_a_bad_qemu_img_exits_2_in_every_command(
    label: str, tmp_path: Path, latest: QemuBinary
) -> None:
    make, why = BAD_QEMU_IMG[label]
    path = make(tmp_path)
    out = tmp_path / "out"
    for argv in (["versions"], ["generate", "resize", "--expected-outputs", str(out)]):
        proc = toolkit(*argv, "--qemu-img", str(path), env=_env(tmp_path, latest))
        assert proc.returncode == 2, (argv, proc.stderr)
        assert f"--qemu-img {path}: " in proc.stderr and why in proc.stderr
    assert not out.exists()


def test_a_mistyped_store_is_bad_input_not_a_place_to_provision(
    tmp_path: Path, latest: QemuBinary
) -> None:
    store = tmp_path / "nonexistent"
    out = tmp_path / "out"
    for argv in (["versions"], ["generate", "resize", "--expected-outputs", str(out)]):
        proc = toolkit(*argv, "--store", str(store), env=_env(tmp_path, latest))
        assert proc.returncode == 2, (argv, proc.stderr)
        assert f"--store {store}: holds no provisioned qemu-img" in proc.stderr
    assert not store.exists() and not out.exists()


def test_a_farm_of_non_versions_warns_once_and_lists_with_v(
    tmp_path: Path, latest: QemuBinary
) -> None:
    farm = tmp_path / "farm"
    for n in range(12):
        (farm / f"not-a-version-{n}").mkdir(parents=True)
    (farm / latest.version).mkdir()
    (farm / latest.version / "qemu-img").symlink_to(latest.path)
    env = _env(tmp_path, latest, PATH="/usr/bin:/bin")
    quiet = toolkit("versions", "--binaries", str(farm), env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.count("warning:") == 1
    assert "skipped 12 directories" in quiet.stderr and "-v lists them" in quiet.stderr
    loud = toolkit("versions", "--binaries", str(farm), "-v", env=env)
    assert loud.stderr.count("warning:") == 12


# ------------------------------------------------- item 4: --timeout is finite and positive


@pytest.mark.parametrize("command", [["generate", "resize"], ["verify"], ["fuzz"]])
@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "0", "-1", "1e300", "soon"])
def test_timeout_must_be_finite_and_positive(
    command: list[str], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, f"--timeout={value}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --timeout: " in err and repr(value) in err


# --------------------------- items 6, 8, 9, 10: bad paths and case files exit 2, before any work

CURATED = str(REPO / "curated_cases")
TREE = str(REPO / "expected-outputs")


def _bad_inputs(t: Path) -> dict[str, tuple[list[str], str]]:
    """label -> (argv, what the message says); `t` is an empty scratch directory."""
    (t / "a-file").write_text("x")
    (t / "empty").mkdir()
    (t / "empty" / "resize.toml").write_text("")
    (t / "unreadable").mkdir()
    (t / "unreadable" / "resize.toml").symlink_to("/proc/self/mem")  # refused, never followed
    (t / "long").mkdir()
    (t / "long" / "resize.toml").write_text(
        f'[[case]]\nformat = "raw"\nname = "{"x" * 250}"\nstart = "1M"\nend = "2M"\n'
    )
    (t / "crowded").mkdir()
    (t / "crowded" / "notes.txt").write_text("mine")
    gen = ["generate", "resize", "--curated-cases", CURATED, "--version", "latest"]
    return {
        "empty-case-file": (
            ["generate", "resize", "--curated-cases", str(t / "empty")],
            "holds no [[case]] table",
        ),
        "unreadable-case-file": (
            ["generate", "resize", "--curated-cases", str(t / "unreadable")],
            "resize.toml: a symbolic link (to /proc/self/mem), where a case file must be a "
            "regular file",
        ),
        "long-case-name": (
            ["generate", "resize", "--curated-cases", str(t / "long")],
            "file names of at most 255 bytes",
        ),
        "drift-output-missing-dir": (
            [
                "drift",
                "oldest",
                "latest",
                "--expected-outputs",
                TREE,
                "--output",
                str(t / "nowhere" / "x.md"),
            ],
            f"directory {t / 'nowhere'} does not exist",
        ),
        "drift-output-a-directory": (
            ["drift", "oldest", "latest", "--expected-outputs", TREE, "--output", str(t)],
            "is a directory; name a file",
        ),
        "verify-report-a-directory": (
            [
                "verify",
                "--offline",
                "--expected-outputs",
                TREE,
                "--curated-cases",
                CURATED,
                "--report",
                str(t),
            ],
            "is a directory; name a file",
        ),
        "generate-expected-outputs-a-file": (
            [*gen, "--expected-outputs", str(t / "a-file")],
            "is not a directory",
        ),
        "profiles-expected-outputs-a-file": (
            ["profiles", "--expected-outputs", str(t / "a-file")],
            "no golden tree",
        ),
        "provision-store-a-file": (
            ["provision", "--store", str(t / "a-file")],
            f"--store {t / 'a-file'}: is not a directory",
        ),
        "generate-into-filesystem-root": (
            [*gen, "--expected-outputs", "/"],
            "a filesystem root cannot hold the golden tree",
        ),
        "generate-into-a-crowded-directory": (
            [*gen, "--expected-outputs", str(t / "crowded")],
            "neither empty nor a golden tree (it holds notes.txt)",
        ),
        "generate-commit-outside-git": (
            [*gen, "--expected-outputs", str(t / "out"), "--commit"],
            "is not inside a git repository",
        ),
    }


BAD_INPUT_LABELS = [
    "empty-case-file", "unreadable-case-file", "long-case-name", "drift-output-missing-dir",
    "drift-output-a-directory", "verify-report-a-directory", "generate-expected-outputs-a-file",
    "profiles-expected-outputs-a-file", "provision-store-a-file",
    "generate-into-filesystem-root", "generate-into-a-crowded-directory",
    "generate-commit-outside-git",
]  # fmt: skip


@pytest.mark.parametrize("label", BAD_INPUT_LABELS)
def test_bad_paths_and_case_files_exit_2_before_any_work(
    label: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    table = _bad_inputs(scratch)
    assert sorted(table) == sorted(BAD_INPUT_LABELS)  # every row is parametrized
    argv, message = table[label]
    before = _files(scratch)
    root_before = sorted(os.listdir("/"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:  # in-process: an uncaught exception (a traceback) fails the test by itself
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own exit
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert _files(scratch) == before  # nothing written (no .generate.lock either)
    assert sorted(os.listdir("/")) == root_before


# --------------------------------------------------- item 12: drift of a version with itself


def test_drift_says_when_it_compares_a_version_with_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["drift", "latest", "latest", "--expected-outputs", TREE]) == 0
    err = capsys.readouterr().err
    assert "this compares a version with itself" in err
    assert cli.main(["drift", "oldest", "latest", "--expected-outputs", TREE]) == 0
    assert "itself" not in capsys.readouterr().err


# ------------------------------------------- item 6: a read-only --expected-outputs is bad input


@pytest.mark.parametrize("command", [["generate", "resize", "--version", "latest"], ["profiles"]])
def test_a_read_only_tree_is_bad_input(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Root writes through a 0555 directory, so the fault is planted where a read-only
    mount shows it: creating a file there fails with EROFS."""
    from toolkit.model import outputs

    tree = tmp_path / "expected-outputs"
    (tree / "resize-info-json" / "raw" / "11.1.3").mkdir(parents=True)  # a tree, to profiles
    before = _files(tree)

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(outputs.tempfile, "mkstemp", read_only)
    code = cli.main([*command, "--expected-outputs", str(tree)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"--expected-outputs {tree}: cannot write in {tree} (Read-only file system)" in err
    assert _files(tree) == before
