"""What the consuming harness (instar's tests) reads, as it reads it: a mirror of its readers,
with nothing but json and paths, for tests/test_consumer_contract.py.

Each fact is instar's own (its tests/base.py and tests/test_<command>.py; the README's
"Using the tree from a compatible tool's tests" lists each with the file it comes from):

* the version directory of a per-target type: `_select_version_match` over the names of
  `<type>/<target>/` (`select_version_match` below, its code transcribed);
* the profile of a profile-read type: `version_to_profile` of `<type>/version-map.json`,
  looked up with the same match; profile names `profile-X-Y-Z`; the map suite reads each
  profile's `versions` list (`profiles[name]['versions']`) when it is imported;
* the case-set tripwire: the stems of `*.stdout.txt` in the chosen directory equal the
  harness's case list exactly;
* per type, the meta keys it reads (return codes it skips on, resize's mirror keys it
  asserts).

A type's reader is a function (root, host) -> problems; CONTRACTS names them by output type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["CONTRACTS", "Reader", "load_json", "select_version_match", "version_map_problems"]

Reader = Callable[[Path, tuple[int, int, int]], list[str]]


def parse_qemu_version(text: str) -> tuple[int, int, int] | None:
    """instar tests/base.py `parse_qemu_version`."""
    match = re.search(r"qemu-img version (\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    patch = int(match.group(3)) if match.group(3) is not None else 0
    return (int(match.group(1)), int(match.group(2)), patch)


def select_version_match(candidates: Iterable[str], detected: tuple[int, ...] | None) -> str | None:
    """instar tests/base.py `_select_version_match`, transcribed."""
    parsed = []
    for c in candidates:
        try:
            nums = tuple(int(p) for p in c.split("."))
        except ValueError:
            continue
        parsed.append(((*nums, 0, 0, 0)[:3], c))
    if not parsed:
        return None
    if detected is None:
        return max(parsed)[1]
    d = (*detected, 0, 0, 0)[:3]
    for nums, c in parsed:
        if nums == d:
            return c
    same = [(nums, c) for nums, c in parsed if nums[:2] == d[:2]]
    below = [(nums, c) for nums, c in same if nums[2] <= d[2]]
    if below:
        return max(below)[1]
    if same:
        return min(same)[1]
    below_all = [(nums, c) for nums, c in parsed if nums <= d]
    if below_all:
        return max(below_all)[1]
    return min(parsed)[1]


def load_json(path: Path, problems: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: {exc}")
        return None


def version_map_problems(type_dir: Path) -> list[str]:
    """What every reader of a version-map.json needs: non-empty `profiles` (names
    `profile-X-Y-Z`, each value with its `versions`, as the map suite reads them at import)
    and `version_to_profile` into them."""
    problems: list[str] = []
    vmap = load_json(type_dir / "version-map.json", problems)
    if not isinstance(vmap, dict):
        return problems or [f"{type_dir}/version-map.json: not an object"]
    profiles, to_profile = vmap.get("profiles"), vmap.get("version_to_profile")
    if not isinstance(profiles, dict) or not profiles:
        return [f"{type_dir}/version-map.json: no profiles"]
    if not isinstance(to_profile, dict) or not to_profile:
        return [f"{type_dir}/version-map.json: no version_to_profile"]
    for name, info in profiles.items():
        versions = info.get("versions") if isinstance(info, dict) else None
        if not name.startswith("profile-") or not versions:
            problems.append(f"{type_dir}/version-map.json: profile {name} without `versions`")
            continue
        lowest = min(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
        if name != "profile-" + lowest.replace(".", "-"):
            problems.append(f"profile {name} is not named after its lowest version {lowest}")
    for version, name in to_profile.items():
        if name not in profiles:
            problems.append(f"{type_dir}/version-map.json: {version} -> unknown profile {name}")
    return problems


def version_dirs(root: Path, output_type: str, targets: Iterable[str],
                 host: tuple[int, int, int]) -> dict[str, Path | None]:  # fmt: skip
    """instar's `_pick_baseline_version_dir` for each target of a per-target type."""
    out: dict[str, Path | None] = {}
    for target in targets:
        base = root / output_type / target
        names = [p.name for p in base.iterdir() if p.is_dir()] if base.exists() else []
        chosen = select_version_match(names, host) if names else None
        out[target] = base / chosen if chosen is not None else None
    return out


