"""verify --offline's per-triple checks (stages/verify/triple_checks.py), in-process.

Two committed raw 11.1.3 triples (one that grew, one whose resize was refused) copied out
of expected-outputs/ into a one-version tree; each test plants one defect for real and
pins every problem check_triple reports (check id, file, message) and whether the
triple could be read: the messages are what `verify --offline` prints.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolkit.baseline.cases import load_cases
from toolkit.baseline.triple import dump_json
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case
from toolkit.stages.verify.offline import CHECKS
from toolkit.stages.verify.triple_checks import Problem, check_triple, host_paths, relative

REPO = Path(__file__).resolve().parent.parent
SPEC = COMMANDS["resize"]
V = "11.1.3"
GROWN, REFUSED = "1M-to-64M-default", "64M-to-1M-no-shrink"
CASES = {
    c.name: c
    for c in load_cases(REPO / "curated_cases", SPEC)
    if c.format == "raw" and c.name in (GROWN, REFUSED)
}
SOURCE = REPO / "expected-outputs" / SPEC.output_type
LISTING: dict[str, Any] = json.loads((SOURCE / "versions.json").read_text())
LINE = LISTING[V]["version_line"]
DIR = f"{SPEC.output_type}/raw/{V}"
SUFFIX = {"stdout": ".stdout.txt", "stderr": ".stderr.txt", "meta": ".meta.json"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / DIR).mkdir(parents=True)
    for name in (GROWN, REFUSED):
        for suffix in SUFFIX.values():
            shutil.copy(SOURCE / "raw" / V / f"{name}{suffix}", tmp_path / DIR)
    return tmp_path


def path(root: Path, case: str, which: str) -> Path:
    return root / DIR / f"{case}{SUFFIX[which]}"


def edit_meta(root: Path, case: str, **changes: Any) -> None:
    p = path(root, case, "meta")
    p.write_text(dump_json({**json.loads(p.read_text()), **changes}))


def replace(root: Path, case: str, which: str, old: str, new: str, count: str = "") -> None:
    """Edit stdout.txt or stderr.txt; with `count`, keep that byte count in the meta right."""
    p = path(root, case, which)
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))
    if count:
        meta = json.loads(path(root, case, "meta").read_text())
        delta = len(new.encode()) - len(old.encode())
        counts = [count, "stdout_bytes"] if count == "info_stdout_bytes" else [count]
        edit_meta(root, case, **{c: meta[c] + delta for c in counts})


def check(
    root: Path, case: str | Case, versions_json: dict[str, Any] | None = LISTING
) -> tuple[list[Problem], bool]:
    c = CASES[case] if isinstance(case, str) else case
    return check_triple(root, SPEC, c, V, versions_json)


def test_the_committed_triples_pass(root: Path) -> None:
    assert check(root, GROWN) == ([], True)
    assert check(root, REFUSED) == ([], True)
    assert check(root, GROWN, None) == ([], True)  # versions.json's own check reports it
    assert check(root, GROWN, {V: "not an object"}) == ([], True)


def _stdout_not_utf8(root: Path) -> None:
    path(root, GROWN, "stdout").write_bytes(b"{\xff}")


def _stderr_a_directory(root: Path) -> None:
    path(root, GROWN, "stderr").unlink()
    path(root, GROWN, "stderr").mkdir()


def _meta_missing(root: Path) -> None:
    path(root, GROWN, "meta").unlink()


def _meta_not_json(root: Path) -> None:
    path(root, GROWN, "meta").write_text("{")


def _meta_fails_schema_once(root: Path) -> None:
    edit_meta(root, GROWN, resize_timed_out="no")


def _meta_fails_schema_often(root: Path) -> None:
    keys = ("create_timed_out", "resize_timed_out", "info_timed_out", "create_stdout_bytes")
    edit_meta(root, GROWN, **dict.fromkeys(keys, "x"), format=1, case_name=2)


def _temp_dir_in_stdout(root: Path) -> None:
    replace(
        root, GROWN, "stdout", '"$FILENAME"', f'"{tempfile.gettempdir()}/d"', "info_stdout_bytes"
    )


def _abs_path_in_stdout(root: Path) -> None:
    replace(root, GROWN, "stdout", '"$FILENAME"', '"/srv/disk.img"', "info_stdout_bytes")


def _mkdtemp_name_in_stderr(root: Path) -> None:
    replace(root, REFUSED, "stderr", "Use the", "tmp1a2b3c4d: Use the", "resize_stderr_bytes")


def _run_dir_in_meta(root: Path) -> None:
    text = "Formatting 'qemu-img-baselines-run-x', fmt=raw size=1048576\n"
    edit_meta(root, GROWN, create_stdout=text, create_stdout_bytes=len(text))


def _another_build(root: Path) -> None:
    edit_meta(root, GROWN, qemu_version_line="qemu-img version 11.1.3")


def _stdout_bytes_wrong(root: Path) -> None:
    replace(root, GROWN, "stdout", '"raw"', '"räw"')


def _stdout_without_info(root: Path) -> None:
    path(root, REFUSED, "stdout").write_text("é")


def _stdout_of_failed_info(root: Path) -> None:
    replace(root, GROWN, "stderr", "---INFO STDERR---\n", "---INFO STDERR---\nno\n")
    edit_meta(root, GROWN, info_return_code=1, info_stderr_bytes=3)


def _stdout_of_timed_out_info(root: Path) -> None:
    edit_meta(root, GROWN, info_timed_out=True)


def _stdout_not_json(root: Path) -> None:
    path(root, GROWN, "stdout").write_text("nope\n")
    edit_meta(root, GROWN, info_stdout_bytes=5, stdout_bytes=5)


def _stdout_a_json_list(root: Path) -> None:
    path(root, GROWN, "stdout").write_text("[]\n")
    edit_meta(root, GROWN, info_stdout_bytes=3, stdout_bytes=3)


def _filed_under_another_case(root: Path) -> None:
    edit_meta(root, GROWN, case_name=REFUSED)


def _plan_changed(root: Path) -> None:
    edit_meta(root, GROWN, expected_final_size=1048576, applied_shrink_flag=True)


def _argv_changed(root: Path) -> None:
    edit_meta(root, GROWN, resize_argv=["qemu-img", "resize", "$FILENAME", "64M"])


def _case_changed(root: Path) -> None:
    edit_meta(root, GROWN, end_spec="32M")


def _marker_missing(root: Path) -> None:
    replace(root, GROWN, "stderr", "---INFO STDERR---\n", "")


def _section_bytes_wrong(root: Path) -> None:
    edit_meta(root, REFUSED, resize_stderr_bytes=237)


def _stderr_off_the_layout(root: Path) -> None:
    # \x0c ends a line for str.splitlines but not for the layout: no line break before the marker
    path(root, GROWN, "stderr").write_text("abc\x0c---RESIZE STDERR---\n---INFO STDERR---\n")
    edit_meta(root, GROWN, create_stderr_bytes=4)


def _virtual_size_wrong(root: Path) -> None:
    replace(
        root,
        GROWN,
        "stdout",
        '"virtual-size": 67108864,\n    "filename"',
        '"virtual-size": 67108865,\n    "filename"',
    )


def _virtual_size_missing(root: Path) -> None:
    replace(root, GROWN, "stdout", '\n    "virtual-size": 67108864,', "", "info_stdout_bytes")


PLANTS: dict[str, Callable[[Path], None]] = {
    f.__name__[1:]: f
    for f in (
        _stdout_not_utf8,
        _stderr_a_directory,
        _meta_missing,
        _meta_not_json,
        _meta_fails_schema_once,
        _meta_fails_schema_often,
        _temp_dir_in_stdout,
        _abs_path_in_stdout,
        _mkdtemp_name_in_stderr,
        _run_dir_in_meta,
        _another_build,
        _stdout_bytes_wrong,
        _stdout_without_info,
        _stdout_of_failed_info,
        _stdout_of_timed_out_info,
        _stdout_not_json,
        _stdout_a_json_list,
        _filed_under_another_case,
        _plan_changed,
        _argv_changed,
        _case_changed,
        _marker_missing,
        _section_bytes_wrong,
        _stderr_off_the_layout,
        _virtual_size_wrong,
        _virtual_size_missing,
    )
}
CASE_OF: dict[str, str | Case] = {
    "stdout_without_info": REFUSED,
    "mkdtemp_name_in_stderr": REFUSED,
    "section_bytes_wrong": REFUSED,
}


def _rounded_up_size_wrong(root: Path) -> None:
    argv = ["qemu-img", "resize", "-f", "raw", "$FILENAME", "67109000"]
    edit_meta(root, GROWN, end_spec="67109000", resize_argv=argv, expected_final_size=67109000)


def _rounded_up_size_right(root: Path) -> None:
    _rounded_up_size_wrong(root)
    old, new = (
        '"virtual-size": 67108864,\n    "filename"',
        '"virtual-size": 67109376,\n    "filename"',
    )
    replace(root, GROWN, "stdout", old, new, "info_stdout_bytes")


def _size_the_grammar_rejects(root: Path) -> None:
    argv = ["qemu-img", "resize", "-f", "raw", "$FILENAME", "64Q"]
    edit_meta(root, GROWN, end_spec="64Q", resize_argv=argv, expected_final_size=None)


def _filed_under_another_place(root: Path) -> None:
    edit_meta(root, GROWN, command="create", format="qcow2", qemu_version="11.1.2")


PLANTS.update(
    size_the_grammar_rejects=_size_the_grammar_rejects,
    filed_under_another_place=_filed_under_another_place,
    rounded_up_size_wrong=_rounded_up_size_wrong,
    rounded_up_size_right=_rounded_up_size_right,
)
CASE_OF["size_the_grammar_rejects"] = dataclasses.replace(CASES[GROWN], end_spec="64Q")
CASE_OF["rounded_up_size_wrong"] = CASE_OF["rounded_up_size_right"] = dataclasses.replace(
    CASES[GROWN], end_spec="67109000"
)
WRONG_PLACE = "the triple is filed under the wrong case, format or version"
SECTOR_NOTE = "resize returned 0 but virtual-size is 67108864, not expected_final_size 67109000 "
SECTOR_NOTE += "as qemu-img reports it (67109376)"
# plant -> whether the meta could be read, and every problem: (check, file in DIR, message)
EXPECTED: dict[str, tuple[bool, list[tuple[str, str, str]]]] = {
    "stdout_not_utf8": (
        False,
        [
            (
                "schema",
                "1M-to-64M-default.stdout.txt",
                "not UTF-8 text: 'utf-8' codec can't decode byte 0xff in position 1: invalid "
                "start byte",
            ),
        ],
    ),
    "stderr_a_directory": (
        False,
        [
            (
                "file-type",
                "1M-to-64M-default.stderr.txt",
                "a directory, where a baseline's text (.stdout.txt, .stderr.txt) must be a "
                "regular file (a link or a special file would read or write elsewhere, or hang); "
                "restore it from git, or remove it and regenerate it with the generate "
                "command",
            ),
        ],
    ),
    "meta_missing": (
        False,
        [
            ("schema", "1M-to-64M-default.meta.json", "cannot be read: No such file or directory"),
        ],
    ),
    "meta_not_json": (
        False,
        [
            (
                "schema",
                "1M-to-64M-default.meta.json",
                "not valid JSON: Expecting property name enclosed in double quotes: line 1 "
                "column 2 (char 1)",
            ),
        ],
    ),
    "meta_fails_schema_once": (
        False,
        [
            (
                "schema",
                "1M-to-64M-default.meta.json",
                "fails the meta schema at resize_timed_out: 'no' is not of type 'boolean', 'null'",
            ),
        ],
    ),
    "meta_fails_schema_often": (
        False,
        [
            (
                "schema",
                "1M-to-64M-default.meta.json",
                "fails the meta schema at case_name: 2 is not of type 'string'",
            ),
            (
                "schema",
                "1M-to-64M-default.meta.json",
                "fails the meta schema at format: 1 is not of type 'string'",
            ),
            (
                "schema",
                "1M-to-64M-default.meta.json",
                "fails the meta schema at create_stdout_bytes: 'x' is not of type 'integer', "
                "'null'",
            ),
            (
                "schema",
                "1M-to-64M-default.meta.json",
                "fails the meta schema at create_timed_out: 'x' is not of type 'boolean', 'null'",
            ),
            (
                "schema",
                "1M-to-64M-default.meta.json",
                "fails the meta schema at resize_timed_out: 'x' is not of type 'boolean', 'null'",
            ),
        ],
    ),
    "temp_dir_in_stdout": (
        True,
        [
            (
                "abs-path",
                "1M-to-64M-default.stdout.txt",
                "contains host path material '{tmp}': only $FILENAME (and $TEST_DIR) may "
                "stand for scratch paths; fix toolkit/qemu/normalise.py and regenerate",
            ),
        ],
    ),
    "abs_path_in_stdout": (
        True,
        [
            (
                "abs-path",
                "1M-to-64M-default.stdout.txt",
                "contains host path material '/srv': only $FILENAME (and $TEST_DIR) may stand "
                "for scratch paths; fix toolkit/qemu/normalise.py and regenerate",
            ),
        ],
    ),
    "mkdtemp_name_in_stderr": (
        True,
        [
            (
                "abs-path",
                "64M-to-1M-no-shrink.stderr.txt",
                "contains host path material 'tmp1a2b3c4d': only $FILENAME (and $TEST_DIR) "
                "may stand for scratch paths; fix toolkit/qemu/normalise.py and regenerate",
            ),
        ],
    ),
    "run_dir_in_meta": (
        True,
        [
            (
                "abs-path",
                "1M-to-64M-default.meta.json",
                "contains host path material 'qemu-img-baselines-run-': only $FILENAME (and "
                "$TEST_DIR) may stand for scratch paths; fix toolkit/qemu/normalise.py and "
                "regenerate",
            ),
        ],
    ),
    "another_build": (
        True,
        [
            (
                "versions-json",
                "1M-to-64M-default.meta.json",
                "qemu_version_line 'qemu-img version 11.1.3' is not versions.json's 'qemu-img "
                "version 11.1.3 (Debian 1:11.1.3+ds-1)' for 11.1.3: recorded by another build",
            ),
        ],
    ),
    "stdout_bytes_wrong": (
        True,
        [
            (
                "stdout-json",
                "1M-to-64M-default.stdout.txt",
                "is 626 bytes, info_stdout_bytes says 625",
            ),
        ],
    ),
    "stdout_without_info": (
        True,
        [
            (
                "stdout-json",
                "64M-to-1M-no-shrink.stdout.txt",
                "has 1 characters but info did not run",
            ),
        ],
    ),
    "stdout_of_failed_info": (
        True,
        [
            (
                "stdout-json",
                "1M-to-64M-default.stdout.txt",
                "has 625 characters but info returned 1",
            ),
        ],
    ),
    "stdout_of_timed_out_info": (
        True,
        [
            (
                "return-codes",
                "1M-to-64M-default.meta.json",
                "info was killed at --timeout: a timeout is no baseline; regenerate it with a "
                "larger --timeout",
            ),
            (
                "stdout-json",
                "1M-to-64M-default.stdout.txt",
                "has 625 characters but info returned 0",
            ),
        ],
    ),
    "stdout_not_json": (
        True,
        [
            (
                "stdout-json",
                "1M-to-64M-default.stdout.txt",
                "info returned 0 but this is not JSON: Expecting value: line 1 column 1 (char 0)",
            ),
        ],
    ),
    "stdout_a_json_list": (
        True,
        [
            (
                "stdout-json",
                "1M-to-64M-default.stdout.txt",
                "info returned 0 but this is no JSON object",
            ),
        ],
    ),
    "filed_under_another_case": (
        True,
        [
            (
                "identity",
                "1M-to-64M-default.meta.json",
                "case_name is '64M-to-1M-no-shrink', expected '1M-to-64M-default' (the triple "
                "is filed under the wrong case, format or version)",
            ),
        ],
    ),
    "plan_changed": (
        True,
        [
            (
                "plan",
                "1M-to-64M-default.meta.json",
                "applied_shrink_flag is True, expected False (recomputed from the case data "
                "and the version's size grammar)",
            ),
            (
                "plan",
                "1M-to-64M-default.meta.json",
                "expected_final_size is 1048576, expected 67108864 (recomputed from the case "
                "data and the version's size grammar)",
            ),
        ],
    ),
    "argv_changed": (
        True,
        [
            (
                "argv",
                "1M-to-64M-default.meta.json",
                "resize_argv is ['qemu-img', 'resize', '$FILENAME', '64M'], expected "
                "['qemu-img', 'resize', '-f', 'raw', '$FILENAME', '64M'] (recomputed from the "
                "case data)",
            ),
        ],
    ),
    "case_changed": (
        True,
        [
            (
                "case-data",
                "1M-to-64M-default.meta.json",
                "end_spec is '32M', expected '64M' (the curated case ({source}) changed since "
                "this was recorded; regenerate it)",
            ),
        ],
    ),
    "marker_missing": (
        True,
        [
            (
                "stderr-markers",
                "1M-to-64M-default.stderr.txt",
                "marker lines ['---RESIZE STDERR---'] do not match the steps that ran "
                "(create, resize, info): expected ['---RESIZE STDERR---', '---INFO STDERR---']",
            ),
        ],
    ),
    "section_bytes_wrong": (
        True,
        [
            (
                "stderr-markers",
                "64M-to-1M-no-shrink.stderr.txt",
                "the resize section is 238 bytes but resize_stderr_bytes is 237",
            ),
        ],
    ),
    "stderr_off_the_layout": (
        True,
        [
            (
                "stderr-markers",
                "1M-to-64M-default.stderr.txt",
                "does not match the layout: first step's stderr, then '<marker>' and the "
                "stderr of each later step that ran, each marker on its own line",
            ),
        ],
    ),
    "virtual_size_wrong": (
        True,
        [
            (
                "final-size",
                "1M-to-64M-default.stdout.txt",
                "resize returned 0 but virtual-size is 67108865, not expected_final_size 67108864",
            ),
        ],
    ),
    "virtual_size_missing": (
        True,
        [
            (
                "final-size",
                "1M-to-64M-default.stdout.txt",
                "resize returned 0 but virtual-size is None, not expected_final_size 67108864",
            ),
        ],
    ),
    "rounded_up_size_wrong": (True, [("final-size", f"{GROWN}.stdout.txt", SECTOR_NOTE)]),
    "rounded_up_size_right": (True, []),
    "size_the_grammar_rejects": (True, []),  # qemu-img took 64Q here: no size to compare
    "filed_under_another_place": (
        True,
        [
            (
                "identity",
                f"{GROWN}.meta.json",
                f"{key} is {have!r}, expected {want!r} ({WRONG_PLACE})",
            )
            for key, have, want in (
                ("command", "create", "resize"),
                ("format", "qcow2", "raw"),
                ("qemu_version", "11.1.2", "11.1.3"),
            )
        ],
    ),
}


def test_every_plant_has_its_expected_problems() -> None:
    assert sorted(PLANTS) == sorted(EXPECTED)


@pytest.mark.parametrize("name", list(PLANTS))
def test_each_planted_defect_is_reported_exactly(root: Path, name: str) -> None:
    PLANTS[name](root)
    readable, expected = EXPECTED[name]
    source = CASES[GROWN].source
    want = [
        Problem(
            c, f"{DIR}/{f}", m.replace("{tmp}", tempfile.gettempdir()).replace("{source}", source)
        )
        for c, f, m in expected
    ]
    assert check(root, CASE_OF.get(name, GROWN)) == (want, readable)


def test_host_paths_are_home_temp_and_run_dirs() -> None:
    tmp = tempfile.gettempdir()
    want = {str(Path.home()), tmp, os.path.realpath(tmp), "qemu-img-baselines-run-"}
    assert host_paths() == tuple(sorted(want - {"/"}))


def test_a_command_without_resize_skips_the_final_size_rule(tmp_path: Path) -> None:
    spec = COMMANDS["create"]
    case = next(c for c in load_cases(REPO / "curated_cases", spec) if c.format == "raw")
    d = tmp_path / spec.output_type / "raw" / V
    d.mkdir(parents=True)
    for suffix in SUFFIX.values():
        shutil.copy(
            REPO / "expected-outputs" / spec.output_type / "raw" / V / f"{case.name}{suffix}", d
        )
    listing = json.loads(
        (REPO / "expected-outputs" / spec.output_type / "versions.json").read_text()
    )
    assert check_triple(tmp_path, spec, case, V, listing) == ([], True)


def test_relative_names_a_path_outside_the_tree_in_full(tmp_path: Path) -> None:
    assert relative(tmp_path, tmp_path / "a" / "b") == "a/b"
    assert relative(tmp_path / "tree", tmp_path / "b") == str(tmp_path / "b")


def test_the_plants_here_and_in_the_tree_tests_cover_every_check() -> None:
    seen = {c for _, found in EXPECTED.values() for c, _, _ in found}
    assert seen <= set(CHECKS)
    assert set(CHECKS) - seen == {
        "missing", "unfinished", "stale", "version-map", "profiles", "profile-rules"
    }  # fmt: skip


@pytest.mark.parametrize(("home", "kept"), [("/", False), ("/h", True)])
def test_host_paths_skip_the_root_directory_only(
    monkeypatch: pytest.MonkeyPatch, home: str, kept: bool
) -> None:
    monkeypatch.setenv("HOME", home)
    host_paths.cache_clear()
    try:
        assert (home in host_paths()) is kept
    finally:
        monkeypatch.undo()
        host_paths.cache_clear()


def test_a_command_without_info_has_no_stdout_to_judge(root: Path) -> None:
    """A pipeline whose last step is resize: stdout.txt stays empty and is not parsed."""
    spec = dataclasses.replace(SPEC, steps=SPEC.steps[:2])
    p = path(root, GROWN, "meta")
    meta = {k: v for k, v in json.loads(p.read_text()).items() if not k.startswith("info_")}
    meta["stdout_bytes"] = 0  # no step's stdout is the file
    p.write_text(dump_json(meta))
    path(root, GROWN, "stderr").write_text("---RESIZE STDERR---\n")
    path(root, GROWN, "stdout").write_text("")
    assert check_triple(root, spec, CASES[GROWN], V, LISTING) == ([], True)


def test_the_plan_follows_the_version_s_size_grammar(tmp_path: Path) -> None:
    """qemu-img 5.2 reads "0x40M" as 64 MiB (8.0 refuses a hex size with a suffix)."""
    old = "5.2.0"
    d = tmp_path / SPEC.output_type / "raw" / old
    d.mkdir(parents=True)
    for suffix in SUFFIX.values():
        shutil.copy(SOURCE / "raw" / old / f"{GROWN}{suffix}", d)
    argv = ["qemu-img", "resize", "-f", "raw", "$FILENAME", "0x40M"]
    p = d / f"{GROWN}.meta.json"
    meta = json.loads(p.read_text())
    p.write_text(dump_json({**meta, "end_spec": "0x40M", "resize_argv": argv}))
    case = dataclasses.replace(CASES[GROWN], end_spec="0x40M")
    assert check_triple(tmp_path, SPEC, case, old, LISTING) == ([], True)
    out = d / f"{GROWN}.stdout.txt"
    old_size = '"virtual-size": 67108864,\n    "filename"'
    assert old_size in out.read_text()
    out.write_text(out.read_text().replace(old_size, old_size.replace("864", "865")))
    why = "resize returned 0 but virtual-size is 67108865, not expected_final_size 67108864"
    assert check_triple(tmp_path, SPEC, case, old, LISTING) == (
        [Problem("final-size", f"{SPEC.output_type}/raw/{old}/{GROWN}.stdout.txt", why)],
        True,
    )


def test_a_problem_is_reported_as_check_where_and_message() -> None:
    """verify --report's record of a problem (errors and warnings are listed apart)."""
    found = Problem("stale", "raw/11.1.3/x.txt", "a file outside the layout", warning=True)
    assert found.as_dict() == {
        "check": "stale",
        "where": "raw/11.1.3/x.txt",
        "message": "a file outside the layout",
    }
