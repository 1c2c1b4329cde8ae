"""The consumer contract: the committed tree, read exactly as a compatible tool's harness reads it.

The reader below (`harness_problems`) does what instar's phase-11 resize tests and phase-8
create tests do, with nothing but json and paths, plus the one importable toolkit function a
Python harness calls to pick its baseline (toolkit.baseline.selection):

* `<type>/version-map.json` is `{"profiles": {profile: representative}, "version_to_profile":
  {version: profile}, ...}`;
* the version directory is chosen by the host's full version (highest recorded <= it, else
  the newest; older than all: the oldest);
* resize reads `<type>/<target>/<version>/<case>.{stdout.txt,stderr.txt,meta.json}`, create
  reads `<type>/profiles/<profile>/<target>-<case>.{stdout.txt,meta.json}`;
* every meta's `preallocation` is the case's mode (None when it sets none).

The committed tree meets it; each of the three defects of issue 13, planted for real on a
copy, breaks it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from toolkit.baseline import selection
from toolkit.model.versions import version_key

TREE = Path(__file__).resolve().parent.parent / "expected-outputs"

# The harness's own case lists (its names must match ours exactly).
RESIZE_CASES: dict[str, list[str]] = {
    "qcow2": [
        "1M-plus-63M-default", "1M-to-4M-default", "1M-to-4M-prealloc-falloc",
        "1M-to-4M-prealloc-full", "1M-to-4M-prealloc-metadata", "1M-to-4M-prealloc-off",
        "1M-to-64M-compat-v2", "1M-to-64M-cs-1M", "1M-to-64M-cs-4k", "1M-to-64M-cs-512",
        "1M-to-64M-default", "1M-to-64M-extended-l2", "1M-to-64M-lazy-refcounts",
        "1M-to-64M-rb-1", "1M-to-64M-rb-64", "64M-minus-32M-shrink", "64M-to-1M-no-shrink",
        "64M-to-256M-default", "64M-to-64M-noop",
    ],
    "raw": [
        "1M-plus-63M-default", "1M-to-4M-prealloc-falloc", "1M-to-4M-prealloc-full",
        "1M-to-4M-prealloc-off", "1M-to-64M-default", "64M-to-1M-no-shrink",
        "64M-to-1M-shrink", "64M-to-256M-default",
    ],
    "vhd": [
        "1M-plus-63M-default", "1M-to-4M-fixed", "1M-to-4M-prealloc-full",
        "1M-to-4M-prealloc-off", "1M-to-64M-default", "64M-to-256M-default",
    ],
    "vhdx": [
        "1M-plus-63M-default", "1M-to-4M-prealloc-off", "1M-to-64M-block-16M",
        "1M-to-64M-default", "64M-to-256M-default",
    ],
    "vmdk": ["1M-plus-63M-default", "1M-to-64M-default", "64M-to-256M-default"],
}  # fmt: skip
CREATE_CASES: dict[str, list[str]] = {
    "qcow2": [
        "1M-default", "64M-default", "1G-default", "1G-cs-512", "1G-cs-4k", "1G-cs-64k",
        "1G-cs-1M", "1G-cs-2M", "1G-rb-1", "1G-rb-8", "1G-rb-64", "1G-extended-l2",
        "64M-extended-l2", "1G-compat-v2", "1G-lazy-refcounts", "1G-zstd",
        "1M-prealloc-metadata", "1M-prealloc-falloc", "1M-prealloc-full",
    ],
    "vmdk": [
        "1M-default", "64M-default", "1G-default", "1G-stream-optimized",
        "1G-monolithic-sparse",
    ],
    "vhd": ["1M-default", "64M-default", "1G-default", "1M-fixed", "16M-fixed"],
    "vhdx": ["1M-default", "64M-default", "1G-default", "1G-block-16M", "1G-block-32M"],
    "raw": ["1M-default", "1G-default"],
}  # fmt: skip
CONTRACTS = {"resize-info-json": RESIZE_CASES, "create-info-json": CREATE_CASES}
META_KEYS = {"case_name", "format", "qemu_version", "create_argv", "create_return_code"}

# Host qemu-img -> the version directory a harness must read, with today's seven versions
# (5.2.0, 7.2.18, 7.2.22, 10.0.2, 10.0.13, 11.1.2, 11.1.3).
HOSTS = {
    "7.2.0": "5.2.0",  # highest recorded below it, not "any 7.2"
    "7.2.18": "7.2.18",
    "7.2.22": "7.2.22",
    "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)": "7.2.22",
    "7.2.30": "7.2.22",
    "10.0.5": "10.0.2",
    "12.0.0": "11.1.3",  # newer than all: the newest
    "4.2.0": "5.2.0",  # older than all: the oldest (with a warning)
}


def mode_of(case: str) -> str | None:
    """The harness's mirror: a case's preallocation mode is in its name."""
    m = re.search(r"prealloc-(off|metadata|falloc|full)$", case)
    return m.group(1) if m else None


def _meta(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: {exc}")
        return None
    return data if isinstance(data, dict) else None


def _check_meta(path: Path, case: str, problems: list[str]) -> None:
    meta = _meta(path, problems)
    if meta is None:
        return
    have, want = meta.get("preallocation"), mode_of(case)
    if "preallocation" not in meta or have != want:
        problems.append(f"{path}: preallocation {have!r} != {want!r}")
    if not set(meta) >= META_KEYS:
        problems.append(f"{path}: lacks {sorted(META_KEYS - set(meta))}")


def harness_problems(root: Path, output_type: str, host: str) -> list[str]:
    """Everything a harness on qemu-img `host` would trip over in `root`."""
    problems: list[str] = []
    type_dir = root / output_type
    vmap = json.loads((type_dir / "version-map.json").read_text(encoding="utf-8"))
    profiles, to_profile = vmap.get("profiles"), vmap.get("version_to_profile")
    flat = (
        isinstance(profiles, dict)
        and isinstance(to_profile, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in profiles.items())
        and all(isinstance(v, str) and v in profiles for v in to_profile.values())
    )
    if not flat:
        return [f"{type_dir}/version-map.json: not {{profiles: {{p: v}}, version_to_profile}}"]
    assert isinstance(profiles, dict) and isinstance(to_profile, dict)
    for name, rep in profiles.items():
        if name != "profile-" + rep.replace(".", "-") or to_profile.get(rep) != name:
            problems.append(f"profile {name} is not named after its representative {rep}")
    pick = selection.select_baseline(root, output_type, host)
    want = HOSTS[host]
    if pick.version != want:
        problems.append(f"host {host}: picked version dir {pick.version}, want {want}")
    if pick.profile != to_profile.get(pick.version):
        problems.append(f"host {host}: profile {pick.profile} is not {pick.version}'s")
    profile_dir = type_dir / "profiles" / str(to_profile.get(pick.version))
    for target, cases in CONTRACTS[output_type].items():
        d = type_dir / target / pick.version
        present = {p.name.removesuffix(".meta.json") for p in d.glob("*.meta.json")}
        if present != set(cases):
            problems.append(f"{d}: cases {sorted(present ^ set(cases))} differ from the harness's")
        for case in cases:
            for suffix in (".stdout.txt", ".stderr.txt", ".meta.json"):
                if not (d / f"{case}{suffix}").is_file():
                    problems.append(f"{d / case}{suffix} missing")
            _check_meta(d / f"{case}.meta.json", case, problems)
            stem = profile_dir / f"{target}-{case}"
            if not Path(f"{stem}.stdout.txt").is_file():
                problems.append(f"{stem}.stdout.txt missing")
            _check_meta(Path(f"{stem}.meta.json"), case, problems)
    return problems


def test_case_sets_are_the_harness_s() -> None:
    assert sum(map(len, RESIZE_CASES.values())) == 41
    assert sum(map(len, CREATE_CASES.values())) == 36


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("output_type", sorted(CONTRACTS))
def test_the_committed_tree_meets_the_contract(output_type: str, host: str) -> None:
    assert harness_problems(TREE, output_type, host) == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The committed create tree, to plant a defect in."""
    shutil.copytree(TREE / "create-info-json", tmp_path / "create-info-json")
    return tmp_path