def case_set_problems(d: Path | None, cases: Iterable[str]) -> list[str]:
    """The tripwire: the stems of `*.stdout.txt` equal the harness's list exactly."""
    if d is None:
        return ["no version directory"]
    present = {p.name.removesuffix(".stdout.txt") for p in d.glob("*.stdout.txt")}
    differ = sorted(present ^ set(cases))
    return [f"{d}: cases {differ} differ from the harness's"] if differ else []


def per_target_reader(
    output_type: str,
    cases: dict[str, list[str]],
    check_meta: Callable[[str, str, dict[str, Any]], list[str]],
    needs_map: bool = False,
) -> Reader:
    """A type read from `<type>/<target>/<version>/<case>.{stdout.txt,meta.json}`."""

    def read(root: Path, host: tuple[int, int, int]) -> list[str]:
        problems = version_map_problems(root / output_type) if needs_map else []
        for target, d in version_dirs(root, output_type, cases, host).items():
            problems += case_set_problems(d, cases[target])
            for case in cases[target] if d is not None else ():
                meta = load_json(d / f"{case}.meta.json", problems)
                if isinstance(meta, dict):
                    problems += [f"{d / case}: {p}" for p in check_meta(target, case, meta)]
        return problems

    return read


# ------------------------------------------------------------------ resize and create


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
_UNITS = {"b": 512, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50,
          "e": 1 << 60}  # fmt: skip


def harness_bytes(text: str) -> int:
    """A size as instar's resize mirror computes it (its suffix table, `b` = 512)."""
    return int(text[:-1]) * _UNITS[text[-1].lower()] if text[-1].isalpha() else int(text)


def mode_of(case: str) -> str | None:
    """The harness's mirror: a case's preallocation mode is in its name."""
    m = re.search(r"prealloc-(off|metadata|falloc|full)$", case)
    return m.group(1) if m else None


def resize_mirror(target: str, case: str, meta: dict[str, Any]) -> list[str]:
    """instar tests/test_resize.py: the mirror keys it asserts (failures, not skips)."""
    problems = []
    start = meta.get("start_size_str")
    end = meta.get("end_spec")
    if not isinstance(start, str) or not isinstance(end, str):
        return [f"start_size_str {start!r} / end_spec {end!r} are not sizes"]
    start_b = harness_bytes(start)
    amount = harness_bytes(end.lstrip("+-"))
    end_b = start_b + amount if end[0] == "+" else start_b - amount if end[0] == "-" else amount
    want = {
        "preallocation": mode_of(case),
        "expected_final_size": end_b,
        "applied_shrink_flag": end_b < start_b and not case.endswith("-no-shrink"),
    }
    for key, value in want.items():
        if key not in meta or meta[key] != value:
            problems.append(f"{key} {meta.get(key)!r} != {value!r}")
    if not case.startswith(f"{start}-"):
        problems.append(f"start_size_str {start!r} is not the start the case's name gives")
    return problems


def create_meta(target: str, case: str, meta: dict[str, Any]) -> list[str]:
    """instar tests/test_create.py: the return codes it skips on, and (our contract since
    issue 13) the preallocation mode in the name."""
    problems = [f"lacks {k}" for k in ("create_return_code", "info_return_code") if k not in meta]
    if meta.get("preallocation") != mode_of(case) or "preallocation" not in meta:
        problems.append(f"preallocation {meta.get('preallocation')!r} != {mode_of(case)!r}")
    return problems


# ------------------------------------------------------------------ rebase and commit


