"""What every output type over the image corpus shares: argv words that name a corpus file
under `$TESTDATA_ROOT` (the placeholder the consumer substitutes with its testdata root),
the meta keys of its inputs, and the spec every such type is.

A case is an image of the corpus (or a compare pair): `case.param("path")` is the image's
manifest path, relative to the corpus root (toolkit.model.images.corpus_cases).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolkit.model.images import CorpusCases
from toolkit.model.records import Case
from toolkit.model.steps import TESTDATA_ROOT, CommandSpec, Plan, StepSpec

__all__ = ["IMAGES", "PAIRS", "SAFE_IMAGES", "corpus_path", "corpus_type", "on_image", "on_pair"]

SAFE_IMAGES = CorpusCases("image", safety=("safe",))  # instar: `safety == 'safe'` entries
IMAGES = CorpusCases("image")  # every image (no consumer suite narrows it)
PAIRS = CorpusCases("pair")

Argv = Callable[[Case, Plan], list[str]]


def corpus_path(relative: str) -> str:
    """An argv word naming a corpus file: `$TESTDATA_ROOT/qcow2/qcow2-v3-data.qcow2`."""
    return f"{TESTDATA_ROOT}/{relative}"


def on_image(*words: str) -> Argv:
    """`qemu-img <words> $TESTDATA_ROOT/<the case's image>`."""
    return lambda case, plan: [*words, corpus_path(case.param("path"))]


def on_pair(*words: str) -> Argv:
    """`qemu-img <words> [-s] A B` for a compare pair (`-s` when the pair is strict)."""

    def argv(case: Case, plan: Plan) -> list[str]:
        strict = ["-s"] if case.param("strict") else []
        return [*words, *strict, corpus_path(case.param("a")), corpus_path(case.param("b"))]

    return argv


def _image_inputs(case: Case, plan: Plan) -> dict[str, Any]:
    return {"image_path": case.param("path")}


def _pair_inputs(case: Case, plan: Plan) -> dict[str, Any]:
    return {"image_a": case.param("a"), "image_b": case.param("b"), "strict": case.param("strict")}


def corpus_type(
    name: str,
    step: str,
    argv: Argv,
    stdout_kind: str,
    cases: CorpusCases,
    answers: tuple[int, ...] = (),
    env: tuple[tuple[str, str], ...] = (),
) -> CommandSpec:
    """One output type over the corpus: one step (its stdout is `<id>.stdout.txt`, its
    return code the meta's `return_code`), profile files named by image id alone, as the
    consumer reads `<type>/profiles/<profile>/<image_id>.stdout.txt`."""
    return CommandSpec(
        name,
        name,
        (StepSpec(step, argv, None, env=env, answers=answers),),
        artefact=step,
        stdout_kind=stdout_kind,
        images=(),
        inputs=_pair_inputs if cases.unit == "pair" else _image_inputs,
        profile_names="case",
        return_code_of=step,
        corpus=cases,
    )
