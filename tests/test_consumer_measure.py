"""measure-human and measure-json read as the consuming harness reads them
(tests/consumer_measure.py; test_consumer_contract runs the reader over the committed tree
for every host): what it compares against, the texts its own tests pin, and each defect
planted on a copy breaking it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from consumer import safe_ids
from consumer_measure import CONTRACTS, MEASURE_SIZE_CASES, first_reads
from helpers import edit_meta

from toolkit.baseline.cases import load_cases
from toolkit.model.pipeline import COMMANDS

REPO = Path(__file__).resolve().parent.parent
TREE = REPO / "expected-outputs"
HOST = (7, 2, 22)


def test_our_size_cases_are_the_harness_s() -> None:
    cases = load_cases(REPO / "curated_cases", COMMANDS["measure-json"])
    size = [c for c in cases if c.format == "_size"]
    ours = [(c.name, c.param("size"), c.param("target"), list(c.param("options"))) for c in size]
    assert ours == [(n, s, t, o) for n, s, t, o in MEASURE_SIZE_CASES]
    sources = [c.name for c in cases if c.format != "_size"]
    assert sources == [f"{i}__{t}" for i in safe_ids(TREE) for t in ("raw", "qcow2")]
    assert (len(size), len(sources)) == (21, 80)


@pytest.mark.parametrize("kind", ["human", "json"])
def test_what_every_host_is_compared_against(kind: str) -> None:
    """The map's keys are sorted (one JSON spelling for the tree), so the first profile is
    profile-10-0-2 and the first version 10.0.13, as is `_size`'s first directory: the
    harness compares every host with 10.0's behaviour, and reads metas of the same profile."""
    type_dir = TREE / f"measure-{kind}"
    profile, any_version, size_first = first_reads(type_dir)
    assert (profile, any_version, size_first) == ("profile-10-0-2", "10.0.13", "10.0.13")
    vmap = json.loads((type_dir / "version-map.json").read_text())
    assert any_version in vmap["profiles"][profile]["versions"]


def test_the_first_profile_holds_what_the_harness_s_own_tests_pin() -> None:
    """instar test_measure.py pins these texts for qemu-img's (test_size_raw_human,
    test_size_raw_json, test_size_qcow2_default)."""
    human = TREE / "measure-human" / "profiles" / "profile-10-0-2"
    js = TREE / "measure-json" / "profiles" / "profile-10-0-2"
    raw = "required size: 1048576\nfully allocated size: 1048576\n"
    assert (human / "1M-raw.stdout.txt").read_text() == raw
    assert (js / "1M-raw.stdout.txt").read_text() == (
        '{\n    "required": 1048576,\n    "fully-allocated": 1048576\n}\n'
    )
    qcow2 = "required size: 327680\nfully allocated size: 1376256\n"
    assert (human / "1M-qcow2-default.stdout.txt").read_text() == qcow2
    assert json.loads((js / "1M-qcow2-default.stdout.txt").read_text()) == {
        "required": 327680,
        "fully-allocated": 1376256,
    }


def _copy(tmp_path: Path, kind: str) -> Path:
    for t in ("images", f"measure-{kind}"):
        shutil.copytree(TREE / t, tmp_path / t)
    assert CONTRACTS[f"measure-{kind}"](tmp_path, HOST) == []
    return tmp_path


def test_a_size_case_missing_where_the_tripwire_looks_breaks_it(tmp_path: Path) -> None:
    root = _copy(tmp_path, "json")
    d = root / "measure-json" / "_size" / "10.0.13"
    for suffix in (".stdout.txt", ".meta.json"):
        (d / f"1T-raw{suffix}").unlink()
    assert CONTRACTS["measure-json"](root, HOST) == [
        f"{d}: cases ['1T-raw'] differ from the harness's",
        f"{d / '1T-raw.meta.json'}: missing: the harness skips 1T-raw",
    ]


def test_source_metas_it_cannot_read_break_it(tmp_path: Path) -> None:
    """A meta without return_code (read as 0: compared where qemu-img failed), one with
    another argv than the generator's, one missing."""
    root = _copy(tmp_path, "human")
    d = root / "measure-human"
    edit_meta(d / "vpc" / "10.0.13" / "vhd-fixed__qcow2.meta.json", return_code=None)
    argv = ["qemu-img", "measure", "--output=human", "-O", "raw",
            "$TESTDATA_ROOT/qcow2/qcow2-v3-data.qcow2"]  # fmt: skip
    edit_meta(d / "qcow2" / "10.0.13" / "qcow2-v3-data__raw.meta.json", measure_argv=argv)
    (d / "vmdk" / "10.0.13" / "vmdk-sparse-data__raw.meta.json").unlink()
    assert CONTRACTS["measure-human"](root, HOST) == [
        f"{d / 'qcow2/10.0.13/qcow2-v3-data__raw.meta.json'}: measure_argv {argv} != "
        f"{[w for w in argv if w != '--output=human']}",
        f"{d / 'vmdk/10.0.13/vmdk-sparse-data__raw.meta.json'}: missing: the harness skips "
        "vmdk-sparse-data__raw",
        f"{d / 'vpc/10.0.13/vhd-fixed__qcow2.meta.json'}: no return_code",
    ]


def test_a_meta_from_other_behaviour_than_the_first_profile_s_breaks_it(tmp_path: Path) -> None:
    """The hazard of reading the first profile: were 10.0.13 (whose metas the harness reads)
    to print other than profile-10-0-2 (what it compares with), the meta would speak of
    another output. Planted: 10.0.13's recorded size output changed."""
    root = _copy(tmp_path, "json")
    d = root / "measure-json"
    path = d / "_size" / "10.0.13" / "1G-qcow2-default.stdout.txt"
    path.write_text(path.read_text().replace("393216", "458752"))
    assert CONTRACTS["measure-json"](root, HOST) == [
        f"{d / 'profiles/profile-10-0-2/1G-qcow2-default.stdout.txt'}: is not what 10.0.13 "
        "printed, whose meta the harness reads for 1G-qcow2-default: it compares every host "
        "against profile-10-0-2"
    ]


def test_a_missing_first_profile_file_or_version_map_breaks_it(tmp_path: Path) -> None:
    root = _copy(tmp_path, "json")
    d = root / "measure-json"
    gone = d / "profiles" / "profile-10-0-2" / "raw-data__qcow2.stdout.txt"
    gone.unlink()
    (d / "profiles" / "profile-5-2-0" / "raw-data__raw.stdout.txt").unlink()  # never read
    assert CONTRACTS["measure-json"](root, HOST) == [
        f"{gone}: missing: the harness skips raw-data__qcow2"
    ]
    (d / "version-map.json").unlink()
    assert CONTRACTS["measure-json"](root, HOST)[0].endswith(
        f"version-map.json: [Errno 2] No such file or directory: '{d / 'version-map.json'}'"
    )
