"""toolkit.baseline.triple in-process: every committed triple is rebuilt from the
CaseResult it records, byte for byte; then the unit's writing, staging and schema.

The round trip uses the real recordings under expected-outputs/ (both commands, every
version): a CaseResult is assembled from a triple's meta and files, and to_baseline must
give back exactly the committed bytes."""

from __future__ import annotations

import dataclasses
import json
import locale
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from toolkit.baseline.triple import (
    SUFFIXES,
    build_meta,
    combined_stderr,
    dump_json,
    meta_errors,
    meta_schema,
    read_baseline,
    temp_file_owner,
    to_baseline,
    triple_paths,
    write_baseline,
)
from toolkit.model.pipeline import COMMANDS, CommandSpec
from toolkit.model.records import Baseline, Case, CaseResult, QemuBinary, StepResult

TREE = Path(__file__).resolve().parent.parent / "expected-outputs"
RESIZE = COMMANDS["resize"]
CREATE = COMMANDS["create"]


def recorded_result(directory: Path, name: str, spec: CommandSpec) -> CaseResult:
    """The CaseResult a committed triple records, from its meta, stdout and stderr."""
    meta = json.loads((directory / f"{name}.meta.json").read_text())
    stderr = (directory / f"{name}.stderr.txt").read_bytes()
    case = Case(
        command=meta["command"],
        format=meta["format"],
        name=meta["case_name"],
        start_size=meta["start_size_str"],
        end_spec=meta["end_spec"],
        create_options=tuple(meta["create_options"]),
        prealloc=meta["prealloc"],
        shrink=meta["shrink"],
    )
    binary = QemuBinary(meta["qemu_version"], Path("/q"), "store", meta["qemu_version_line"])
    steps, at = [], 0
    for step in spec.steps:
        n = step.name
        size = meta[f"{n}_stderr_bytes"]
        text = ""
        if meta[f"{n}_return_code"] is not None:
            if step.marker is not None:
                at += stderr[at:].index(step.marker.encode()) + len(step.marker) + 1
            text, at = stderr[at : at + size].decode(), at + size
        stdout = meta.get(f"{n}_stdout") or ""
        if n == spec.artefact:
            stdout = (directory / f"{name}.stdout.txt").read_text()
        steps.append(
            StepResult(
                n,
                tuple(meta[f"{n}_argv"]),
                meta[f"{n}_return_code"],
                stdout,
                text,
                meta[f"{n}_stdout_bytes"],
                size,
                meta[f"{n}_timed_out"],
            )
        )
    assert at == len(stderr), f"{directory / name}: stderr has more than its steps' stderr"
    return CaseResult(
        case, binary, tuple(steps), meta["applied_shrink_flag"], meta["expected_final_size"]
    )


def committed() -> list[tuple[CommandSpec, Path, str]]:
    return [
        (spec, meta.parent, meta.name.removesuffix(".meta.json"))
        for spec in (RESIZE, CREATE)
        for meta in sorted((TREE / spec.output_type).glob("*/*/*.meta.json"))
        if meta.parent.parent.name != "profiles"
    ]


def test_every_committed_triple_is_what_its_result_writes() -> None:
    triples = committed()
    assert len(triples) > 400  # both commands, every format and version
    seen_steps = set()
    for spec, directory, name in triples:
        result = recorded_result(directory, name, spec)
        baseline = to_baseline(result, spec)
        out, err, meta = triple_paths(directory, name)
        assert baseline.stdout == out.read_text(), out
        assert baseline.stderr == err.read_text(), err
        assert dump_json(baseline.meta) == meta.read_text(), meta
        assert read_baseline(TREE, directory, name) == baseline
        assert meta_errors(baseline.meta, spec, result.case) == []
        seen_steps.add(tuple(s.ran for s in result.steps))
    # Among them runs that stopped after resize (a marker and no info) and whole runs.
    assert {(True, True, False), (True, True, True), (True, True)} <= seen_steps


def step(name: str, rc: int | None, stderr: str = "", stdout: str = "") -> StepResult:
    return StepResult(name, ("qemu-img", name), rc, stdout, stderr)


def result(*steps: StepResult, case: Case | None = None) -> CaseResult:
    case = case or Case("resize", "raw", "c", "1M", "4M")
    binary = QemuBinary("9.0.0", Path("/q"), "store", "qemu-img version 9.0.0")
    return CaseResult(case, binary, steps, False, 4 << 20)