# instar tests/test_rebase.py REBASE_CASES: (case, overlay size, new backing size or None
# for a detach, rebase flags).
REBASE_CASES: dict[str, list[tuple[str, str, str | None, list[str]]]] = {
    "qcow2": [
        ("1M-unsafe-to-default-parent", "1M", "1M", ["-u", "-F", "qcow2"]),
        ("1M-unsafe-to-larger-parent", "1M", "64M", ["-u", "-F", "qcow2"]),
        ("1M-unsafe-detach", "1M", None, ["-u"]),
        ("64M-unsafe-to-default-parent", "64M", "64M", ["-u", "-F", "qcow2"]),
        ("1M-safe-to-default-parent", "1M", "1M", ["-F", "qcow2"]),
        ("1M-safe-detach", "1M", None, []),
    ],
}
# instar tests/test_commit.py COMMIT_CASES: (case, overlay size, explicit base or None,
# seed spec or None).
COMMIT_CASES: dict[str, list[tuple[str, str, str | None, str | None]]] = {
    "qcow2": [
        ("1M-empty-implicit", "1M", None, None),
        ("1M-empty-explicit", "1M", "base.qcow2", None),
        ("64M-empty-implicit", "64M", None, None),
        ("1M-seeded-implicit", "1M", None, "seed-64k"),
        ("1M-seeded-explicit", "1M", "base.qcow2", "seed-64k"),
        ("64M-seeded-implicit", "64M", None, "seed-64k"),
    ],
    "vmdk": [
        ("1M-empty-explicit", "1M", "base.vmdk", None),
        ("1M-seeded-explicit", "1M", "base.vmdk", "seed-64k"),
    ],
}


def _info(path: Path, problems: list[str]) -> dict[str, Any]:
    """A baseline's stdout as the harness's assert_info_equivalent loads it (json.loads)."""
    data = load_json(path, problems)
    if not isinstance(data, dict):
        problems.append(f"{path}: not an info JSON object")
        return {}
    return data


def _skips(meta: Any, keys: Iterable[str]) -> bool:
    """The harness skips a case whose meta is missing or has a non-zero return code."""
    return not isinstance(meta, dict) or any(meta.get(k, 0) != 0 for k in keys)


def rebase_reader(root: Path, host: tuple[int, int, int]) -> list[str]:
    """instar tests/test_rebase.py: the version dir by `_pick_baseline_version_dir`, the
    tripwire, `rebase_return_code` and `info_return_code`, and the baseline as
    assert_info_equivalent compares it: the overlay is `$FILENAME`, the new backing file
    `$NEXT` (the harness replaces only str(base) and str(new) in its own output) and its
    relative name literal."""
    cases = {t: [c[0] for c in cs] for t, cs in REBASE_CASES.items()}
    problems: list[str] = []
    for target, d in version_dirs(root, "rebase-info-json", cases, host).items():
        problems += case_set_problems(d, cases[target])
        for name, _size, backing, _flags in REBASE_CASES[target] if d is not None else ():
            meta = load_json(d / f"{name}.meta.json", problems)
            for key in ("rebase_return_code", "info_return_code"):
                if isinstance(meta, dict) and key not in meta:
                    problems.append(f"{d / name}: lacks {key}")
            if _skips(meta, ("rebase_return_code", "info_return_code")):
                continue
            info = _info(d / f"{name}.stdout.txt", problems)
            want = {"filename": "$FILENAME", "backing-filename": None,
                    "full-backing-filename": None}  # fmt: skip
            if backing is not None:
                want["backing-filename"] = f"{target}-{name}-next.{target}"
                want["full-backing-filename"] = "$NEXT"
            for key, value in want.items():
                if info.get(key) != value:
                    problems.append(f"{d / name}: {key} {info.get(key)!r} != {value!r}")
    return problems


def commit_dirs(
    root: Path, target: str, host: tuple[int, int, int]
) -> tuple[Path | None, Path | None]:
    """instar tests/test_commit.py `_baseline_dirs`: both roots must exist; the version is
    chosen among the overlay root's names and indexes both trees."""
    overlay_root = root / "commit-overlay-info-json" / target
    backing_root = root / "commit-backing-info-json" / target
    if not overlay_root.exists() or not backing_root.exists():
        return None, None
    names = [p.name for p in overlay_root.iterdir() if p.is_dir()]
    if not names:
        return None, None
    chosen = select_version_match(names, host)
    if chosen is None:
        chosen = sorted(names, key=lambda n: tuple(int(p) for p in n.split(".")))[-1]
    return overlay_root / chosen, backing_root / chosen


