"""The pipeline model: each command's steps, their argv, what runs after what, the plan."""

from __future__ import annotations

from dataclasses import replace

import pytest

from toolkit.model.pipeline import (
    COMMANDS,
    IMAGE,
    NO_PLAN,
    QEMU_IMG,
    Plan,
    StepSpec,
    expected_virtual_size,
    family,
    findings_type,
    findings_types,
    plan_for,
    preallocation_mode,
    types_named,
)
from toolkit.model.records import Case
from toolkit.model.rounding import created_size
from toolkit.model.sizes import LEGACY, MODERN, Grammar

M = 1 << 20
RESIZE = COMMANDS["resize"]
CREATE = COMMANDS["create"]
NO = NO_PLAN


def argvs(case: Case, plan: Plan) -> dict[str, list[str]]:
    spec = COMMANDS[case.command]
    return {s.name: s.argv(case, plan) for s in spec.steps_for(case)}


def test_commands_and_their_steps() -> None:
    assert (IMAGE, QEMU_IMG) == ("$FILENAME", "qemu-img")
    assert list(COMMANDS) == [
        "resize", "create", "rebase", "commit-overlay", "commit-backing", "amend", "bitmap",
        "dd", "qemu-img-human", "qemu-img-json", "check-human", "check-json",
        "compare-human", "map-human", "map-json", "snapshot-list-human", "measure-human",
        "measure-json", "resize-discovered", "create-discovered", "rebase-discovered",
        "commit-overlay-discovered", "commit-backing-discovered", "amend-discovered",
        "measure-human-discovered", "measure-json-discovered",
    ]  # fmt: skip
    assert (RESIZE.name, RESIZE.output_type, RESIZE.needs_end_spec) == (
        "resize",
        "resize-info-json",
        True,
    )
    assert (CREATE.name, CREATE.output_type, CREATE.needs_end_spec) == (
        "create",
        "create-info-json",
        False,
    )
    assert RESIZE.step_names() == ("create", "resize", "info")
    assert CREATE.step_names() == ("create", "info")
    assert [s.marker for s in RESIZE.steps] == [None, "---RESIZE STDERR---", "---INFO STDERR---"]
    assert (RESIZE.artefact, CREATE.artefact, RESIZE.stdout_kind) == ("info", "info", "object")
    assert [s.program for s in RESIZE.steps] == ["qemu-img"] * 3
    assert RESIZE.images == CREATE.images == (("$FILENAME", "img.{format}"),)


def test_each_curated_type_has_a_findings_type_of_its_own() -> None:
    for spec in (RESIZE, CREATE):
        found = COMMANDS[f"{spec.name}-discovered"]
        assert found == findings_type(spec)
        assert (found.steps, found.needs_end_spec) == (spec.steps, spec.needs_end_spec)
        assert (found.command, found.findings_of, spec.findings_of) == (spec.name, spec.name, None)
        assert found.case_file == f"discovered/{spec.name}.toml"
        assert spec.case_file == f"{spec.name}.toml"
        assert family(spec.name) == (spec, found)
    assert COMMANDS["resize-discovered"].output_type == "resize-discovered-info-json"
    assert COMMANDS["create-discovered"].output_type == "create-discovered-info-json"


def test_a_pipeline_of_two_types_has_two_findings_types_reading_one_file() -> None:
    overlay, backing = COMMANDS["commit-overlay"], COMMANDS["commit-backing"]
    found = findings_types("commit")
    assert found == (COMMANDS["commit-overlay-discovered"], COMMANDS["commit-backing-discovered"])
    assert family("commit") == (overlay, backing, *found)
    assert [t.output_type for t in found] == [
        "commit-overlay-discovered-info-json", "commit-backing-discovered-info-json"]  # fmt: skip
    assert {t.case_file for t in found} == {"discovered/commit.toml"}
    assert {(t.command, t.pipeline, t.artefact) for t in found} == {
        ("commit", "commit", "overlay_info"), ("commit", "commit", "backing_info")}  # fmt: skip
    assert types_named("commit-discovered") == found and types_named("commit") == (overlay, backing)
    assert types_named("rebase-discovered") == (COMMANDS["rebase-discovered"],)
    assert types_named("resize-discovered") == (COMMANDS["resize-discovered"],)
    assert types_named("bogus-discovered") == types_named("bogus") == ()


ANY = Case("resize", "raw", "n", "1M", "2M")


def test_each_step_runs_after_the_one_before() -> None:
    assert [(s.name, req) for s, req in RESIZE.schedule(ANY)] == [
        ("create", ()),
        ("resize", ("create",)),
        ("info", ("resize",)),
    ]
    create = [(s.name, req) for s, req in CREATE.schedule(ANY)]
    assert create == [("create", ()), ("info", ("create",))]


