"""The consumer contract: the committed tree, read exactly as a compatible tool's harness
reads it (tests/consumer.py mirrors its readers), and the answer our own selection gives a
harness agrees with the harness's own picker.

Each defect that once broke it, planted for real on a copy, breaks it again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from consumer import (
    COMMIT_CASES,
    CONTRACTS,
    CREATE_CASES,
    REBASE_CASES,
    RESIZE_CASES,
    expected_output,
    host_profile,
    manifest_images,
    parse_qemu_version,
    safe_ids,
    select_version_match,
    snapshot_ids,
    substitute_actual_size,
    version_map_problems,
)
from consumer_amend_bitmap_dd import AMEND_CASES, BITMAP_CASES, DD_CASES, dd_profile
from consumer_amend_bitmap_dd import CONTRACTS as SEQUENCES
from consumer_measure import CONTRACTS as MEASURE
from helpers import Build, edit_meta

from toolkit.baseline import selection
from toolkit.model.records import QemuBinary

TREE = Path(__file__).resolve().parent.parent / "expected-outputs"

# Hosts a harness runs on, as `qemu-img --version` prints it, and the version directory its
# picker reads with today's seven versions (5.2.0 ... 11.1.3).
HOSTS = {
    "qemu-img version 7.2.0": "7.2.18",  # the 7.2 series' lowest: nothing of it is below
    "qemu-img version 7.2.18": "7.2.18",
    "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)": "7.2.22",
    "qemu-img version 7.2.30": "7.2.22",
    "qemu-img version 9.0.0": "7.2.22",  # no 9.0: the highest below it
    "qemu-img version 10.0.5": "10.0.2",
    "qemu-img version 12.0.0": "11.1.3",  # newer than all: the newest
    "qemu-img version 4.2.0": "5.2.0",  # older than all: the oldest
}


READERS = {**CONTRACTS, **SEQUENCES, **MEASURE}


def test_case_sets_are_the_harness_s() -> None:
    assert sum(map(len, RESIZE_CASES.values())) == 41
    assert sum(map(len, CREATE_CASES.values())) == 36
    assert {t: len(c) for t, c in REBASE_CASES.items()} == {"qcow2": 6}
    assert {t: len(c) for t, c in COMMIT_CASES.items()} == {"qcow2": 6, "vmdk": 2}
    assert (len(AMEND_CASES), len(BITMAP_CASES), len(DD_CASES)) == (6, 8, 18)


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("output_type", sorted(READERS))
def test_the_committed_tree_meets_the_contract(output_type: str, host: str) -> None:
    detected = parse_qemu_version(host)
    assert detected is not None
    assert READERS[output_type](TREE, detected) == []


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize(
    "output_type",
    ["resize-info-json", "create-info-json", "rebase-info-json", "commit-overlay-info-json",
     "commit-backing-info-json", "amend-info-json", "bitmap-info-json", "dd-info-json"],
)  # fmt: skip
def test_our_selection_is_the_harness_s_pick(output_type: str, host: str) -> None:
    """`profiles --for` / select_baseline answer what the harness's own picker reads."""
    vmap = json.loads((TREE / output_type / "version-map.json").read_text())
    theirs = select_version_match(vmap["version_to_profile"], parse_qemu_version(host))
    pick = selection.select_baseline(TREE, output_type, host)
    assert (pick.version, theirs) == (HOSTS[host], HOSTS[host])
    assert pick.profile == vmap["version_to_profile"][pick.version]
    assert pick.representative == vmap["profiles"][pick.profile]["representative"]


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_our_dd_profile_file_is_the_one_the_harness_reads(host: str) -> None:
    """dd's profile files are named by case alone: select_baseline hands a harness that path."""
    detected = parse_qemu_version(host)
    assert detected is not None
    vmap = json.loads((TREE / "dd-info-json" / "version-map.json").read_text())
    theirs = TREE / "dd-info-json" / "profiles" / dd_profile(vmap, detected)
    pick = selection.select_baseline(TREE, "dd-info-json", host)
    ours = pick.profile_file("vhd", "1M-raw-whole-vhd", ".stdout.txt")
    assert ours == theirs / "1M-raw-whole-vhd.stdout.txt" and ours.is_file()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The committed trees, to plant a defect in."""
    for t in ("create-info-json", "resize-info-json"):
        shutil.copytree(TREE / t, tmp_path / t)
    return tmp_path


@pytest.fixture
def rebase_copy(tmp_path: Path) -> Path:
    """The committed rebase tree (its version directories only), to plant a defect in."""
    return _copy_versions(tmp_path, "rebase-info-json")


@pytest.fixture
def commit_copy(tmp_path: Path) -> Path:
    """Both committed commit trees (their version directories only)."""
    return _copy_versions(tmp_path, "commit-overlay-info-json", "commit-backing-info-json")


def _copy_versions(tmp_path: Path, *types: str) -> Path:
    for t in types:
        for target in (TREE / t).iterdir():
            if target.is_dir() and target.name != "profiles":
                shutil.copytree(target, tmp_path / t / target.name)
    return tmp_path


HOST = (7, 2, 22)


def test_a_meta_without_preallocation_breaks_it(copy: Path) -> None:
    """Defect 1 (issue 13): metas carry `prealloc` only."""
    for path in (copy / "create-info-json").rglob("*.meta.json"):
        meta = json.loads(path.read_text())
        del meta["preallocation"]
        path.write_text(json.dumps(meta))
    problems = CONTRACTS["create-info-json"](copy, HOST)
    assert any("1M-prealloc-full: preallocation None != 'full'" in p for p in problems)
    assert any("1G-default: preallocation None != None" in p for p in problems)


def test_a_map_the_harness_cannot_read_breaks_it(copy: Path) -> None:
    """Defect 2 (issue 13): version-map.json as a per-case letter grid; and the shape before
    issue 22 (a profile -> its representative, as a string): the map suite reads each
    profile's `versions` when it is imported, so the whole suite fails to load."""
    path = copy / "create-info-json" / "version-map.json"
    vmap = json.loads(path.read_text())
    strings = {name: info["representative"] for name, info in vmap["profiles"].items()}
    path.write_text(json.dumps({**vmap, "profiles": strings}))
    assert version_map_problems(copy / "create-info-json") == [
        f"{copy / 'create-info-json'}/version-map.json: profile {name} without `versions`"
        for name in strings
    ]
    grid: dict[str, Any] = vmap["cases"]
    path.write_text(json.dumps({"profiles": grid, "version_to_profile": {}}))
    assert CONTRACTS["create-info-json"](copy, HOST)[0].endswith("no version_to_profile")


