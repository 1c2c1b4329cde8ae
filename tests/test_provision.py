"""Provisioning for real: the shared store, idempotence, interruption, the non-Debian path."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import Spawn

from toolkit.model.errors import BadInput
from toolkit.model.records import QemuBinary
from toolkit.qemu.discovery import discover
from toolkit.qemu.provision import debian
from toolkit.qemu.provision.builds import present_suites
from toolkit.qemu.provision.debian import SuiteFailed, load_suites, sources_list
from toolkit.qemu.provision.install import provision
from toolkit.qemu.provision.mirrors import find_mirror, find_security_mirror, host_sources
from toolkit.qemu.store import default_store

pytestmark = pytest.mark.qemu
UNREACHABLE = "http://127.0.0.1:9/debian"  # the discard port: nothing listens there


def toolkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, env=env
    )


def start_provision(spawn: Spawn, store: Path, tmpdir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    cmd = [sys.executable, "-m", "toolkit", "provision", "--suite", "bookworm", "--store"]
    return spawn([*cmd, str(store)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


def wait_for(pattern: str, under: Path, proc: subprocess.Popen[str], timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = sorted(under.glob(pattern))
        if hits:
            return hits[0]
        assert proc.poll() is None, f"provision ended early: {proc.communicate()[0]}"
        time.sleep(0.02)  # apt works for seconds after its dir appears: 20 ms polls see it
    raise AssertionError(f"{pattern} never appeared under {under}")


def test_every_suite_is_provisioned() -> None:
    store = default_store()
    present = present_suites(store)
    missing = [s for s in load_suites().names() if s not in present]
    assert not missing, f"suites {missing} missing from {store}: run `nox -s provision_qemu`"


def test_each_version_creates_resizes_and_infos(
    tmp_path: Path, qemu_binaries: list[QemuBinary]
) -> None:
    for b in qemu_binaries:
        img = tmp_path / f"{b.version}.qcow2"

        def qemu_img(*args: str, b: QemuBinary = b) -> subprocess.CompletedProcess[str]:
            return subprocess.run([b.path, *args], capture_output=True, text=True, cwd=tmp_path)

        assert qemu_img("create", "-f", "qcow2", img.name, "1M").returncode == 0, b
        assert qemu_img("resize", img.name, "+1M").returncode == 0, b
        info = json.loads(qemu_img("info", "--output=json", img.name).stdout)
        assert (info["format"], info["virtual-size"]) == ("qcow2", 2 << 20), b
        shrink = qemu_img("resize", img.name, "1M")  # refused without --shrink
        assert shrink.returncode != 0 and "--shrink" in shrink.stderr, b
        # messages name the program "qemu-img", never the path inside the root
        usage = qemu_img()
        assert usage.returncode == 1 and "qemu-img" in usage.stderr, b
        assert "usr/bin" not in usage.stderr + shrink.stderr, (b, usage.stderr)


def test_second_run_is_a_no_op_without_network() -> None:
    store = default_store()
    before = {p.name: p.stat().st_mtime_ns for p in store.iterdir()}
    # How long this takes is measured by `nox -s bench` (provision_noop_s), not asserted here.
    run = toolkit("provision", "--store", str(store), "--mirror", UNREACHABLE)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("already present") == len(load_suites().names())
    assert "mirror" not in run.stdout
    assert {p.name: p.stat().st_mtime_ns for p in store.iterdir()} == before


@pytest.mark.slow
def test_interrupted_provision_leaves_nothing_and_is_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawn: Spawn
) -> None:
    monkeypatch.delenv("QEMU_IMG_BINARIES", raising=False)
    store, tmpdir = tmp_path / "store", tmp_path / "tmp"
    tmpdir.mkdir()
    cache = tmp_path / "probe.json"

    # SIGINT while apt is at work: the run removes its own build dir on the way out
    proc = start_provision(spawn, store, tmpdir)
    wait_for("qemu-img-apt-*/state/lists/*", tmpdir, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130, proc.communicate()[0]
    assert list(store.iterdir()) == [] and list(tmpdir.iterdir()) == []

    # SIGKILL while apt is at work: leftovers stay (the build dir in the store, apt's dir
    # in TMPDIR), but nothing discovery would pick up. Discovery skips a dot-named dir
    # whatever it holds, so killing it later, mid-unpack, would check nothing more and
    # cost a second download of the suite.
    proc = start_provision(spawn, store, tmpdir)
    wait_for("qemu-img-apt-*/state/lists/*", tmpdir, proc)
    proc.kill()
    proc.wait(timeout=60)
    leftovers = [p.name for p in store.iterdir()]
    assert leftovers and all(n.startswith(".build-bookworm-") for n in leftovers)
    assert [p.name.startswith("qemu-img-apt-") for p in tmpdir.iterdir()] == [True]
    warnings: list[str] = []
    found = discover([], None, store, warn=warnings.append, cache_file=cache)
    assert [b for b in found if b.source == "store"] == []
    assert [w for w in warnings if str(store) in w] == []

    # the next run removes them and provisions
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    run = toolkit("provision", "--suite", "bookworm", "--store", str(store), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("removed leftovers of an interrupted run") >= 2  # both dirs
    assert [p.name for p in tmpdir.iterdir()] == []
    (bookworm,) = [b for b in discover([], None, store, cache_file=cache) if b.source == "store"]
    assert [p.name for p in store.iterdir()] == [bookworm.version]
    assert bookworm.provenance_dict()["suite"] == "bookworm"

    # the version dir is relocatable: move it and run it from there
    moved = tmp_path / "elsewhere" / "x"
    moved.parent.mkdir()
    shutil.move(store / bookworm.version, moved)
    out = subprocess.run([moved / "qemu-img", "--version"], capture_output=True, text=True)
    assert out.stdout.splitlines()[0] == bookworm.version_line


def test_apt_writes_its_temporary_files_inside_the_work_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # apt's signature check leaves apt.data.*/apt.sig.* in $TMPDIR when it is killed (^C
    # during `update` left three beside the build dir, caught by the test above now and
    # then): apt runs with TMPDIR in the work directory, which goes with the run.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    work_tmp = tmp_path / "qemu-img-apt-x" / "tmp"
    work_tmp.mkdir(parents=True)
    made = 'mktemp "${TMPDIR:-/tmp}/apt.data.XXXXXX"'
    debian._apt(["sh", "-c", made], "a stand-in for apt", 10, work_tmp)
    assert [p.name[:9] for p in work_tmp.iterdir()] == ["apt.data."]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qemu-img-apt-x"]


def test_without_apt_it_says_what_to_do_instead(tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin)}
    run = toolkit("provision", "--store", str(tmp_path / "store"), env=env)
    assert run.returncode == 2
    for words in ("apt-get", "dpkg-deb", "--qemu-img PATH", "--binaries DIR"):
        assert words in run.stderr


def test_unknown_suite_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="known are bullseye, bookworm"):
        provision(["potato"], tmp_path, None, log=lambda _: None)


def test_failed_suites_are_named_and_the_others_still_tried(tmp_path: Path) -> None:
    store = tmp_path / "store"
    mirror = f"file://{tmp_path}/no-mirror"  # fails at once (an unreachable host retries ~7 s)
    run = toolkit(
        "provision",
        "--suite",
        "sid",
        "--suite",
        "trixie",
        "--store",
        str(store),
        "--mirror",
        mirror,
    )
    assert run.returncode == 1
    for suite in ("trixie", "sid"):
        assert f"{suite}: FAILED: apt-get update failed: The repository" in run.stdout
    assert "2 suite(s) failed: trixie, sid" in run.stderr
    assert [p.name for p in store.iterdir()] == []


def test_mirror_comes_from_host_apt_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://security.invalid/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    (etc / "sources.list.d" / "other.list").write_text(
        "deb [arch=amd64] http://x.invalid/apt x main\n"
    )
    dists = {"bookworm", "trixie"}
    monkeypatch.delenv("QEMU_IMG_MIRROR", raising=False)
    assert len(host_sources(etc)) == 3
    assert find_mirror(None, dists, etc) == (
        "http://mirror.invalid/debian",
        str(etc / "sources.list.d" / "debian.sources"),
    )
    monkeypatch.setenv("QEMU_IMG_MIRROR", "http://env.invalid/debian")
    assert find_mirror(None, dists, etc)[0] == "http://env.invalid/debian"
    assert find_mirror("http://arg.invalid/debian", dists, etc)[0] == "http://arg.invalid/debian"
    monkeypatch.delenv("QEMU_IMG_MIRROR")
    (etc / "sources.list").write_text("deb http://one.invalid/debian trixie main contrib\n")
    assert find_mirror(None, dists, etc)[0] == "http://one.invalid/debian"
    with pytest.raises(BadInput, match="pass --mirror URL"):
        find_mirror(None, dists, tmp_path / "nothing")
    with pytest.raises(BadInput, match="not a URL"):
        find_mirror("mirror.invalid", dists, etc)


def test_security_mirror_for_a_security_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bookworm-security's own dist comes from the security archive, its base from main."""
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    monkeypatch.delenv("QEMU_IMG_SECURITY_MIRROR", raising=False)
    main = "http://mirror.invalid/debian"
    assert find_security_mirror(None, main, etc)[0] == "http://mirror.invalid/debian-security"
    (etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://sec.invalid/debian-security/\nSuites: bookworm-security\n"
        "Components: main\n"
    )
    assert find_security_mirror(None, main, etc)[0] == "http://sec.invalid/debian-security"
    monkeypatch.setenv("QEMU_IMG_SECURITY_MIRROR", "http://env.invalid/ds")
    assert find_security_mirror(None, main, etc)[0] == "http://env.invalid/ds"
    assert find_security_mirror("http://arg.invalid/ds", main, etc)[0] == "http://arg.invalid/ds"
    with pytest.raises(BadInput, match="not a URL"):
        find_security_mirror("sec.invalid", main, etc)
    monkeypatch.delenv("QEMU_IMG_SECURITY_MIRROR")
    with pytest.raises(BadInput, match="--security-mirror"):
        find_security_mirror(None, "http://odd.invalid/x", tmp_path / "nothing")
    suite = next(s for s in load_suites().suites if s.name == "bookworm-security")
    key = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    assert sources_list(suite, key, main, "http://sec.invalid/debian-security") == (
        f"deb [signed-by={key}] http://sec.invalid/debian-security bookworm-security main\n"
        f"deb [signed-by={key}] http://mirror.invalid/debian bookworm main\n"
    )
    with pytest.raises(SuiteFailed, match="security archive"):
        sources_list(suite, key, main)
    bookworm = next(s for s in load_suites().suites if s.name == "bookworm")
    assert sources_list(bookworm, key, main) == f"deb [signed-by={key}] {main} bookworm main\n"
