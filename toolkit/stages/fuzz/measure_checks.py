"""`fuzz --command measure`: what an example runs (MEASURE_FUZZ) and M1-M3, its checks
(their titles are in invariants.INVARIANTS).

An example is a size-mode case (`measure --output=json --size SIZE -O TARGET [-o OPT]...`,
measure-json's own step, and `measure_human`, measure-human's, the same without
`--output`), then two checking steps (StepSpec.checking: with a candidate,
the real qemu-img runs them) that make what measure measured:

    made       create -f TARGET [-o OPT]... $MADE SIZE   the image, with the same options
    made_info  info --output=json $MADE                  its `actual-size`: its allocation

  M1  `required` is at least the allocation (`actual-size`, st_blocks x 512, never the
      file's length: preallocation=metadata makes a file as long as `fully-allocated`
      with only its metadata allocated) of the image create made with the same options,
      allowing for the host's filesystem: `required` rounded up to a HOST_BLOCK, and one
      HOST_BLOCK more where create preallocates (metadata: qemu writes the file's last
      block to set its length; falloc: the filesystem may give one block more)
  M2  `fully-allocated` is at least `required`
  M3  the human output says the same numbers as the JSON (`required size: N`, `fully
      allocated size: M`)

Where `required` is short on every version we record (5.2.0 ... 11.1.3), M1 does not
apply (SHORT_ON_EVERY_VERSION; README "fuzz --command amend and --command measure").
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from toolkit.model.formats import split_option_string
from toolkit.model.info import info_object
from toolkit.model.pipeline import COMMANDS, CommandSpec
from toolkit.model.records import Case, CaseResult, StepResult
from toolkit.model.sizes import SizeError, parse_size
from toolkit.stages.fuzz.chain_spec import checking_step
from toolkit.stages.fuzz.invariants import Verdict, info_json

__all__ = ["HOST_BLOCK", "MADE", "MEASURE_FUZZ", "check_measure", "short_on_every_version"]

MADE = "$MADE"  # what create makes from the measured options (a checking step's image)
HOST_BLOCK = 4096  # the scratch filesystem's allocation unit (ext4, xfs, tmpfs, overlayfs)
_MEASURE = COMMANDS["measure-json"]
_HUMAN = replace(
    COMMANDS["measure-human"].steps[0],
    name="measure_human",
    marker="---MEASURE HUMAN STDERR---",
    requires=(),  # whether the JSON measure succeeded or not
)
_HUMAN_LINE = re.compile(r"^(required size|fully allocated size): (\d+)$", re.MULTILINE)


def _options(case: Case) -> dict[str, str]:
    return {k: v for o in case.param("options", ()) for k, v in split_option_string(o)}


def _cluster(opts: dict[str, str]) -> int | None:
    try:
        return parse_size(opts.get("cluster_size", "64k"))
    except SizeError:
        return None


def short_on_every_version(case: Case) -> str | None:
    """Why M1 does not apply to `case`: where qemu-img's `required` is short of what create
    allocates on every version we record; None: M1 applies."""
    opts = _options(case)
    prealloc = opts.get("preallocation", "off")
    if case.param("target") != "qcow2":
        return None
    cluster = _cluster(opts)
    if prealloc in ("falloc", "full") and _bytes(case) == 0:
        return "a qcow2 of size 0 preallocated: create makes one cluster more than `required`"
    if prealloc == "metadata" and cluster is not None and cluster <= HOST_BLOCK:
        return (f"metadata preallocation with {cluster}-byte clusters: the host allocates whole "
                f"{HOST_BLOCK}-byte blocks around each metadata cluster")  # fmt: skip
    return None


def _bytes(case: Case) -> int | None:
    try:
        return parse_size(case.param("size"))
    except SizeError:
        return None


def _made(case: Case) -> list[str]:
    options = [w for o in case.param("options", ()) for w in ("-o", o)]
    return ["create", "-f", case.param("target"), *options, MADE, case.param("size")]


MEASURE_FUZZ: CommandSpec = replace(
    _MEASURE,
    steps=(
        *_MEASURE.steps,
        _HUMAN,
        checking_step("made", _made, ()),  # whether measure succeeded or not
        checking_step("made_info", lambda _c: ["info", "--output=json", MADE], ("made",)),
    ),
    images=((MADE, "{case}-made.img"),),
    corpus=None,  # size mode only
    with_case_file=False,
)


def _v(inv: str, r: CaseResult, ok: bool | None, detail: str = "") -> Verdict:
    return Verdict(inv, r.binary.version, ok, "" if ok else detail)


def _measured(step: StepResult) -> dict[str, Any] | None:
    if not step.ran or step.timed_out or step.return_code != 0:
        return None
    found = info_object(step.stdout)
    if found is None:
        return None
    numbers = {k: found.get(k) for k in ("required", "fully-allocated")}
    return numbers if all(isinstance(v, int) for v in numbers.values()) else None


def _m3_human(r: CaseResult, measured: dict[str, Any]) -> Verdict:
    step = r.step("measure_human")
    if not step.ran or step.timed_out or step.return_code != 0:
        return _v("M3", r, None)
    said = {k.replace(" size", "").replace(" ", "-"): int(n)
            for k, n in _HUMAN_LINE.findall(step.stdout)}  # fmt: skip
    wrong = [f"{k} {said.get(k, '(absent)')} in human output, {v} in JSON"
             for k, v in measured.items() if said.get(k) != v]  # fmt: skip
    return _v("M3", r, not wrong, "; ".join(wrong))


def check_measure(r: CaseResult) -> list[Verdict]:
    out = {i: _v(i, r, None) for i in ("M1", "M2", "M3")}
    measured = _measured(r.step("measure"))
    if measured is None:
        return list(out.values())
    out["M3"] = _m3_human(r, measured)
    required, fully = measured["required"], measured["fully-allocated"]
    out["M2"] = _v("M2", r, fully >= required, f"fully-allocated {fully} < required {required}")
    info = info_json(r.step("made_info"))
    allocation = info.get("actual-size") if info else None
    if isinstance(allocation, int) and short_on_every_version(r.case) is None:
        prealloc = _options(r.case).get("preallocation", "off")
        room = -(-required // HOST_BLOCK) * HOST_BLOCK
        room += HOST_BLOCK if prealloc in ("metadata", "falloc", "full") else 0
        out["M1"] = _v("M1", r, allocation <= room,
                       f"required {required} < {allocation}, the allocation of what create made "
                       f"with the same options")  # fmt: skip
    return list(out.values())
