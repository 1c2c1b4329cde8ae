"""toolkit.baseline.cases in-process: case_files, filter_cases, load_cases and parse_case,
with every message whole (tests/test_cases.py drives the same loader on the real matrix
and through the CLI)."""

from __future__ import annotations

import locale
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, in_process

from toolkit.baseline import guard
from toolkit.baseline.case_schema import parse_case
from toolkit.baseline.cases import case_file, filter_cases, legacy_files, load_cases
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case

RESIZE = COMMANDS["resize"]
CREATE = COMMANDS["create"]
SRC = "cases/resize.toml"
KNOWN = "comment, end, format, name, options, prealloc, shrink, start"
NAME_RULE = (
    "name must be non-empty, use only [A-Za-z0-9._+-], contain no '..' and not start "
    "with '.' or '-' (it becomes a file name)"
)


def entry(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"format": "qcow2", "name": "a", "start": "1M", "end": "4M"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def problems(e: Any, spec: Any = RESIZE, index: int = 3) -> list[str]:
    case, errs = parse_case(e, spec, SRC, index)
    assert (case is None) == bool(errs)
    return errs


def test_a_full_resize_case() -> None:
    e = entry(
        name="X1M-to-4M.x+y_z",
        options=["cluster_size=512"],
        prealloc="metadata",
        shrink=False,
        comment="why",
    )
    assert parse_case(e, RESIZE, SRC, 7) == (
        Case(
            command="resize",
            format="qcow2",
            name="X1M-to-4M.x+y_z",
            start_size="1M",
            end_spec="4M",
            create_options=("cluster_size=512",),
            prealloc="metadata",
            shrink=False,
            source=SRC,
            comment="why",
        ),
        [],
    )


def test_a_minimal_create_case() -> None:
    e = {"format": "raw", "name": "1M", "start": "1M"}
    assert parse_case(e, CREATE, SRC) == (
        Case(command="create", format="raw", name="1M", start_size="1M", source=SRC),
        [],
    )


def test_not_a_table() -> None:
    assert parse_case(["x"], RESIZE, SRC, 4) == (None, [f"{SRC}: case #4: must be a table"])
    assert parse_case("x", RESIZE, SRC) == (None, [f"{SRC}: case #0: must be a table"])


@pytest.mark.parametrize("name", [None, "", "a/b", "a..b", ".a", "-a", "a b", 7, "é"])
def test_bad_names(name: object) -> None:
    label = f"{SRC}: case {name!r} (qcow2)" if name else f"{SRC}: case #3"
    assert problems(entry(name=name) if name is not None else entry(name=None)) == [
        f"{label}: {NAME_RULE}"
    ]


def test_name_length_limit() -> None:
    # 255-byte file names, minus the temp name's 22 extra bytes, minus ".stdout.txt".
    assert problems(entry(name="n" * 222)) == []
    long = "n" * 223
    assert problems(entry(name=long)) == [
        f"{SRC}: case {long!r} (qcow2): name is 223 bytes: its files (e.g. nnnnnnnnnnnnnnnnnnnn"
        "..., 234 bytes, and the temp names used while writing) need file names of at most "
        "255 bytes; keep the name to 222 bytes"
    ]


def test_unknown_keys_and_format() -> None:
    assert problems(entry(format="qcow3", zeta=1, alpha=2)) == [
        f"{SRC}: case 'a' (qcow3): unknown key 'alpha' (known: {KNOWN})",
        f"{SRC}: case 'a' (qcow3): unknown key 'zeta' (known: {KNOWN})",
        f"{SRC}: case 'a' (qcow3): unknown format 'qcow3'; known formats: "
        "qcow2, raw, vhd, vhdx, vmdk",
    ]


@pytest.mark.parametrize("start", [None, "", "  ", 5])
def test_start_must_be_a_size_string(start: object) -> None:
    assert problems(entry(start=start)) == [
        f"{SRC}: case 'a' (qcow2): `start` must be a non-empty size string such as \"1M\""
    ]


def test_start_that_does_not_parse() -> None:
    [msg] = problems(entry(start="1Q"))
    assert msg.startswith(f"{SRC}: case 'a' (qcow2): start '1Q' is not a size qemu-img accepts: ")


@pytest.mark.parametrize("end", [None, "", 64])
def test_resize_needs_an_end(end: object) -> None:
    assert problems(entry(end=end)) == [
        f"{SRC}: case 'a' (qcow2): `end` is required: the resize target, e.g. "
        '"64M", "+63M" or "-32M"'
    ]


def test_end_that_does_not_parse() -> None:
    [msg] = problems(entry(end="+1Q"))
    assert msg.startswith(f"{SRC}: case 'a' (qcow2): end '+1Q' does not parse: ")
    # Without a start there is no final size to compute: only the start is reported.
    assert problems(entry(start="", end="+1Q")) == [
        f"{SRC}: case 'a' (qcow2): `start` must be a non-empty size string such as \"1M\""
    ]


def test_create_takes_no_end_and_no_prealloc() -> None:
    e = {"format": "raw", "name": "x", "start": "1M", "end": "", "prealloc": "full"}
    assert problems(e, CREATE) == [
        f"{SRC}: case 'x' (raw): `end` makes no sense for the 'create' command; remove it",
        f"{SRC}: case 'x' (raw): prealloc is resize's --preallocation flag; the 'create' "
        'command has no resize step: use options = ["preallocation=full"] instead',
    ]


@pytest.mark.parametrize("opts", ["cluster_size=512", ["a", 1], {"a": "b"}])
def test_options_must_be_a_list_of_strings(opts: object) -> None:
    assert problems(entry(options=opts)) == [
        f"{SRC}: case 'a' (qcow2): options must be a list of \"KEY=VALUE[,KEY=VALUE]\" strings"
    ]


def test_option_problems_carry_the_case_label() -> None:
    assert problems(entry(options=["data_file=x"])) == [
        f"{SRC}: case 'a' (qcow2): option 'data_file' reaches a host file or secret; cases "
        "may only shape the image itself"
    ]


def test_prealloc_shrink_comment_types() -> None:
    assert problems(entry(prealloc="sparse", shrink="yes", comment=3)) == [
        f"{SRC}: case 'a' (qcow2): prealloc 'sparse' is not one of off, metadata, falloc, "
        "full (or leave it out)",
        f"{SRC}: case 'a' (qcow2): shrink must be true or false (or leave it out to infer it)",
        f"{SRC}: case 'a' (qcow2): comment must be a string",
    ]
    assert parse_case(entry(prealloc="off", shrink=True), RESIZE, SRC)[0] == Case(
        "resize", "qcow2", "a", "1M", "4M", (), "off", True, SRC, ""
    )


def test_caps_are_checked_with_the_final_size_only_on_an_otherwise_valid_case() -> None:
    assert problems(entry(end="+1023M")) == []
    assert problems(entry(end="+1024M")) == [
        f"{SRC}: case 'a' (qcow2): final size 1074790400 bytes exceeds the 1024M cap (a sparse "
        "qcow2 image still writes metadata that grows with its size); use a smaller size"
    ]
    # Another problem first: the cap is not checked (its message would only add noise).
    assert problems(entry(end="+1024M", comment=1)) == [
        f"{SRC}: case 'a' (qcow2): comment must be a string"
    ]
    assert problems({"format": "raw", "name": "x", "start": "2G"}, CREATE) == [
        f"{SRC}: case 'x' (raw): start 2147483648 bytes exceeds the 1024M cap (a sparse raw "
        "image still writes metadata that grows with its size); use a smaller size"
    ]


def test_each_type_reads_one_file(tmp_path: Path) -> None:
    assert case_file(tmp_path, RESIZE) == tmp_path / "resize.toml"
    assert case_file(tmp_path, COMMANDS["resize-discovered"]) == tmp_path / "discovered/resize.toml"
    assert case_file(tmp_path, COMMANDS["create-discovered"]) == tmp_path / "discovered/create.toml"


def test_legacy_findings_files_are_named_never_read(tmp_path: Path) -> None:
    assert legacy_files(tmp_path, RESIZE) == []
    for name in ["resize-z.toml", "resize-a.toml", "resize.toml", "create.toml", "resizex.toml"]:
        (tmp_path / name).write_text("")
    (tmp_path / "resize-dir.toml").mkdir()
    assert legacy_files(tmp_path, RESIZE) == [
        tmp_path / "resize-a.toml",
        tmp_path / "resize-z.toml",
    ]
    assert legacy_files(tmp_path, COMMANDS["resize-discovered"]) == []
    # a command fuzz does not explore never had findings saved beside it: dd-old.toml is
    # no old findings file (and dd has no findings type to name as its home)
    (tmp_path / "dd-old.toml").write_text("")
    assert legacy_files(tmp_path, COMMANDS["dd"]) == []
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "dd.toml").write_text((REPO / "curated_cases" / "dd.toml").read_text())
    (cases / "dd-old.toml").write_text("")
    out = tmp_path / "out"
    proc = in_process("generate", "dd", "--curated-cases", str(cases), "--case", "nothing-*",
                      "--expected-outputs", str(out))  # fmt: skip
    assert proc.returncode == 2 and "--case 'nothing-*' matches no case" in proc.stderr


