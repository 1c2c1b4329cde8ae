"""The image corpus on the real builds: deterministic byte for byte, whole or not at all,
the manifest in the tree current, and every image what it says on every version (the
corrupt ones reported by `check`, the snapshots listed, the chains readable)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest
from helpers import REPO, TOOLKIT, Build, Spawn, cache_env, toolkit

from toolkit.baseline.image_manifest import read_manifest
from toolkit.baseline.images import load_corpus
from toolkit.model.images import Corpus
from toolkit.model.records import QemuBinary
from toolkit.model.versions import version_key
from toolkit.stages.images.build import STAMP, BuildRequest, build_corpus
from toolkit.stages.images.formats import crc32c, fixed_uuid

pytestmark = pytest.mark.qemu

DATA = REPO / "curated_cases" / "images.toml"
COMMITTED = REPO / "expected-outputs"


def hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run(binary: QemuBinary, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*binary.command(), *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **env}, timeout=60,
    )  # fmt: skip


@pytest.mark.slow
def test_two_builds_are_byte_identical_and_the_committed_manifest_is_theirs(
    corpus_build: Build, tmp_path: Path
) -> None:
    built = corpus_build
    time.sleep(max(0.0, built.finished + 1.1 - time.time()))  # another second on the clock
    tree = tmp_path / "eo"
    env = cache_env(tmp_path / "cache", TZ="Pacific/Chatham")  # another time zone too
    proc = toolkit("images", "build", "--expected-outputs", str(tree), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "images: built 40 images" in proc.stdout
    second = tmp_path / "cache" / "qemu-img-baselines" / "corpus"
    first = hashes(built.root)
    assert first == hashes(second)  # every file, the stamp included
    assert len(first) == len(built.corpus.images) + 1
    assert (tree / "images" / "manifest.json").read_bytes() == (
        COMMITTED / "images" / "manifest.json"
    ).read_bytes()
    assert built.result.manifest(built.corpus) == read_manifest(COMMITTED)
    # A second build with everything present does nothing, and says so.
    stamps = {p: p.stat().st_mtime_ns for p in second.rglob("*")}
    again = toolkit("images", "build", "--expected-outputs", str(tree), env=env)
    assert again.returncode == 0, again.stderr
    assert "corpus current, nothing built: 40 images" in again.stdout
    assert "manifest.json unchanged" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in second.rglob("*")} == stamps
    check = toolkit("images", "build", "--check", env=cache_env(built.cache))
    assert check.returncode == 0, check.stdout + check.stderr  # the committed tree...
    assert "nothing built" in check.stdout  # ... against the session's build, not rebuilt
    assert "matches the build (40 images" in check.stdout


SMALL = """
[[image]]
id = "snap"
format = "qcow2"
size = "1M"
steps = ["write -P 0x11 0 64k", "snapshot -c s1"]
tags = ["snapshots"]
description = "d"

[[image]]
id = "sparse"
format = "vmdk"
size = "1M"
tags = []
description = "d"

[[image]]
id = "dyn"
format = "vpc"
size = "1M"
tags = []
description = "d"

[[image]]
id = "x"
format = "vhdx"
size = "1M"
steps = ["write -P 0x11 0 64k"]
tags = []
description = "d"
"""


def small_corpus(tmp_path: Path, text: str = SMALL) -> Corpus:
    (tmp_path / "images.toml").write_text(text)
    return load_corpus(tmp_path / "images.toml")


def test_without_the_determinism_patches_two_builds_differ(
    tmp_path: Path, qemu_binaries: list[QemuBinary], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planted defect: the same builds with the patches off differ in every format."""
    from toolkit.stages.images import make

    corpus = small_corpus(tmp_path)
    oldest = (qemu_binaries[0],)
    patched = [build_corpus(BuildRequest(corpus, oldest, tmp_path / f"p{n}")) for n in (1, 2)]
    monkeypatch.setattr(make, "patch", lambda path, image: None)
    raw = []
    for n in (1, 2):
        raw.append(build_corpus(BuildRequest(corpus, oldest, tmp_path / f"raw{n}")))
        time.sleep(1.1 if n == 1 else 0)  # qemu-img's clocks count seconds
    for image in corpus.images:
        assert patched[0].built[image.id] == patched[1].built[image.id], image.id
        assert raw[0].built[image.id].sha256 != raw[1].built[image.id].sha256, image.id
        assert raw[0].built[image.id].sha256 != patched[0].built[image.id].sha256, image.id