def test_a_wrong_expected_final_size_breaks_it(copy: Path) -> None:
    """The harness asserts resize's mirror keys: expected_final_size is the start as
    written plus the amount (a vhd's CHS geometry is not in it)."""
    d = copy / "resize-info-json" / "vhd" / "7.2.22"
    meta = json.loads((d / "1M-plus-63M-default.meta.json").read_text())
    meta["expected_final_size"] = 1079296 + 63 * (1 << 20)
    (d / "1M-plus-63M-default.meta.json").write_text(json.dumps(meta))
    assert CONTRACTS["resize-info-json"](copy, HOST) == [
        f"{d / '1M-plus-63M-default'}: expected_final_size 67139584 != 67108864"
    ]


def standin_select_by_major_minor_prefix(
    vmap: dict[str, Any], host: str, type_dir: Path
) -> selection.Selection:
    """Defect 3 (issue 13), as a harness once had it: the first recorded version with the
    host's major.minor, else the newest."""
    detected = parse_qemu_version(host) or (0, 0, 0)
    recorded = list(vmap["version_to_profile"])
    same = [v for v in recorded if tuple(map(int, v.split(".")[:2])) == detected[:2]]
    v = (same or recorded)[0 if same else -1]
    p = vmap["version_to_profile"][v]
    rep = vmap["profiles"][p]["representative"]
    return selection.Selection(host, v, p, rep, "exact", type_dir)


def test_picking_by_major_minor_breaks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "select_from_map", standin_select_by_major_minor_prefix)
    with pytest.raises(AssertionError):
        test_our_selection_is_the_harness_s_pick(
            "create-info-json", "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
        )


def test_a_rebase_case_missing_from_the_chosen_version_breaks_it(rebase_copy: Path) -> None:
    d = rebase_copy / "rebase-info-json" / "qcow2" / "7.2.22"
    (d / "1M-safe-detach.stdout.txt").unlink()
    problems = CONTRACTS["rebase-info-json"](rebase_copy, HOST)
    assert problems[0] == f"{d}: cases ['1M-safe-detach'] differ from the harness's"


