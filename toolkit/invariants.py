"""The fuzzer's invariants as small pure functions over CaseResults, plus cross-version drift.

The results come from `FUZZ_SPEC`: create -> info-before -> resize -> info (the last two
run whenever create succeeded, so a rejected resize is still followed by an info).

Rounding rules for I1, checked on qemu-img 5.2.0, 7.2.22, 10.0.2, 10.0.13, 11.1.2 and
11.1.3 (all six behave the same):

* create rounds every size up to a multiple of 512 first (raw `create 1000` writes a
  1024-byte file; qcow2, vhdx, vmdk, vpc with force_size=on report 1024).
* vpc (vhd) without force_size=on then grows the sector count until a CHS geometry
  covers it (VHD spec / block/vpc.c calculate_geometry: 17, 31 or 63 sectors per track,
  4..16 heads), so `create 1M` reports 1079296 (31 x 4 x 17 sectors) and `create 34916`
  reports 69632. Size 0 stays 0. The search only ever adds sectors, so the result is
  never below the 512-rounded size (and stays within a few cylinders of it).
* vpc subformat=fixed reports 512 bytes more than the dynamic image of the same size,
  with or without force_size: its virtual-size is the file length, footer included
  (`create -o subformat=fixed 1M`: file and virtual-size 1079808).
* qcow2 resize rejects a final size that is not a multiple of 512 ("The new size must be
  a multiple of 512"); an accepted resize reports the final size exactly.
* raw resize sets the file length to the final size exactly (growing an empty file to
  less than 512 bytes leaves 512: file-posix allocates the first block), and `info`
  reports the length rounded up to 512 (e.g. resize to +1 from 1M: length 1048577,
  virtual-size 1049088) on every version we have, not only some.
* A relative resize (`+N`, `-N`) applies to the current virtual size as `info` reports
  it, i.e. after the create rounding above.
* vmdk, vhd and vhdx do not support resize on any version we have.
* Size 0 oddities (I1 is then not applicable): vmdk and fixed vhd are created but cannot
  be opened ("Unsupported image type", "Error reading dynamic VHD header"); vhdx writes
  8 whole blocks (65 MB, 513 MB with block_size=64M), so the strategies never start one at 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from toolkit.commands import COMMANDS, CommandSpec
from toolkit.formats import split_option_string
from toolkit.model import CaseResult, StepResult
from toolkit.sizes import EndSpec, SizeError, grammar_for, parse_end_spec, parse_size
from toolkit.whitelist import mask

SECTOR = 512
VHD_MAX_GEOMETRY = 65535 * 16 * 255

# The resize command's own steps, plus an info before the resize; resize and the final
# info need only create, so a rejected resize is still followed by an info.
_create, _resize, _info = COMMANDS["resize"].steps
FUZZ_SPEC = CommandSpec(
    "resize",
    "resize-info-json",
    (
        _create,
        replace(_info, name="info-before", marker="---INFO BEFORE STDERR---", requires=("create",)),
        replace(_resize, requires=("create",)),
        replace(_info, requires=("create",)),
    ),
    needs_end_spec=True,
)
INVARIANTS = {"I1": "exact size", "I2": "shrink guard", "I3": "rejected resize is safe",
              "I4": "direction", "I5": "grammar", "I6": "determinism"}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    invariant: str
    version: str
    ok: bool | None  # None: not applicable to this example
    detail: str = ""


@dataclass(frozen=True)
class Drift:
    """Versions disagree on one aspect of one step; `groups` lists versions per distinct value."""

    format: str
    step: str
    aspect: str  # "rc", "stdout" or "stderr"
    groups: tuple[tuple[str, ...], ...]

    @property
    def key(self) -> str:
        groups = " | ".join(",".join(g) for g in self.groups)
        return f"drift {self.format} {self.step}.{self.aspect} {groups}"


def round_up(n: int, to: int = SECTOR) -> int:
    return -(-n // to) * to


def _geometry(sectors: int) -> int:
    """cylinders x heads x sectors-per-track that block/vpc.c picks for `sectors`."""
    sectors = min(sectors, VHD_MAX_GEOMETRY)
    spt, heads = (255, 16) if sectors >= 65535 * 16 * 63 else (17, 0)
    cth = sectors // spt
    if spt == 17:
        heads = max(-(-cth // 1024), 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = sectors // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = sectors // spt
    return (cth // heads) * heads * spt


def created_size(fmt: str, options: Sequence[str], size: int) -> int:
    """The virtual size `create` gives `size` bytes (rules in the module docstring)."""
    sectors = round_up(size) // SECTOR
    opts = {k: v for text in options for k, v in split_option_string(text)}
    if fmt != "vhd":
        return sectors * SECTOR
    if opts.get("force_size") != "on" and sectors:
        total, i, chs = min(VHD_MAX_GEOMETRY, sectors), 0, 0
        while total > chs:
            chs = _geometry(total + i)
            i += 1
        sectors = sectors if chs == VHD_MAX_GEOMETRY else chs
    footer = SECTOR if opts.get("subformat") == "fixed" else 0  # info counts a fixed footer
    return sectors * SECTOR + footer


def resized_size(fmt: str, options: Sequence[str], final: int) -> int:
    if fmt == "raw":
        return round_up(final)
    if fmt == "qcow2":
        return final  # anything but a multiple of 512 must have been rejected
    return created_size(fmt, options, final)


def info_json(step: StepResult) -> dict[str, Any] | None:
    if step.return_code != 0 or step.timed_out:
        return None
    try:
        data = json.loads(step.stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _vsize(step: StepResult) -> int | None:
    info = info_json(step)
    size = info.get("virtual-size") if info else None
    return size if isinstance(size, int) else None


def _parsed(r: CaseResult) -> tuple[int, EndSpec] | None:
    grammar = grammar_for(r.binary.version)
    try:
        assert r.case.end_spec is not None
        return parse_size(r.case.start_size, grammar), parse_end_spec(r.case.end_spec, grammar)
    except SizeError:
        return None


def _verdict(inv: str, r: CaseResult, ok: bool | None, detail: str = "") -> Verdict:
    return Verdict(inv, r.binary.version, ok, detail)


def i1_exact_size(r: CaseResult) -> Verdict:
    parsed, before, after = _parsed(r), _vsize(r.step("info-before")), _vsize(r.step("info"))
    if parsed is None or before is None:
        return _verdict("I1", r, None)
    start, end = parsed
    opts = r.case.create_options
    want = created_size(r.case.format, opts, start)
    if before != want:
        return _verdict("I1", r, False, f"create {start}: virtual-size {before}, expected {want}")
    if r.step("resize").return_code != 0 or after is None:
        return _verdict("I1", r, True)
    final = end.final_size(before)
    want = resized_size(r.case.format, opts, final)
    ok = after == want
    return _verdict("I1", r, ok, "" if ok else f"resize to {final}: virtual-size {after}, "
                    f"expected {want}")  # fmt: skip


def i2_shrink_guard(r: CaseResult) -> Verdict:
    parsed, resize = _parsed(r), r.step("resize")
    if parsed is None or not resize.ran or r.applied_shrink_flag:
        return _verdict("I2", r, None)
    start, end = parsed
    final = end.final_size(start)
    if final >= start:
        return _verdict("I2", r, None)
    ok = resize.return_code != 0
    return _verdict("I2", r, ok, "" if ok else f"shrink {start} -> {final} without --shrink "
                    "returned 0")  # fmt: skip


def i3_rejected_resize_safe(r: CaseResult) -> Verdict:
    before_step, resize = r.step("info-before"), r.step("resize")
    before = info_json(before_step)
    if not resize.ran or resize.return_code == 0 or before is None:
        return _verdict("I3", r, None)
    after = info_json(r.step("info"))
    fmt = r.case.format
    problems = []
    if after is None:
        problems.append("the image no longer opens")
    elif mask(before, fmt) != mask(after, fmt):
        changed = sorted(k for k in set(before) | set(after) if mask(before.get(k), fmt)
                         != mask(after.get(k), fmt))  # fmt: skip
        problems.append(f"info changed: {', '.join(changed)}")
    if before_step.image_bytes != resize.image_bytes:
        problems.append(f"file length {before_step.image_bytes} -> {resize.image_bytes}")
    return _verdict("I3", r, not problems, "; ".join(problems))


def i4_direction(r: CaseResult) -> Verdict:
    parsed, before, after = _parsed(r), _vsize(r.step("info-before")), _vsize(r.step("info"))
    if parsed is None or before is None or after is None or r.step("resize").return_code != 0:
        return _verdict("I4", r, None)
    target = parsed[1].final_size(before)
    if target == before:
        return _verdict("I4", r, None)
    grow = target > before
    ok = after >= before if grow else after <= before
    what = "grow" if grow else "shrink"
    return _verdict("I4", r, ok, "" if ok else f"{what} {before} -> {target} gave {after}")


def fingerprint(r: CaseResult) -> tuple[tuple[Any, ...], ...]:
    """What a run's artefacts are made of, after normalisation and the whitelist."""
    return tuple(
        (s.name, s.argv, s.return_code, s.timed_out, _masked_stdout(s, r.case.format), s.stderr)
        for s in r.steps
    )


