"""The consuming harness's reader of measure-human and measure-json, as it reads them
(instar tests/test_measure.py; tests/consumer.py holds the shared parts).

What it reads, whatever the host's qemu-img (measure has no `--qemu-version`):

* the expected stdout from the FIRST profile of `measure-<kind>/version-map.json`
  (`next(iter(profiles['profiles']))`), `profiles/<profile>/<case>.stdout.txt`, compared
  as an exact string (no substitution: measure prints no path);
* size mode (MEASURE_SIZE_CASES): the meta from the first version directory of `_size/` in
  lexicographic order (`sorted(_size.iterdir())[0]`), skipped when its `return_code` is not
  0; the tripwire: the stems under `measure-json/_size/<first version_to_profile key>/`
  equal the 21 names;
* source mode: every manifest image with `safety == 'safe'` (skip_qemu_img not filtered)
  into `raw` and `qcow2`, case `<id>__<target>`; the meta at
  `measure-<kind>/<manifest format>/<first version_to_profile key>/<case>.meta.json`
  (missing: skipped; `return_code` not 0: skipped);
* `test_measure_baselines_present`: measure-json's map has non-empty `profiles` and
  `version_to_profile` (an assertion, not a skip).

Our contract beyond a skip: every meta it reads is there with its `return_code`, every
stdout it compares is there, and both come from the behaviour it compares against: the
stdout recorded in the version directory it takes a meta from is the first profile's (so a
profile boundary between the version whose metas it reads and the first profile's versions
shows here). Each meta's argv is the consumer's generator's (PLAN-measure phase 6).
"""

from __future__ import annotations

import json
from pathlib import Path

from consumer import (
    Reader,
    _return_code,
    case_set_problems,
    manifest_images,
    safe_ids,
    version_map_problems,
)

__all__ = ["CONTRACTS", "MEASURE_SIZE_CASES", "TARGETS", "first_reads"]

# instar tests/test_measure.py MEASURE_SIZE_CASES: (case, size, target, options).
MEASURE_SIZE_CASES: list[tuple[str, str, str, list[str]]] = [
    ("1M-raw", "1M", "raw", []), ("64M-raw", "64M", "raw", []), ("1G-raw", "1G", "raw", []),
    ("1T-raw", "1T", "raw", []),
    ("1M-qcow2-default", "1M", "qcow2", []), ("64M-qcow2-default", "64M", "qcow2", []),
    ("1G-qcow2-default", "1G", "qcow2", []), ("1T-qcow2-default", "1T", "qcow2", []),
    ("1G-qcow2-cs-512", "1G", "qcow2", ["cluster_size=512"]),
    ("1G-qcow2-cs-4k", "1G", "qcow2", ["cluster_size=4k"]),
    ("1G-qcow2-cs-64k", "1G", "qcow2", ["cluster_size=64k"]),
    ("1G-qcow2-cs-2M", "1G", "qcow2", ["cluster_size=2M"]),
    ("1G-qcow2-rb-1", "1G", "qcow2", ["refcount_bits=1"]),
    ("1G-qcow2-rb-8", "1G", "qcow2", ["refcount_bits=8"]),
    ("1G-qcow2-rb-64", "1G", "qcow2", ["refcount_bits=64"]),
    ("1G-qcow2-extended-l2", "1G", "qcow2", ["extended_l2=on,cluster_size=64k"]),
    ("64M-qcow2-extended-l2", "64M", "qcow2", ["extended_l2=on,cluster_size=64k"]),
    ("1G-qcow2-compat-v2", "1G", "qcow2", ["compat=0.10"]),
    ("1G-qcow2-prealloc-metadata", "1G", "qcow2", ["preallocation=metadata"]),
    ("1G-qcow2-prealloc-falloc", "1G", "qcow2", ["preallocation=falloc"]),
    ("1G-qcow2-prealloc-full", "1G", "qcow2", ["preallocation=full"]),
]  # fmt: skip
TARGETS = ("raw", "qcow2")


