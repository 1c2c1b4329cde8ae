"""The consuming harness's readers of amend-info-json, bitmap-info-json and dd-info-json,
as it reads them (tests/consumer.py holds the shared parts: version choice, tripwire).

* amend (instar tests/test_amend.py, `_BASELINE_CASES`): `amend-info-json/qcow2/<version>/`
  picked by `_pick_baseline_version_dir`; exactly the six non-backing cases; skips on
  `create_return_code`, `amend_return_code`, `info_return_code`.
* bitmap (tests/test_bitmap.py, `BITMAP_BASELINE_CASES`): `bitmap-info-json/qcow2/<version>/`;
  the eight cases; skips on `create_return_code`, any of `op_return_codes`,
  `info_return_code`.
* dd (tests/test_dd_baselines.py, `DD_CASES`): `dd-info-json/version-map.json`, the profile
  `get_profile_for_installed_qemu` picks, `profiles/<profile>/<case>.{meta.json,stdout.txt}`;
  the tripwire on the first profile directory in sorted order; skips on `dd_return_code`.

Each harness reads a return code with `meta.get(key, 0)`, so a key we failed to write
would read as success: the contract is that every key it reads is there. Where the codes
let it compare, it loads the stdout as JSON and expects the literal `$FILENAME` in every
`filename` (helpers/info_json.py substitutes only the live side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consumer import (
    Reader,
    case_set_problems,
    load_json,
    select_version_match,
    version_dirs,
    version_map_problems,
)

__all__ = ["AMEND_CASES", "BITMAP_CASES", "CONTRACTS", "DD_CASES"]

AMEND_CASES = ["upgrade-plain", "upgrade-with-lazy", "downgrade-plain", "lazy-on", "lazy-off",
               "noop"]  # fmt: skip
BITMAP_CASES: dict[str, list[list[str]]] = {
    "add-default": [["--add", "b0"]],
    "add-granularity": [["--add", "-g", "131072", "b0"]],
    "add-disabled": [["--add", "--disable", "b0"]],
    "disable": [["--add", "b0"], ["--disable", "b0"]],
    "enable": [["--add", "b0"], ["--disable", "b0"], ["--enable", "b0"]],
    "clear": [["--add", "b0"], ["--clear", "b0"]],
    "two-bitmaps": [["--add", "b0"], ["--add", "-g", "131072", "b1"]],
    "remove-last": [["--add", "b0"], ["--remove", "b0"]],
}
DD_CASES = [
    "1M-raw-whole-raw", "1M-raw-whole-qcow2", "1M-raw-whole-vmdk", "1M-raw-whole-vhd",
    "1M-raw-whole-vhdx", "1M-qcow2-whole-raw", "1M-raw-bs1000-count3-raw",
    "1M-raw-bs1000-count3-qcow2", "1M-raw-bs1000-count3-vmdk", "1M-raw-bs1000-count3-vhd",
    "1M-raw-bs1000-count3-vhdx", "1M-raw-bs65536-skip2-count4-raw",
    "1M-raw-bs65536-skip2-count4-qcow2", "1M-raw-count0-raw", "1M-raw-count0-qcow2",
    "1M-raw-count0-vmdk", "1M-raw-count0-vhd", "1M-raw-count0-vhdx",
]  # fmt: skip


def _filenames(node: Any) -> list[Any]:
    """Every `filename` value at any depth (the normaliser's own walk)."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "filename"] + [
            f for v in node.values() for f in _filenames(v)
        ]
    return [f for v in node for f in _filenames(v)] if isinstance(node, list) else []


def _compared(
    d: Path, case: str, meta: dict[str, Any], codes: list[str], skipped: bool = False
) -> list[str]:
    """What the harness needs of one case's meta and, when it compares (no code it reads is
    non-zero, nothing else made it skip), of its stdout."""
    problems = [f"lacks {k}" for k in codes if k not in meta]
    if problems or skipped or any(meta[k] != 0 for k in codes):
        return problems  # the harness skips the case: nothing more is read
    info = load_json(d / f"{case}.stdout.txt", problems)
    if not isinstance(info, dict):
        return problems or ["the stdout is no JSON object"]
    names = _filenames(info)
    if not names or any(n != "$FILENAME" for n in names):
        problems.append(f"filename values {names} are not the literal $FILENAME")
    return problems


def _version_dir_reader(output_type: str, cases: list[str], codes: list[str],
                        ops: dict[str, list[list[str]]] | None = None) -> Reader:  # fmt: skip
    def read(root: Path, host: tuple[int, int, int]) -> list[str]:
        d = version_dirs(root, output_type, ["qcow2"], host)["qcow2"]
        problems = case_set_problems(d, cases)
        for case in cases if d is not None else ():
            meta = load_json(d / f"{case}.meta.json", problems)
            if not isinstance(meta, dict):
                continue
            found, skipped = [], False
            if ops is not None:  # any(rc != 0 for rc in meta.get('op_return_codes', []))
                rcs = meta.get("op_return_codes")
                if not isinstance(rcs, list) or len(rcs) != len(ops[case]):
                    found.append(f"op_return_codes {rcs!r}: not one code per op")
                skipped = not isinstance(rcs, list) or any(rc != 0 for rc in rcs)
            found += _compared(d, case, meta, codes, skipped)
            problems += [f"{d / case}: {p}" for p in found]
        return problems

    return read


def dd_profile(vmap: dict[str, Any], host: tuple[int, int, int]) -> str:
    """instar tests/base.py `get_profile_for_installed_qemu`, transcribed."""
    v2p = vmap.get("version_to_profile", {})
    if not v2p:
        return str(next(iter(vmap["profiles"])))
    key = select_version_match(v2p.keys(), host)
    return str(next(iter(v2p.values())) if key is None else v2p[key])


def read_dd(root: Path, host: tuple[int, int, int]) -> list[str]:
    type_dir = root / "dd-info-json"
    problems = version_map_problems(type_dir)
    vmap = load_json(type_dir / "version-map.json", problems)
    profiles_dir = type_dir / "profiles"
    if problems or not isinstance(vmap, dict) or not profiles_dir.is_dir():
        return problems or [f"{profiles_dir}: absent"]
    problems += case_set_problems(sorted(profiles_dir.iterdir())[0], DD_CASES)
    d = profiles_dir / dd_profile(vmap, host)
    for case in DD_CASES:
        meta = load_json(d / f"{case}.meta.json", problems)
        if isinstance(meta, dict):
            problems += [f"{d / case}: {p}" for p in _compared(d, case, meta, ["dd_return_code"])]
    return problems


AMEND_CODES = ["create_return_code", "amend_return_code", "info_return_code"]
BITMAP_CODES = ["create_return_code", "info_return_code"]  # and each of op_return_codes
CONTRACTS: dict[str, Reader] = {
    "amend-info-json": _version_dir_reader("amend-info-json", AMEND_CASES, AMEND_CODES),
    "bitmap-info-json": _version_dir_reader(
        "bitmap-info-json", list(BITMAP_CASES), BITMAP_CODES, BITMAP_CASES
    ),
    "dd-info-json": read_dd,
}
