"""Fast, exact unit tests of profiles, their files and baseline selection, in-process, on
a small tree copied from the committed create baselines (raw, three versions).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from helpers import REPO

from toolkit.baseline import profile_files, profiles, selection
from toolkit.baseline.profiles import ProfileTable, Row
from toolkit.baseline.tree import Tree
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS

SPEC = COMMANDS["create"]
REAL = REPO / "expected-outputs" / "create-info-json" / "raw"
SUFFIXES = (".stdout.txt", ".stderr.txt", ".meta.json")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """raw: 1G-default in 5.2.0, 7.2.22 and 10.0.2, 1M-default in 7.2.22 and 10.0.2
    (10.0.2 lists children: a new behaviour)."""
    for version, cases in {
        "5.2.0": ["1G-default"],
        "7.2.22": ["1G-default", "1M-default"],
        "10.0.2": ["1G-default", "1M-default"],
    }.items():
        d = tmp_path / SPEC.output_type / "raw" / version
        d.mkdir(parents=True)
        for case in cases:
            for s in SUFFIXES:
                shutil.copyfile(REAL / version / f"{case}{s}", d / f"{case}{s}")
    return tmp_path


def test_letters_past_z() -> None:
    assert [profiles.letter(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"
    ]  # fmt: skip


def _table() -> ProfileTable:
    return ProfileTable(
        "t",
        ("1.0.0", "2.0.0", "3.0.0", "4.0.0"),
        (
            Row("qcow2", "a", {"1.0.0": "A", "2.0.0": "A", "3.0.0": "B", "4.0.0": "A"}),
            Row("raw", "b", {"2.0.0": "A", "3.0.0": "A", "4.0.0": "A"}),
            Row("raw", "c", {"1.0.0": "A", "2.0.0": "B", "3.0.0": "B", "4.0.0": "C"}),
        ),
    )


def test_table() -> None:
    t = _table()
    assert [r.profile_count for r in t.rows] == [2, 1, 3]
    assert t.profiles() == [("1.0.0",), ("2.0.0",), ("3.0.0",), ("4.0.0",)]
    assert t.drifted is True
    assert t.first_seen() == Counter({"2.0.0": 1, "3.0.0": 1, "4.0.0": 1})
    same = ProfileTable("t", ("1.0.0", "2.0.0"), (Row("raw", "b", {"1.0.0": "A", "2.0.0": "A"}),))
    assert same.profiles() == [("1.0.0", "2.0.0")] and same.drifted is False
    assert same.first_seen() == Counter()
    assert ProfileTable("t", (), ()).profiles() == []


def test_version_map_of_a_table() -> None:
    assert profiles.version_map(_table()) == {
        "profiles": {
            f"profile-{v.replace('.', '-')}": {"representative": v, "versions": [v]}
            for v in ("1.0.0", "2.0.0", "3.0.0", "4.0.0")
        },
        "version_to_profile": {v: "profile-" + v.replace(".", "-") for v in _table().versions},
        "cases": {
            "qcow2": {"a": {"A": ["1.0.0", "2.0.0", "4.0.0"], "B": ["3.0.0"]}},
            "raw": {
                "b": {"A": ["2.0.0", "3.0.0", "4.0.0"]},
                "c": {"A": ["1.0.0"], "B": ["2.0.0", "3.0.0"], "C": ["4.0.0"]},
            },
        },
    }
    assert profiles.profile_name("7.2.18") == "profile-7-2-18"


EXPECTED_MAP = {
    "cases": {
        "raw": {
            "1G-default": {"A": ["5.2.0", "7.2.22"], "B": ["10.0.2"]},
            "1M-default": {"A": ["7.2.22"], "B": ["10.0.2"]},
        }
    },
    "profiles": {
        "profile-10-0-2": {"representative": "10.0.2", "versions": ["10.0.2"]},
        "profile-5-2-0": {"representative": "5.2.0", "versions": ["5.2.0"]},
        "profile-7-2-22": {"representative": "7.2.22", "versions": ["7.2.22"]},
    },
    "version_to_profile": {
        "10.0.2": "profile-10-0-2",
        "5.2.0": "profile-5-2-0",
        "7.2.22": "profile-7-2-22",
    },
}


def test_compute_and_the_map_of_a_tree(root: Path) -> None:
    table = profiles.compute(Tree(root, SPEC))
    assert table == ProfileTable(
        "create-info-json",
        ("5.2.0", "7.2.22", "10.0.2"),
        (
            Row("raw", "1G-default", {"5.2.0": "A", "7.2.22": "A", "10.0.2": "B"}),
            Row("raw", "1M-default", {"7.2.22": "A", "10.0.2": "B"}),
        ),
    )
    assert profiles.version_map_path(root, SPEC) == root / "create-info-json/version-map.json"
    assert profiles.expected_version_map(root, SPEC) == EXPECTED_MAP
    assert profiles.version_map_text(table) == json.dumps(EXPECTED_MAP, indent=2) + "\n"


def test_refresh_writes_the_map_and_the_profile_files_once(root: Path) -> None:
    assert profiles.refresh(root / "nothing", SPEC) == 0
    type_dir = root / SPEC.output_type
    assert profiles.refresh(root, SPEC) == 3 * 5 + 1
    assert json.loads((type_dir / "version-map.json").read_text()) == EXPECTED_MAP
    assert sorted(str(p.relative_to(type_dir)) for p in (type_dir / "profiles").rglob("*")) == [
        "profiles/profile-10-0-2",
        *(f"profiles/profile-10-0-2/raw-1G-default{s}" for s in sorted(SUFFIXES)),
        *(f"profiles/profile-10-0-2/raw-1M-default{s}" for s in sorted(SUFFIXES)),
        "profiles/profile-5-2-0",
        *(f"profiles/profile-5-2-0/raw-1G-default{s}" for s in sorted(SUFFIXES)),
        "profiles/profile-7-2-22",
        *(f"profiles/profile-7-2-22/raw-1G-default{s}" for s in sorted(SUFFIXES)),
        *(f"profiles/profile-7-2-22/raw-1M-default{s}" for s in sorted(SUFFIXES)),
    ]
    assert profiles.write_version_map(root, SPEC) is False
    assert profiles.refresh(root, SPEC) == 0
    # 7.2.22 behaves as 5.2.0 once 1M-default is gone: one profile fewer, its files removed
    for s in SUFFIXES:
        (type_dir / "raw" / "7.2.22" / f"1M-default{s}").unlink()
    assert profiles.write_version_map(root, SPEC) is True
    assert sorted(p.name for p in (type_dir / "profiles").iterdir()) == [
        "profile-10-0-2",
        "profile-5-2-0",
    ]
    vmap = json.loads((type_dir / "version-map.json").read_text())
    assert vmap["cases"]["raw"]["1M-default"] == {"A": ["10.0.2"]}  # alone: profile A
    assert vmap["version_to_profile"]["7.2.22"] == "profile-5-2-0"
    # a hand-edited map alone is one file changed
    (type_dir / "version-map.json").write_text("{}")
    assert profiles.write_version_map(root, SPEC) is True
    assert json.loads((type_dir / "version-map.json").read_text()) == vmap


def test_the_table_given_is_the_one_written(root: Path) -> None:
    assert profiles.write_version_map(root, SPEC, _table()) is True
    written = json.loads(profiles.version_map_path(root, SPEC).read_text())
    assert written == profiles.version_map(_table())
    assert not (root / SPEC.output_type / "profiles").exists()  # no case in 1.0.0 .. 4.0.0


def test_profile_files_expected(root: Path) -> None:
    top = root / "create-info-json"
    want = profile_files.expected(root, SPEC, {"p-a": "7.2.22", "p-b": "10.0.2"})
    assert list(want.items()) == [
        (top / f"profiles/p-a/raw-{case}{s}", top / f"raw/7.2.22/{case}{s}")
        for case in ("1G-default", "1M-default")
        for s in SUFFIXES
    ] + [
        (top / f"profiles/p-b/raw-{case}{s}", top / f"raw/10.0.2/{case}{s}")
        for case in ("1G-default", "1M-default")
        for s in SUFFIXES
    ]
    assert profile_files.profiles_dir(root, SPEC) == top / "profiles"


def test_profile_files_problems_and_write(root: Path) -> None:
    vmap = {"p": "5.2.0"}
    fix = (
        "refresh it with `python -m toolkit profiles --command create` (generate refreshes it too)"
    )
    top = root / "create-info-json"
    d = top / "profiles" / "p"
    assert profile_files.problems(root, SPEC, vmap) == [
        (
            d / f"raw-1G-default{s}",
            f"missing: the profile's copy of create-info-json/raw/5.2.0/1G-default{s}; {fix}",
            "profiles",
        )
        for s in SUFFIXES
    ]
    assert profile_files.write(root, SPEC, vmap) == 3
    assert profile_files.problems(root, SPEC, vmap) == []
    assert profile_files.write(root, SPEC, vmap) == 0
    (d / "raw-1G-default.stdout.txt").write_text("edited")
    (d / "raw-1G-default.stderr.txt").unlink()
    (d / "raw-1G-default.stderr.txt").symlink_to(top / "raw/5.2.0/1G-default.stderr.txt")
    (d / "raw-1G-default.meta.json").unlink()
    (d / "raw-1G-default.meta.json").mkdir()
    (d / "extra.txt").write_text("x")
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "linked").symlink_to(d / "sub")
    rel = "create-info-json/raw/5.2.0/1G-default"
    stale = "(hand-edited or stale)"
    linked = top / "raw/5.2.0/1G-default.stderr.txt"
    regular = (
        "where a profile's copy of a baseline file must be a regular file (a link or a special "
        "file would read or write elsewhere, or hang)"
    )
    assert profile_files.problems(root, SPEC, vmap) == [
        (d / "raw-1G-default.stdout.txt",
         f"differs from the representative {rel}.stdout.txt {stale}; {fix}", "profiles"),
        (d / "raw-1G-default.stderr.txt", f"a symbolic link (to {linked}), {regular}; {fix}",
         "file-type"),
        (d / "raw-1G-default.meta.json", f"a directory, {regular}; {fix}", "file-type"),
        (d / "extra.txt", f"belongs to no profile in version-map.json (stale); {fix}", "profiles"),
        (d / "linked", f"belongs to no profile in version-map.json (stale); {fix}", "profiles"),
    ]  # fmt: skip
    (d / "raw-1G-default.meta.json").rmdir()
    assert profile_files.write(root, SPEC, vmap) == 5
    assert profile_files.problems(root, SPEC, vmap) == []
    assert sorted(p.name for p in d.iterdir()) == sorted(f"raw-1G-default{s}" for s in SUFFIXES)
    # no profiles: the directory goes, and a type without one stays without
    assert profile_files.write(root, SPEC, {}) == 3
    assert not (top / "profiles").exists()
    assert profile_files.write(root, SPEC, {}) == 0
    assert not (top / "profiles").exists()


# --- selection -----------------------------------------------------------------------------

VMAP = {
    "profiles": {
        "profile-5-2-0": {"representative": "5.2.0", "versions": ["5.2.0", "7.2.22"]},
        "profile-10-0-2": {"representative": "10.0.2", "versions": ["10.0.2"]},
    },
    "version_to_profile": {
        "10.0.2": "profile-10-0-2",
        "5.2.0": "profile-5-2-0",
        "7.2.22": "profile-5-2-0",
    },
}


@pytest.mark.parametrize(
    ("host", "version", "relation", "profile", "note"),
    [
        ("7.2.22", "7.2.22", "exact", "profile-5-2-0", "7.2.22 is recorded"),
        (
            "9.0.0",
            "7.2.22",
            "below",
            "profile-5-2-0",
            "9.0.0 is not recorded: using the highest recorded below it, 7.2.22",
        ),
        (
            "10.0.3",
            "10.0.2",
            "newer",
            "profile-10-0-2",
            "10.0.3 is newer than every recorded version: using the newest, 10.0.2",
        ),
        (
            "4.2.1",
            "5.2.0",
            "older",
            "profile-5-2-0",
            "4.2.1 is older than every recorded version: using the oldest, 5.2.0; nothing "
            "recorded is known to hold for it",
        ),
        ("5.2.0", "5.2.0", "exact", "profile-5-2-0", "5.2.0 is recorded"),
        ("10.0.2", "10.0.2", "exact", "profile-10-0-2", "10.0.2 is recorded"),
    ],
)
def test_select_from_map(host: str, version: str, relation: str, profile: str, note: str) -> None:
    pick = selection.select_from_map(VMAP, f"qemu-img version {host} (x)", Path("t"))
    representative = VMAP["profiles"][profile]["representative"]
    assert pick == selection.Selection(host, version, profile, representative, relation, Path("t"))
    assert pick.as_dict() == {
        "host_version": host,
        "version": version,
        "relation": relation,
        "profile": profile,
        "representative": representative,
        "version_dir": f"t/<target>/{version}",
        "profile_dir": f"t/profiles/{profile}",
        "note": note,
    }


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("7.2.22", "7.2.22"),
        ("  10.0.2\nmore", "10.0.2"),
        ("qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright", "7.2.22"),
        ("11.1", "11.1"),
        ("7", "7"),
        ("Latest", "latest"),
    ],
)
def test_host_version(text: str, version: str) -> None:
    assert selection.host_version(text) == version


@pytest.mark.parametrize(
    "text", ["", "  \n", "7.2.22.x", "7.2.", "x7.2.22", "v10.0.2", "7.2.22x", "7.2.22-rc1"]
)
def test_host_version_rejects(text: str) -> None:
    with pytest.raises(BadInput) as exc:
        selection.host_version(text)
    assert str(exc.value) == (
        f"{text!r} is not a version query: give a version such as 7.2.22 (ASCII digits, no "
        "leading zeros), a prefix such as 10.0 or 7 (its highest version), 'oldest', 'latest' "
        "or the first line of `qemu-img --version`"
    )


NO_VERSIONS = (
    "t/version-map.json has no versions (`profiles` and `version_to_profile`): regenerate it "
    "with `python -m toolkit profiles`"
)


@pytest.mark.parametrize(
    "vmap",
    [
        {},
        {"profiles": {}, "version_to_profile": {}},
        {"profiles": [], "version_to_profile": {"1.0": "p"}},
        {"profiles": {"p": "1.0"}, "version_to_profile": ["1.0"]},
    ],
)
def test_a_map_without_versions(vmap: dict[str, object]) -> None:
    with pytest.raises(BadInput) as exc:
        selection.select_from_map(vmap, "1.0", Path("t"))
    assert str(exc.value) == NO_VERSIONS


def test_select_baseline_reads_the_map(tmp_path: Path) -> None:
    type_dir = tmp_path / "create-info-json"
    path = type_dir / "version-map.json"
    with pytest.raises(BadInput) as exc:
        selection.select_baseline(tmp_path, "create-info-json", "7.2.22")
    assert str(exc.value) == (
        f"{path} is missing: generate the tree (`python -m toolkit generate ...`) or point "
        "--expected-outputs at a checkout that has one"
    )
    type_dir.mkdir()
    for text, message in [
        ("[1]", f"{path} is not a JSON object; regenerate it"),
        ("{", f"{path} is unreadable: Expecting property name enclosed in double quotes: "
              "line 1 column 2 (char 1); regenerate it"),
    ]:  # fmt: skip
        path.write_text(text)
        with pytest.raises(BadInput) as exc:
            selection.select_baseline(tmp_path, "create-info-json", "7.2.22")
        assert str(exc.value) == message
    path.write_bytes(b"\xff")
    with pytest.raises(BadInput, match=r"is unreadable: 'utf-8' codec can't decode"):
        selection.select_baseline(tmp_path, "create-info-json", "7.2.22")
    path.write_text(json.dumps(VMAP))
    pick = selection.select_baseline(tmp_path, "create-info-json", "7.2.30")
    assert pick == selection.Selection(
        "7.2.30", "7.2.22", "profile-5-2-0", "5.2.0", "below", type_dir
    )
    assert pick.version_dir("qcow2") == type_dir / "qcow2" / "7.2.22"
    assert pick.profile_file("vhd", "c", ".meta.json") == (
        type_dir / "profiles" / "profile-5-2-0" / "vhd-c.meta.json"
    )


def test_targets_are_the_directories_that_hold_the_version(tmp_path: Path) -> None:
    type_dir = tmp_path / "measure-json"
    for target in ("_size", "qcow2", "raw"):
        (type_dir / target / "7.2.22").mkdir(parents=True)
    (type_dir / "vmdk" / "5.2.0").mkdir(parents=True)  # another version only
    (type_dir / "profiles" / "7.2.22").mkdir(parents=True)  # never a target
    (tmp_path / "elsewhere" / "7.2.22").mkdir(parents=True)
    (type_dir / "vhdx").symlink_to(tmp_path / "elsewhere")  # a link is not followed
    (type_dir / "vpc").mkdir()
    (type_dir / "vpc" / "7.2.22").symlink_to(tmp_path / "elsewhere" / "7.2.22")
    pick = selection.Selection("7.2.22", "7.2.22", "profile-5-2-0", "5.2.0", "exact", type_dir)
    assert pick.targets() == ["_size", "qcow2", "raw"]
    assert (
        selection.Selection("7.2.22", "7.2.22", "p", "5.2.0", "exact", tmp_path / "no").targets()
        == []
    )