def first_reads(type_dir: Path) -> tuple[str, str, str | None]:
    """(the profile every host is compared against, the version directory of the source
    metas, the `_size` directory of the size metas), as the harness takes them."""
    vmap = json.loads((type_dir / "version-map.json").read_text())
    size_dir = type_dir / "_size"
    firsts = sorted(size_dir.iterdir()) if size_dir.is_dir() else []
    return (
        next(iter(vmap["profiles"])),
        next(iter(vmap["version_to_profile"])),
        firsts[0].name if firsts else None,
    )


def _argv(kind: str, size: tuple[str, str, list[str]] | None, target: str,
          path: str = "") -> list[str]:  # fmt: skip
    """The generator's argv: `--size S -O T [-o O]... --output=json` as the harness documents
    it; a source `measure [--output=json] -O T IMG` (build_cmd; human: no --output)."""
    out = ["--output=json"] if kind == "json" else []
    if size is not None:
        s, t, options = size
        return ["qemu-img", "measure", "--size", s, "-O", t,
                *(w for o in options for w in ("-o", o)), *out]  # fmt: skip
    return ["qemu-img", "measure", *out, "-O", target, f"$TESTDATA_ROOT/{path}"]


def _compared(type_dir: Path, profile: str, version_dir: Path, case: str,
              argv: list[str], problems: list[str]) -> None:  # fmt: skip
    """One case the harness reads the meta of in `version_dir` and compares against
    `profile`: the meta, its return code and argv; unless it skips, the profile's stdout,
    equal to the one recorded beside the meta."""
    meta_path = version_dir / f"{case}.meta.json"
    if not meta_path.exists():
        problems.append(f"{meta_path}: missing: the harness skips {case}")
        return
    rc = _return_code(meta_path, problems)
    meta = json.loads(meta_path.read_text())
    if meta.get("measure_argv") != argv:
        problems.append(f"{meta_path}: measure_argv {meta.get('measure_argv')} != {argv}")
    if rc != 0:
        return  # skipped by the harness: nothing compared
    expected = type_dir / "profiles" / profile / f"{case}.stdout.txt"
    if not expected.exists():
        problems.append(f"{expected}: missing: the harness skips {case}")
        return
    beside = version_dir / f"{case}.stdout.txt"
    if not beside.exists() or beside.read_text() != expected.read_text():
        problems.append(
            f"{expected}: is not what {version_dir.name} printed, whose meta the harness reads "
            f"for {case}: it compares every host against {profile}"
        )


def measure_reader(kind: str) -> Reader:
    def read(root: Path, host: tuple[int, int, int]) -> list[str]:
        type_dir = root / f"measure-{kind}"
        problems = version_map_problems(type_dir)  # measure-json's: test_..._present
        if problems:
            return problems
        profile, any_version, size_first = first_reads(type_dir)
        if kind == "json":  # test_size_cases_match_baselines (our contract: the dir is there)
            names = [c[0] for c in MEASURE_SIZE_CASES]
            problems += case_set_problems(type_dir / "_size" / any_version, names)
        if size_first is None:
            problems.append(f"{type_dir / '_size'}: no version directory")
        else:
            for name, size, target, options in MEASURE_SIZE_CASES:
                argv = _argv(kind, (size, target, options), target)
                _compared(type_dir, profile, type_dir / "_size" / size_first, name, argv,
                          problems)  # fmt: skip
        formats = {e["id"]: e.get("format", "unknown") for e in manifest_images(root)}
        paths = {e["id"]: e["path"] for e in manifest_images(root)}
        for image_id in safe_ids(root):
            for target in TARGETS:
                d = type_dir / formats[image_id] / any_version
                argv = _argv(kind, None, target, paths[image_id])
                _compared(type_dir, profile, d, f"{image_id}__{target}", argv, problems)
        return problems

    return read


CONTRACTS: dict[str, Reader] = {
    "measure-human": measure_reader("human"),
    "measure-json": measure_reader("json"),
}