def test_combined_stderr_puts_each_marker_on_its_own_line() -> None:
    r = result(step("create", 0, "no newline"), step("resize", 0, ""), step("info", 0, "x\n"))
    assert combined_stderr(r, RESIZE) == ("no newline\n---RESIZE STDERR---\n---INFO STDERR---\nx\n")
    r = result(step("create", 0, ""), step("resize", 1, "a\n"), step("info", None))
    assert combined_stderr(r, RESIZE) == "---RESIZE STDERR---\na\n"
    # A step that runs after one that did not (a spec whose info requires only create).
    info_after_create = dataclasses.replace(RESIZE.steps[2], requires=("create",))
    spec = dataclasses.replace(RESIZE, steps=(*RESIZE.steps[:2], info_after_create))
    r = result(step("create", 0, "c\n"), step("resize", None), step("info", 0, "i\n"))
    assert combined_stderr(r, spec) == "c\n---INFO STDERR---\ni\n"
    r = result(step("create", 1, "bad"), step("resize", None), step("info", None))
    assert combined_stderr(r, RESIZE) == "bad"
    with pytest.raises(ValueError):
        combined_stderr(result(step("create", 0)), RESIZE)  # a step missing


def test_build_meta_whole() -> None:
    case = Case("create", "qcow2", "c", "1M", None, ("preallocation=full", "cluster_size=4k"))
    r = CaseResult(
        case,
        QemuBinary("9.0.0", Path("/q"), "store", "qemu-img version 9.0.0"),
        (
            StepResult("create", ("qemu-img", "create"), 0, "Formatting\n", "", 11, 0, False),
            StepResult("info", ("qemu-img", "info"), 0, "{}\n", "w\n", 3, 2, True),
        ),
        applied_shrink_flag=False,
        expected_final_size=1 << 20,
    )
    meta = build_meta(r, CREATE)
    assert meta == {
        "command": "create",
        "case_name": "c",
        "format": "qcow2",
        "qemu_version": "9.0.0",
        "qemu_version_line": "qemu-img version 9.0.0",
        "stdout_bytes": 3,  # the .stdout.txt file's length, for the harness's profile check
        "start_size_str": "1M",
        "end_spec": None,
        "create_options": ["preallocation=full", "cluster_size=4k"],
        "prealloc": None,
        "preallocation": "full",
        "shrink": None,
        "applied_shrink_flag": False,
        "expected_final_size": 1 << 20,
        "create_argv": ["qemu-img", "create"],
        "create_return_code": 0,
        "create_stdout_bytes": 11,
        "create_stderr_bytes": 0,
        "create_timed_out": False,
        "create_stdout": "Formatting\n",
        "info_argv": ["qemu-img", "info"],
        "info_return_code": 0,
        "info_stdout_bytes": 3,
        "info_stderr_bytes": 2,
        "info_timed_out": True,
    }
    assert meta_errors(meta, CREATE, case) == []
    baseline = to_baseline(r, CREATE)
    assert baseline == Baseline("{}\n", "---INFO STDERR---\nw\n", meta)


def test_a_step_that_did_not_run_records_null_stdout_and_no_info_stdout() -> None:
    r = result(
        step("create", 1, "e\n", "out"), step("resize", None, "", "x"), step("info", None, "", "{}")
    )
    meta = build_meta(r, RESIZE)
    assert (meta["create_stdout"], meta["resize_stdout"], "info_stdout" in meta) == (
        "out",
        None,
        False,
    )
    assert to_baseline(r, RESIZE).stdout == ""
    # A command without an info step has no stdout file content at all.
    no_info = CommandSpec("c", "c-json", (RESIZE.steps[0],), artefact="info")
    assert to_baseline(result(step("create", 0, "", "out")), no_info).stdout == ""


def test_meta_schema_has_this_commands_step_keys() -> None:
    schema = meta_schema(RESIZE, RESIZE.step_names())
    steps = [k for k in schema["properties"] if k.split("_")[0] in ("create", "resize", "info")]
    assert steps == [
        "create_options",
        "create_argv",
        "create_return_code",
        "create_stdout_bytes",
        "create_stderr_bytes",
        "create_timed_out",
        "create_stdout",
        "resize_argv",
        "resize_return_code",
        "resize_stdout_bytes",
        "resize_stderr_bytes",
        "resize_timed_out",
        "resize_stdout",
        "info_argv",
        "info_return_code",
        "info_stdout_bytes",
        "info_stderr_bytes",
        "info_timed_out",
    ]
    assert schema["required"][-1] == "info_timed_out"
    assert set(schema["required"]) == set(schema["properties"])
    assert "x-step-properties" not in schema
    assert [k for k in meta_schema(CREATE, CREATE.step_names())["properties"]
            if k.startswith("resize")] == []  # fmt: skip


def test_meta_errors_name_the_key() -> None:
    spec, directory, name = committed()[0]
    meta = json.loads((directory / f"{name}.meta.json").read_text())
    del meta["command"]
    meta["create_argv"] = ["qemu", 1]
    meta["extra"] = True
    case = Case("resize", "qcow2", name, "1M", "4M")
    assert sorted(meta_errors(meta, spec, case)) == [
        "(top): 'command' is a required property",
        "(top): Additional properties are not allowed ('extra' was unexpected)",
        "create_argv/0: 'qemu-img' was expected",
        "create_argv/1: 1 is not of type 'string'",
    ]
    assert meta_errors([], spec, case) == ["(top): [] is not of type 'object'"]


