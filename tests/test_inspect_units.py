"""The corpus types without qemu-img: their cases (images.toml, selected as the consumer
selects), their argv, and the consumer's profile rules on the committed tree, planted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import in_process

from toolkit.baseline.cases import filter_cases, load_cases
from toolkit.baseline.images import parse_corpus
from toolkit.model.errors import BadInput
from toolkit.model.images import CorpusCases, corpus_cases
from toolkit.model.pipeline import COMMANDS, INSPECT, NO_PLAN
from toolkit.model.records import CaseResult, QemuBinary, StepResult
from toolkit.model.replay import reproduce
from toolkit.qemu.tools import program_argv

REPO = Path(__file__).resolve().parent.parent
TREE = REPO / "expected-outputs"

IMAGES = [
    {"id": "r", "format": "raw", "size": "1M", "tags": ["raw"]},
    {"id": "v", "format": "vpc", "size": "1M", "tags": ["vpc"]},
    {"id": "bad", "format": "raw", "size": "1M", "tags": ["raw"], "safety": "malformed"},
    {"id": "s", "format": "qcow2", "size": "1M", "steps": ["snapshot -c a"],
     "tags": ["qcow2", "snapshots"], "safety": "malicious"},
]  # fmt: skip
PAIRS = [{"a": "v", "b": "r", "strict": True}, {"a": "r", "b": "bad"}]
CORPUS = parse_corpus(
    {"image": [{**i, "description": "d"} for i in IMAGES], "compare": PAIRS}, "images.toml"
)


def _names(spec_name: str) -> list[tuple[str, str]]:
    spec = COMMANDS[spec_name]
    assert spec.corpus is not None
    return [(c.format, c.name) for c in corpus_cases(CORPUS, spec.corpus, spec.command)]


def test_each_type_selects_as_the_consumer_s_suite_does() -> None:
    safe = [("raw", "r"), ("vpc", "v")]  # info_safe and test_map: safety == 'safe'
    for t in ("qemu-img-human", "qemu-img-json", "map-human", "map-json"):
        assert _names(t) == safe
    assert _names("snapshot-list-human") == [("qcow2", "s")]  # tagged, whatever its safety
    every = [("raw", "r"), ("vpc", "v"), ("raw", "bad"), ("qcow2", "s")]
    assert _names("check-human") == _names("check-json") == every
    assert _names("compare-human") == [("vpc", "v__r__strict"), ("raw", "r__bad")]
    assert CorpusCases(tags=("x",)).takes(CORPUS.image("r")) is False


def test_argv_names_the_corpus_file_under_testdata_root() -> None:
    image = corpus_cases(CORPUS, CorpusCases(), "x")[1]
    pair = corpus_cases(CORPUS, CorpusCases("pair"), "x")[0]
    argv = {s.name: s.step("info" if "qemu-img" in s.name else s.artefact).argv for s in INSPECT}
    assert argv["qemu-img-json"](image, NO_PLAN) == [
        "info",
        "--output=json",
        "$TESTDATA_ROOT/vhd/v.vhd",
    ]
    assert argv["qemu-img-human"](image, NO_PLAN) == ["info", "$TESTDATA_ROOT/vhd/v.vhd"]
    assert argv["check-human"](image, NO_PLAN) == [
        "check",
        "--output=human",
        "$TESTDATA_ROOT/vhd/v.vhd",
    ]
    assert argv["snapshot-list-human"](image, NO_PLAN) == [
        "snapshot",
        "-l",
        "$TESTDATA_ROOT/vhd/v.vhd",
    ]
    assert argv["compare-human"](pair, NO_PLAN) == [
        "compare", "-s", "$TESTDATA_ROOT/vhd/v.vhd", "$TESTDATA_ROOT/raw/r.raw"
    ]  # fmt: skip
    snapshot = COMMANDS["snapshot-list-human"].steps[0]
    assert snapshot.env == (("TZ", "UTC"),)
    assert COMMANDS["check-json"].steps[0].answers == (2, 3)
    assert COMMANDS["compare-human"].steps[0].answers == (1,)
    assert {s.case_file for s in INSPECT} == {"images.toml"}
    assert "compare-json" not in COMMANDS  # qemu-img compare has no --output


def test_the_committed_corpus_gives_the_consumer_s_case_counts() -> None:
    counts = {s.name: len(load_cases(REPO / "curated_cases", s)) for s in INSPECT}
    assert counts == {
        "qemu-img-human": 40, "qemu-img-json": 40, "check-human": 40, "check-json": 40,
        "compare-human": 7, "map-human": 40, "map-json": 40, "snapshot-list-human": 12,
    }  # fmt: skip
    cases = load_cases(REPO / "curated_cases", COMMANDS["map-json"])
    assert [c.name for c in filter_cases(cases, ["vpc"], [])] == [
        "vhd-dynamic-empty", "vhd-dynamic-data", "vhd-fixed", "vhd-foreign-creator"
    ]  # fmt: skip
    with pytest.raises(BadInput, match=r"unknown format 'qed' in --format; known: .*vpc"):
        filter_cases(cases, ["qed"], [])  # neither a format nor one of its groups


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "expected-outputs"
    shutil.copytree(TREE / "snapshot-list-human", root / "snapshot-list-human")
    return root


def _both(root: Path) -> tuple[str, str]:
    """`profiles --check` and `verify --offline` of snapshot-list-human: exit 1, output."""
    check = in_process("profiles", "--check", "--command", "snapshot-list-human",
                       "--expected-outputs", str(root))  # fmt: skip
    offline = in_process("verify", "snapshot-list-human", "--offline", "--expected-outputs",
                         str(root))  # fmt: skip
    assert (check.returncode, offline.returncode) == (1, 1), check.stdout + offline.stdout
    return check.stdout, offline.stdout


def test_the_committed_profiles_keep_the_consumer_s_rules(copy: Path) -> None:
    check = in_process("profiles", "--check", "--command", "snapshot-list-human",
                       "--expected-outputs", str(copy))  # fmt: skip
    assert check.returncode == 0, check.stdout


def test_a_planted_duplicate_profile_fails_both_checks(copy: Path) -> None:
    profiles = copy / "snapshot-list-human" / "profiles"
    for src in (profiles / "profile-7-2-18").glob("*.stdout.txt"):
        shutil.copy(src, profiles / "profile-10-0-2" / src.name)
    check, offline = _both(copy)
    says = "may be identical (profile-10-0-2, profile-7-2-18)"
    assert f"{profiles / 'profile-7-2-18'}: holds the same stdout as profile-10-0-2" in check
    assert says in check and "validate_profiles() refuses such a tree" in check
    assert "error [profile-rules] snapshot-list-human/profiles/profile-7-2-18: " in offline
    assert says in offline


def test_a_planted_size_mismatch_fails_both_checks(copy: Path) -> None:
    meta_path = copy / "snapshot-list-human/profiles/profile-5-2-0/snap-qcow2-v2.meta.json"
    meta = json.loads(meta_path.read_text())
    meta["stdout_bytes"] += 1
    meta_path.write_text(json.dumps(meta))
    check, offline = _both(copy)
    where = "snapshot-list-human/profiles/profile-5-2-0/snap-qcow2-v2.stdout.txt"
    says = f"is {meta['stdout_bytes'] - 1} bytes but snap-qcow2-v2.meta.json says stdout_bytes"
    assert f"{copy / where}: {says}" in check
    assert f"error [profile-rules] {where}: {says}" in offline


def test_reproduce_spells_the_root_and_the_step_s_environment() -> None:
    spec = COMMANDS["snapshot-list-human"]
    case = corpus_cases(CORPUS, CorpusCases(), spec.command)[0]
    binary = QemuBinary("11.1.3", Path("/opt/instar"), "candidate", "instar 1")
    argv = ("qemu-img", *spec.steps[0].argv(case, NO_PLAN))
    result = CaseResult(case, binary, (StepResult("snapshot", argv, 0),), False, None)
    lines = reproduce(
        result,
        program_argv,
        spec.images,
        {"$TESTDATA_ROOT": Path("/srv/corpus")},
        {"snapshot": spec.steps[0].env},
    )
    assert lines == ['cd "$(mktemp -d)"', "TZ=UTC /opt/instar snapshot -l /srv/corpus/raw/r.raw"]
