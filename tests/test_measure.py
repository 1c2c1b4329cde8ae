"""measure-human and measure-json: the size cases' file (every bad table refused, exit 2,
file and case named, nothing written; a name a corpus case has refused), argv, and end to
end on the real builds: generate (the consumer's layout, both modes, a second run writes
nothing), verify online and --candidate (faithful, and a planted fault), drift, and why
human output is recorded without `--output`.

Two versions and a few cases (the whole matrix is the committed tree's, checked by verify
--offline and the consumer contract); the corpus is conftest's session build.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Build, cache_env, case_files, in_process

from toolkit.baseline.cases import load_cases
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS, NO_PLAN, types_named
from toolkit.model.records import QemuBinary
from toolkit.model.versions import version_key

REPO = Path(__file__).resolve().parent.parent
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
IMAGES = (REPO / "curated_cases" / "images.toml").read_text()


def _table(**fields: str) -> str:
    base = {"format": '"_size"', "name": '"a-case"', "size": '"1G"', "target": '"qcow2"',
            "options": '["cluster_size=4k"]'}  # fmt: skip
    base.update(fields)
    return "[[case]]\n" + "".join(f"{k} = {v}\n" for k, v in base.items() if v)


REJECTIONS: dict[str, tuple[str, str]] = {
    "unknown-key": (_table(colour='"red"'), "unknown key 'colour'"),
    "bad-size": (_table(size='"1Q"'), "size '1Q' is not a size qemu-img accepts"),
    "no-size": (_table(size=""), "`size` must be a non-empty size string"),
    "unsafe-name": (_table(name='"../x"'), "name must be non-empty"),
    "a-format-not-_size": (
        _table(format='"qcow2"'),
        "unknown format 'qcow2'; known formats: _size",
    ),
    "unknown-target": (_table(target='"vmdk"'), "`target` must be one of raw, qcow2, got 'vmdk'"),
    "host-file": (
        _table(options='["backing_file=/etc/passwd"]'),
        "option 'backing_file' reaches a host file",
    ),
    "raw-cluster-size": (
        _table(target='"raw"'),
        "option 'cluster_size' is not allowed for raw; allowed: preallocation",
    ),
    "options-not-a-list": (_table(options='"compat=1.1"'), "`options` must be a list of strings"),
    "named-as-a-corpus-case": (
        _table(name='"raw-data__qcow2"'),
        "duplicate name, already defined in {images} (an image of the corpus); names must be "
        "unique in measure.toml (measure-human and measure-json name their profile files after "
        "the case alone)",  # both types the file feeds, whichever loads it
    ),
}


def _cases(tmp_path: Path, text: str) -> Path:
    cases = case_files(tmp_path, "measure", text)
    (cases / "images.toml").write_text(IMAGES)
    return cases


@pytest.mark.parametrize("label", sorted(REJECTIONS))
def test_the_loader_names_file_and_case(label: str, tmp_path: Path) -> None:
    text, expected = REJECTIONS[label]
    cases = _cases(tmp_path, text)
    with pytest.raises(BadInput) as err:
        load_cases(cases, COMMANDS["measure-json"])
    assert expected.format(images=cases / "images.toml") in str(err.value)
    assert f"{cases / 'measure'}.toml: case " in str(err.value)


@pytest.mark.parametrize("label", ["unknown-key", "bad-size", "unsafe-name",
                                   "named-as-a-corpus-case"])  # fmt: skip
def test_generate_exits_2_and_writes_nothing(label: str, tmp_path: Path) -> None:
    text, expected = REJECTIONS[label]
    cases = _cases(tmp_path, text)
    out = tmp_path / "out"
    proc = in_process(
        "generate", "measure", "--curated-cases", str(cases), "--expected-outputs", str(out)
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{cases / 'measure'}.toml: case " in proc.stderr
    assert expected.format(images=cases / "images.toml") in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_argv_of_both_modes() -> None:
    cases = {c.name: c for c in load_cases(REPO / "curated_cases", COMMANDS["measure-json"])}
    human, js = (COMMANDS[t].steps[0].argv for t in ("measure-human", "measure-json"))
    l2 = cases["1G-qcow2-extended-l2"]
    assert human(l2, NO_PLAN) == [
        "measure", "--size", "1G", "-O", "qcow2", "-o", "extended_l2=on,cluster_size=64k"
    ]  # fmt: skip
    assert js(l2, NO_PLAN) == [*human(l2, NO_PLAN), "--output=json"]
    assert js(cases["1T-raw"], NO_PLAN) == ["measure", "--size", "1T", "-O", "raw",
                                            "--output=json"]  # fmt: skip
    vhd = cases["vhd-fixed__raw"]
    assert (vhd.format, vhd.param("target")) == ("vpc", "raw")
    assert human(vhd, NO_PLAN) == ["measure", "-O", "raw", "$TESTDATA_ROOT/vhd/vhd-fixed.vhd"]
    assert js(vhd, NO_PLAN) == ["measure", "--output=json", "-O", "raw",
                                "$TESTDATA_ROOT/vhd/vhd-fixed.vhd"]  # fmt: skip
    assert COMMANDS["measure-json"].case_files == ("images.toml", "measure.toml")
    # `generate measure` names both types; each runs its own argv (not one shared run)
    assert types_named("measure") == (COMMANDS["measure-human"], COMMANDS["measure-json"])


def _recorded(kind: str, group: str, version: str, case: str) -> tuple[int, str]:
    d = REPO / "expected-outputs" / f"measure-{kind}" / group / version
    meta = json.loads((d / f"{case}.meta.json").read_text())
    return meta["return_code"], (d / f"{case}.stdout.txt").read_text()


def test_the_trees_record_what_the_readme_says() -> None:
    """The README's account of measure, against the committed trees: the human text says
    what the JSON says; one answer per case on every version but two changes (zstd opens
    from 7.2.18; vhd-foreign-creator from 10.0.2); when `bitmaps` is printed; raw targets
    and vhdx sources count everything."""
    tree = REPO / "expected-outputs"
    versions = sorted(json.loads((tree / "measure-json" / "versions.json").read_text()),
                      key=version_key)  # fmt: skip
    assert versions[2:4] == ["7.2.22", "10.0.2"] and len(versions) == 7
    for c in load_cases(REPO / "curated_cases", COMMANDS["measure-json"]):
        answers: dict[str, str] = {}
        for v in versions:
            rc, text = _recorded("json", c.format, v, c.name)
            human = _recorded("human", c.format, v, c.name)
            if rc != 0:
                assert (c.name.startswith("qcow2-compressed-zstd__"), v) == (True, "5.2.0")
                assert human == (1, "")
                continue
            answers[v] = text
            data = json.loads(text)
            lines = [f"required size: {data['required']}",
                     f"fully allocated size: {data['fully-allocated']}"]  # fmt: skip
            lines += [f"bitmaps size: {data['bitmaps']}"] if "bitmaps" in data else []
            assert human == (0, "\n".join(lines) + "\n")
            v2 = c.name.startswith(("qcow2-v2-data__", "snap-qcow2-v2__"))
            into_qcow2 = c.format == "qcow2" and c.param("target") == "qcow2"
            assert ("bitmaps" in data) == (into_qcow2 and not v2), c.name
            if c.param("target") == "raw" or c.format == "vhdx":
                assert data["required"] == data["fully-allocated"], c.name
        if c.name.startswith("vhd-foreign-creator__"):  # the vhd reader rule
            assert len({answers[v] for v in ("5.2.0", "7.2.18", "7.2.22")}) == 1
            assert len({answers[v] for v in versions[3:]}) == 1
            assert answers["7.2.22"] != answers["10.0.2"]
        else:
            assert len(set(answers.values())) == 1, c.name
    assert json.loads(_recorded("json", "vpc", "7.2.22", "vhd-foreign-creator__raw")[1]) == {
        "required": 1079296, "fully-allocated": 1079296
    }  # fmt: skip
    assert json.loads(_recorded("json", "vpc", "10.0.2", "vhd-foreign-creator__raw")[1]) == {
        "required": 1048576, "fully-allocated": 1048576
    }  # fmt: skip


# ------------------------------------------------------------------ on the real builds

VERSIONS = ("7.2.22", "11.1.3")
PICK = ("--case", "1G-qcow2-cs-*", "--case", "1M-raw", "--case", "vhd-f*", "--case",
        "qcow2-v3-*")  # fmt: skip
PICKED = 4 + 1 + 4 + 4  # four cluster sizes, 1M-raw; vhd-fixed, vhd-foreign-creator, qcow2-v3-*
VERSION_ARGS = tuple(w for v in VERSIONS for w in ("--version", v))


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
    root = tmp_path_factory.mktemp("measure") / "expected-outputs"
    proc = in_process("generate", "measure", *VERSION_ARGS, *PICK, "--expected-outputs",
                      str(root), "-j", "2")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.fixture
def tree(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "expected-outputs"
    subprocess.run(["cp", "-a", str(pristine), str(copy)], check=True)
    return copy


@pytest.mark.qemu
def test_both_modes_in_the_consumer_s_layout(pristine: Path) -> None:
    for kind in ("human", "json"):
        d = pristine / f"measure-{kind}"
        assert sorted(p.name for p in d.iterdir()) == [
            "_size", "profiles", "qcow2", "version-map.json", "versions.json", "vpc"
        ]  # fmt: skip
        assert {p.name for p in (d / "_size").iterdir()} == set(VERSIONS)
        vmap = json.loads((d / "version-map.json").read_text())
        assert list(vmap["profiles"]) == ["profile-11-1-3", "profile-7-2-22"]  # 2 behaviours
        names = {p.name for p in (d / "profiles" / "profile-11-1-3").iterdir()}
        assert {"1M-raw.stdout.txt", "vhd-fixed__qcow2.meta.json"} <= names
    size = json.loads((pristine / "measure-json/_size/7.2.22/1G-qcow2-cs-4k.meta.json").read_text())
    assert size["measure_argv"] == ["qemu-img", "measure", "--size", "1G", "-O", "qcow2", "-o",
                                    "cluster_size=4k", "--output=json"]  # fmt: skip
    assert (size["return_code"], size["format"], size["size_str"], size["image_path"]) == (
        0, "_size", "1G", None
    )  # fmt: skip
    source = json.loads((pristine / "measure-human/vpc/11.1.3/vhd-fixed__qcow2.meta.json")
                        .read_text())  # fmt: skip
    assert source["measure_argv"] == ["qemu-img", "measure", "-O", "qcow2",
                                      "$TESTDATA_ROOT/vhd/vhd-fixed.vhd"]  # fmt: skip
    assert (source["target"], source["size_str"], source["options"], source["image_path"]) == (
        "qcow2", None, [], "vhd/vhd-fixed.vhd"
    )  # fmt: skip
    human = (pristine / "measure-human/qcow2/11.1.3/qcow2-v3-data__qcow2.stdout.txt").read_text()
    assert human.startswith("required size: ") and human.endswith("\nbitmaps size: 0\n")


@pytest.mark.qemu
def test_a_second_run_writes_nothing_and_verify_passes(tree: Path, env: dict[str, str]) -> None:
    proc = in_process("generate", "measure", *VERSION_ARGS, *PICK, "--expected-outputs",
                      str(tree), "-j", "2")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("files written 0,") == 2 and "nothing to commit" in proc.stdout
    proc = in_process("verify", "measure", "--expected-outputs", str(tree), "--obtained",
                      str(tree.parent / "obtained"), *PICK, *VERSION_ARGS)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(f"online: 2 versions, {2 * PICKED} cases in ") == 2, proc.stdout
    for t in ("measure-human", "measure-json"):
        check = in_process("profiles", "--check", "--command", t, "--expected-outputs", str(tree))
        assert check.returncode == 0, check.stdout


@pytest.mark.qemu
@pytest.mark.parametrize(
    ("stand_in", "code", "says"),
    [
        ("standin-candidate-faithful", 0, f"{PICKED} pass"),
        ("standin-candidate-measure-without-bitmaps", 1, "diff pattern 1: 2 cases (qcow2 x2)"),
    ],
)
def test_a_candidate(
    tree: Path, env: dict[str, str], latest: QemuBinary, monkeypatch: pytest.MonkeyPatch,
    stand_in: str, code: int, says: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    proc = in_process("verify", "measure-json", "--candidate", str(STAND_INS / stand_in),
                      "--candidate-version", latest.version, "--expected-outputs", str(tree),
                      "--obtained", str(tree.parent / "obtained"), *PICK)  # fmt: skip
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert says in proc.stdout
    if code:
        assert "root['bitmaps']: 0 → (absent)" in proc.stdout
        assert "cases: qcow2-v3-empty__qcow2, qcow2-v3-data__qcow2" in proc.stdout
        corpus = f"{env['XDG_CACHE_HOME']}/qemu-img-baselines/corpus"
        assert f"measure --output=json -O qcow2 {corpus}/qcow2/qcow2-v3-" in proc.stdout


@pytest.mark.qemu
def test_drift_shows_the_vhd_reader_rule(pristine: Path) -> None:
    proc = in_process("drift", "7.2.22", "11.1.3", "--command", "measure-json", "--format",
                      "json", "--expected-outputs", str(pristine))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(c["case"] for c in report["cases"] if c["status"] != "unchanged") == [
        "vhd-foreign-creator__qcow2", "vhd-foreign-creator__raw"
    ]  # fmt: skip
    text = in_process("drift", "7.2.22", "11.1.3", "--command", "measure-human",
                      "--expected-outputs", str(pristine)).stdout  # fmt: skip
    assert 'line:1: "required size: 1079296" → "required size: 1048576"' in text


@pytest.mark.qemu
def test_human_output_is_the_same_with_output_human_on_every_build(
    qemu_binaries: list[QemuBinary], corpus_build: Build, tmp_path: Path
) -> None:
    """Why measure-human records no `--output`: the consumer's generator passes none, its
    tool is run with `--output human`, and every build prints the same either way."""
    image = str(corpus_build.root / "qcow2" / "qcow2-bitmaps.qcow2")
    for binary in qemu_binaries:
        for words in (["--size", "1G", "-O", "qcow2", "-o", "cluster_size=4k"],
                      ["-O", "qcow2", image]):  # fmt: skip
            argvs = [[*binary.command(), "measure", *extra, *words]
                     for extra in ([], ["--output=human"])]  # fmt: skip
            runs = [subprocess.run(a, capture_output=True, text=True, cwd=tmp_path) for a in argvs]
            assert runs[0].returncode == runs[1].returncode == 0, runs[1].stderr
            assert runs[0].stdout == runs[1].stdout != ""