def test_dump_json() -> None:
    assert (
        dump_json({"b": [1, "é"], "a": None})
        == '{\n  "a": null,\n  "b": [\n    1,\n    "é"\n  ]\n}\n'
    )


def test_triple_paths() -> None:
    assert triple_paths(Path("d"), "c") == (
        Path("d/c.stdout.txt"),
        Path("d/c.stderr.txt"),
        Path("d/c.meta.json"),
    )


BASE = Baseline("out\n", "err é\n", {"b": 1, "a": [2]})


def test_write_baseline_writes_what_changed(tmp_path: Path) -> None:
    d = tmp_path / "fmt" / "1.0.0"
    assert write_baseline(tmp_path, d, "c", BASE) == 3
    out, err, meta = triple_paths(d, "c")
    assert (out.read_text(), err.read_text(), meta.read_text()) == (
        "out\n",
        "err é\n",
        '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n',
    )
    assert read_baseline(tmp_path, d, "c") == BASE
    inodes = [p.stat().st_ino for p in (out, err, meta)]
    assert write_baseline(tmp_path, d, "c", BASE) == 0
    assert [p.stat().st_ino for p in (out, err, meta)] == inodes  # nothing rewritten
    assert write_baseline(tmp_path, d, "c", Baseline("out\n", "other\n", BASE.meta)) == 1
    assert [p.stat().st_ino == i for p, i in zip((out, err, meta), inodes, strict=True)] == [
        True,
        False,
        True,
    ]
    assert sorted(p.name for p in d.iterdir()) == ["c.meta.json", "c.stderr.txt", "c.stdout.txt"]


def test_write_baseline_stages_everything_then_renames_meta_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, list[str]]] = []
    real = os.replace

    def replace(src: Any, dst: Any, **dir_fds: Any) -> None:
        calls.append((Path(dst).name, sorted(p.name for p in tmp_path.iterdir())))
        real(src, dst, **dir_fds)

    monkeypatch.setattr(os, "replace", replace)
    write_baseline(tmp_path, tmp_path, "c", BASE)
    assert [name for name, _ in calls] == ["c.stdout.txt", "c.stderr.txt", "c.meta.json"]
    # All three were staged before the first rename.
    assert [temp_file_owner(n) for n in calls[0][1]] == [
        ("c", ".meta.json"),
        ("c", ".stderr.txt"),
        ("c", ".stdout.txt"),
    ]


def test_a_failed_rename_removes_every_staged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace

    def replace(src: Any, dst: Any, **dir_fds: Any) -> None:
        if str(dst).endswith(".stderr.txt"):
            raise OSError(28, "No space left on device")  # injected
        real(src, dst, **dir_fds)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):
        write_baseline(tmp_path, tmp_path, "c", BASE)
    assert [p.name for p in tmp_path.iterdir()] == ["c.stdout.txt"]


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        (".a.stdout.txt.tmp-12-0badf00d", ("a", ".stdout.txt")),
        (".1M-to-4M.stderr.txt.tmp-1-ab", ("1M-to-4M", ".stderr.txt")),
        (".x.y.meta.json.tmp-4194304-ffffffff", ("x.y", ".meta.json")),
        ("..stdout.txt.tmp-1-ab", None),  # a suffix and no case
        (".versions.json.tmp-1-ab", None),
        ("a.stdout.txt.tmp-1-ab", None),
        (".a.stdout.txt", None),
        (".a.stdout.txt.tmp-1.x", None),
    ],
)
def test_temp_file_owner(name: str, owner: tuple[str, str] | None) -> None:
    assert temp_file_owner(name) == owner


def test_suffixes() -> None:
    assert SUFFIXES == (".stdout.txt", ".stderr.txt", ".meta.json")


def test_a_result_with_fewer_steps_than_its_command_is_refused() -> None:
    with pytest.raises(ValueError):
        build_meta(result(step("create", 0), step("resize", 0)), RESIZE)


@pytest.fixture
def ascii_locale() -> Iterator[None]:
    """A host whose locale encoding is ASCII: the tree must read the same there."""
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, old)


def test_a_triple_reads_as_utf8_whatever_the_locale(tmp_path: Path, ascii_locale: None) -> None:
    write_baseline(tmp_path, tmp_path, "c", Baseline("é\n", "è\n", {"ê": "ë"}))
    assert read_baseline(tmp_path, tmp_path, "c") == Baseline("é\n", "è\n", {"ê": "ë"})