def _masked_stdout(step: StepResult, fmt: str) -> str:
    info = info_json(step) if step.name.startswith("info") else None
    return step.stdout if info is None else json.dumps(mask(info, fmt), sort_keys=True)


def i6_determinism(a: CaseResult, b: CaseResult) -> Verdict:
    fa, fb = fingerprint(a), fingerprint(b)
    if fa == fb:
        return _verdict("I6", a, True)
    diff = next(f"{x[0]} differs" for x, y in zip(fa, fb, strict=True) if x != y)
    return _verdict("I6", a, False, f"two runs of the same example: {diff}")


def check_run(r: CaseResult) -> list[Verdict]:
    return [i1_exact_size(r), i2_shrink_guard(r), i3_rejected_resize_safe(r), i4_direction(r)]


def drift(results: Sequence[CaseResult]) -> list[Drift]:
    """Differences between versions running the same case (one result per version)."""
    if len(results) < 2:
        return []
    found = []
    for name in ("create", "resize", "info"):
        steps = [(r.binary.version, r.step(name), r.case.format) for r in results]
        aspects = {
            "rc": [(v, repr(s.return_code)) for v, s, _ in steps],
            "stdout": [(v, _masked_stdout(s, f)) for v, s, f in steps if s.ran],
            "stderr": [(v, s.stderr) for v, s, _ in steps if s.ran],
        }
        for aspect, values in aspects.items():
            groups: dict[str, list[str]] = {}
            for version, value in values:
                groups.setdefault(value, []).append(version)
            if len(groups) > 1:
                found.append(
                    Drift(results[0].case.format, name, aspect, tuple(map(tuple, groups.values())))
                )
    return found
