"""Every writer of the golden tree goes through the guard (#21 items 1, 2, 11, 12): the pre-write
checks run for all of them before any work, the writes refuse links and special files, the lock
never follows a link, verify never deletes what it did not write, and a full disk is a named
error that leaves every file whole.

Defects are planted for real in copies of the committed tree (real symlinks, FIFOs,
directories, a read-only probe, a full tmpfs); commands run as a user runs them. Anything that
could block on a FIFO runs in a child process with a short timeout, or under `no_hang`.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, TOOLKIT, in_process

from toolkit.baseline import guard
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import QemuBinary

GOLDEN = REPO / "expected-outputs"
T = "resize-info-json"
SPEC = COMMANDS["resize"]
ONE = ["--version", "11.1.3", "--format", "raw", "--case", "1M-to-64M-default"]
HANG = 30  # seconds; each command here takes a few at most


def files(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (a link: where it points; a FIFO: b'<fifo>')."""
    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = os.readlink(p).encode()
        elif p.is_fifo():
            out[rel] = b"<fifo>"
        elif p.is_file():
            out[rel] = p.read_bytes()
    return out


def within(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        return subprocess.run(
            [*TOOLKIT, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=HANG
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(args)}` hung (a FIFO was opened?) and was killed after {HANG} s")


@pytest.fixture
def no_hang() -> Iterator[None]:
    """In-process calls that would block on a FIFO fail after a few seconds instead."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("blocked: a FIFO was opened")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "expected-outputs"
    shutil.copytree(GOLDEN / T, root / T)
    return root


# ------------------------------------------------------------- item 1: profiles (write mode)


def test_profiles_through_a_linked_profiles_dir_deletes_nothing(tree: Path) -> None:
    vmdk = files(tree / T / "vmdk")
    assert len(vmdk) == 63
    shutil.rmtree(tree / T / "profiles")
    (tree / T / "profiles").symlink_to("vmdk")
    proc = in_process("profiles", "--expected-outputs", str(tree))
    assert proc.returncode == 2, proc.stdout
    assert (
        f"these are not: {tree / T / 'profiles'} (a symbolic link to vmdk). Remove them"
        in proc.stderr
    )
    assert files(tree / T / "vmdk") == vmdk
    assert not (tree / ".generate.lock").exists()  # refused before the lock


@pytest.mark.qemu
@pytest.mark.parametrize("command", ["profiles", "generate", "verify --update"])
@pytest.mark.parametrize("victim_exists", [True, False])
def test_a_lock_link_never_touches_its_victim(
    tree: Path, tmp_path: Path, latest: QemuBinary, command: str, victim_exists: bool
) -> None:
    victim = tmp_path / "victim"
    if victim_exists:
        victim.write_text("precious\n")
    (tree / ".generate.lock").symlink_to(victim)
    argv = [*command.split(), "--expected-outputs", str(tree)]
    if command != "profiles":
        argv[1:1] = ["resize"] if command == "generate" else []
        argv += ["--qemu-img", str(latest.path), *ONE]
    proc = in_process(*argv)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert f"{tree / '.generate.lock'} (a symbolic link to {victim})" in proc.stderr
    assert (victim.read_text() if victim_exists else victim.exists()) == (
        "precious\n" if victim_exists else False
    )


@pytest.mark.parametrize("kind", ["link", "dangling-link", "fifo", "directory"])
def test_the_lock_itself_refuses_what_is_no_regular_file(
    tmp_path: Path, kind: str, no_hang: None
) -> None:
    """tree_lock on its own (what a writer that skipped the scan would meet)."""
    victim = tmp_path / "victim"
    lock = tmp_path / "root" / ".generate.lock"
    lock.parent.mkdir()
    if kind == "link":
        victim.write_text("precious\n")
        lock.symlink_to(victim)
    elif kind == "dangling-link":
        lock.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(lock)
    else:
        lock.mkdir()
    with pytest.raises(guard.UnsafeFile) as caught, guard.tree_lock(lock.parent):
        pass
    what = {"fifo": "a FIFO", "directory": "a directory"}.get(kind, "a symbolic link")
    assert str(caught.value).startswith(f"{lock}: {what}")
    assert (victim.read_text() if kind == "link" else victim.exists()) == (
        "precious\n" if kind == "link" else False
    )


def test_verify_offline_says_when_a_generate_holds_the_tree(tree: Path) -> None:
    """#21 item 12: [unfinished]/[missing] during a generate, and why."""
    offline = ("verify", "--offline", "--expected-outputs", str(tree))
    alone = within(*offline)
    assert alone.returncode == 0 and "generate is running" not in alone.stdout
    assert not (tree / ".generate.lock").exists()  # asking never creates the lock file
    with guard.tree_lock(tree):  # what a generate holds while it runs
        busy = within(*offline)
    assert (
        f"  note: a generate is running on this tree (pid {os.getpid()}): results may be "
        "partial\n" in busy.stdout
    )
    after = within(*offline)
    assert after.returncode == 0 and "generate is running" not in after.stdout
    assert (tree / ".generate.lock").read_text() == f"pid {os.getpid()}\n"  # not truncated


@pytest.mark.parametrize("target", ["link-to-fifo", "fifo", "link-to-file"])
def test_profiles_never_writes_through_the_map(tree: Path, tmp_path: Path, target: str) -> None:
    vmap = tree / T / "version-map.json"
    vmap.unlink()
    outside = tmp_path / "outside"
    if target == "fifo":
        os.mkfifo(vmap)
    elif target == "link-to-fifo":
        os.mkfifo(outside)
        vmap.symlink_to(outside)
    else:
        outside.write_text("precious\n")
        vmap.symlink_to(outside)
    before = files(tmp_path)
    proc = within("profiles", "--expected-outputs", str(tree))
    assert proc.returncode == 2, proc.stderr
    assert f"{vmap} (a " in proc.stderr and "only regular files and directories" in proc.stderr
    assert files(tmp_path) == before


def test_the_writes_themselves_refuse_links_and_special_files(
    tmp_path: Path, no_hang: None
) -> None:
    """guard.write_bytes (every writer's last step), below any scan."""
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    precious = tmp_path / "precious"
    precious.write_text("precious\n")
    (root / "d" / "link").symlink_to(precious)
    os.mkfifo(root / "d" / "fifo")
    (root / "d" / "dir").mkdir()
    (root / "up").symlink_to(tmp_path, target_is_directory=True)
    for name, found in [
        ("d/link", "a symbolic link"),
        ("d/fifo", "a FIFO"),
        ("d/dir", "a directory"),
        ("up/precious", "a symbolic link where a directory belongs"),
    ]:
        with pytest.raises(guard.UnsafeFile) as caught:
            guard.write_text(root, root / name, "new\n", guard.TEXT)
        where = root / name if not name.startswith("up/") else root / "up"
        assert str(caught.value).startswith(f"{where}: {found}"), caught.value
    with pytest.raises(BadInput, match="it is outside"):
        guard.write_text(root, root / ".." / "precious", "new\n", guard.TEXT)
    assert precious.read_text() == "precious\n"
    assert (root / "d" / "fifo").is_fifo() and (root / "d" / "link").is_symlink()
    assert sorted(p.name for p in (root / "d").iterdir()) == ["dir", "fifo", "link"]  # no temp


# ------------------------------------------------------------------ item 2: verify --obtained


@pytest.mark.parametrize("where", ["B", "B/resize-info-json", "B/resize-info-json/raw/11.1.3"])
def test_obtained_inside_any_golden_tree_is_refused(tree: Path, tmp_path: Path, where: str) -> None:
    other = tmp_path / "B"
    shutil.copytree(GOLDEN / T, other / T)
    before = files(other)
    obtained = tmp_path / where
    proc = in_process(
        "verify", *ONE[:4], "--expected-outputs", str(tree), "--obtained", str(obtained)
    )
    assert proc.returncode == 2, proc.stdout
    assert f"--obtained {obtained} is inside the golden tree {other}: keep obtained" in (
        proc.stderr
    )
    assert files(other) == before


@pytest.mark.qemu
def test_verify_deletes_only_the_obtained_triples_it_wrote(
    tree: Path, tmp_path: Path, latest: QemuBinary
) -> None:
    obtained = tmp_path / "obtained"
    mine = obtained / "resize" / "raw" / "11.1.3"  # each type's obtained triples apart
    mine.mkdir(parents=True)
    for p in (tree / T / "raw" / "11.1.3").glob("1M-to-64M-default.*"):
        shutil.copy(p, mine)  # the user's own files, with the names verify would write
    users = files(obtained)
    run = ["verify", *ONE, "--expected-outputs", str(tree), "--obtained", str(obtained),
           "--qemu-img", str(latest.path)]  # fmt: skip
    passing = in_process(*run)
    assert passing.returncode == 0, passing.stdout
    assert files(obtained) == users  # a passing case: nothing of the user's deleted
    # A real mismatch: verify writes the obtained triple (and lists it as its own) ...
    stderr = tree / T / "raw" / "11.1.3" / "1M-to-64M-default.stderr.txt"
    original = stderr.read_bytes()
    stderr.write_bytes(original.replace(b"---INFO STDERR---", b"---INFO STDERR--- "))
    shutil.rmtree(obtained)
    assert in_process(*run).returncode == 1
    assert sorted(p.name for p in mine.iterdir()) == [
        "1M-to-64M-default.meta.json",
        "1M-to-64M-default.stderr.txt",
        "1M-to-64M-default.stdout.txt",
    ]
    assert (obtained / "resize" / ".verify-obtained.json").read_text() == (
        '[\n  "raw/11.1.3/1M-to-64M-default"\n]\n'
    )
    # ... and removes it once the case passes again: that one it wrote.
    stderr.write_bytes(original)
    assert in_process(*run).returncode == 0
    assert list(mine.iterdir()) == []
    assert (obtained / "resize" / ".verify-obtained.json").read_text() == "[]\n"


# ------------------------------------- items 11, 12: malformed tree files, before anything runs

BAD_TREE_FILES = {
    "versions.json a directory": ("resize-info-json/versions.json", "dir"),
    "version-map.json a directory": ("resize-info-json/version-map.json", "dir"),
    "a profile copy a directory": (
        "resize-info-json/profiles/profile-10-0-2/raw-1M-to-64M-default.meta.json",
        "dir",
    ),
    "the lock a directory": (".generate.lock", "dir"),
    "the lock a FIFO": (".generate.lock", "fifo"),
    "versions.json not UTF-8": ("resize-info-json/versions.json", b"\xff\xfe{}"),
    "versions.json a list": ("resize-info-json/versions.json", b"[1, 2]"),
    "versions.json nested deep": ("resize-info-json/versions.json", b"[" * 100 + b"]" * 100),
}
SAYS = {
    "dir": "(a directory where a file belongs)",
    "fifo": "(a FIFO)",
    b"\xff\xfe{}": "cannot be read as JSON ('utf-8' codec can't decode byte 0xff",
    b"[1, 2]": "must be a JSON object mapping each version to its provenance",
    b"[" * 100 + b"]" * 100: "cannot be read as JSON (nested deeper than 64 levels",
}


@pytest.mark.parametrize("label", sorted(BAD_TREE_FILES))
@pytest.mark.parametrize("command", ["generate resize", "verify --update", "profiles"])
def test_a_malformed_tree_file_is_bad_input_before_anything_runs(
    tree: Path, tmp_path: Path, label: str, command: str
) -> None:
    rel, plant = BAD_TREE_FILES[label]
    path = tree / rel
    if path.exists():
        path.unlink()
    if plant == "dir":
        path.mkdir()
    elif plant == "fifo":
        os.mkfifo(path)
    else:
        assert isinstance(plant, bytes)
        path.write_bytes(plant)
    before = files(tree)
    # A --qemu-img that does not exist: only checks made before discovery (so before any
    # qemu-img runs) can name the tree file instead of it.
    missing = tmp_path / "no-such-qemu-img"
    extra = [] if command == "profiles" else ["--qemu-img", str(missing), *ONE]
    proc = within(*command.split(), "--expected-outputs", str(tree), *extra)
    assert proc.returncode == 2, proc.stderr
    assert str(path) in proc.stderr and SAYS[plant] in proc.stderr, proc.stderr
    assert str(missing) not in proc.stderr and "Traceback" not in proc.stderr
    assert files(tree) == before  # nothing written, not even a lock file


# -------------------------------------------------------- item 11: read-only tree, full disk


def test_verify_update_on_a_read_only_tree_is_bad_input(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root writes through a 0555 directory, so the fault is planted where a read-only mount
    shows it: creating a file there fails with EROFS (as test_hardening does for generate)."""
    from toolkit.model import outputs

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(outputs.tempfile, "mkstemp", read_only)
    before = files(tree)
    proc = in_process("verify", "--update", "--expected-outputs", str(tree), *ONE)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr == (
        f"error: --expected-outputs {tree}: cannot write in {tree} (Read-only file system); "
        "choose a writable directory\n"
    )
    assert files(tree) == before


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8M", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.qemu
@pytest.mark.parametrize("command", ["profiles", "generate"])
def test_a_full_disk_during_a_refresh_is_named_and_leaves_every_file_whole(
    small_tmpfs: Path, latest: QemuBinary, command: str
) -> None:
    root = small_tmpfs / "expected-outputs"
    shutil.copytree(GOLDEN / T, root / T)
    shutil.rmtree(root / T / "profiles")  # the refresh rewrites all 246 copies
    vmap = (root / T / "version-map.json").read_bytes()
    free = os.statvfs(small_tmpfs)
    with open(small_tmpfs / "filler", "wb") as fh:  # room for a few dozen copies, not 246
        fh.write(b"\0" * (free.f_bavail * free.f_frsize - 160 * 1024))
    argv = [command, "--expected-outputs", str(root)]
    if command == "generate":
        argv[1:1] = ["resize", "--qemu-img", str(latest.path), *ONE]
    proc = within(*argv)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "No space left on device; no file was left half-written" in proc.stderr
    assert f"error: cannot write {root / T / 'profiles'}/" in proc.stderr
    assert not [p for p in root.rglob(".*") if p.name != ".generate.lock"]  # no temp file
    assert (root / T / "version-map.json").read_bytes() == vmap  # the map goes last
    copies = list((root / T / "profiles").rglob("*.*"))
    assert copies  # some were written before the disk filled ...
    for copy in copies:  # ... each whole: a byte copy of its representative's file
        profile, name = copy.parent.name, copy.name
        fmt, rest = name.split("-", 1)
        version = profile.removeprefix("profile-").replace("-", ".")
        assert copy.read_bytes() == (root / T / fmt / version / rest).read_bytes()