def test_a_step_may_name_what_it_requires() -> None:
    first = StepSpec("a", lambda c, p: [], None)
    second = StepSpec("b", lambda c, p: [], "---B---")
    third = StepSpec("c", lambda c, p: [], "---C---", requires=("a",))
    spec = type(RESIZE)("x", "x-out", (first, second, third), needs_end_spec=False)
    assert [req for _, req in spec.schedule(ANY)] == [(), ("a",), ("a",)]
    # a case may run some of the steps: each then needs the one before it in its own list
    picky = replace(spec, expand=lambda c: ("a", "c") if c.end_spec else ("a", "b", "c"))
    assert [(s.name, req) for s, req in picky.schedule(ANY)] == [("a", ()), ("c", ("a",))]
    assert [s.name for s in picky.steps_for(replace(ANY, end_spec=None))] == ["a", "b", "c"]
    assert StepSpec("d", lambda c, p: [], None, requires=()).requires == ()


def test_image_names_follow_the_pattern_of_each_placeholder() -> None:
    spec = replace(RESIZE, images=((IMAGE, "out.{driver}"), ("$INPUT", "{case}-in.{ext}")))
    vhd = Case("resize", "vhd", "c1", "1M")
    # {driver} is qemu's name for the format (a vhd file ending in .vpc), {ext} the format's
    assert spec.image_names(vhd) == {IMAGE: "out.vpc", "$INPUT": "c1-in.vhd"}
    assert RESIZE.image_names(vhd) == {IMAGE: "img.vhd"}
    # a group that is no image format (measure's "_size") is its own extension
    assert spec.image_names(replace(vhd, format="_size"))[IMAGE] == "out._size"


def test_resize_argv_of_every_option() -> None:
    case = Case("resize", "vhd", "n", "1M", "-512", ("subformat=fixed", "force_size=on"),
                prealloc="full", shrink=True)  # fmt: skip
    assert argvs(case, Plan(True, None)) == {
        "create": ["create", "-f", "vpc", "-o", "subformat=fixed", "-o", "force_size=on",
                   IMAGE, "1M"],
        "resize": ["resize", "-f", "vpc", "--shrink", "--preallocation", "full", IMAGE, "-512"],
        "info": ["info", "--output=json", IMAGE],
    }  # fmt: skip
    plain = Case("resize", "qcow2", "n", "1M", "+1M")
    assert argvs(plain, Plan(False, 2 * M))["resize"] == ["resize", "-f", "qcow2", IMAGE, "+1M"]
    off = Case("resize", "raw", "n", "1M", "2M", prealloc="off")
    assert argvs(off, Plan(False, 2 * M))["resize"] == [
        "resize", "-f", "raw", "--preallocation", "off", IMAGE, "2M"
    ]  # fmt: skip


def test_preallocation_mode() -> None:
    falloc = Case("resize", "raw", "n", "1M", "2M", prealloc="falloc")
    assert preallocation_mode(falloc, RESIZE) == "falloc"
    opts = ("preallocation=off,cluster_size=4k", "preallocation=metadata")
    create = Case("create", "qcow2", "n", "1M", create_options=opts)
    assert preallocation_mode(create, CREATE) == "metadata"  # the last one wins, as in qemu
    one = Case("create", "raw", "n", "1M", create_options=("preallocation=full",))
    assert preallocation_mode(one, CREATE) == "full"
    assert preallocation_mode(Case("create", "qcow2", "n", "1M", ("compat=1.1",)), CREATE) is None
    # resize takes its mode from --preallocation, not from create's options
    resize = Case("resize", "raw", "n", "1M", "2M", ("preallocation=full",))
    assert preallocation_mode(resize, RESIZE) is None


@pytest.mark.parametrize(
    ("case", "grammar", "plan"),
    [
        (Case("create", "raw", "n", "1.5k"), MODERN, Plan(False, 1536)),
        (Case("create", "raw", "n", "1e3"), MODERN, Plan(False, None)),
        (Case("create", "raw", "n", "1e3"), LEGACY, Plan(False, 1000)),
        (Case("resize", "raw", "n", "1M", "-512"), MODERN, Plan(True, M - 512)),
        (Case("resize", "raw", "n", "1M", "+512"), MODERN, Plan(False, M + 512)),
        (Case("resize", "raw", "n", "1M", "512", shrink=False), MODERN, Plan(False, 512)),
        # a size the grammar refuses: no final size, the flag from the sign or the case
        (Case("resize", "raw", "n", "1M", "-1e3"), MODERN, Plan(True, None)),
        (Case("resize", "raw", "n", "1M", "+1e3"), MODERN, Plan(False, None)),
        (Case("resize", "raw", "n", "1M", "-1e3", shrink=False), MODERN, Plan(False, None)),
        (Case("resize", "raw", "n", "1e3", "+1M", shrink=True), MODERN, Plan(True, None)),
        # the final size as the harness computes it: the start as written, plus or minus
        (Case("resize", "raw", "n", "1e3", "-1"), LEGACY, Plan(True, 999)),
        (
            Case("resize", "raw", "n", "0.00000286102g", "-0.000000953674g"),
            LEGACY,
            Plan(True, 2048),
        ),
        (Case("resize", "vhd", "n", "1M", "+63M"), MODERN, Plan(False, 64 * M)),
        # an absolute size below the created one is a shrink, even if it is the start as written
        (Case("resize", "raw", "n", "3071", "3071"), MODERN, Plan(True, 3071)),
        (Case("resize", "raw", "n", "3071", "3072"), MODERN, Plan(False, 3072)),
    ],
)
def test_plan_for(case: Case, grammar: Grammar, plan: Plan) -> None:
    assert plan_for(case, grammar) == plan


