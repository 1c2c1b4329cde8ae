"""The curated-case loader: the real matrix, and every rejection (exit 2, nothing written)."""

from __future__ import annotations

import subprocess
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import case_files, in_process, toolkit

from toolkit.baseline.case_schema import case_table, parse_case
from toolkit.baseline.cases import load_cases
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS, plan_for

REPO = Path(__file__).resolve().parent.parent
RESIZE = COMMANDS["resize"]


def test_curated_matrix_is_the_plans() -> None:
    cases = load_cases(REPO / "curated_cases", RESIZE)
    main = [c for c in cases if c.source.endswith("resize.toml")]
    counts = {"qcow2": 19, "vhd": 6, "vhdx": 5, "vmdk": 3, "raw": 8}
    assert Counter(c.format for c in main) == counts
    assert len(main) == 41
    by = {(c.format, c.name): c for c in main}
    assert by["qcow2", "1M-to-64M-extended-l2"].create_options == (
        "extended_l2=on,cluster_size=64k",
    )
    assert by["qcow2", "1M-to-4M-prealloc-off"].prealloc == "off"
    assert by["qcow2", "1M-to-4M-default"].prealloc is None  # no flag is not "off"
    assert by["raw", "64M-to-1M-no-shrink"].shrink is False
    assert by["qcow2", "64M-to-1M-no-shrink"].shrink is False


@pytest.mark.parametrize(
    ("fmt", "name", "flag", "final"),
    [
        ("qcow2", "64M-minus-32M-shrink", True, 32 << 20),
        ("qcow2", "1M-to-64M-default", False, 64 << 20),
        ("qcow2", "64M-to-1M-no-shrink", False, 1 << 20),
        ("raw", "64M-to-1M-no-shrink", False, 1 << 20),
        ("raw", "64M-to-1M-shrink", True, 1 << 20),
        ("qcow2", "1M-plus-63M-default", False, 64 << 20),
    ],
)
def test_shrink_inference_on_the_matrix(fmt: str, name: str, flag: bool, final: int) -> None:
    cases = {(c.format, c.name): c for c in load_cases(REPO / "curated_cases", RESIZE)}
    plan = plan_for(cases[fmt, name])
    assert plan.applied_shrink_flag is flag
    assert plan.expected_final_size == final


GOOD = 'format = "qcow2"\nname = "ok"\nstart = "1M"\nend = "4M"\n'


def _case(**fields: str) -> str:
    base = {"format": '"qcow2"', "name": '"a-case"', "start": '"1M"', "end": '"4M"'}
    base.update(fields)
    return "[[case]]\n" + "".join(f"{k} = {v}\n" for k, v in base.items())


REJECTIONS = {
    "corrupt-toml": ("[[case]\nname = ", "not valid TOML"),
    "unknown-format": (_case(format='"qcow3"'), "unknown format 'qcow3'"),
    "duplicate": (_case() + _case(), "duplicate name"),
    "slash-in-name": (_case(name='"a/b"'), "name must be"),
    "dotdot-in-name": (_case(name='"a..b"'), "name must be"),
    "leading-dot-name": (_case(name='".hidden"'), "name must be"),
    "empty-start": (_case(start='""'), "`start` must be a non-empty size"),
    "negative-start": (_case(start='"-1M"'), "start '-1M' is not a size"),
    "bad-suffix": (_case(end='"1Q"'), "end '1Q' does not parse"),
    "missing-end": ('[[case]]\nformat = "raw"\nname = "x"\nstart = "1M"\n', "`end` is required"),
    "prealloc": (_case(prealloc='"sparse"'), "prealloc 'sparse' is not one of"),
    "shrink-type": (_case(shrink='"yes"'), "shrink must be true or false"),
    "unknown-key": (_case(colour='"red"'), "unknown key 'colour'"),
    "sparse-over-1G": (_case(end='"1025M"'), "exceeds the 1024M cap"),
    "raw-over-1G": (_case(format='"raw"', start='"2G"'), "exceeds the 1024M cap"),
    "metadata-over-256M": (
        _case(end='"257M"', options='["preallocation=metadata"]'),
        "exceeds the 256M cap",
    ),
    "metadata-flag-over-256M": (_case(end='"257M"', prealloc='"metadata"'), "256M cap"),
    "full-over-4M": (_case(end='"5M"', prealloc='"full"'), "exceeds the 4M cap"),
    "falloc-over-4M": (_case(end='"8M"', prealloc='"falloc"'), "exceeds the 4M cap"),
    "full-option-over-4M": (_case(end='"5M"', options='["preallocation=full"]'), "4M cap"),
    "fixed-vhd-over-16M": (
        _case(format='"vhd"', end='"17M"', options='["subformat=fixed"]'),
        "exceeds the 16M cap",
    ),
    # #12 item 1: a negative final size once skipped the cap check of the start too.
    "full-start-over-4M-negative-end": (
        _case(format='"raw"', start='"96M"', end='"-128M"', options='["preallocation=full"]'),
        "start 100663296 bytes exceeds the 4M cap",
    ),
    "full-start-1P": (_case(start='"1P"', end='"-2P"', prealloc='"full"'), "exceeds the 4M cap"),
    "start-over-1G-negative-end": (
        _case(start='"200G"', end='"-300G"'),
        "start 214748364800 bytes exceeds the 1024M cap",
    ),
    "backing-file": (_case(options='["backing_file=/etc/passwd"]'), "reaches a host file"),
    "data-file": (_case(options='["data_file=/tmp/x"]'), "reaches a host file"),
    "secret": (_case(options='["encrypt.key-secret=sec0"]'), "reaches a host file or secret"),
    "zero-vhdx": (_case(format='"vhdx"', start='"0"'), "0-byte vhdx start is refused"),
    "option-not-for-format": (_case(format='"raw"', options='["cluster_size=4k"]'), "not allowed"),
}