def test_a_rebase_meta_without_its_return_code_breaks_it(rebase_copy: Path) -> None:
    d = rebase_copy / "rebase-info-json" / "qcow2" / "7.2.22"
    meta = json.loads((d / "1M-unsafe-detach.meta.json").read_text())
    meta["rebase_rc"] = meta.pop("rebase_return_code")
    (d / "1M-unsafe-detach.meta.json").write_text(json.dumps(meta))
    assert CONTRACTS["rebase-info-json"](rebase_copy, HOST) == [
        f"{d / '1M-unsafe-detach'}: lacks rebase_return_code"
    ]


def test_a_rebase_baseline_with_an_absolute_or_placeholder_backing_name_breaks_it(
    rebase_copy: Path,
) -> None:
    """backing-filename is the relative name rebase was given, literally: the harness does not
    put its own path back into it."""
    d = rebase_copy / "rebase-info-json" / "qcow2" / "7.2.22"
    path = d / "1M-unsafe-to-larger-parent.stdout.txt"
    info = json.loads(path.read_text())
    info["backing-filename"] = "$NEXT"
    path.write_text(json.dumps(info))
    assert CONTRACTS["rebase-info-json"](rebase_copy, HOST) == [
        f"{d / '1M-unsafe-to-larger-parent'}: backing-filename '$NEXT' != "
        "'qcow2-1M-unsafe-to-larger-parent-next.qcow2'"
    ]


def test_a_commit_meta_key_broken_in_the_overlay_tree_breaks_it(commit_copy: Path) -> None:
    d = commit_copy / "commit-overlay-info-json" / "vmdk" / "7.2.22"
    meta = json.loads((d / "1M-seeded-explicit.meta.json").read_text())
    del meta["backing_info_return_code"]
    (d / "1M-seeded-explicit.meta.json").write_text(json.dumps(meta))
    assert CONTRACTS["commit-overlay-info-json"](commit_copy, HOST) == [
        f"{d / '1M-seeded-explicit'}: lacks backing_info_return_code"
    ]


def test_a_commit_case_missing_from_the_overlay_tree_breaks_it(commit_copy: Path) -> None:
    d = commit_copy / "commit-overlay-info-json" / "qcow2" / "7.2.22"
    for suffix in (".stdout.txt", ".meta.json"):
        (d / f"64M-seeded-implicit{suffix}").unlink()
    problems = CONTRACTS["commit-overlay-info-json"](commit_copy, HOST)
    assert problems[0] == f"{d}: cases ['64M-seeded-implicit'] differ from the harness's"


def test_commit_trees_with_other_version_dirs_break_it(commit_copy: Path) -> None:
    """The version is chosen among the overlay tree's names and read in both: a backing tree
    without it fails; a missing backing tree finds no baselines at all."""
    shutil.rmtree(commit_copy / "commit-backing-info-json" / "vmdk" / "7.2.22")
    problems = CONTRACTS["commit-overlay-info-json"](commit_copy, HOST)
    assert problems and all("commit-backing-info-json/vmdk/7.2.22/" in p for p in problems)
    shutil.rmtree(commit_copy / "commit-backing-info-json")
    assert CONTRACTS["commit-overlay-info-json"](commit_copy, HOST) == [
        "qcow2: no version directory in both commit trees",
        "vmdk: no version directory in both commit trees",
    ]


def test_a_backing_baseline_named_as_the_overlay_breaks_it(commit_copy: Path) -> None:
    """The harness compares the backing baseline with tmp_path=None: its `filename` must be
    `$BASE` already ($FILENAME is the overlay's placeholder)."""
    d = commit_copy / "commit-backing-info-json" / "qcow2" / "10.0.2"
    path = d / "1M-empty-implicit.stdout.txt"
    path.write_text(path.read_text().replace('"$BASE"', '"$FILENAME"'))
    problems = CONTRACTS["commit-overlay-info-json"](commit_copy, (10, 0, 2))
    assert problems == [f"{d / '1M-empty-implicit'}: filename '$FILENAME' != '$BASE'"]


def sequences(tmp_path: Path, output_type: str) -> Path:
    """One committed type (amend, bitmap or dd) in a copy, to plant a defect in."""
    shutil.copytree(TREE / output_type, tmp_path / output_type)
    return tmp_path


def test_a_missing_amend_case_or_return_code_breaks_it(tmp_path: Path) -> None:
    root = sequences(tmp_path, "amend-info-json")
    d = root / "amend-info-json" / "qcow2" / "7.2.22"  # what a 7.2.22 host reads
    (d / "noop.stdout.txt").unlink()
    edit_meta(d / "lazy-on.meta.json", amend_return_code=None)
    assert SEQUENCES["amend-info-json"](root, HOST) == [
        f"{d}: cases ['noop'] differ from the harness's",
        f"{d / 'lazy-on'}: lacks amend_return_code",
        f"{d / 'noop'}: {d / 'noop'}.stdout.txt: [Errno 2] No such file or directory: "
        f"'{d / 'noop'}.stdout.txt'",
    ]