def test_a_meta_without_preallocation_breaks_it(copy: Path) -> None:
    """Defect 1: metas carry `prealloc` only."""
    for path in copy.rglob("*.meta.json"):
        meta = json.loads(path.read_text())
        del meta["preallocation"]
        path.write_text(json.dumps(meta))
    problems = harness_problems(copy, "create-info-json", "7.2.22")
    assert any("1M-prealloc-full.meta.json: preallocation None != 'full'" in p for p in problems)
    assert any("1G-default.meta.json: preallocation None != None" in p for p in problems)


def test_a_per_case_letter_grid_breaks_it(copy: Path) -> None:
    """Defect 2: version-map.json as a per-case letter grid (the old shape)."""
    path = copy / "create-info-json" / "version-map.json"
    vmap = json.loads(path.read_text())
    grid = vmap["cases"]
    by_version: dict[str, Any] = {}
    for fmt, cases in grid.items():
        for case, groups in cases.items():
            for letter, versions in groups.items():
                for v in versions:
                    by_version.setdefault(v, {}).setdefault(fmt, {})[case] = letter
    path.write_text(json.dumps({"profiles": grid, "version_to_profile": by_version}))
    assert harness_problems(copy, "create-info-json", "7.2.22") == [
        f"{copy / 'create-info-json'}/version-map.json: not {{profiles: {{p: v}}, "
        "version_to_profile}"
    ]


def standin_select_by_major_minor_prefix(
    vmap: dict[str, Any], host: str, type_dir: Path
) -> selection.Selection:
    """Defect 3, as the harness first had it: any recorded version with the host's
    major.minor (the first found), else the newest."""
    major_minor = version_key(selection.host_version(host))[:2]
    recorded = sorted(vmap["version_to_profile"], key=version_key)
    same = [v for v in recorded if version_key(v)[:2] == major_minor]
    v = (same or recorded)[0 if same else -1]
    p = vmap["version_to_profile"][v]
    return selection.Selection(host, v, p, vmap["profiles"][p], "exact", type_dir)


def test_picking_by_major_minor_breaks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "select_from_map", standin_select_by_major_minor_prefix)
    problems = harness_problems(TREE, "create-info-json", "7.2.22")
    assert "host 7.2.22: picked version dir 7.2.18, want 7.2.22" in problems
    assert harness_problems(TREE, "create-info-json", "7.2.0") == [
        "host 7.2.0: picked version dir 7.2.18, want 5.2.0"
    ]
