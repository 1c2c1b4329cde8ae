"""Fast, exact unit tests of drift's report (in-process): patterns, summary and JSON on
hand-made cases, and drift_between on a small tree copied from the committed baselines.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import REPO

from toolkit.baseline.diff import Change
from toolkit.baseline.tree import Tree
from toolkit.model.pipeline import COMMANDS
from toolkit.stages.drift import CaseDrift, Report, drift_between

SPEC = COMMANDS["create"]
KIDS = "root['children']"


def _report(*cases: CaseDrift, show_all: bool = False) -> Report:
    return Report(SPEC, "1.0", "2.0", show_all, cases)


def _ch(artefact: str, kind: str, path: str, after: str) -> Change:
    return Change(artefact, kind, path, None, after)


CASES = (
    CaseDrift(
        "qcow2",
        "b",
        "changed",
        (
            _ch("stdout", "added", KIDS, "b"),
            _ch("meta", "changed", "root['x']", "b"),
            _ch("meta", "return_code", "root['y']", "b"),
        ),
    ),
    CaseDrift(
        "raw",
        "a",
        "changed",
        (
            _ch("stdout", "added", KIDS, "a1"),
            _ch("stdout", "added", KIDS, "a2"),
            _ch("stderr", "changed", "info:1", "a"),
            _ch("meta", "changed", "root['x']", "a"),
        ),
    ),
    CaseDrift(
        "raw",
        "c",
        "changed",
        (
            _ch("stdout", "added", KIDS, "c"),
            _ch("stdout", "removed", "root['z']", "c"),
            _ch("stdout", "removed", "root['b']", "c"),
            _ch("stdout", "changed", "root['q']", "c"),
        ),
    ),
    CaseDrift("raw", "d", "unchanged"),
    CaseDrift("vhd", "e", "only_in_to"),
)


def test_patterns_most_cases_first_then_artefact_kind_path() -> None:
    got = _report(*CASES).patterns()
    assert [(p.artefact, p.kind, p.path, p.cases) for p in got] == [
        ("stdout", "added", KIDS, (("qcow2", "b"), ("raw", "a"), ("raw", "c"))),
        ("meta", "changed", "root['x']", (("qcow2", "b"), ("raw", "a"))),
        ("stdout", "changed", "root['q']", (("raw", "c"),)),
        ("stdout", "removed", "root['b']", (("raw", "c"),)),
        ("stdout", "removed", "root['z']", (("raw", "c"),)),
        ("stderr", "changed", "info:1", (("raw", "a"),)),
        ("meta", "return_code", "root['y']", (("qcow2", "b"),)),
    ]
    assert [p.example.after for p in got[:2]] == ["b", "b"]
    assert got[0].per_format() == [("raw", 2), ("qcow2", 1)]
    assert got[1].per_format() == [("qcow2", 1), ("raw", 1)]


def test_summary_drifted_and_json() -> None:
    report = _report(*CASES)
    assert list(report.summary().items()) == [
        ("changed", 3),
        ("unchanged", 1),
        ("only_in_from", 0),
        ("only_in_to", 1),
    ]
    assert report.drifted is True
    assert _report(CASES[3]).drifted is False
    assert _report(CaseDrift("raw", "x", "only_in_from")).drifted is True
    assert _report(CASES[3], CASES[4]).to_json() == {
        "from": "1.0",
        "to": "2.0",
        "summary": {"changed": 0, "unchanged": 1, "only_in_from": 0, "only_in_to": 1},
        "cases": [
            {"format": "raw", "case": "d", "status": "unchanged", "changes": []},
            {"format": "vhd", "case": "e", "status": "only_in_to", "changes": []},
        ],
    }
    assert CASES[2].to_json()["changes"][1] == {
        "artefact": "stdout",
        "kind": "removed",
        "path": "root['z']",
        "from": None,
        "to": "c",
    }


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    """raw 7.2.22 -> 10.0.2: 1G-default and 1M-default gain children, `gone` and `new`
    exist on one side only; qcow2 1G-default is in 10.0.2 only; vhd 1M-default unchanged
    (recorded by 10.0.2 and 10.0.13)."""
    real = REPO / "expected-outputs" / SPEC.output_type
    one, other, old, new = "1G-default", "1M-default", "7.2.22", "10.0.2"
    # (format, version): {case: (recorded version, recorded case)}
    layout = {
        ("raw", old): {one: (old, one), other: (old, other), "gone": (old, other)},
        ("raw", new): {one: (new, one), other: (new, other), "new": (new, other)},
        ("qcow2", "10.0.2"): {one: ("10.0.2", one)},
        # 10.0.2 and 10.0.13 behave alike: only the identity keys of the meta differ
        ("vhd", "7.2.22"): {other: ("10.0.2", other)},
        ("vhd", "10.0.2"): {other: ("10.0.13", other)},
    }  # fmt: skip
    for (fmt, version), cases in layout.items():
        d = tmp_path / SPEC.output_type / fmt / version
        d.mkdir(parents=True)
        for name, (recorded, source) in cases.items():
            for s in (".stdout.txt", ".stderr.txt", ".meta.json"):
                shutil.copyfile(real / fmt / recorded / f"{source}{s}", d / f"{name}{s}")
    return Tree(tmp_path, SPEC)


def test_drift_between(tree: Tree) -> None:
    report = drift_between(tree, "7.2.22", "10.0.2")
    assert (report.from_version, report.to_version, report.show_all) == ("7.2.22", "10.0.2", False)
    assert [(c.format, c.case, c.status, [(ch.artefact, ch.kind, ch.path) for ch in c.changes])
            for c in report.cases] == [
        ("qcow2", "1G-default", "only_in_to", []),
        ("raw", "1G-default", "changed", [("stdout", "added", KIDS)]),
        ("raw", "1M-default", "changed", [("stdout", "added", KIDS)]),
        ("raw", "gone", "only_in_from", []),
        ("raw", "new", "only_in_to", []),
        ("vhd", "1M-default", "unchanged", []),
    ]  # fmt: skip
    added = report.cases[1].changes[0]
    assert added.before is None and added.after[0]["info"]["actual-size"] == "<whitelisted>"
    every = drift_between(tree, "7.2.22", "10.0.2", show_all=True)
    assert every.show_all is True
    assert [(ch.artefact, ch.path, ch.before) for ch in every.cases[1].changes] == [
        ("meta", "root['info_stdout_bytes']", 135),
        ("meta", "root['stdout_bytes']", 135),  # the file's length: shown with --all only
        ("stdout", KIDS, None),
    ]
    assert every.cases[1].changes[0].after == every.cases[1].changes[1].after == 629
    assert every.cases[1].changes[2].after[0]["info"]["actual-size"] == 4096