COMMIT_KEYS = ("commit_return_code", "overlay_info_return_code", "backing_info_return_code")


def commit_reader(root: Path, host: tuple[int, int, int]) -> list[str]:
    """instar tests/test_commit.py: the tripwire on the overlay's version dir, the three
    return codes (from the overlay's meta only), and both baselines as compared: the
    overlay's `filename` is `$FILENAME` and its backing file `$BASE` (named `base.<ext>`),
    the backing baseline's `filename` is `$BASE` (tmp_path=None: nothing else is put back)."""
    problems: list[str] = []
    for target, cases in COMMIT_CASES.items():
        overlay, backing = commit_dirs(root, target, host)
        if overlay is None or backing is None:
            problems.append(f"{target}: no version directory in both commit trees")
            continue
        problems += case_set_problems(overlay, [c[0] for c in cases])
        for name, *_ in cases:
            meta = load_json(overlay / f"{name}.meta.json", problems)
            problems += [f"{overlay / name}: lacks {k}" for k in COMMIT_KEYS
                         if isinstance(meta, dict) and k not in meta]  # fmt: skip
            if _skips(meta, COMMIT_KEYS):
                continue
            top = _info(overlay / f"{name}.stdout.txt", problems)
            bottom = _info(backing / f"{name}.stdout.txt", problems)
            want = [(overlay, top, "filename", "$FILENAME"),
                    (overlay, top, "full-backing-filename", "$BASE"),
                    (overlay, top, "backing-filename", f"base.{target}"),
                    (backing, bottom, "filename", "$BASE")]  # fmt: skip
            for d, info, key, value in want:
                if info.get(key) != value:
                    problems.append(f"{d / name}: {key} {info.get(key)!r} != {value!r}")
    return problems


# ------------------------------------------------------- the image corpus's profile types

TESTDATA_ROOT = "$TESTDATA_ROOT"  # instar tests/helpers/comparators.py


def manifest_images(root: Path) -> list[dict[str, Any]]:
    """The corpus manifest's entries (instar's load_manifest_images reads its own
    tests/manifest.json; ours is expected-outputs/images/manifest.json, the same shape)."""
    data = json.loads((root / "images" / "manifest.json").read_text(encoding="utf-8"))
    return [e for e in data.get("images", []) if isinstance(e, dict)]


def safe_ids(root: Path) -> list[str]:
    """instar `_get_safe_images_from_manifest` (info_safe) and test_map: `safety == 'safe'`."""
    return [e["id"] for e in manifest_images(root) if e.get("safety") == "safe"]


def snapshot_ids(root: Path) -> list[str]:
    """instar tests/test_snapshot.py: entries whose tags contain 'snapshots'."""
    return [e["id"] for e in manifest_images(root) if "snapshots" in e.get("tags", [])]


def host_profile(type_dir: Path, host: tuple[int, int, int]) -> str | None:
    """instar `get_profile_for_installed_qemu`: the map's version_to_profile, matched."""
    vmap = json.loads((type_dir / "version-map.json").read_text())
    v2p = vmap.get("version_to_profile", {})
    if not v2p:
        return next(iter(vmap["profiles"]), None)
    key = select_version_match(v2p.keys(), host)
    return next(iter(v2p.values())) if key is None else v2p[key]


def expected_output(type_dir: Path, profile: str, image_id: str, testdata_root: str) -> str:
    """instar `get_expected_output`: the profile's stdout, `$TESTDATA_ROOT` substituted."""
    path = type_dir / "profiles" / profile / f"{image_id}.stdout.txt"
    return path.read_text().replace(TESTDATA_ROOT, testdata_root)


