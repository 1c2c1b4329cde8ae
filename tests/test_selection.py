"""Which baseline applies to a host's qemu-img: `profiles --for/--qemu-img` and the function."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import REPO, in_process, toolkit

from toolkit.baseline import selection
from toolkit.model.errors import BadInput
from toolkit.model.records import QemuBinary

TREE = REPO / "expected-outputs"
DEBIAN_LINE = "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"

# host -> (version dir, relation), on a map of today's seven versions
CASES = {
    "7.2.0": ("7.2.18", "series"),  # the harness reads its series, not 5.2.0
    "7.2.18": ("7.2.18", "exact"),
    "7.2.22": ("7.2.22", "exact"),
    DEBIAN_LINE: ("7.2.22", "exact"),
    "qemu-img version 10.0.5 (Ubuntu 1:10.0.5+ds-0ubuntu1)": ("10.0.2", "below"),
    "7.2.30": ("7.2.22", "below"),
    "10.0.5": ("10.0.2", "below"),
    "12.0.0": ("11.1.3", "newer"),
    "4.2.0": ("5.2.0", "older"),
}
VERSIONS = ["5.2.0", "7.2.18", "7.2.22", "10.0.2", "10.0.13", "11.1.2", "11.1.3"]
# Profiles as a map could group them (any grouping: the rule picks the version first).
TO_PROFILE = {
    v: "profile-5-2-0" if v[0] == "5" else "profile-7-2-18" if v[0] == "7" else "profile-10-0-2"
    for v in VERSIONS
}
VMAP = {
    "profiles": {
        name: {"representative": rep, "versions": [v for v, p in TO_PROFILE.items() if p == name]}
        for name, rep in (
            ("profile-5-2-0", "5.2.0"),
            ("profile-7-2-18", "7.2.18"),
            ("profile-10-0-2", "10.0.2"),
        )
    },
    "version_to_profile": TO_PROFILE,
}


@pytest.mark.parametrize("host", sorted(CASES))
def test_the_rule(host: str) -> None:
    pick = selection.select_from_map(VMAP, host, Path("t"))
    assert (pick.version, pick.relation) == CASES[host]
    assert pick.profile == VMAP["version_to_profile"][pick.version]
    assert pick.representative == VMAP["profiles"][pick.profile]["representative"]
    assert pick.version_dir("qcow2") == Path("t/qcow2") / pick.version
    assert pick.profile_file("vhd", "1M-default", ".meta.json") == Path(
        f"t/profiles/{pick.profile}/vhd-1M-default.meta.json"
    )


@pytest.mark.parametrize("text", ["", "qemu-img version", "seven", "qemu-img version x.y"])
def test_not_a_version_is_bad_input(text: str) -> None:
    with pytest.raises(BadInput, match="is not a version query"):
        selection.host_version(text)


def test_a_map_without_versions_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "create-info-json").mkdir()
    with pytest.raises(BadInput, match=r"version-map\.json is missing"):
        selection.select_baseline(tmp_path, "create-info-json", "7.2.22")
    (tmp_path / "create-info-json" / "version-map.json").write_text('{"profiles": {"A": []}}')
    with pytest.raises(BadInput, match="has no versions"):
        selection.select_baseline(tmp_path, "create-info-json", "7.2.22")


@pytest.mark.parametrize("command", ["resize", "create"])
def test_cli_json_names_files_that_exist(command: str) -> None:
    proc = toolkit("profiles", "--for", "7.2.22", "--command", command, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    vmap = json.loads((TREE / f"{command}-info-json" / "version-map.json").read_text())
    assert out["version"] == "7.2.22" and out["relation"] == "exact"
    assert out["profile"] == vmap["version_to_profile"]["7.2.22"]
    assert out["representative"] == vmap["profiles"][out["profile"]]["representative"]
    profile_dir = REPO / out["profile_dir"]
    files = sorted(p.name for p in profile_dir.iterdir())
    assert len(files) == 3 * (41 if command == "resize" else 36)
    assert out["targets"] == ["qcow2", "raw", "vhd", "vhdx", "vmdk"]
    for target in out["targets"]:
        assert (REPO / out["version_dir"].replace("<target>", target)).is_dir()


def test_cli_names_the_targets_of_a_type_grouped_otherwise() -> None:
    # measure's size cases sit in `_size`, its source cases under each image's format
    proc = toolkit("profiles", "--for", "10.0.2", "--command", "measure-json")
    assert proc.returncode == 0, proc.stderr
    assert "(<target>: _size, qcow2, raw, vhdx, vmdk, vpc)" in proc.stdout


def test_cli_older_warns_newer_says_so() -> None:
    older = toolkit("profiles", "--for", "4.2.0", "--command", "create")
    assert older.returncode == 0
    assert "warning: 4.2.0 is older than every recorded version" in older.stderr
    newer = toolkit("profiles", "--for", "12.0.0", "--command", "create")
    assert newer.returncode == 0 and newer.stderr == ""
    assert "12.0.0 is newer than every recorded version: using the newest" in newer.stdout
    line = toolkit("profiles", "--for", DEBIAN_LINE, "--command", "create")
    assert "version 7.2.22, profile" in line.stdout
    assert "create-info-json/profiles/profile-" in line.stdout


def test_cli_probes_a_binary(qemu_binaries: list[QemuBinary]) -> None:
    b = qemu_binaries[0]
    proc = toolkit("profiles", "--qemu-img", str(b.path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["host_version"] == b.version


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "seven"], "'seven' is not a version query"),
        (
            ["--qemu-img", "/nonexistent/qemu-img"],
            "--qemu-img /nonexistent/qemu-img: cannot be read",
        ),
        (["--json"], "--json goes with --for"),
        (["--for", "7.2.22", "--expected-outputs", "/nonexistent"], "version-map.json is missing"),
    ],
)
def test_cli_bad_input(args: list[str], message: str) -> None:
    proc = toolkit("profiles", *args)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------ issue 21 item 9: the map is checked first

REGENERATE = "regenerate it with `python -m toolkit profiles --command create`"

# label -> (how the committed create map is changed, the query, what is wrong)
PLANTED = {
    "superscript-key": (
        lambda m: m["version_to_profile"].update({"7.\u00b2": "profile-5-2-0"}),
        "7.2.22",
        "version key '7.²' is not a version (such as 7.2.22)",
    ),
    "unlisted-profile": (
        lambda m: m["version_to_profile"].update({"7.2.22": "profile-x"}),
        "7.2.22",
        "version 7.2.22 is assigned 'profile-x', which is not a profile listed under `profiles`",
    ),
    "list-value": (
        lambda m: m["version_to_profile"].update({"7.2.22": ["profile-7-2-18"]}),
        "7.2.22",
        'version 7.2.22 is assigned ["profile-7-2-18"], which is not a profile listed under '
        "`profiles`",
    ),
    "profile-escapes": (
        lambda m: (
            m["profiles"].update(
                {"../../../../etc": {"representative": "7.2.22", "versions": ["7.2.22"]}}
            ),
            m["version_to_profile"].update({"7.2.22": "../../../../etc"}),
        ),
        "7.2.22",
        "profile '../../../../etc' should be named 'profile-7-2-22' after its representative "
        "7.2.22",
    ),
    "version-key-escapes": (
        lambda m: m["version_to_profile"].update({"/etc": "profile-5-2-0"}),
        "1.0.0",
        "version key '/etc' is not a version (such as 7.2.22)",
    ),
    "representative-not-a-version": (
        lambda m: m["profiles"].update({"profile-5-2-0": {"representative": 5}}),
        "7.2.22",
        "profile 'profile-5-2-0' names 5 as its representative, not a version",
    ),
    "representative-elsewhere": (
        lambda m: m["version_to_profile"].update({"7.2.18": "profile-5-2-0"}),
        "7.2.22",
        "version 7.2.18 is assigned profile-5-2-0, whose `versions` lack it",
    ),
    "representative-unassigned": (
        lambda m: (
            m["version_to_profile"].update({"7.2.18": "profile-5-2-0"}),
            m["profiles"]["profile-5-2-0"]["versions"].append("7.2.18"),
        ),
        "7.2.22",
        "profile profile-7-2-18's representative 7.2.18 is not assigned to it",
    ),
    "a-string-value": (
        lambda m: m["profiles"].update({"profile-5-2-0": "5.2.0"}),
        "7.2.22",
        "profile 'profile-5-2-0' names null as its representative, not a version",
    ),
}


@pytest.fixture
def create_map(tmp_path: Path) -> Path:
    """A tree holding only a copy of the committed create version-map.json."""
    type_dir = tmp_path / "create-info-json"
    type_dir.mkdir()
    (type_dir / "version-map.json").write_bytes(
        (TREE / "create-info-json" / "version-map.json").read_bytes()
    )
    return tmp_path


@pytest.mark.parametrize("label", sorted(PLANTED))
def test_a_planted_map_is_bad_input_never_a_path_or_a_traceback(
    label: str, create_map: Path
) -> None:
    plant, query, problem = PLANTED[label]
    path = create_map / "create-info-json" / "version-map.json"
    vmap = json.loads(path.read_text())
    plant(vmap)
    path.write_text(json.dumps(vmap))
    with pytest.raises(BadInput) as info:
        selection.select_baseline(create_map, "create-info-json", query)
    assert str(info.value) == f"{path}: {problem}; {REGENERATE}"
    proc = in_process("profiles", "--for", query, "--command", "create", "--json",
                      "--expected-outputs", str(create_map))  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: {path}: {problem}; {REGENERATE}\n"


def test_the_committed_maps_pass_and_every_path_stays_in_the_tree() -> None:
    for output_type in ("resize-info-json", "create-info-json"):
        vmap = json.loads((TREE / output_type / "version-map.json").read_text())
        for version in vmap["version_to_profile"]:
            pick = selection.select_baseline(TREE, output_type, version)
            for path in (pick.profile_dir, pick.version_dir("qcow2")):
                assert path.resolve().is_relative_to((TREE / output_type).resolve())