def test_a_changed_image_or_data_rebuilds_a_description_does_not(
    tmp_path: Path, qemu_binaries: list[QemuBinary]
) -> None:
    corpus = small_corpus(tmp_path)
    root = tmp_path / "corpus"
    req = BuildRequest(corpus, tuple(qemu_binaries), root)
    first = build_corpus(req)
    assert first.rebuilt and first.reason == "no corpus built yet"
    assert not build_corpus(req).rebuilt
    with open(root / "vhd" / "dyn.vhd", "r+b") as fh:  # a consumer's test wrote to it
        fh.seek(600)
        fh.write(b"\x01")
    again = build_corpus(req)
    assert again.rebuilt and again.reason == "vhd/dyn.vhd was changed since it was built"
    assert again.built == first.built  # made again, as it was
    worded = small_corpus(tmp_path, SMALL.replace('description = "d"', 'description = "e"'))
    reworded = build_corpus(BuildRequest(worded, tuple(qemu_binaries), root))
    assert not reworded.rebuilt
    assert reworded.manifest(worded)["images"][0]["description"] == "e"
    changed = small_corpus(tmp_path, SMALL.replace("0x11 0 64k", "0x12 0 64k"))
    rebuilt = build_corpus(BuildRequest(changed, tuple(qemu_binaries), root))
    assert rebuilt.rebuilt and rebuilt.built["snap"] != first.built["snap"]
    assert rebuilt.built["dyn"] == first.built["dyn"]


def wait_for_images(parent: Path, proc: subprocess.Popen[str], count: int) -> Path:
    """The temp directory of a running build, once it holds `count` files."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for temp in parent.glob(".corpus.tmp-*") if parent.is_dir() else []:
            if sum(1 for p in temp.rglob("*") if p.is_file()) >= count:
                return temp
        assert proc.poll() is None, "the build ended before it could be killed"
        time.sleep(0.005)
    raise AssertionError("the build made no images in 60 s")


@pytest.mark.slow
def test_a_killed_build_leaves_no_half_corpus(tmp_path: Path, spawn: Spawn) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(DATA, cases / "images.toml")
    tree = tmp_path / "eo"
    env = {**os.environ, **cache_env(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    parent = tmp_path / "cache" / "qemu-img-baselines"
    corpus_dir = parent / "corpus"
    argv = [*TOOLKIT, "images", "build", "--curated-cases", str(cases),
            "--expected-outputs", str(tree)]  # fmt: skip

    def killed_midway() -> Path:
        proc = spawn(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        temp = wait_for_images(parent, proc, 8)
        proc.kill()  # SIGKILL: no handler runs, nothing is cleaned up
        proc.communicate()
        return temp

    temp = killed_midway()
    assert not corpus_dir.exists() and temp.is_dir()  # only the temp directory is left
    assert not tree.exists()
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"removed {temp.name} left by a killed build" in done.stdout
    assert not temp.exists() and sorted(p.name for p in parent.iterdir()) == [
        ".corpus.lock", "corpus", "probe-cache.json",
    ]  # fmt: skip
    assert read_manifest(tree) == read_manifest(COMMITTED)
    before = hashes(corpus_dir)
    # A rebuild (the data changed) killed midway leaves the previous corpus as it was.
    with open(cases / "images.toml", "a") as fh:
        fh.write('\n[[image]]\nid = "late"\nformat = "raw"\nsize = "1M"\ndescription = "d"\n')
    killed_midway()
    assert hashes(corpus_dir) == before
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (corpus_dir / "raw" / "late.raw").is_file()
    assert len(json.loads((corpus_dir / STAMP).read_text())["images"]) == 41


def test_the_corrupt_images_are_what_check_reports_on_every_version(
    corpus_build: Build, qemu_binaries: list[QemuBinary]
) -> None:
    """qemu-img check's documented exit codes: 0 clean, 2 corruptions, 3 leaks."""
    built = corpus_build
    for binary in qemu_binaries:
        leak = run(binary, "check", "qcow2/qcow2-corrupt-leak.qcow2", cwd=built.root)
        assert leak.returncode == 3, (binary.version, leak.stdout, leak.stderr)
        assert "Leaked cluster 6 refcount=1 reference=0" in leak.stdout + leak.stderr
        bad = run(binary, "check", "--output=json", "qcow2/qcow2-corrupt-refcount.qcow2",
                  cwd=built.root)  # fmt: skip
        assert bad.returncode == 2, (binary.version, bad.stdout, bad.stderr)
        report = json.loads(bad.stdout)
        assert report["corruptions"] == 2 and report.get("leaks", 0) == 0, binary.version
        assert "ERROR cluster 5 refcount=0 reference=1" in bad.stderr
        clean = run(binary, "check", "qcow2/qcow2-v3-data.qcow2", cwd=built.root)
        assert clean.returncode == 0, (binary.version, clean.stdout)


