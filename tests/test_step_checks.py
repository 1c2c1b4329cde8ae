"""verify's per-step checks (stages/verify/step_checks.py), with their exact messages.

The messages are what a user reads in `verify --offline` output, so each planted defect
pins both the check id and the wording.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case
from toolkit.stages.verify.step_checks import return_codes, stderr_sections

TREE = Path(__file__).resolve().parent.parent / "expected-outputs" / "resize-info-json"
SPEC = COMMANDS["resize"]
GREW = "qcow2/11.1.3/1M-to-4M-default"  # every step ran and succeeded
REFUSED = "qcow2/11.1.3/64M-to-1M-no-shrink"  # resize failed, info did not run
CASE = Case("resize", "qcow2", "any", "1M", "4M")  # resize runs every step for every case


def meta(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TREE / f"{name}.meta.json").read_text())
    return {**data, **changes}


def stderr(name: str) -> str:
    return (TREE / f"{name}.stderr.txt").read_text()


def problems_of_return_codes(m: dict[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    return_codes(SPEC, CASE, m, lambda check, text: found.append((check, text)))
    return found


def sections(text: str, m: dict[str, Any]) -> tuple[list[str] | None, list[tuple[str, str]]]:
    found: list[tuple[str, str]] = []
    got = stderr_sections(SPEC, CASE, text, m, lambda check, text: found.append((check, text)))
    return got, found


KILLED = (
    "return-codes",
    "resize was killed at --timeout: a timeout is no baseline; regenerate it with a larger "
    "--timeout",
)
INFO_NULLS = {
    "info_return_code": None,
    "info_stdout_bytes": None,
    "info_stderr_bytes": None,
    "info_timed_out": None,
    "info_argv": None,
}
INFO_RAN = {
    "info_return_code": 0,
    "info_stdout_bytes": 9,
    "info_stderr_bytes": 0,
    "info_timed_out": False,
}


@pytest.mark.parametrize(
    ("name", "changes", "expected"),
    [
        (GREW, {}, []),
        (REFUSED, {}, []),
        (REFUSED, INFO_RAN, [("return-codes", "info ran although resize returned 1")]),
        (
            REFUSED,
            {**INFO_RAN, "resize_return_code": -9, "resize_timed_out": True},
            [KILLED, ("return-codes", "info ran although resize returned -9 (timed out)")],
        ),
        (GREW, INFO_NULLS, [("return-codes", "info did not run although resize returned 0")]),
        (
            GREW,
            {"resize_timed_out": True},
            [KILLED, ("return-codes", "info ran although resize returned 0 (timed out)")],
        ),
        (
            GREW,
            {"info_stdout_bytes": None},
            [("return-codes", "info ran, but has null info_stdout_bytes")],
        ),
        (
            GREW,
            {"create_stdout": None},
            [("return-codes", "create ran, but has null create_stdout")],
        ),
        (
            REFUSED,
            {"info_stderr_bytes": 5, "info_timed_out": False},
            [
                (
                    "return-codes",
                    "info did not run, but has a value in info_stderr_bytes, info_timed_out",
                )
            ],
        ),
        (
            REFUSED,
            {"resize_stderr_bytes": 0},
            [
                (
                    "return-codes",
                    "resize returned 1 with an empty stderr: qemu-img always says why it failed",
                )
            ],
        ),
        (
            REFUSED,
            {"resize_stderr_bytes": 0, "resize_return_code": -9, "resize_timed_out": True},
            [KILLED],
        ),  # the timeout is the problem, not the empty stderr
        (
            GREW,
            {"create_stdout_bytes": 999},
            [("return-codes", "create_stdout is 140 bytes, create_stdout_bytes says 999")],
        ),
        (
            GREW,
            {"resize_stdout": "Image resized.\n\u00e9"},
            [("return-codes", "resize_stdout is 17 bytes, resize_stdout_bytes says 15")],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_return_codes(name: str, changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert problems_of_return_codes(meta(name, **changes)) == expected


def test_a_ran_step_with_a_null_stdout_artefact_is_fine() -> None:
    """info's stdout is the .stdout.txt artefact, so the meta keeps no info_stdout key."""
    assert "info_stdout" not in meta(GREW)
    assert problems_of_return_codes(meta(GREW)) == []