@pytest.mark.parametrize("label", sorted(REJECTIONS))
def test_loader_rejects(label: str, tmp_path: Path) -> None:
    text, expected = REJECTIONS[label]
    (tmp_path / "resize.toml").write_text(text)
    with pytest.raises(BadInput) as err:
        load_cases(tmp_path, RESIZE)
    assert expected in str(err.value)
    assert str(tmp_path / "resize.toml") in str(err.value)  # names the file


def test_loader_names_the_case(tmp_path: Path) -> None:
    (tmp_path / "resize.toml").write_text(_case(name='"big-one"', end='"2G"'))
    with pytest.raises(BadInput, match=r"case 'big-one' \(qcow2\): final size .* 1024M cap"):
        load_cases(tmp_path, RESIZE)


def test_duplicates_are_caught(tmp_path: Path) -> None:
    (tmp_path / "resize.toml").write_text(_case() + _case())
    with pytest.raises(BadInput, match=r"duplicate name, already defined in .*resize\.toml"):
        load_cases(tmp_path, RESIZE)


def test_the_curated_type_reads_its_matrix_alone(tmp_path: Path) -> None:
    """Findings, wherever they are (an older toolkit's resize-discovered.toml beside the
    matrix, or their own file), never join the curated type."""
    (tmp_path / "resize.toml").write_text(_case())
    (tmp_path / "resize-discovered.toml").write_text(_case(name='"old-finding"'))
    (tmp_path / "discovered").mkdir()
    (tmp_path / "discovered" / "resize.toml").write_text(_case(name='"new-finding"'))
    assert [c.name for c in load_cases(tmp_path, RESIZE)] == ["a-case"]
    found = load_cases(tmp_path, COMMANDS["resize-discovered"])
    assert [(c.name, c.command) for c in found] == [("new-finding", "resize")]


def test_a_findings_type_without_findings_has_no_cases(tmp_path: Path) -> None:
    findings = COMMANDS["resize-discovered"]
    assert load_cases(tmp_path, findings) == []  # no file
    (tmp_path / "discovered").mkdir()
    (tmp_path / "discovered" / "resize.toml").write_text("# every finding was promoted\n")
    assert load_cases(tmp_path, findings) == []
    (tmp_path / "discovered" / "resize.toml").write_text(_case(end='"2G"'))
    with pytest.raises(BadInput, match=r"discovered/resize\.toml: case .* 1024M cap"):
        load_cases(tmp_path, findings)  # a finding is validated as any case is


def test_same_name_in_two_formats_is_fine(tmp_path: Path) -> None:
    (tmp_path / "resize.toml").write_text(_case() + _case(format='"raw"'))
    assert len(load_cases(tmp_path, RESIZE)) == 2


@pytest.mark.parametrize("label", sorted(REJECTIONS))
def test_bad_case_file_exits_2_and_writes_nothing(label: str, tmp_path: Path) -> None:
    _check_bad_case_file(label, tmp_path, in_process)


def test_a_bad_case_file_exits_2_from_the_command_line(tmp_path: Path) -> None:
    _check_bad_case_file("duplicate", tmp_path, toolkit)


def _check_bad_case_file(
    label: str, tmp_path: Path, run: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    cases = case_files(tmp_path, "resize", REJECTIONS[label][0])
    out = tmp_path / "out"
    proc = run("generate", "resize", "--curated-cases", str(cases), "--expected-outputs", str(out))
    assert proc.returncode == 2, proc.stderr
    assert str(cases / "resize.toml") in proc.stderr
    assert REJECTIONS[label][1] in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("name", ["resize", "create", "rebase", "commit-overlay"])
def test_every_curated_case_is_written_back_as_its_table(name: str) -> None:
    """case_table writes any command's case as the table parse_case reads (a Schema's
    params keys are its table's keys), so fuzz saves a valid case file for any command."""
    spec = COMMANDS[name]
    cases = load_cases(REPO / "curated_cases", spec)
    assert cases
    for case in cases:
        (entry,) = tomllib.loads(case_table(case))["case"]
        again, errors = parse_case(entry, spec, case.source)
        assert again == case, (errors, entry)
