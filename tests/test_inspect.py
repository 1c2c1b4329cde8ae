"""The output types over the image corpus (info, check, compare, map, snapshot list), end to
end on the real builds: generate (the consumer's layout, byte-identical on a second run),
verify online and --candidate (faithful, and a planted fault), drift, the corpus each run
needs, a bad images.toml, and that compare has no JSON to record.

Two versions and a few images each (the whole matrix is the committed tree's, checked by
verify --offline and the consumer contract); the corpus is conftest's session build.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Build, cache_env, in_process

from toolkit.model.records import QemuBinary

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parent.parent
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
VERSIONS = ("7.2.22", "11.1.3")
PICK = ("--case", "vhd-f*", "--case", "qcow2-v3-*", "--case", "snap-qcow2-v3-one")


@pytest.fixture(scope="module")
def env(corpus_build: Build) -> Iterator[dict[str, str]]:
    """The process environment of a user whose cache holds conftest's corpus build."""
    mp = pytest.MonkeyPatch()
    for key, value in cache_env(corpus_build.cache).items():
        mp.setenv(key, value)
    yield cache_env(corpus_build.cache)
    mp.undo()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    root = tmp_path_factory.mktemp("inspect") / "expected-outputs"
    versions = [w for v in VERSIONS for w in ("--version", v)]
    proc = in_process("generate", "qemu-img-human", "map-json", "check-json", *versions, *PICK,
                      "--expected-outputs", str(root), "-j", "2")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "images: " in proc.stdout and "manifest.json written (the tree had none)" in proc.stdout
    return root


