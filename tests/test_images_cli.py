"""The corpus manifest in the tree (verify --offline, images build --check, the guard),
`images list`, and tool_command (qemu-io beside each qemu-img)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REPO, Build, cache_env, in_process, toolkit

from toolkit.baseline.guard import check_root
from toolkit.baseline.image_manifest import write_manifest
from toolkit.model.errors import BadInput
from toolkit.model.records import QemuBinary
from toolkit.qemu.tools import MissingTool, tool_command

MANIFEST = REPO / "expected-outputs" / "images" / "manifest.json"


def copy_tree(tmp_path: Path) -> tuple[Path, Path]:
    """(curated_cases, expected-outputs) copies holding the data and the manifest only."""
    cases, tree = tmp_path / "cases", tmp_path / "eo"
    cases.mkdir()
    shutil.copy(REPO / "curated_cases" / "images.toml", cases)
    (tree / "images").mkdir(parents=True)
    shutil.copy(MANIFEST, tree / "images")
    return cases, tree


def verify_offline(cases: Path, tree: Path) -> subprocess.CompletedProcess[str]:
    return in_process("verify", "--offline", "--curated-cases", str(cases),
                      "--expected-outputs", str(tree))  # fmt: skip


def test_verify_offline_passes_the_committed_manifest(tmp_path: Path) -> None:
    proc = in_process("verify", "--offline")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verify images: manifest current (40 images, 7 compare pairs;" in proc.stdout


def test_verify_offline_names_a_hand_edit(tmp_path: Path) -> None:
    cases, tree = copy_tree(tmp_path)
    data = json.loads(MANIFEST.read_text())
    data["images"][3]["description"] = "edited by hand"
    data["images"][5]["sha256"] = "not a hash"
    (tree / "images" / "manifest.json").write_text(json.dumps(data))
    proc = verify_offline(cases, tree)
    assert proc.returncode == 1
    assert "image 'qcow2-v3-data': description is \"edited by hand\", expected" in proc.stdout
    assert "image 'qcow2-min-cluster': sha256 is not 64 lower-case hex digits" in proc.stdout
    assert "run `python -m toolkit images build` to rewrite it" in proc.stdout


def test_verify_offline_names_data_changed_since_the_manifest(tmp_path: Path) -> None:
    cases, tree = copy_tree(tmp_path)
    text = (cases / "images.toml").read_text()
    (cases / "images.toml").write_text(
        text.replace('"write -P 0x33 3M 4k",', '"write -P 0x34 3M 4k",', 1)
    )
    proc = verify_offline(cases, tree)
    assert proc.returncode == 1
    assert "corpus: data_sha256 is " in proc.stdout
    (tree / "images" / "manifest.json").unlink()
    proc = verify_offline(cases, tree)
    assert proc.returncode == 1 and "no manifest at" in proc.stdout


def test_verify_offline_of_a_tree_without_a_corpus_says_nothing_of_it(tmp_path: Path) -> None:
    cases, tree = copy_tree(tmp_path)
    (cases / "images.toml").unlink()
    shutil.rmtree(tree / "images")
    (cases / "resize.toml").write_text(
        '[[case]]\nformat = "raw"\nname = "a"\nstart = "1M"\nend = "2M"\n'
    )
    proc = verify_offline(cases, tree)
    assert "verify images" not in proc.stdout + proc.stderr


@pytest.mark.qemu
def test_build_check_names_a_changed_hash_and_writes_nothing(
    tmp_path: Path, corpus_build: Build
) -> None:
    cases, tree = copy_tree(tmp_path)
    data = json.loads(MANIFEST.read_text())
    data["images"][0]["sha256"] = "0" * 64
    edited = json.dumps(data, indent=2)
    (tree / "images" / "manifest.json").write_text(edited)
    env = cache_env(corpus_build.cache)
    args = ["--curated-cases", str(cases), "--expected-outputs", str(tree)]
    proc = toolkit("images", "build", "--check", *args, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "nothing built" in proc.stdout  # the session's build is current: read, not rebuilt
    assert f"image 'raw-sparse-empty': sha256 is \"{'0' * 64}\", expected" in proc.stdout
    assert (tree / "images" / "manifest.json").read_text() == edited  # the tree untouched
    (tree / "images" / "manifest.json").unlink()
    proc = toolkit("images", "build", "--check", *args, env=env)
    assert proc.returncode == 1
    assert "no manifest at" in proc.stdout and not (tree / "images" / "manifest.json").exists()


def test_the_tree_may_hold_only_the_manifest_and_no_link(tmp_path: Path) -> None:
    tree = tmp_path / "eo"
    (tree / "images").mkdir(parents=True)
    (tree / "images" / "manifest.json").write_text("{}")
    assert check_root(tree) == tree
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(tree / "images")
    (tree / "images").symlink_to(elsewhere)
    with pytest.raises(BadInput, match="a symbolic link where a directory belongs"):
        write_manifest(tree, {})
    assert list(elsewhere.iterdir()) == []


def test_images_list() -> None:
    proc = in_process("images", "list")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["ID", "FORMAT", "PATH", "TAGS"] and len(lines) == 42
    assert lines[-1].startswith("40 images, 7 compare pairs; corpus ")
    listed = json.loads(in_process("images", "list", "--json").stdout)
    assert [i["id"] for i in listed["images"]] == [i["id"] for i in json.loads(
        MANIFEST.read_text())["images"]]  # fmt: skip
    assert "raw-data__qcow2-compressed__strict" in listed["compare_pairs"]


@pytest.mark.qemu
def test_qemu_io_beside_every_build(qemu_binaries: list[QemuBinary], tmp_path: Path) -> None:
    for binary in qemu_binaries:
        for b in (binary, QemuBinary(binary.version, binary.path, "qemu-img", binary.version_line)):
            argv = tool_command(b, "qemu-io")  # the loader command; the launcher's provenance
            assert Path(argv[-1]).name == "qemu-io"
            if "--argv0" in argv:
                assert argv[argv.index("--argv0") + 1] == "qemu-io"
            out = subprocess.run([*argv, "--version"], capture_output=True, text=True)
            assert out.stdout.startswith(f"qemu-io version {binary.version} "), out.stdout


def test_qemu_io_beside_a_plain_binary_or_nowhere(tmp_path: Path) -> None:
    for name in ("qemu-img", "qemu-io"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    plain = QemuBinary("9.9.9", tmp_path / "qemu-img", "qemu-img", "qemu-img version 9.9.9")
    assert tool_command(plain, "qemu-io") == [str(tmp_path / "qemu-io")]
    (tmp_path / "qemu-io").unlink()
    with pytest.raises(MissingTool) as exc:
        tool_command(plain, "qemu-io")
    assert f"looked for {tmp_path / 'qemu-io'}." in str(exc.value)
    assert exc.value.exit_code == 2


@pytest.mark.qemu
def test_a_qemu_img_without_qemu_io_is_bad_input_before_any_work(
    tmp_path: Path, latest: QemuBinary
) -> None:
    lone = tmp_path / "bin"
    lone.mkdir()
    (lone / "qemu-img").write_text(f'#!/bin/sh\nexec "{latest.path}" "$@"\n')
    (lone / "qemu-img").chmod(0o755)
    tree = tmp_path / "eo"
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = toolkit("images", "build", "--qemu-img", str(lone / "qemu-img"),
                   "--expected-outputs", str(tree), env=env)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert (
        f"error: no qemu-io beside qemu-img {latest.version} ({lone / 'qemu-img'})" in proc.stderr
    )
    assert not tree.exists() and not (tmp_path / "cache" / "qemu-img-baselines" / "corpus").exists()


@pytest.mark.qemu
def test_a_cache_corpus_directory_of_other_files_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qemu_binaries: list[QemuBinary]
) -> None:
    for key, value in cache_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    mine = tmp_path / "qemu-img-baselines" / "corpus" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("not an image")
    proc = in_process("images", "build", "--expected-outputs", str(tmp_path / "eo"))
    assert proc.returncode == 2
    assert f"{mine.parent}: holds files but no .corpus.json" in proc.stderr
    assert mine.read_text() == "not an image" and not (tmp_path / "eo").exists()
