"""Version profiles and version-map.json, against the committed tree and edited copies."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from toolkit.baseline import profiles
from toolkit.baseline.tree import Tree
from toolkit.baseline.triple import dump_json, triple_paths
from toolkit.cli import main as cli
from toolkit.model.pipeline import COMMANDS
from toolkit.model.versions import version_key
from toolkit.render import profiles as profiles_render
from toolkit.stages import drift

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "expected-outputs"
SPEC = COMMANDS["resize"]


@pytest.fixture(scope="module")
def tree() -> Tree:
    t = Tree(GOLDEN, SPEC)
    assert t.versions, f"no committed golden tree at {t.type_dir}: run `nox -s generate_resize`"
    return t


@pytest.fixture(scope="module")
def table(tree: Tree) -> profiles.ProfileTable:
    return profiles.compute(tree)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(GOLDEN / SPEC.output_type, tmp_path / SPEC.output_type)
    (tmp_path / SPEC.output_type / profiles.VERSION_MAP_FILE).unlink(missing_ok=True)
    return tmp_path


@pytest.mark.parametrize(
    ("index", "expected"), [(0, "A"), (1, "B"), (25, "Z"), (26, "AA"), (27, "AB"), (702, "AAA")]
)
def test_letters(index: int, expected: str) -> None:
    assert profiles.letter(index) == expected


def test_committed_version_map_is_current() -> None:
    path = profiles.version_map_path(GOLDEN, SPEC)
    expected = profiles.expected_version_map(GOLDEN, SPEC)
    assert path.read_text(encoding="utf-8") == dump_json(expected), (
        "run `python -m toolkit profiles`"
    )


def test_version_map_structure(tree: Tree, table: profiles.ProfileTable) -> None:
    vmap = profiles.expected_version_map(GOLDEN, SPEC)
    assert set(vmap) == {"profiles", "version_to_profile", "cases"}
    # The consumer's shape: profile -> {representative, versions}, version -> profile.
    to_profile = vmap["version_to_profile"]
    assert list(to_profile) == sorted(tree.versions, key=version_key) or set(to_profile) == set(
        tree.versions
    )
    ordered = sorted(tree.versions, key=version_key)
    for name, info in vmap["profiles"].items():
        rep = info["representative"]
        members = [v for v in ordered if to_profile[v] == name]
        assert members == info["versions"]  # what the harness's map suite reads
        assert members[0] == rep and name == "profile-" + rep.replace(".", "-")
        # consecutive versions, identical in every case
        first = ordered.index(rep)
        assert members == ordered[first : first + len(members)]
        assert all(r.letters.get(v) == r.letters.get(rep) for r in table.rows for v in members)
    for a, b in itertools.pairwise(ordered):  # maximal: a new profile means a changed case
        if to_profile[a] != to_profile[b]:
            assert any(r.letters.get(a) != r.letters.get(b) for r in table.rows)
    for fmt in tree.formats:
        for case, groups in vmap["cases"][fmt].items():
            have = [v for v in tree.versions if case in tree.cases(fmt, v)]
            letters = sorted(groups, key=lambda p: (len(p), p))
            assert letters == [profiles.letter(i) for i in range(len(groups))]
            # A partition of the versions that have the case, each list oldest first,
            # letters in order of first appearance: the oldest version is always A.
            assert sorted(itertools.chain(*groups.values()), key=version_key) == have
            assert all(vs == sorted(vs, key=version_key) for vs in groups.values())
            firsts = [groups[p][0] for p in letters]
            assert firsts == sorted(firsts, key=version_key) and firsts[0] == have[0]


def test_profiles_agree_with_drift_for_every_pair(tree: Tree, table: profiles.ProfileTable) -> None:
    rows = {(r.format, r.case): r for r in table.rows}
    for a, b in itertools.combinations(tree.versions, 2):
        for c in drift.drift_between(tree, a, b).cases:
            same = rows[c.format, c.case].letters[a] == rows[c.format, c.case].letters[b]
            assert same == (c.status == "unchanged"), (a, b, c.format, c.case)


def test_the_real_profiles(table: profiles.ProfileTable) -> None:
    """Today's tree: one change in behaviour, at 10.0 (info lists children)."""
    assert table.versions == (
        "5.2.0", "7.2.18", "7.2.22", "10.0.2", "10.0.13", "11.1.2", "11.1.3"
    )  # fmt: skip
    two = {(r.format, r.case) for r in table.rows if r.profile_count == 2}
    assert all(r.profile_count <= 2 for r in table.rows)
    assert {f for f, _ in two} == {"qcow2", "raw"} and len(two) == 25
    for r in table.rows:
        if (r.format, r.case) in two:
            assert [r.letters[v] for v in table.versions] == ["A"] * 3 + ["B"] * 4
    assert table.first_seen() == {"10.0.2": 25}
    assert table.profiles() == [
        ("5.2.0", "7.2.18", "7.2.22"), ("10.0.2", "10.0.13", "11.1.2", "11.1.3")
    ]  # fmt: skip


