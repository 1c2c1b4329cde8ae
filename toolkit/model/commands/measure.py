"""measure-human and measure-json: `qemu-img measure`, in its two modes, as one output type
per output kind (instar tests/test_measure.py reads both modes from one tree):

* size mode, the `[[case]]` tables of curated_cases/measure.toml (the consumer's 21
  MEASURE_SIZE_CASES): `measure --size SIZE -O TARGET [-o OPT]... [--output=json]`, grouped
  under `_size` (`measure-<kind>/_size/<version>/<case>.*`);
* source mode, every safe image of the corpus into each target (`raw`, `qcow2`): case
  `<image_id>__<target>`, `measure [--output=json] -O TARGET $TESTDATA_ROOT/<path>`, grouped
  by the manifest's format, as the consumer's generator (PLAN-measure phase 6) runs it.

Human output is qemu-img's default (no `--output`, as that generator runs it; every build
prints the same with `--output=human`). The meta's `return_code` is measure's, the key the
consumer skips on; profile files are named by case alone (the two modes' names never meet:
toolkit.baseline.cases refuses a size case named as a corpus case).
"""

from __future__ import annotations

from typing import Any

from toolkit.model.commands.corpus import Argv, corpus_path
from toolkit.model.images import CorpusCases
from toolkit.model.records import Case
from toolkit.model.steps import CommandSpec, Plan, StepSpec

__all__ = ["MEASURE_HUMAN", "MEASURE_JSON", "SIZE_GROUP", "SOURCES", "TARGETS"]

SIZE_GROUP = "_size"  # the consumer's directory of the size cases (no source, no format)
TARGETS = ("raw", "qcow2")  # the consumer's targets for a source image
SOURCES = CorpusCases("image", safety=("safe",), targets=TARGETS)  # `safety == 'safe'`


def _words(case: Case) -> list[str]:
    """What both kinds run, before `--output`: the size mode's whole argv, or `-O TARGET`."""
    if case.format == SIZE_GROUP:
        options = [w for o in case.param("options", ()) for w in ("-o", o)]
        return ["--size", case.param("size"), "-O", case.param("target"), *options]
    return ["-O", case.param("target")]


def _human(case: Case, plan: Plan) -> list[str]:
    source = [] if case.format == SIZE_GROUP else [corpus_path(case.param("path"))]
    return ["measure", *_words(case), *source]


def _json(case: Case, plan: Plan) -> list[str]:
    if case.format == SIZE_GROUP:  # the consumer's form: `--output=json` last
        return ["measure", *_words(case), "--output=json"]
    return ["measure", "--output=json", *_words(case), corpus_path(case.param("path"))]


def _inputs(case: Case, plan: Plan) -> dict[str, Any]:
    """The same keys in both modes: what the mode does not have is null (or no options)."""
    size = case.format == SIZE_GROUP
    return {
        "target": case.param("target"),
        "size_str": case.param("size") if size else None,
        "options": list(case.param("options", ())),
        "image_path": None if size else case.param("path"),
    }


def _measure_type(kind: str, argv: Argv, stdout_kind: str) -> CommandSpec:
    return CommandSpec(
        f"measure-{kind}",
        f"measure-{kind}",
        (StepSpec("measure", argv, None),),
        pipeline="measure",  # its case file and schema; each kind is a run of its own
        artefact="measure",
        stdout_kind=stdout_kind,
        images=(),
        inputs=_inputs,
        profile_names="case",
        return_code_of="measure",
        corpus=SOURCES,
        with_case_file=True,
    )


MEASURE_HUMAN = _measure_type("human", _human, "text")
MEASURE_JSON = _measure_type("json", _json, "object")