def test_every_image_opens_on_every_version_it_can(
    corpus_build: Build, qemu_binaries: list[QemuBinary]
) -> None:
    built = corpus_build
    for binary in qemu_binaries:
        for image in built.corpus.images:
            info = run(binary, "info", "--output=json", "-f", image.format, image.path,
                       cwd=built.root)  # fmt: skip
            floor = version_key(image.min_version or "0")
            if version_key(binary.version)[: len(floor)] >= floor:
                assert info.returncode == 0, (binary.version, image.id, info.stderr)
                assert json.loads(info.stdout)["format"] == image.format
            else:  # made by a newer qemu-img than this one: zstd clusters, before 7.2
                assert info.returncode == 1, (binary.version, image.id)
                assert "unknown compression type" in info.stderr


def test_the_snapshots_are_listed_on_every_version(
    corpus_build: Build, qemu_binaries: list[QemuBinary]
) -> None:
    built = corpus_build
    tagged = [i for i in built.corpus.images if "snapshots" in i.tags]
    assert len(tagged) == 12
    for binary in qemu_binaries:
        for image in tagged:
            listing = run(binary, "snapshot", "-l", image.path, cwd=built.root, TZ="UTC")
            assert listing.returncode == 0, (binary.version, image.id, listing.stderr)
            rows = listing.stdout.splitlines()[2:]
            names = image.snapshots()
            assert len(rows) == len(names), (binary.version, image.id, listing.stdout)
            for index, (row, name) in enumerate(zip(rows, names, strict=True)):
                assert row.split()[:2] == [str(index + 1), name], (binary.version, row)
                assert f"2024-01-01 00:00:{index:02d}" in row, (binary.version, row)
            if image.id == "snap-qcow2-vmstate":
                assert "3.5 MiB" in rows[0] and "01:02:03.456" in rows[0], rows[0]
            if not names:
                assert listing.stdout == "", (binary.version, listing.stdout)


def test_the_backing_chains_read_on_every_version(
    corpus_build: Build, qemu_binaries: list[QemuBinary]
) -> None:
    built = corpus_build
    chains = {
        "chain-top-qcow2": ["chain-middle-qcow2.qcow2", "chain-base-qcow2.qcow2"],
        "snap-qcow2-backing": ["snap-qcow2-backing-base.qcow2"],
        "qcow2-overlay-chain": ["../raw/raw-data.raw"],
    }
    for binary in qemu_binaries:
        for image_id, backing in chains.items():
            path = built.corpus.image(image_id).path
            info = run(binary, "info", "--backing-chain", "--output=json", path, cwd=built.root)
            assert info.returncode == 0, (binary.version, image_id, info.stderr)
            chain = json.loads(info.stdout)
            assert [c.get("backing-filename") for c in chain[:-1]] == backing, binary.version
        same = run(binary, "compare", "qcow2/chain-top-qcow2.qcow2", "qcow2/chain-flat-qcow2.qcow2",
                   cwd=built.root)  # fmt: skip
        assert (same.returncode, same.stdout) == (0, "Images are identical.\n"), binary.version


def test_the_vhdx_checksums_hold_after_the_patch(corpus_build: Build) -> None:
    """qemu checks the headers' CRC-32C when it opens a vhdx (so every version opening them
    checks those), but a log entry's only on replay: checked here, by the spec."""
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    data = (corpus_build.root / "vhdx" / "vhdx-data.vhdx").read_bytes()
    for at in (64 * 1024, 128 * 1024):
        header = bytearray(data[at : at + 4096])
        stored = struct.unpack_from("<I", header, 4)[0]
        header[4:8] = bytes(4)
        assert crc32c(bytes(header)) == stored
    log_length, log_offset = struct.unpack_from("<IQ", data, 64 * 1024 + 68)
    log = data[log_offset : log_offset + log_length]
    entries = [pos for pos in range(0, log_length, 4096) if log[pos : pos + 4] == b"loge"]
    assert entries  # qemu keeps the entries it wrote, applied or not
    for pos in entries:
        length = struct.unpack_from("<I", log, pos + 8)[0]
        entry = bytearray(log[pos : pos + length])
        stored = struct.unpack_from("<I", entry, 4)[0]
        entry[4:8] = bytes(4)
        assert crc32c(bytes(entry)) == stored
        assert entry[32:48] == fixed_uuid("vhdx-data", "log").bytes_le