def test_bitmap_op_codes_the_harness_cannot_read_break_it(tmp_path: Path) -> None:
    root = sequences(tmp_path, "bitmap-info-json")
    d = root / "bitmap-info-json" / "qcow2" / "7.2.22"
    edit_meta(d / "enable.meta.json", op_return_codes=None)  # read as [] : never skipped
    edit_meta(d / "clear.meta.json", op_return_codes=[0])  # one op short
    stdout = d / "two-bitmaps.stdout.txt"  # the host's path left in: no dict equality
    stdout.write_text(stdout.read_text().replace('"$FILENAME"', '"/tmp/x/image.qcow2"'))
    assert SEQUENCES["bitmap-info-json"](root, HOST) == [
        f"{d / 'enable'}: op_return_codes None: not one code per op",
        f"{d / 'clear'}: op_return_codes [0]: not one code per op",
        f"{d / 'two-bitmaps'}: filename values ['/tmp/x/image.qcow2'] are not the literal "
        "$FILENAME",
    ]
    # a failed op makes the harness skip the case: its stdout is not read
    edit_meta(d / "two-bitmaps.meta.json", op_return_codes=[0, 1])
    assert not any("two-bitmaps" in p for p in SEQUENCES["bitmap-info-json"](root, HOST))


def test_a_dd_profile_the_harness_cannot_read_breaks_it(tmp_path: Path) -> None:
    root = sequences(tmp_path, "dd-info-json")
    profiles = root / "dd-info-json" / "profiles"
    first = sorted(profiles.iterdir())[0]  # the harness's tripwire reads this one
    assert first.name == "profile-10-0-2"
    (first / "1M-raw-count0-vhd.stdout.txt").unlink()
    host_profile = profiles / "profile-5-2-0"  # what a 7.2.22 host reads
    edit_meta(host_profile / "1M-raw-whole-vmdk.meta.json", dd_return_code=None)
    assert SEQUENCES["dd-info-json"](root, HOST) == [
        f"{first}: cases ['1M-raw-count0-vhd'] differ from the harness's",
        f"{host_profile / '1M-raw-whole-vmdk'}: lacks dd_return_code",
    ]
    (root / "dd-info-json" / "version-map.json").unlink()
    assert SEQUENCES["dd-info-json"](root, HOST)[0].endswith(
        "version-map.json: [Errno 2] No such file or directory: "
        f"'{root / 'dd-info-json' / 'version-map.json'}'"
    )


# ------------------------------------------------ the corpus types, against a live qemu-img

# Not an exception, but a hazard of the harness (consumer.md 2.1): its _format_human_size
# gives '0' and '512' where qemu-img prints `0 B` and `512 B`, so an image with no block
# allocated (raw-sparse-empty on tmpfs; 4 KiB on ext4) fails its compare even for qemu-img.
# The consumer's argv (consumer.md 11.1-11.3) and the environment it runs them with.
LIVE = {
    "qemu-img-human": (["info"], {}),
    "qemu-img-json": (["info", "--output=json"], {}),
    "map-human": (["map"], {}),
    "map-json": (["map", "--output=json"], {}),
    "snapshot-list-human": (["snapshot", "-l"], {"TZ": "UTC"}),
}


def _drop_in(output_type: str, stdout: str) -> str:
    """What a drop-in prints that the harness holds to: qemu-img's text; for info JSON the
    harness re-dumps its expected text (json.dumps(indent=4)), so a drop-in passes by
    printing that spelling (qemu-img's `[\n    ]` for an empty list is not it)."""
    if output_type == "qemu-img-json":
        return json.dumps(json.loads(stdout), indent=4) + "\n"
    return stdout


