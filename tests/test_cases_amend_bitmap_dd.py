"""The case files of amend, bitmap and dd: the harness's matrices load as written, and every
bad table is refused (exit 2, the file and the case named, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import case_files, in_process

from toolkit.baseline.cases import load_cases
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS

REPO = Path(__file__).resolve().parent.parent


def test_the_matrices_load_as_the_harness_lists_them() -> None:
    amend = {c.name: c for c in load_cases(REPO / "curated_cases", COMMANDS["amend"])}
    assert list(amend) == ["upgrade-plain", "upgrade-with-lazy", "downgrade-plain",
                           "lazy-on", "lazy-off", "noop"]  # fmt: skip
    lazy = amend["upgrade-with-lazy"]
    assert (lazy.format, lazy.start_size, lazy.create_options) == ("qcow2", "1M", ("compat=0.10",))
    assert lazy.param("amend") == ("compat=1.1,lazy_refcounts=on",)
    bitmap = {c.name: c for c in load_cases(REPO / "curated_cases", COMMANDS["bitmap"])}
    assert len(bitmap) == 8
    assert bitmap["enable"].param("ops") == (("--add", "b0"), ("--disable", "b0"),
                                             ("--enable", "b0"))  # fmt: skip
    assert {c.create_options for c in bitmap.values()} == {("compat=1.1",)}
    dd = {c.name: c for c in load_cases(REPO / "curated_cases", COMMANDS["dd"])}
    assert len(dd) == 18
    window = dd["1M-raw-bs65536-skip2-count4-qcow2"]
    assert (window.format, window.param("input_format")) == ("qcow2", "raw")
    assert window.param("operands") == ("bs=65536", "skip=2", "count=4")
    assert dd["1M-raw-whole-vhd"].format == "vhd"  # the harness's name; -O vpc in argv


def _table(command: str, **fields: str) -> str:
    base = {
        "amend": {"format": '"qcow2"', "name": '"a-case"', "start": '"1M"',
                  "options": '["compat=1.1"]', "amend": '["lazy_refcounts=on"]'},
        "bitmap": {"format": '"qcow2"', "name": '"a-case"', "start": '"1M"',
                   "options": '["compat=1.1"]', "ops": '[["--add", "b0"]]'},
        "dd": {"format": '"qcow2"', "name": '"a-case"', "input": '"raw"', "start": '"1M"',
               "operands": '["count=3"]'},
    }[command]  # fmt: skip
    base.update(fields)
    return "[[case]]\n" + "".join(f"{k} = {v}\n" for k, v in base.items() if v)


REJECTIONS: dict[tuple[str, str], tuple[str, str]] = {
    **{
        (command, label): (_table(command, **fields), message)
        for command in ("amend", "bitmap", "dd")
        for label, fields, message in (
            ("unknown-key", {"colour": '"red"'}, "unknown key 'colour'"),
            ("bad-size", {"start": '"1Q"'}, "start '1Q' is not a size qemu-img accepts"),
            ("unsafe-name", {"name": '"../x"'}, "name must be non-empty"),
            ("unknown-format", {"format": '"qcow3"'}, "unknown format 'qcow3'"),
        )
    },
    ("amend", "no-amend"): (_table("amend", amend=""), "`amend` is required"),
    ("amend", "empty-amend"): (_table("amend", amend="[]"), "`amend` must name at least one"),
    ("amend", "amend-backing"): (
        _table("amend", amend='["backing_file=/etc/passwd"]'),
        "option 'backing_file' reaches a host file",
    ),
    ("amend", "amend-size"): (_table("amend", amend='["size=2G"]'), "option 'size' is not allowed"),
    ("amend", "vmdk"): (_table("amend", format='"vmdk"'), "unknown format 'vmdk'"),
    ("amend", "create-over-cap"): (_table("amend", start='"2G"'), "exceeds the 1024M cap"),
    ("bitmap", "no-ops"): (_table("bitmap", ops="[]"), "`ops` must be a list of 1 to 8"),
    ("bitmap", "nine-ops"): (
        _table("bitmap", ops="[" + ", ".join(['["--add", "b0"]'] * 9) + "]"),
        "`ops` must be a list of 1 to 8",
    ),
    ("bitmap", "op-not-a-list"): (_table("bitmap", ops='["--add"]'), "ops[0] must be a list"),
    ("bitmap", "source-file"): (
        _table("bitmap", ops='[["--merge", "b1", "-b", "/etc/passwd", "b0"]]'),
        "ops[0]: flag '-b' is not allowed",
    ),
    ("bitmap", "name-is-a-flag"): (
        _table("bitmap", ops='[["--add", "--disable"]]'),
        "ops[0]: the last word is the bitmap name",
    ),
    ("bitmap", "bad-granularity"): (
        _table("bitmap", ops='[["--add", "-g", "lots", "b0"]]'),
        "ops[0]: -g 'lots' is not a size",
    ),
    ("bitmap", "no-action"): (_table("bitmap", ops='[["-g", "64k", "b0"]]'), "names no action"),
    ("dd", "input-file"): (
        _table("dd", operands='["if=/etc/passwd"]'),
        "operand 'if=/etc/passwd': use bs=, count=, skip=",
    ),
    ("dd", "count-not-a-number"): (
        _table("dd", operands='["count=3k"]'),
        "count is a whole number of blocks",
    ),
    ("dd", "bs-over-cap"): (_table("dd", operands='["bs=8M"]'), "keep it to 4M"),
    ("dd", "input-over-cap"): (_table("dd", start='"5M"'), "keep the input to 4M"),
    ("dd", "unknown-input"): (_table("dd", input='"qcow3"'), "`input` must be one of"),
    ("dd", "create-options"): (_table("dd", options='["compat=1.1"]'), "unknown key 'options'"),
}


@pytest.mark.parametrize(("command", "label"), sorted(REJECTIONS))
def test_the_loader_names_file_and_case(command: str, label: str, tmp_path: Path) -> None:
    text, expected = REJECTIONS[command, label]
    (tmp_path / f"{command}.toml").write_text(text)
    with pytest.raises(BadInput) as err:
        load_cases(tmp_path, COMMANDS[command])
    assert expected in str(err.value)
    assert f"{tmp_path / command}.toml: case " in str(err.value)


@pytest.mark.parametrize(
    ("command", "label"),
    [(c, label) for c in ("amend", "bitmap", "dd") for label in ("unknown-key", "bad-size",
                                                                 "unsafe-name")],
)  # fmt: skip
def test_generate_exits_2_and_writes_nothing(command: str, label: str, tmp_path: Path) -> None:
    text, expected = REJECTIONS[command, label]
    cases = case_files(tmp_path, command, text)
    out = tmp_path / "out"
    proc = in_process(
        "generate", command, "--curated-cases", str(cases), "--expected-outputs", str(out)
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{cases / command}.toml: case " in proc.stderr and expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
