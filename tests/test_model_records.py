"""The shared records, formats, info parsing and exit codes, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.model import errors
from toolkit.model.formats import (
    FORMATS,
    HOST_REACHING_OPTIONS,
    PREALLOC_MODES,
    driver_for,
    split_option_string,
)
from toolkit.model.info import info_object, parse_info
from toolkit.model.records import Baseline, Case, CaseResult, QemuBinary, StepResult


def test_formats_table() -> None:
    assert {n: f.driver for n, f in FORMATS.items()} == {
        "qcow2": "qcow2",
        "raw": "raw",
        "vmdk": "vmdk",
        "vhd": "vpc",
        "vhdx": "vhdx",
    }
    assert all(f.name == n for n, f in FORMATS.items())
    assert [driver_for(n) for n in ("vhd", "raw")] == ["vpc", "raw"]
    assert FORMATS["raw"].safe_options == {"preallocation"}
    assert FORMATS["vhd"].safe_options == {"subformat", "force_size"}
    assert FORMATS["vhdx"].safe_options == {"subformat", "block_size", "log_size",
                                            "block_state_zero"}  # fmt: skip
    assert FORMATS["vmdk"].safe_options == {"subformat", "adapter_type", "hwversion",
                                            "toolsversion", "zeroed_grain"}  # fmt: skip
    assert FORMATS["qcow2"].safe_options == {"cluster_size", "refcount_bits", "compat",
        "lazy_refcounts", "extended_l2", "preallocation", "compression_type"}  # fmt: skip
    assert PREALLOC_MODES == ("off", "metadata", "falloc", "full")
    host = {"backing_file", "backing_fmt", "data_file", "data_file_raw", "encrypt.key-secret",
            "encryption", "encrypt.format", "key-secret", "file", "driver"}  # fmt: skip
    assert host == HOST_REACHING_OPTIONS
    # a host-reaching option is never on any allow-list
    assert not any(f.safe_options & HOST_REACHING_OPTIONS for f in FORMATS.values())


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("a=1,b=2", [("a", "1"), ("b", "2")]),
        (" a =1", [("a", "1")]),  # keys are trimmed, values kept verbatim
        ("a= 1 ", [("a", " 1 ")]),
        ("flag", [("flag", "")]),
        ("a=", [("a", "")]),
        ("a=b=c", [("a", "b=c")]),
        ("", [("", "")]),
    ],
)
def test_split_option_string(text: str, pairs: list[tuple[str, str]]) -> None:
    assert split_option_string(text) == pairs


@pytest.mark.parametrize(
    ("text", "value", "obj"),
    [
        ("", None, None),
        (" \n", None, None),
        ('{"virtual-size": 512}\n', {"virtual-size": 512}, {"virtual-size": 512}),
        ("[1]", [1], None),
        ("qemu-img: oops\n", "qemu-img: oops\n", None),
    ],
)
def test_info(text: str, value: object, obj: object) -> None:
    assert parse_info(text) == value
    assert info_object(text) == obj


def test_exit_codes() -> None:
    assert (errors.EXIT_OK, errors.EXIT_FAILED, errors.EXIT_BAD_INPUT) == (0, 1, 2)
    assert errors.EXIT_INTERRUPTED == 130
    assert errors.ToolkitError("x").exit_code == 1
    assert errors.BadInput("x").exit_code == 2
    assert errors.ToolkitFailure("x").exit_code == 1
    assert errors.Interrupted("x").exit_code == 130
    assert all(
        issubclass(c, errors.ToolkitError)
        for c in (errors.BadInput, errors.ToolkitFailure, errors.Interrupted)
    )


def binary(**kw: object) -> QemuBinary:
    base: dict[str, object] = {
        "version": "11.1.3",
        "path": Path("/opt/q/qemu-img"),
        "source": "binaries",
        "version_line": "qemu-img version 11.1.3",
    }
    return QemuBinary(**{**base, **kw})  # type: ignore[arg-type]


def test_qemu_binary() -> None:
    plain = binary(provenance=(("suite", "sid"), ("sha256", "ab")))
    assert plain.command() == ["/opt/q/qemu-img"]
    assert plain.host_paths() == (Path("/opt/q/qemu-img"),)
    assert plain.provenance_dict() == {"suite": "sid", "sha256": "ab"}
    assert (plain.exec_prefix, plain.program_names) == ((), ())
    store = binary(exec_prefix=("/s/ld.so", "--library-path", "/s/lib", "/s/qemu-img"))
    assert store.command() == ["/s/ld.so", "--library-path", "/s/lib", "/s/qemu-img"]
    assert store.host_paths() == (
        Path("/opt/q/qemu-img"),
        Path("/s/ld.so"),
        Path("/s/lib"),
        Path("/s/qemu-img"),
    )


def test_case_defaults() -> None:
    case = Case("create", "raw", "n", "1M")
    assert (case.end_spec, case.create_options, case.prealloc, case.shrink) == (
        None,
        (),
        None,
        None,
    )
    assert (case.source, case.comment) == ("", "")


def test_step_and_case_result() -> None:
    ran = StepResult("create", ("qemu-img", "create"), 0)
    skipped = StepResult("info", ("qemu-img", "info"), None)
    assert (ran.ran, skipped.ran) == (True, False)
    assert StepResult("x", (), -9).ran is True  # killed by a signal still ran
    assert (ran.stdout, ran.stderr, ran.stdout_bytes, ran.stderr_bytes) == ("", "", None, None)
    assert (ran.timed_out, ran.image_bytes) == (None, None)
    result = CaseResult(Case("create", "raw", "n", "1M"), binary(), (ran, skipped), False, 512)
    assert result.step("info") is skipped
    assert result.step("create") is ran
    with pytest.raises(KeyError) as info:
        result.step("resize")
    assert info.value.args == ("resize",)


def test_baseline_meta_is_fresh_each_time() -> None:
    a, b = Baseline("o", "e"), Baseline("o", "e")
    assert a.meta == {} and a.meta is not b.meta