def test_matrix_text(table: profiles.ProfileTable) -> None:
    text = profiles_render.render_text(table)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("format"))
    assert header.split() == ["format", "case", *table.versions]
    body = [line for line in lines if line.startswith(("qcow2 ", "raw ", "vhd", "vmdk "))]
    assert len(body) == len(table.rows) == 41
    assert body[0].split()[2:] == [table.rows[0].letters[v] for v in table.versions]
    assert profiles_render.LEGEND in text


def test_drift_without_versions_prints_the_matrix() -> None:
    """What `nox -s drift` runs: the version x case matrix across all versions."""
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit", "drift"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == profiles_render.render_text(profiles.compute(Tree(GOLDEN, SPEC)))


def test_matrix_formats(capsys: Any) -> None:
    assert cli.main(["drift", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == profiles.expected_version_map(GOLDEN, SPEC)
    assert cli.main(["drift", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| format | case | 5.2.0 |" in md and md.count("\n| ") == 1 + 41
    assert cli.main(["drift", "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert (
        page.count('<td class="p p') == 41 * len(Tree(GOLDEN, SPEC).versions)
        and "<script" not in page
    )
    assert cli.main(["drift", "--fail-on-drift"]) == 1  # behaviour does change across versions


def test_write_refresh_and_check(copy: Path, capsys: Any) -> None:
    args = ["profiles", "--expected-outputs", str(copy)]
    assert cli.main([*args, "--check"]) == 1
    assert "missing or not current" in capsys.readouterr().out
    assert cli.main(args) == 0
    assert "wrote" in capsys.readouterr().out
    path = profiles.version_map_path(copy, SPEC)
    first = path.read_text(encoding="utf-8")
    assert first == dump_json(profiles.expected_version_map(copy, SPEC))
    assert cli.main([*args, "--check"]) == 0
    assert profiles.write_version_map(copy, SPEC) is False  # unchanged: untouched
    # A hand-edited profile file: --check names it, a refresh restores the copy.
    edited = next((copy / SPEC.output_type / "profiles").glob("profile-*/qcow2-*.stdout.txt"))
    original = edited.read_bytes()
    edited.write_bytes(original + b" ")
    capsys.readouterr()
    assert cli.main([*args, "--check"]) == 1
    assert f"{edited}: differs from the representative" in capsys.readouterr().out
    assert profiles.write_version_map(copy, SPEC) is True
    assert edited.read_bytes() == original
    # New behaviour in 11.1.3 only: a third profile for that case; the map goes stale.
    meta = triple_paths(copy / SPEC.output_type / "vhd" / "11.1.3", "1M-to-64M-default")[2]
    data = json.loads(meta.read_text(encoding="utf-8"))
    data["resize_return_code"] = 3
    meta.write_text(json.dumps(data), encoding="utf-8")
    assert cli.main([*args, "--check"]) == 1
    assert profiles.write_version_map(copy, SPEC) is True
    vmap = json.loads(path.read_text(encoding="utf-8"))
    assert vmap["cases"]["vhd"]["1M-to-64M-default"]["B"] == ["11.1.3"]
    # 11.1.3 now differs from 11.1.2: a profile of its own, its files copied from it.
    assert vmap["version_to_profile"]["11.1.3"] == "profile-11-1-3"
    assert vmap["profiles"]["profile-11-1-3"] == {
        "representative": "11.1.3",
        "versions": ["11.1.3"],
    }
    copied = copy / SPEC.output_type / "profiles" / "profile-11-1-3" / "vhd-1M-to-64M-default"
    assert Path(f"{copied}.meta.json").read_bytes() == meta.read_bytes()


def test_a_case_missing_in_one_version(copy: Path) -> None:
    for p in triple_paths(copy / SPEC.output_type / "vmdk" / "7.2.22", "1M-to-64M-default"):
        p.unlink()
    table = profiles.compute(Tree(copy, SPEC))
    (row,) = [r for r in table.rows if (r.format, r.case) == ("vmdk", "1M-to-64M-default")]
    assert "7.2.22" not in row.letters and set(row.letters.values()) == {"A"}
    lines = profiles_render.render_text(table).splitlines()
    line = next(ln for ln in lines if ln.split()[:2] == ["vmdk", "1M-to-64M-default"])
    assert line.split()[2:5] == ["A", "A", profiles_render.ABSENT]  # 5.2.0, 7.2.18, 7.2.22
    vmap = profiles.version_map(table)
    assert "7.2.22" not in itertools.chain(*vmap["cases"]["vmdk"]["1M-to-64M-default"].values())
    # A case present on one side only is a difference: 7.2.22 is a profile of its own.
    assert vmap["version_to_profile"]["7.2.22"] == "profile-7-2-22"
    assert vmap["version_to_profile"]["10.0.2"] == "profile-10-0-2"


def test_profiles_on_no_tree_is_bad_input(tmp_path: Path, capsys: Any) -> None:
    assert cli.main(["profiles", "--expected-outputs", str(tmp_path)]) == 2
    assert "generate" in capsys.readouterr().err
    assert profiles.write_version_map(tmp_path, SPEC) is False
    assert not (tmp_path / SPEC.output_type).exists()