def live_differences(
    tree: Path, corpus: Path, binary: QemuBinary, types: list[str]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(type, image) -> (what the harness expects, what a drop-in prints) where they differ:
    each safe image (snapshot-list: each tagged one) on the corpus's live files, as the
    harness runs it, against the host's profile text with `$TESTDATA_ROOT` and the live
    file's st_blocks * 512 substituted (and info JSON re-dumped)."""
    host = parse_qemu_version(binary.version_line)
    assert host is not None
    paths = {e["id"]: corpus / e["path"] for e in manifest_images(tree)}
    differ: dict[tuple[str, str], tuple[str, str]] = {}
    for output_type in types:
        words, env = LIVE[output_type]
        type_dir = tree / output_type
        profile = host_profile(type_dir, host)
        assert profile is not None
        ids = snapshot_ids(tree) if output_type.startswith("snapshot") else safe_ids(tree)
        for image_id in ids:
            meta = json.loads(
                (type_dir / "profiles" / profile / f"{image_id}.meta.json").read_text()
            )
            if meta["return_code"] != 0:
                continue  # skipped by the harness
            argv = [*binary.command(), *words, str(paths[image_id])]
            live = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env})
            assert live.returncode == 0, (output_type, image_id, live.stderr)
            expected = expected_output(type_dir, profile, image_id, str(corpus))
            if output_type.startswith("qemu-img"):
                expected = substitute_actual_size(expected, paths[image_id].stat().st_blocks * 512)
            if expected != _drop_in(output_type, live.stdout):
                differ[output_type, image_id] = (expected, _drop_in(output_type, live.stdout))
    return differ


@pytest.mark.qemu
@pytest.mark.parametrize("version", ["7.2.22", "11.1.3"])
def test_a_perfect_drop_in_passes_the_consumer_s_exact_compare(
    corpus_build: Build, qemu_binaries: list[QemuBinary], version: str
) -> None:
    binary = next(b for b in qemu_binaries if b.version == version)
    assert live_differences(TREE, corpus_build.root, binary, list(LIVE)) == {}


@pytest.mark.qemu
def test_a_stored_stdout_off_the_live_one_breaks_it(
    corpus_build: Build, latest: QemuBinary, tmp_path: Path
) -> None:
    """Planted: a host path where `$TESTDATA_ROOT` belongs, and a key dropped from info JSON."""
    shutil.copytree(TREE / "images", tmp_path / "images")
    for t in ("qemu-img-human", "qemu-img-json"):
        shutil.copytree(TREE / t, tmp_path / t)
    profile = host_profile(
        tmp_path / "qemu-img-json", parse_qemu_version(latest.version_line) or (0, 0, 0)
    )
    human = tmp_path / "qemu-img-human" / "profiles" / str(profile) / "qcow2-v3-data.stdout.txt"
    human.write_text(human.read_text().replace("$TESTDATA_ROOT", "/home/someone/testdata"))
    js = tmp_path / "qemu-img-json" / "profiles" / str(profile) / "vhdx-data.stdout.txt"
    js.write_text(js.read_text().replace('    "dirty-flag": false\n', '    "x": 0\n'))
    found = live_differences(
        tmp_path, corpus_build.root, latest, ["qemu-img-human", "qemu-img-json"]
    )
    assert sorted(found) == [("qemu-img-human", "qcow2-v3-data"), ("qemu-img-json", "vhdx-data")]


def test_a_corpus_type_with_a_file_or_a_meta_key_gone_breaks_it(tmp_path: Path) -> None:
    """Planted, each in its own type: a safe image's profile stdout removed (qemu-img-json),
    a raw meta without `return_code` (map-json: the map suite reads the first version's
    raw meta), a tagged image's profile stdout removed (snapshot-list-human)."""
    for t in ("images", "qemu-img-json", "map-json", "snapshot-list-human"):
        shutil.copytree(TREE / t, tmp_path / t)
    for t in ("qemu-img-json", "map-json", "snapshot-list-human"):
        assert CONTRACTS[t](tmp_path, HOST) == []
    gone = tmp_path / "qemu-img-json" / "profiles" / "profile-7-2-18" / "qcow2-v3-data.stdout.txt"
    gone.unlink()
    assert CONTRACTS["qemu-img-json"](tmp_path, HOST) == [
        f"{gone.parent / 'qcow2-v3-data'}: no stdout or meta: the harness skips it"
    ]
    vmap = json.loads((tmp_path / "map-json" / "version-map.json").read_text())
    first = next(iter(vmap["version_to_profile"]))
    meta_path = tmp_path / "map-json" / "vpc" / first / "vhd-fixed.meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["return_code"]
    meta_path.write_text(json.dumps(meta))
    assert CONTRACTS["map-json"](tmp_path, HOST) == [f"{meta_path}: no return_code"]
    snap = (
        tmp_path
        / "snapshot-list-human"
        / "profiles"
        / "profile-10-0-2"
        / "snap-qcow2-v2.stdout.txt"
    )
    snap.unlink()
    assert CONTRACTS["snapshot-list-human"](tmp_path, HOST) == [
        f"{snap}: missing: the harness skips snap-qcow2-v2"
    ]
