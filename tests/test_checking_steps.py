"""Checking steps (StepSpec.checking): with a reference qemu-img, a candidate's run has its
checks made by the reference; they never become a step's implicit predecessor; and the
replay lines (model.replay) name the binary that ran each step and each image as named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from toolkit.model.pipeline import COMMANDS, IMAGE, QEMU_IMG, CommandSpec, StepSpec
from toolkit.model.records import Case, CaseResult, QemuBinary, StepResult
from toolkit.model.replay import reproduce
from toolkit.qemu.runner import run_case, run_directory
from toolkit.qemu.tools import program_argv
from toolkit.stages.fuzz.invariants import info_json

CREATE = COMMANDS["create"]
_create, _info = CREATE.steps
# create -> look (a checking info) -> info (the command's own, needing create, not `look`)
LOOKED = replace(
    CREATE,
    steps=(
        _create,
        replace(_info, name="look", marker="---LOOK---", checking=True),
        _info,
    ),
)
CASE = Case("create", "qcow2", "c", "1M")


def test_a_checking_step_is_no_implicit_predecessor() -> None:
    assert [(s.name, needs) for s, needs in LOOKED.schedule(CASE)] == [
        ("create", ()), ("look", ("create",)), ("info", ("create",))]  # fmt: skip
    plain = replace(LOOKED, steps=tuple(replace(s, checking=False) for s in LOOKED.steps))
    assert [needs for _s, needs in plain.schedule(CASE)][2] == ("look",)


def pick(binaries: list[QemuBinary], version: str) -> QemuBinary:
    return next(b for b in binaries if b.version == version)


@pytest.mark.qemu
def test_checking_steps_run_with_the_reference(
    qemu_binaries: list[QemuBinary], tmp_path: Path
) -> None:
    """5.2.0 as the 'candidate', 11.1.3 as the reference: only 10.0 and later print the
    `children` block, so each info says which binary ran it."""
    old, new = pick(qemu_binaries, "5.2.0"), pick(qemu_binaries, "11.1.3")
    with run_directory(tmp_path) as run_dir:
        held = run_case(CASE, old, LOOKED, run_dir, reference=new)
        alone = run_case(CASE, old, LOOKED, run_dir)
    looked, own = (info_json(held.step(n)) for n in ("look", "info"))
    assert looked is not None and own is not None
    assert "children" in looked and "children" not in own
    assert [s.by_reference for s in held.steps] == [False, True, False]
    assert held.reference == new and alone.reference is None
    assert not any(s.by_reference for s in alone.steps)
    assert "children" not in (info_json(alone.step("look")) or {"children": 1})
    assert str(new.path) not in held.step("look").stdout  # its paths are normalised too
    lines = reproduce(held, program_argv, LOOKED.images)
    assert lines == [
        'cd "$(mktemp -d)"',
        f"{old.path} create -f qcow2 img.qcow2 1M",
        f"{new.path} info --output=json img.qcow2",
        f"{old.path} info --output=json img.qcow2",
    ]


def test_replay_names_each_image_and_runs_qemu_io_beside_its_binary(tmp_path: Path) -> None:
    qemu_img = tmp_path / "qemu-img"
    (tmp_path / "qemu-io").write_text("#!/bin/sh\n")
    (tmp_path / "qemu-io").chmod(0o755)
    binary = QemuBinary("9.9.9", qemu_img, "qemu-img", "qemu-img version 9.9.9")
    spec = CommandSpec(
        "x", "x-info-json",
        (StepSpec("make", lambda c, p: ["create", "-f", "qcow2", "$BASE", "1M"], None),
         StepSpec("w", lambda c, p: ["-c", "write 0 512", IMAGE], "---W---", program="qemu-io")),
        images=((IMAGE, "{case}-top.{ext}"), ("$BASE", "{case}-base.{ext}")),
    )  # fmt: skip
    result = CaseResult(
        Case("x", "qcow2", "n", "1M"), binary,
        (StepResult("make", (QEMU_IMG, "create", "-f", "qcow2", "$BASE", "1M"), 0),
         StepResult("w", ("qemu-io", "-c", "write 0 512", IMAGE), 0)),
        False, None,
    )  # fmt: skip
    assert reproduce(result, program_argv, spec.images)[1:] == [
        f"{qemu_img} create -f qcow2 n-base.qcow2 1M",
        f"{tmp_path / 'qemu-io'} -c 'write 0 512' n-top.qcow2",
    ]


def _run(look_rc: int, look_out: str) -> CaseResult:
    binary = QemuBinary("11.1.3", Path("/q"), "qemu-img", "qemu-img version 11.1.3")
    return CaseResult(
        CASE, binary,
        (StepResult("create", (QEMU_IMG, "create"), 0),
         StepResult("look", (QEMU_IMG, "map"), look_rc, stdout=look_out),
         StepResult("info", (QEMU_IMG, "info"), 0, stdout="{}")),
        False, None,
    )  # fmt: skip


def test_determinism_and_the_differential_checks_leave_checking_steps_out() -> None:
    """A checking step's output is the kind's checks' business (commit's map shows where
    parallel writes put clusters): I6 and D1-D3 compare the command's own steps."""
    from toolkit.stages.fuzz.differential import compare, outcome
    from toolkit.stages.fuzz.invariants import i6_determinism

    a, b = _run(0, '[{"offset": 1}]'), _run(0, '[{"offset": 2}]')
    assert i6_determinism(a, b).ok is False
    assert i6_determinism(a, b, ("look",)).ok is True
    cand, real = _run(1, ""), _run(0, "[]")
    assert {v.invariant: v.ok for v in compare(cand, real)}["D1"] is False
    assert {v.invariant: v.ok for v in compare(cand, real, ("look",))}["D1"] is True
    assert outcome(cand, ("look",)) == "create ok, info ok"
