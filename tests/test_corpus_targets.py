"""A type over the corpus with a case per image and target (`<id>__<target>`), and one that
also reads its command's `[[case]]` file: the two kinds of case together, names unique
across both (a collision is bad input naming the file, the case and the image)."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from toolkit.baseline.cases import load_cases
from toolkit.baseline.images import parse_corpus
from toolkit.model.errors import BadInput
from toolkit.model.images import CorpusCases, corpus_cases
from toolkit.model.pipeline import COMMANDS

IMAGES = """
[[image]]
id = "r"
format = "raw"
size = "1M"
tags = ["raw"]
description = "d"

[[image]]
id = "v"
format = "vpc"
size = "1M"
tags = ["vpc"]
description = "d"

[[image]]
id = "bad"
format = "raw"
size = "1M"
tags = ["raw"]
safety = "malformed"
description = "d"
"""
CREATE_CASES = """
[[case]]
format = "qcow2"
name = "1M-default"
start = "1M"
"""
# create's steps and schema, over the corpus too: nothing of a real command but the shape.
BOTH = replace(
    COMMANDS["create"],
    name="both",
    output_type="both",
    pipeline="create",  # its [[case]] file and schema are create's
    corpus=CorpusCases(safety=("safe",), targets=("raw", "qcow2")),
    with_case_file=True,
    profile_names="case",
)


def _cases_dir(tmp_path: Path, cases: str) -> Path:
    d = tmp_path / "cases"
    d.mkdir()
    (d / "images.toml").write_text(IMAGES)
    (d / "create.toml").write_text(cases)
    return d


def test_a_case_per_image_and_target_named_as_the_consumer_composes_it() -> None:
    corpus = parse_corpus(tomllib.loads(IMAGES), "images.toml")
    cases = corpus_cases(corpus, CorpusCases(safety=("safe",), targets=("raw", "qcow2")), "m")
    assert [(c.format, c.name, c.param("path"), c.param("target")) for c in cases] == [
        ("raw", "r__raw", "raw/r.raw", "raw"),
        ("raw", "r__qcow2", "raw/r.raw", "qcow2"),
        ("vpc", "v__raw", "vhd/v.vhd", "raw"),
        ("vpc", "v__qcow2", "vhd/v.vhd", "qcow2"),
    ]
    plain = corpus_cases(corpus, CorpusCases(safety=("safe",)), "m")
    assert [(c.name, c.params) for c in plain] == [
        ("r", (("path", "raw/r.raw"),)),
        ("v", (("path", "vhd/v.vhd"),)),
    ]


def test_the_case_file_then_the_corpus(tmp_path: Path) -> None:
    cases = load_cases(_cases_dir(tmp_path, CREATE_CASES), BOTH)
    assert [(c.format, c.name) for c in cases] == [
        ("qcow2", "1M-default"),
        ("raw", "r__raw"),
        ("raw", "r__qcow2"),
        ("vpc", "v__raw"),
        ("vpc", "v__qcow2"),
    ]
    assert BOTH.case_files == ("images.toml", "create.toml")
    assert BOTH.case_file == "create.toml"
    assert COMMANDS["map-json"].case_files == ("images.toml",)
    assert COMMANDS["dd"].case_files == ("dd.toml",)


@pytest.mark.parametrize("name", ["r__qcow2", "V__RAW"])
def test_a_case_named_as_a_corpus_case_is_refused(tmp_path: Path, name: str) -> None:
    d = _cases_dir(tmp_path, CREATE_CASES + CREATE_CASES.replace("1M-default", name))
    with pytest.raises(BadInput) as err:
        load_cases(d, BOTH)
    taken = name if name == "r__qcow2" else "v__raw"
    where = f"{d / 'images.toml'} (an image of the corpus)"
    said = str(err.value)
    assert said.startswith("invalid curated cases (nothing was run or written):")
    dup = f"{d / 'create.toml'}: case {name!r} (qcow2): duplicate name, already defined in "
    assert dup in said
    if name == taken:
        assert (
            f"{where}; names must be unique in create.toml (both names its profile files after "
            "the case alone)" in said
        )
    else:  # their files would collide on a case-insensitive file system
        assert f"{where} as {taken!r}; {taken!r} and {name!r} differ only in letter case" in said


def test_a_missing_case_file_is_named(tmp_path: Path) -> None:
    d = _cases_dir(tmp_path, CREATE_CASES)
    (d / "create.toml").unlink()
    said = r"no case file for command 'both': expected .*/create\.toml"
    with pytest.raises(BadInput, match=said):
        load_cases(d, BOTH)