def format_human_size(size_bytes: int) -> str:
    """instar comparators.py `_format_human_size`, transcribed."""
    if size_bytes == 0:
        return "0"
    for unit_name, unit_bytes in [("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2),
                                  ("KiB", 1024)]:  # fmt: skip
        if size_bytes >= unit_bytes:
            value = size_bytes / unit_bytes
            if value >= 100.0:
                return f"{round(value)} {unit_name}"
            if value >= 10.0:
                rounded = round(value * 10.0) / 10.0
                if rounded == int(rounded):
                    return f"{int(rounded)} {unit_name}"
                return f"{rounded:.1f} {unit_name}"
            if value >= 1.0:
                rounded = round(value * 100.0) / 100.0
                if rounded == int(rounded):
                    return f"{int(rounded)} {unit_name}"
                return f"{f'{rounded:.2f}'.rstrip('0').rstrip('.')} {unit_name}"
            rounded = round(value * 1000.0) / 1000.0
            return f"{f'{rounded:.3f}'.rstrip('0').rstrip('.')} {unit_name}"
    return f"{size_bytes}"


def _substitute_json(data: Any, disk_size: int) -> Any:
    if isinstance(data, dict):
        return {k: disk_size if k == "actual-size" else _substitute_json(v, disk_size)
                for k, v in data.items()}  # fmt: skip
    if isinstance(data, list):
        return [_substitute_json(item, disk_size) for item in data]
    return data


def substitute_actual_size(expected: str, disk_size: int) -> str:
    """instar comparators.py `substitute_actual_size`: JSON is re-dumped with indent=4 after
    every `actual-size` is replaced; otherwise every `disk size:` line is rewritten."""
    try:
        data = json.loads(expected)
    except json.JSONDecodeError:
        pattern = r"^(\s*disk size:\s*).*$"
        return re.sub(pattern, rf"\g<1>{format_human_size(disk_size)}", expected, flags=re.M)
    return json.dumps(_substitute_json(data, disk_size), indent=4) + "\n"


def _return_code(meta_path: Path, problems: list[str]) -> int | None:
    """`json.load(meta).get('return_code', 0)`; our contract: the key is there."""
    meta = load_json(meta_path, problems)
    if not isinstance(meta, dict):
        return None
    if "return_code" not in meta:
        problems.append(f"{meta_path}: no return_code")
        return None
    rc = meta["return_code"]
    return rc if isinstance(rc, int) else None


def info_safe_reader(output_type: str) -> Reader:
    """instar tests/test_info_safe.py: a scenario per (profile in sorted `profiles`, safe
    image) whose profile stdout and meta exist and whose meta's return_code is 0. Our
    contract: every safe image has both files in every profile; the profile names parse
    to `--qemu-version X.Y`; the text still parses as JSON once `$TESTDATA_ROOT` is
    substituted (or the harness would take the human branch)."""

    def read(root: Path, host: tuple[int, int, int]) -> list[str]:
        type_dir = root / output_type
        problems = version_map_problems(type_dir)
        if problems:
            return problems
        vmap = json.loads((type_dir / "version-map.json").read_text())
        for profile in sorted(vmap["profiles"]):
            parts = profile.replace("profile-", "").split("-")
            if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
                problems.append(f"{profile}: gives no --qemu-version X.Y")
            d = type_dir / "profiles" / profile
            for image_id in safe_ids(root):
                out, meta = d / f"{image_id}.stdout.txt", d / f"{image_id}.meta.json"
                if not out.exists() or not meta.exists():
                    problems.append(f"{d / image_id}: no stdout or meta: the harness skips it")
                    continue
                if _return_code(meta, problems) != 0:
                    continue
                text = expected_output(type_dir, profile, image_id, "/srv/testdata")
                if output_type.endswith("-json"):
                    try:
                        json.loads(text)
                    except json.JSONDecodeError as exc:
                        problems.append(f"{out}: no JSON once the root is substituted: {exc}")
        return problems

    return read


def map_reader(output_type: str) -> Reader:
    """instar tests/test_map.py: safe images; the raw meta at
    `<type>/<manifest format>/<first version_to_profile key>/<id>.meta.json` (missing:
    skipped; return_code != 0: skipped); the host's profile's stdout; the cross-profile test's
    `.stdout.txt` and `.meta.json` in every profile; non-empty `profiles` (and, for human,
    `version_to_profile`). Our contract: none of it missing."""

    def read(root: Path, host: tuple[int, int, int]) -> list[str]:
        type_dir = root / output_type
        problems = version_map_problems(type_dir)
        if problems:
            return problems
        vmap = json.loads((type_dir / "version-map.json").read_text())
        any_version = next(iter(vmap["version_to_profile"]))
        chosen = host_profile(type_dir, host)
        formats = {e["id"]: e.get("format", "unknown") for e in manifest_images(root)}
        for image_id in safe_ids(root):
            meta = type_dir / formats[image_id] / any_version / f"{image_id}.meta.json"
            if not meta.exists():
                problems.append(f"{meta}: missing: the harness skips {image_id}")
                continue
            if _return_code(meta, problems) != 0:
                continue
            for profile in vmap["profiles"]:
                d = type_dir / "profiles" / profile
                for name in (f"{image_id}.stdout.txt", f"{image_id}.meta.json"):
                    if not (d / name).exists():
                        problems.append(f"{d / name}: missing")
            if chosen is None or not (type_dir / "profiles" / chosen).is_dir():
                problems.append(f"{type_dir}: the host's profile {chosen} has no directory")
        return problems

    return read


def snapshot_reader(root: Path, host: tuple[int, int, int]) -> list[str]:
    """instar tests/test_snapshot.py: images tagged `snapshots`, the host's profile's stdout
    (a missing one skips); non-empty `profiles` and a `version_to_profile`. Our contract:
    every such image in every profile."""
    type_dir = root / "snapshot-list-human"
    problems = version_map_problems(type_dir)
    if problems:
        return problems
    vmap = json.loads((type_dir / "version-map.json").read_text())
    ids = snapshot_ids(root)
    if not ids:
        return [f"{root}/images/manifest.json: no image tagged snapshots"]
    for profile in vmap["profiles"]:
        for image_id in ids:
            out = type_dir / "profiles" / profile / f"{image_id}.stdout.txt"
            if not out.exists():
                problems.append(f"{out}: missing: the harness skips {image_id}")
    return problems


def layout_reader(output_type: str, ids: Callable[[Path], list[str]]) -> Reader:
    """A type the harness names (COMMAND_OUTPUT_DIRS) but reads nowhere (check, compare):
    the profile layout every reader of the others uses, a meta with return_code per id."""

    def read(root: Path, host: tuple[int, int, int]) -> list[str]:
        type_dir = root / output_type
        problems = version_map_problems(type_dir)
        if problems:
            return problems
        profile = host_profile(type_dir, host)
        for image_id in ids(root):
            meta = type_dir / "profiles" / str(profile) / f"{image_id}.meta.json"
            if not meta.exists():
                problems.append(f"{meta}: missing")
            else:
                _return_code(meta, problems)
        return problems

    return read


def all_ids(root: Path) -> list[str]:
    return [e["id"] for e in manifest_images(root)]


def pair_ids(root: Path) -> list[str]:
    data = json.loads((root / "images" / "manifest.json").read_text(encoding="utf-8"))
    return [p["id"] for p in data.get("compare_pairs", [])]


CONTRACTS: dict[str, Reader] = {
    "resize-info-json": per_target_reader("resize-info-json", RESIZE_CASES, resize_mirror),
    "create-info-json": per_target_reader(
        "create-info-json", CREATE_CASES, create_meta, needs_map=True
    ),
    "rebase-info-json": rebase_reader,
    "commit-overlay-info-json": commit_reader,  # reads commit-backing-info-json too
    "qemu-img-human": info_safe_reader("qemu-img-human"),
    "qemu-img-json": info_safe_reader("qemu-img-json"),
    "map-human": map_reader("map-human"),
    "map-json": map_reader("map-json"),
    "snapshot-list-human": snapshot_reader,
    "check-human": layout_reader("check-human", all_ids),
    "check-json": layout_reader("check-json", all_ids),
    "compare-human": layout_reader("compare-human", pair_ids),
}