def test_the_sections_of_a_refused_resize() -> None:
    got, found = sections(stderr(REFUSED), meta(REFUSED))
    assert found == []
    assert got == ["", stderr(REFUSED).split("---RESIZE STDERR---\n", 1)[1]]


def test_a_section_without_a_final_line_break_gets_one_before_the_marker() -> None:
    text = "warn\n---RESIZE STDERR---\nno newline\n---INFO STDERR---\nlast"
    m = meta(GREW, create_stderr_bytes=4, resize_stderr_bytes=10, info_stderr_bytes=4)
    assert sections(text, m) == (["warn", "no newline", "last"], [])
    m = meta(GREW, create_stderr_bytes=5, resize_stderr_bytes=11, info_stderr_bytes=4)
    assert sections(text, m) == (["warn\n", "no newline\n", "last"], [])


def test_the_last_section_has_no_added_line_break() -> None:
    text = "---RESIZE STDERR---\n---INFO STDERR---\nlast\n"
    got, found = sections(text, meta(GREW, info_stderr_bytes=4))
    assert got is None
    assert found == [("stderr-markers", "the info section is 5 bytes but info_stderr_bytes is 4")]


def test_a_byte_count_off_by_more_than_the_line_break() -> None:
    text = "ab\n---RESIZE STDERR---\n---INFO STDERR---\n"
    for size in (0, 1, 4):
        got, found = sections(text, meta(GREW, create_stderr_bytes=size))
        assert got is None
        assert found == [
            ("stderr-markers", f"the create section is 3 bytes but create_stderr_bytes is {size}")
        ]
    assert sections(text, meta(GREW, create_stderr_bytes=2))[0] == ["ab", "", ""]
    got, found = sections("a\n---RESIZE STDERR---\n---INFO STDERR---\n", meta(GREW))
    assert found == [
        ("stderr-markers", "the create section is 2 bytes but create_stderr_bytes is 0")
    ]


def test_a_missing_or_extra_marker() -> None:
    got, found = sections("---INFO STDERR---\n", meta(GREW))
    assert got is None
    assert found == [
        (
            "stderr-markers",
            "marker lines ['---INFO STDERR---'] do not match the steps that ran "
            "(create, resize, info): expected ['---RESIZE STDERR---', '---INFO STDERR---']",
        )
    ]
    text = "---RESIZE STDERR---\n---INFO STDERR---\n"
    got, found = sections(text, meta(REFUSED, resize_stderr_bytes=0))
    assert got is None
    assert found[0][1].endswith("(create, resize): expected ['---RESIZE STDERR---']")


def test_a_marker_needs_the_whole_line() -> None:
    """A line that only looks like a marker (trailing blank, CR) is a step's own text."""
    for lookalike in ("---RESIZE STDERR--- \n", "---RESIZE STDERR---\r\n"):
        text = lookalike + "---RESIZE STDERR---\n---INFO STDERR---\n"
        n = len(lookalike)
        got, found = sections(text, meta(GREW, create_stderr_bytes=n))
        assert (got, found) == ([lookalike, "", ""], [])


def test_a_step_with_two_needs_names_both() -> None:
    """A step may need several earlier steps (StepSpec.requires): the message names each."""
    create, resize, info = SPEC.steps
    spec = dataclasses.replace(
        SPEC, steps=(create, resize, dataclasses.replace(info, requires=("create", "resize")))
    )
    found: list[tuple[str, str]] = []
    report = lambda check, text: found.append((check, text))  # noqa: E731
    return_codes(spec, CASE, meta(REFUSED, **INFO_RAN), report)
    assert found == [("return-codes", "info ran although create returned 0, resize returned 1")]