def c(fmt: str, name: str) -> Case:
    return Case("resize", fmt, name, "1M", "4M")


CASES = [c("qcow2", "b1"), c("raw", "a1"), c("qcow2", "a2"), c("raw", "b1")]


def test_filter_cases() -> None:
    assert filter_cases(CASES, [], []) == CASES
    assert filter_cases(CASES, ["raw"], []) == [CASES[1], CASES[3]]
    assert filter_cases(CASES, ["raw", "qcow2"], ["a*"]) == [CASES[1], CASES[2]]
    assert filter_cases(CASES, [], ["b1", "a2"]) == [CASES[0], CASES[2], CASES[3]]


def test_filter_cases_refusals() -> None:
    with pytest.raises(BadInput) as caught:
        filter_cases(CASES, ["raw", "qcow"], [])
    assert str(caught.value) == (
        "unknown format 'qcow' in --format; known: qcow2, raw, vhd, vhdx, vmdk"
    )
    with pytest.raises(BadInput) as caught:
        filter_cases(CASES, ["vhd"], [])
    assert str(caught.value) == (
        "--format vhd matches no curated case; formats with cases: ['qcow2', 'raw']"
    )
    with pytest.raises(BadInput) as caught:
        filter_cases(CASES, ["qcow2"], ["a2", "A*"])
    # Globs are case-sensitive, and the names offered are those of the chosen formats.
    assert str(caught.value) == "--case 'A*' matches no case; available: a2, b1"