def test_plan_for_defaults_to_the_newest_grammar() -> None:
    assert plan_for(Case("resize", "raw", "n", "1M", "-.5M")) == Plan(True, None)


@pytest.mark.parametrize(
    ("case", "grammar", "size"),
    [
        # 5.2.0 truncates 3071.99... to 3071 bytes and creates 3072; -1023.99... is -1023 of
        # that: 2049, reported in whole sectors. 6.0 on rounds: 3072 - 1024.
        (Case("resize", "raw", "n", "0.00000286102g", "-0.000000953674g"), LEGACY, 2560),
        (Case("resize", "raw", "n", "0.00000286102g", "-0.000000953674g"), MODERN, 2048),
        # relative to the size create made: vhd's CHS geometry (1M is 1079296), then again
        (
            Case("resize", "vhd", "n", "1M", "+63M"),
            MODERN,
            created_size("vhd", (), 1079296 + 63 * M),
        ),
        (Case("resize", "qcow2", "n", "1M", "4M"), MODERN, 4 * M),
        (Case("resize", "raw", "n", "1M", "+1"), MODERN, M + 512),  # a sector more
        (Case("resize", "raw", "n", "1M", "+1e3"), MODERN, None),  # refused: nothing expected
    ],
)
def test_expected_virtual_size(case: Case, grammar: Grammar, size: int | None) -> None:
    assert expected_virtual_size(case, grammar) == size


def test_amend_bitmap_and_dd_argv_are_the_harness_s() -> None:
    """instar's replays: amend's options joined into one -o; bitmap's flags, the image, the
    name; dd's -O (vpc for vhd), the operands, if= and of= (no -f, no bs= added)."""
    amend = Case("amend", "qcow2", "a", "1M", create_options=("compat=0.10",),
                 params=(("amend", ("compat=1.1", "lazy_refcounts=on")),))  # fmt: skip
    assert argvs(amend, NO) == {
        "create": ["create", "-f", "qcow2", "-o", "compat=0.10", IMAGE, "1M"],
        "amend": ["amend", "-f", "qcow2", "-o", "compat=1.1,lazy_refcounts=on", IMAGE],
        "info": ["info", "--output=json", IMAGE],
    }
    assert COMMANDS["amend"].image_names(amend) == {IMAGE: "image.qcow2"}
    dd = Case("dd", "vhd", "d", "1M",
              params=(("input_format", "raw"), ("operands", ("bs=1000", "count=3"))))  # fmt: skip
    assert argvs(dd, NO) == {
        "create": ["create", "-f", "raw", "$INPUT", "1M"],
        "dd": ["dd", "-O", "vpc", "bs=1000", "count=3", "if=$INPUT", f"of={IMAGE}"],
        "info": ["info", "--output=json", IMAGE],
    }
    assert COMMANDS["dd"].image_names(dd) == {IMAGE: "output.vpc", "$INPUT": "input.img"}


def test_a_bitmap_case_runs_one_step_per_op_and_info_after_create() -> None:
    bitmap = COMMANDS["bitmap"]
    ops = (("--add", "b0"), ("--add", "-g", "131072", "b1"))
    case = Case("bitmap", "qcow2", "b", "1M", create_options=("compat=1.1",),
                params=(("ops", ops),))  # fmt: skip
    assert [(s.name, req) for s, req in bitmap.schedule(case)] == [
        ("create", ()),
        ("op1", ("create",)),
        ("op2", ("op1",)),  # an op runs only after the one before it succeeded
        ("info", ("create",)),  # info reads whatever the ops that ran left
    ]
    assert [s.argv(case, NO) for s in bitmap.steps_for(case)][1:3] == [
        ["bitmap", "--add", IMAGE, "b0"],
        ["bitmap", "--add", "-g", "131072", IMAGE, "b1"],
    ]
    assert len(bitmap.steps) == 10  # create, op1 ... op8, info