@pytest.fixture
def tree(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "expected-outputs"
    subprocess.run(["cp", "-a", str(pristine), str(copy)], check=True)
    return copy


def test_the_consumer_s_layout_and_meta(pristine: Path) -> None:
    for t in ("qemu-img-human", "map-json", "check-json"):
        d = pristine / t
        assert sorted(p.name for p in d.iterdir()) == [
            "profiles", "qcow2", "version-map.json", "versions.json", "vpc"
        ]  # fmt: skip
        assert {p.name for p in (d / "vpc").iterdir()} == set(VERSIONS)
        vmap = json.loads((d / "version-map.json").read_text())
        for profile, info in vmap["profiles"].items():
            names = {p.name for p in (d / "profiles" / profile).iterdir()}
            assert "vhd-fixed.stdout.txt" in names and "vhd-fixed.meta.json" in names
            assert profile == "profile-" + info["representative"].replace(".", "-")
    meta = json.loads((pristine / "map-json/vpc/11.1.3/vhd-fixed.meta.json").read_text())
    assert meta["return_code"] == meta["map_return_code"] == 0
    assert meta["map_argv"] == [
        "qemu-img",
        "map",
        "--output=json",
        "$TESTDATA_ROOT/vhd/vhd-fixed.vhd",
    ]
    assert (meta["command"], meta["format"], meta["image_path"]) == (
        "map-json", "vpc", "vhd/vhd-fixed.vhd"
    )  # fmt: skip
    human = (pristine / "qemu-img-human/vpc/11.1.3/vhd-fixed.stdout.txt").read_text()
    # No -f, as the consumer runs it: a fixed vhd has its footer only at the end, so
    # qemu-img probes it as raw.
    assert human.startswith("image: $TESTDATA_ROOT/vhd/vhd-fixed.vhd\nfile format: raw\n")
    assert "disk size: " in human and "/root" not in human


def test_a_second_run_writes_nothing(tree: Path, env: dict[str, str]) -> None:
    versions = [w for v in VERSIONS for w in ("--version", v)]
    proc = in_process("generate", "qemu-img-human", "map-json", "check-json", *versions, *PICK,
                      "--expected-outputs", str(tree), "-j", "2")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("files written 0,") == 3
    assert "nothing to commit" in proc.stdout


def test_verify_online_and_the_profile_checks_pass(tree: Path, env: dict[str, str]) -> None:
    versions = [w for v in VERSIONS for w in ("--version", v)]
    proc = in_process("verify", "qemu-img-human", "map-json", "check-json", "--expected-outputs",
                      str(tree), "--obtained", str(tree.parent / "obtained"), *PICK,
                      *versions)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # 5 images (vhd-f* x2, qcow2-v3-* x2, snap-qcow2-v3-one) x 2 versions, in each type
    assert proc.stdout.count("online: 2 versions, 10 cases in ") == 3, proc.stdout
    assert proc.stdout.count(": 10 pass\n") == 3, proc.stdout
    for t in ("qemu-img-human", "map-json", "check-json"):
        check = in_process("profiles", "--check", "--command", t, "--expected-outputs", str(tree))
        assert check.returncode == 0, check.stdout


def test_verify_finds_a_changed_baseline_and_ignores_disk_size(
    tree: Path, env: dict[str, str]
) -> None:
    """A stored `disk size:` of another file system is whitelisted noise; a changed line of
    the text is a difference, shown as a diff."""
    path = tree / "qemu-img-human/qcow2/11.1.3/qcow2-v3-data.stdout.txt"
    text = path.read_text()
    meta_path = path.with_name("qcow2-v3-data.meta.json")
    meta = json.loads(meta_path.read_text())

    def store(new: str) -> None:
        path.write_text(new)
        size = len(new.encode())
        meta_path.write_text(json.dumps({**meta, "stdout_bytes": size, "info_stdout_bytes": size}))

    store(text.replace("disk size: ", "disk size: 9", 1))
    common = ("--expected-outputs", str(tree), "--obtained", str(tree.parent / "obtained"),
              "--version", "11.1.3", "--case", "qcow2-v3-data")  # fmt: skip
    proc = in_process("verify", "qemu-img-human", *common)
    assert proc.returncode == 0, proc.stdout
    store(text.replace("lazy refcounts: false", "lazy refcounts: true"))
    proc = in_process("verify", "qemu-img-human", *common)
    assert proc.returncode == 1, proc.stdout
    assert (
        "-    lazy refcounts: true\n" in proc.stdout and "+    lazy refcounts: false" in proc.stdout
    )


@pytest.mark.parametrize(
    ("stand_in", "code", "says"),
    [
        ("standin-candidate-faithful", 0, "5 pass"),
        ("standin-candidate-map-without-compressed", 1, "diff pattern 1: 5 cases"),
    ],
)
def test_a_candidate_against_the_corpus(
    tree: Path, env: dict[str, str], latest: QemuBinary, monkeypatch: pytest.MonkeyPatch,
    stand_in: str, code: int, says: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    proc = in_process("verify", "map-json", "--candidate", str(STAND_INS / stand_in),
                      "--candidate-version", latest.version, "--expected-outputs", str(tree),
                      "--obtained", str(tree.parent / "obtained"), *PICK)  # fmt: skip
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert says in proc.stdout
    if code:
        # grouped on the path whatever the index, with the command that reproduces it
        assert "root[0]['compressed']: false → (absent)" in proc.stdout
        assert (
            f"map --output=json {env['XDG_CACHE_HOME']}/qemu-img-baselines/corpus/" in proc.stdout
        )


def test_drift_shows_what_changed(pristine: Path) -> None:
    proc = in_process("drift", "7.2.22", "11.1.3", "--command", "map-json", "--format", "json",
                      "--expected-outputs", str(pristine))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    added = {c["path"] for case in report["cases"] for c in case["changes"] if c["kind"] == "added"}
    assert "root[0]['compressed']" in added
    text = in_process("drift", "7.2.22", "11.1.3", "--command", "qemu-img-human",
                      "--expected-outputs", str(pristine)).stdout  # fmt: skip
    assert "stdout `line:" in text and "Child node '/file':" in text
    assert "disk size: <whitelisted>" in text  # the child's line is new, its value masked


def test_verify_refuses_a_corpus_the_tree_was_not_recorded_on(
    tree: Path, env: dict[str, str]
) -> None:
    manifest = tree / "images" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["images"][0]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data))
    proc = in_process("verify", "map-json", "--expected-outputs", str(tree), *PICK)
    assert proc.returncode == 2
    assert "the corpus this machine builds is not the one" in proc.stderr
    assert "images[0].sha256" in proc.stderr or "raw-sparse-empty" in proc.stderr


def test_a_bad_images_file_is_bad_input_and_nothing_is_written(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    text = (REPO / "curated_cases" / "images.toml").read_text()
    (cases / "images.toml").write_text(text.replace('id = "raw-data"', 'id = "../raw-data"', 1))
    out = tmp_path / "tree"
    proc = in_process("generate", "qemu-img-json", "--curated-cases", str(cases),
                      "--expected-outputs", str(out))  # fmt: skip
    assert proc.returncode == 2
    assert f"{cases / 'images.toml'}: image '../raw-data'" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("version", ["5.2.0", "11.1.3"])
def test_compare_has_no_json_to_record(qemu_binaries: list[QemuBinary], tmp_path: Path,
                                       version: str) -> None:  # fmt: skip
    """Why there is no compare-json type: `qemu-img compare` takes no --output."""
    binary = next(b for b in qemu_binaries if b.version == version)
    img = tmp_path / "a.raw"
    img.write_bytes(b"\0" * 512)
    proc = subprocess.run([*binary.command(), "compare", "--output=json", str(img), str(img)],
                          capture_output=True, text=True)  # fmt: skip
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "unrecognized option '--output=json'" in proc.stderr