def write(d: Path, name: str, text: str) -> Path:
    d.mkdir(exist_ok=True)
    path = d / name
    path.write_text(text)
    return path


def refusal(d: Path) -> str:
    with pytest.raises(BadInput) as caught:
        load_cases(d, RESIZE)
    return str(caught.value)


HEAD = "invalid curated cases (nothing was run or written):\n  "
CASE = '[[case]]\nformat = "raw"\nname = "{}"\nstart = "1M"\nend = "4M"\n'


def test_load_cases_in_file_order(tmp_path: Path) -> None:
    write(tmp_path, "resize.toml", CASE.format("b") + CASE.format("a"))
    got = load_cases(tmp_path, RESIZE)
    assert [(x.name, x.source) for x in got] == [
        ("b", str(tmp_path / "resize.toml")),
        ("a", str(tmp_path / "resize.toml")),
    ]


def test_no_case_file(tmp_path: Path) -> None:
    assert refusal(tmp_path) == (
        f"no case file for command 'resize': expected {tmp_path}/resize.toml "
        "(pass --curated-cases DIR if the cases live elsewhere)"
    )


def test_every_problem_of_the_file_is_listed(tmp_path: Path) -> None:
    main = write(
        tmp_path,
        "resize.toml",
        "title = 1\n" + CASE.format("a") * 2 + "[[case]]\nname = 'q'\n[[case]]\nx = 1\n",
    )
    lines = refusal(tmp_path).removeprefix(HEAD).split("\n  ")
    assert lines == [
        f"{main}: unknown top-level keys ['title']; cases go in [[case]] tables",
        f"{main}: case 'a' (raw): duplicate name, already defined in {main}; names must be "
        "unique per format",
        f"{main}: case 'q' (None): unknown format None; known formats: qcow2, raw, vhd, vhdx, vmdk",
        f"{main}: case 'q' (None): `start` must be a non-empty size string such as \"1M\"",
        f"{main}: case 'q' (None): `end` is required: the resize target, e.g. \"64M\", "
        '"+63M" or "-32M"',
        f"{main}: case #4: unknown key 'x' (known: {KNOWN})",
        f"{main}: case #4: {NAME_RULE}",
        f"{main}: case #4: unknown format None; known formats: qcow2, raw, vhd, vhdx, vmdk",
        f'{main}: case #4: `start` must be a non-empty size string such as "1M"',
        f'{main}: case #4: `end` is required: the resize target, e.g. "64M", "+63M" or "-32M"',
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# nothing\n", "holds no [[case]] table; add cases or remove the file"),
        ('[case]\nname = "t"\n', "`case` must be an array of tables ([[case]])"),
        ("[[case]\n", "not valid TOML: "),
    ],
)
def test_a_file_that_holds_no_cases_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, "resize.toml", text)
    assert refusal(tmp_path).startswith(f"{HEAD}{path}: {problem}")


def test_unreadable_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    latin = tmp_path / "resize.toml"
    latin.write_bytes(b"# caf\xe9\n")
    (tmp_path / "resize-dir.toml").mkdir()  # not a file: not a case file
    message = refusal(tmp_path)
    assert message.startswith(f"{HEAD}{latin}: not valid TOML: 'utf-8' codec can't decode")
    assert message.endswith(". Fix the syntax and re-run.")
    # A read error injected: the tests run as root, which reads any file.
    for error, shown in [(PermissionError(13, "Permission denied"), "Permission denied"),
                         (OSError("disk on fire"), "disk on fire")]:  # fmt: skip

        def fail(*args: object, exc: OSError = error, **kwargs: object) -> str:
            raise exc

        monkeypatch.setattr(guard, "read_text", fail)
        assert refusal(tmp_path) == (
            f"{HEAD}{latin}: cannot be read ({shown}); fix its permissions"
        )


def test_case_files_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    (tmp_path / "resize.toml").write_text(CASE.format("a") + 'comment = "é"\n', encoding="utf-8")
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")  # an ASCII locale
    try:
        [case] = load_cases(tmp_path, RESIZE)
    finally:
        locale.setlocale(locale.LC_CTYPE, old)
    assert case.comment == "é"
