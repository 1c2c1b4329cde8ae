"""Fast, exact unit tests of the pieces drift and verify compare with: the whitelist,
the view of one triple, and the differences between two views (in-process, no qemu-img).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from toolkit.baseline import diff, view, whitelist
from toolkit.baseline.diff import Change
from toolkit.baseline.view import View
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Baseline

M = whitelist.MASKED
RESIZE = COMMANDS["resize"]
CREATE = COMMANDS["create"]


# --- whitelist ---------------------------------------------------------------------------


def test_the_shipped_entries() -> None:
    got = [(e.id, e.path, sorted(e.formats), e.drop) for e in whitelist.entries()]
    assert got == [
        ("actual-size", ("actual-size",), [], False),
        ("child-actual-size", ("children", "*", "info", "actual-size"), [], False),
        (
            "extent-size-hint",
            ("children", "*", "info", "format-specific", "data", "extent-size-hint"),
            [],
            True,
        ),
        ("vmdk-cid", ("format-specific", "data", "cid"), ["vmdk"], False),
        ("vmdk-parent-cid", ("format-specific", "data", "parent-cid"), ["vmdk"], False),
        ("vhdx-guid", ("format-specific", "data", "*guid*"), ["vhdx"], False),
        ("snapshot-date", ("snapshots", "*", "date-*"), [], False),
        ("tool-version", ("format-specific", "data", "*version*"), ["vhd", "vhdx", "vmdk"], False),
    ]
    assert whitelist.entries()[0].reason.startswith("bytes allocated on the host file system")


def test_applies_to() -> None:
    every = whitelist.Entry("x", ("a",), frozenset(), "r")
    vmdk = whitelist.Entry("x", ("a",), frozenset({"vmdk"}), "r")
    assert every.applies_to("qcow2") and every.drop is False
    assert vmdk.applies_to("vmdk") and not vmdk.applies_to("qcow2")


INFO: dict[str, Any] = {
    "virtual-size": 1024,
    "actual-size": 4096,
    "children": [
        {
            "name": "file",
            "info": {
                "actual-size": 8192,
                "format-specific": {"data": {"extent-size-hint": 1048576, "mode": 1}},
            },
        }
    ],
    "format-specific": {"data": {"cid": 7, "parent-cid": 9, "file-guid": "g", "tool-version": "1"}},
    "snapshots": [{"date-sec": 5, "date-nsec": 6, "vm-clock-sec": 0}],
}


def test_mask_qcow2() -> None:
    assert whitelist.mask(INFO, "qcow2") == {
        "virtual-size": 1024,
        "actual-size": M,
        "children": [
            {"name": "file", "info": {"actual-size": M, "format-specific": {"data": {"mode": 1}}}}
        ],
        "format-specific": {
            "data": {"cid": 7, "parent-cid": 9, "file-guid": "g", "tool-version": "1"}
        },
        "snapshots": [{"date-sec": M, "date-nsec": M, "vm-clock-sec": 0}],
    }
    assert INFO["actual-size"] == 4096  # a copy: the input is left alone


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("vmdk", {"cid": M, "parent-cid": M, "file-guid": "g", "tool-version": M}),
        ("vhdx", {"cid": 7, "parent-cid": 9, "file-guid": M, "tool-version": M}),
    ],
)
def test_mask_per_format(fmt: str, data: dict[str, Any]) -> None:
    assert whitelist.mask(INFO, fmt)["format-specific"]["data"] == data


def test_mask_path_by_list_index_and_on_scalars() -> None:
    doc = {"l": [{"a": 1}, {"a": 2}], "s": 3}
    assert whitelist._mask_path(doc, ("l", "1", "a"), False) == {"l": [{"a": 1}, {"a": M}], "s": 3}
    assert whitelist._mask_path(doc, ("l", "*", "a"), True) == {"l": [{}, {}], "s": 3}
    assert whitelist._mask_path(doc, ("s", "x"), False) == doc
    assert whitelist._mask_path(doc, (), False) == M
    assert whitelist.mask([1, 2], "raw") == [1, 2]


def test_matching_entry() -> None:
    def hit(path: list[str | int], fmt: str) -> str | None:
        entry = whitelist.matching_entry(path, fmt)
        return entry.id if entry else None

    assert hit(["actual-size"], "raw") == "actual-size"
    assert hit(["children", 0, "info", "actual-size"], "raw") == "child-actual-size"
    assert hit(["children", 0, "info"], "raw") is None
    assert hit(["format-specific", "data", "cid"], "vmdk") == "vmdk-cid"
    assert hit(["format-specific", "data", "cid"], "qcow2") is None
    assert hit(["format-specific", "data", "parent-cid"], "vmdk") == "vmdk-parent-cid"
    assert hit(["format-specific", "data", "tool-version"], "vhdx") == "tool-version"
    assert hit(["format-specific", "data", "log-guid"], "vhdx") == "vhdx-guid"
    assert hit(["format-specific", "data", "tool-version"], "vhd") == "tool-version"
    assert hit(["snapshots", 1, "date-sec"], "qcow2") == "snapshot-date"
    assert hit(["virtual-size"], "raw") is None


# --- view ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "identity"),
    [
        ("qemu_version", True),
        ("qemu_version_line", True),
        ("binary_sha256", True),
        ("SHA256", True),
        ("Build_Hash", True),
        ("qemu_version_x", False),
        ("info_return_code", False),
    ],
)
def test_version_identity_keys(key: str, identity: bool) -> None:
    assert view.is_version_identity_key(key) is identity


def test_fingerprint_is_canonical_json() -> None:
    v = View({"b": 1, "a": "é"}, {"info": ["x"]}, {"k": 2})
    assert v.fingerprint() == (
        '{"meta": {"k": 2}, "stderr": {"info": ["x"]}, "stdout": {"a": "\\u00e9", "b": 1}}'
    )


def test_stderr_sections() -> None:
    text = "c1\nc2\n---RESIZE STDERR---\n---INFO STDERR---\ni1\n"
    assert view.stderr_sections(text, RESIZE) == {"create": ["c1", "c2"], "info": ["i1"]}
    assert view.stderr_sections("", RESIZE) == {}
    assert view.stderr_sections("---RESIZE STDERR---\nr\n", RESIZE) == {"resize": ["r"]}


META = {
    "qemu_version": "7.2.22",
    "qemu_version_line": "qemu-img version 7.2.22",
    "binary_sha256": "ab",
    "create_return_code": 0,
    "info_stdout_bytes": 10,
    "info_stderr_bytes": 0,
    "argv": ["qemu-img"],
}


def test_meta_view() -> None:
    assert view.meta_view(META, False) == {"create_return_code": 0, "argv": ["qemu-img"]}
    assert view.meta_view(META, True) == {
        "create_return_code": 0,
        "info_stdout_bytes": 10,
        "info_stderr_bytes": 0,
        "argv": ["qemu-img"],
    }


def test_view_masks_unless_show_all() -> None:
    b = Baseline('{"actual-size": 1, "virtual-size": 2}', "e\n---INFO STDERR---\n", META)
    assert view.view(b, "raw", CREATE) == View(
        {"actual-size": M, "virtual-size": 2},
        {"create": ["e"]},
        {"create_return_code": 0, "argv": ["qemu-img"]},
    )
    assert view.view(b, "raw", CREATE, True).stdout == {"actual-size": 1, "virtual-size": 2}
    assert view.view(Baseline("", "", {}), "raw", CREATE).stdout is None
    assert view.view(Baseline("not json", "", {}), "raw", CREATE).stdout == "not json"


def _recording(stdout: str, stderr: str = "", **meta: Any) -> Baseline:
    return Baseline(stdout, stderr, {"info_stdout_bytes": len(stdout.encode()), **meta})


def test_same_recording() -> None:
    old = _recording('{"actual-size": 1, "v": "é"}')
    new = _recording('{"actual-size": 22, "v": "é"}')
    assert view.same_recording(old, new, "raw", CREATE) is True
    assert view.same_recording(old, old, "raw", CREATE) is False
    # a real difference, in stdout, stderr or meta
    assert not view.same_recording(old, _recording('{"actual-size": 2, "v": 3}'), "raw", CREATE)
    assert not view.same_recording(
        old, _recording('{"actual-size": 22, "v": "é"}', "x"), "raw", CREATE
    )
    assert not view.same_recording(
        old, _recording('{"actual-size": 22, "v": "é"}', rc=1), "raw", CREATE
    )
    # old's byte count is stale
    stale = Baseline(old.stdout, "", {"info_stdout_bytes": 3})
    assert not view.same_recording(stale, new, "raw", CREATE)
    # not an info document
    assert not view.same_recording(_recording("[1]"), _recording("[2]"), "raw", CREATE)
    assert not view.same_recording(_recording("{}"), _recording("[2]"), "raw", CREATE)
    assert not view.same_recording(_recording("[1]"), _recording("[1 ]"), "raw", CREATE)


# --- diff ----------------------------------------------------------------------------------


def test_deep_differences_report_nested_paths() -> None:
    a = {"a": 1, "d": {"x": 1, "y": 2}, "l": [1, 2], "gone": 0}
    b = {"a": 2, "d": {"z": 1, "w": 2}, "l": [1, 2, 3], "new": 0}
    assert sorted(diff.deep_differences(a, b), key=lambda t: t[1]) == [
        ("changed", "root['a']", ["a"], 1, 2),
        ("added", "root['d']['w']", ["d", "w"], None, 2),
        ("removed", "root['d']['x']", ["d", "x"], 1, None),
        ("removed", "root['d']['y']", ["d", "y"], 2, None),
        ("added", "root['d']['z']", ["d", "z"], None, 1),
        ("removed", "root['gone']", ["gone"], 0, None),
        ("added", "root['l'][2]", ["l", 2], None, 3),
        ("added", "root['new']", ["new"], None, 0),
    ]
    assert list(diff.deep_differences([1, 2], [1])) == [("removed", "root[1]", [1], 2, None)]


def test_stdout_changes() -> None:
    assert diff.stdout_changes({"a": 1}, {"a": 1}, "raw", False) == []
    assert diff.stdout_changes(None, None, "raw", False) == []
    assert diff.stdout_changes("x", "x", "raw", False) == []
    assert diff.stdout_changes(None, {"a": 1}, "raw", False) == [
        Change("stdout", "added", "root", None, {"a": 1})
    ]
    assert diff.stdout_changes([1], None, "raw", False) == [
        Change("stdout", "removed", "root", [1], None)
    ]
    assert diff.stdout_changes("x", {"a": 1}, "raw", False) == [
        Change("stdout", "changed", "root", "x", {"a": 1})
    ]
    assert diff.stdout_changes({"a": 1}, "y", "raw", False) == [
        Change("stdout", "changed", "root", {"a": 1}, "y")
    ]
    a, b = {"actual-size": 1, "v": 1}, {"actual-size": 2, "v": 2}
    assert diff.stdout_changes(a, b, "raw", True) == [
        Change("stdout", "changed", "root['actual-size']", 1, 2, "actual-size"),
        Change("stdout", "changed", "root['v']", 1, 2, None),
    ]
    assert diff.stdout_changes(a, b, "raw", False) == [
        Change("stdout", "changed", "root['actual-size']", 1, 2, None),
        Change("stdout", "changed", "root['v']", 1, 2, None),
    ]


def test_stderr_changes_pair_lines_then_list_the_rest() -> None:
    a = {"create": ["same", "old1", "old2", "old3"], "info": ["i"], "zz": ["z"]}
    b = {"create": ["same", "new1"], "resize": ["r1", "r2"], "aa": ["q"]}
    assert diff.stderr_changes(a, b, ["create", "resize", "info"]) == [
        Change("stderr", "changed", "create:2", "old1", "new1"),
        Change("stderr", "removed", "create:3", "old2", None),
        Change("stderr", "removed", "create:4", "old3", None),
        Change("stderr", "added", "resize:1", None, "r1"),
        Change("stderr", "added", "resize:2", None, "r2"),
        Change("stderr", "removed", "info:1", "i", None),
        Change("stderr", "added", "aa:1", None, "q"),
        Change("stderr", "removed", "zz:1", "z", None),
    ]
    # a replaced block after a common line: pairs by position, then the new side's rest
    assert diff.stderr_changes(
        {"s": ["same", "o1", "o2"]}, {"s": ["same", "n1", "n2", "n3", "n4"]}, ["s"]
    ) == [
        Change("stderr", "changed", "s:2", "o1", "n1"),
        Change("stderr", "changed", "s:3", "o2", "n2"),
        Change("stderr", "added", "s:4", None, "n3"),
        Change("stderr", "added", "s:5", None, "n4"),
    ]
    # more new lines than old in one replaced block; autojunk off keeps common lines equal
    many = ["x"] * 250
    assert diff.stderr_changes({"s": ["a", *many]}, {"s": ["b", "c", *many]}, ["s"]) == [
        Change("stderr", "changed", "s:1", "a", "b"),
        Change("stderr", "added", "s:2", None, "c"),
    ]


def test_meta_changes_name_return_codes() -> None:
    a = {"create_return_code": 0, "argv": {"info_return_code": 1}, "x_return_code_n": 1}
    b = {"create_return_code": 1, "argv": {"info_return_code": 2}, "x_return_code_n": 2}
    assert sorted(diff.meta_changes(a, b), key=lambda c: c.path) == [
        Change("meta", "changed", "root['argv']['info_return_code']", 1, 2),
        Change("meta", "return_code", "root['create_return_code']", 0, 1),
        Change("meta", "changed", "root['x_return_code_n']", 1, 2),
    ]


def test_diff_views_order_and_to_json() -> None:
    a = View(
        {"b": 1, "a": 1, "c": 1},
        {"info": ["x"], "create": ["c"]},
        {"a": 1, "z": 1, "info_return_code": 0, "create_return_code": 0},
    )
    b = View(
        {"b": 2, "a": 2, "d": 1},
        {"info": ["y"], "create": ["d"]},
        {"a": 2, "z": 2, "info_return_code": 1, "create_return_code": 1},
    )
    got = diff.diff_views(a, b, "raw", CREATE, False)
    assert [(c.artefact, c.kind, c.path) for c in got] == [
        ("meta", "return_code", "root['create_return_code']"),
        ("meta", "return_code", "root['info_return_code']"),
        ("meta", "changed", "root['a']"),
        ("meta", "changed", "root['z']"),
        ("stdout", "changed", "root['a']"),
        ("stdout", "changed", "root['b']"),
        ("stdout", "removed", "root['c']"),
        ("stdout", "added", "root['d']"),
        ("stderr", "changed", "create:1"),
        ("stderr", "changed", "info:1"),
    ]
    assert got[0].to_json() == {
        "artefact": "meta",
        "kind": "return_code",
        "path": "root['create_return_code']",
        "from": 0,
        "to": 1,
    }
    assert json.dumps(got[6].to_json()) == (
        '{"artefact": "stdout", "kind": "removed", "path": "root[\'c\']", "from": 1, "to": null}'
    )


def test_drift_sees_what_tells_profiles_apart() -> None:
    """1 and 1.0 (or true) are equal to Python but not in a view's fingerprint: drift
    must not call a case unchanged that profiles put in two behaviours."""
    for x, y in [(1, 1.0), (True, 1)]:
        a, b = View({"x": x}, {}, {}), View({"x": y}, {}, {})
        assert a.fingerprint() != b.fingerprint()
        assert diff.diff_views(a, b, "raw", CREATE, False) == [
            Change("stdout", "changed", "root['x']", x, y)
        ]


# --- text stdout (human output of the corpus types) ------------------------------------------

HUMAN = COMMANDS["qemu-img-human"]
MAP_JSON = COMMANDS["map-json"]
TEXT = (
    "image: $TESTDATA_ROOT/raw/r.raw\nfile format: raw\ndisk size: 4 KiB\n"
    "Child node '/file':\n    disk size: 4 KiB\n"
)


def test_the_text_entries_and_mask_text() -> None:
    assert [(e.id, e.pattern.pattern) for e in whitelist.text_entries()] == [
        ("disk-size", r"^(\s*disk size: ).*$")
    ]
    assert whitelist.mask_text(TEXT) == TEXT.replace("4 KiB", M)
    assert whitelist.mask_text("the disk size: 4 KiB\n") == "the disk size: 4 KiB\n"  # a line's own
    # a format entry names directory formats (vhd); a corpus type groups by driver (vpc)
    tool = next(e for e in whitelist.entries() if e.id == "tool-version")
    assert tool.applies_to("vpc") and tool.applies_to("vhd") and not tool.applies_to("raw")


def test_a_text_view_is_masked_text_never_parsed() -> None:
    b = Baseline(TEXT, "", {})
    assert view.view(b, "raw", HUMAN).stdout == TEXT.replace("4 KiB", M)
    assert view.view(b, "raw", HUMAN, show_all=True).stdout == TEXT
    assert view.view(Baseline("[1]\n", "", {}), "raw", HUMAN).stdout == "[1]\n"  # text, not JSON
    assert view.view(Baseline("", "", {}), "raw", HUMAN).stdout is None


def test_same_recording_of_text_and_arrays() -> None:
    def rec(stdout: str, spec_step: str = "info") -> Baseline:
        n = len(stdout.encode())
        return Baseline(stdout, "", {f"{spec_step}_stdout_bytes": n, "stdout_bytes": n})

    other_fs = TEXT.replace("disk size: 4 KiB", "disk size: 1 MiB")
    assert view.same_recording(rec(TEXT), rec(other_fs), "raw", HUMAN) is True
    assert not view.same_recording(rec(TEXT), rec(TEXT.replace("raw\n", "qcow2\n")), "raw", HUMAN)
    a, b = '[{ "start": 0, "length": 1}]\n', '[{"start": 0, "length": 1}]\n'
    assert view.same_recording(rec(a, "map"), rec(b, "map"), "raw", MAP_JSON) is True
    assert not view.same_recording(
        rec(a, "map"), rec(a.replace("1}", "2}"), "map"), "raw", MAP_JSON
    )


def test_text_changes_are_a_line_diff_in_line_order() -> None:
    old = view.View("a\nb\n" + "x\n" * 9 + "c\n", {}, {})
    new = view.View("a\nB\n" + "x\n" * 9 + "c\nd\n", {}, {})
    got = [
        (c.kind, c.path, c.before, c.after) for c in diff.diff_views(old, new, "raw", HUMAN, False)
    ]
    assert got == [("changed", "line:2", "b", "B"), ("added", "line:13", None, "d")]
