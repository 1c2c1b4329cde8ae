"""The invariants, the I5 classification and the findings file, on synthetic results."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from toolkit.baseline.cases import load_cases
from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import COMMANDS, plan_for
from toolkit.model.records import Case, CaseResult, QemuBinary, StepResult
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.drift import drift
from toolkit.stages.fuzz.grammar import Answer, i5_grammar
from toolkit.stages.fuzz.invariants import (
    created_size,
    i1_exact_size,
    i2_shrink_guard,
    i3_rejected_resize_safe,
    i4_direction,
    i6_determinism,
)

RESIZE = COMMANDS["resize"]
M = 1 << 20


def binary(version: str = "11.1.3") -> QemuBinary:
    return QemuBinary(
        version, Path("/nonexistent/qemu-img"), "qemu-img", f"qemu-img version {version}"
    )


def info(vsize: int, **extra: object) -> str:
    return json.dumps({"virtual-size": vsize, "actual-size": 4096, "format": "raw", **extra})


def result(
    case: Case,
    before: int | None,
    resize_rc: int | None,
    after: int | None,
    length: tuple[int, int] = (M, M),
    version: str = "11.1.3",
    resize_err: str = "",
) -> CaseResult:
    """A FUZZ_SPEC run: create ok, info-before, resize, info-after."""
    plan = plan_for(case)

    def step(
        name: str, rc: int | None, out: str = "", err: str = "", size: int | None = None
    ) -> StepResult:
        return StepResult(name, ("qemu-img", name), rc, out, err, len(out), len(err), False, size)

    steps = (
        step("create", 0, size=length[0]),
        step(
            "info-before",
            0 if before is not None else 1,
            info(before) if before else "",
            size=length[0],
        ),
        step(
            "resize", resize_rc, "Image resized.\n" if resize_rc == 0 else "", resize_err, length[1]
        ),
        step("info", 0 if after is not None else 1, info(after) if after else "", size=length[1]),
    )
    return CaseResult(
        case, binary(version), steps, plan.applied_shrink_flag, plan.expected_final_size
    )


def case(fmt: str, start: str, end: str, shrink: bool | None = None, *opts: str) -> Case:
    return Case("resize", fmt, "t", start, end, tuple(opts), None, shrink)


@pytest.mark.parametrize(
    ("fmt", "opts", "size", "vsize"),
    [  # observed on all six real versions
        ("raw", (), 1000, 1024),
        ("qcow2", (), 34916, 35328),
        ("vmdk", (), 3000001, 3000320),
        ("vhd", (), 1 << 20, 1079296),
        ("vhd", (), 1000, 34816),
        ("vhd", (), 34916, 69632),
        ("vhd", (), 0, 0),
        ("vhd", ("force_size=on",), 34916, 35328),
        ("vhd", ("subformat=fixed",), 1 << 20, 1079808),
        ("vhd", ("subformat=fixed,force_size=on",), 1 << 20, 1049088),
    ],
)
def test_created_size(fmt: str, opts: tuple[str, ...], size: int, vsize: int) -> None:
    assert created_size(fmt, opts, size) == vsize


def test_i1() -> None:
    assert i1_exact_size(result(case("raw", "1M", "+1"), M, 0, M + 512)).ok is True
    assert i1_exact_size(result(case("raw", "1M", "+1"), M, 0, M + 1)).ok is False
    assert i1_exact_size(result(case("raw", "1000", "4M"), 1000, 0, 4 * M)).ok is False  # create
    assert (
        i1_exact_size(result(case("qcow2", "1M", "+1"), M, 1, M)).ok is True
    )  # rejected: create only
    assert i1_exact_size(result(case("qcow2", "1M", "+1"), M, 0, M + 512)).ok is False
    assert i1_exact_size(result(case("raw", "1M", "4M"), None, None, None)).ok is None


def test_i2() -> None:
    no_shrink = case("raw", "64M", "1M", False)
    assert i2_shrink_guard(result(no_shrink, 64 * M, 1, 64 * M)).ok is True
    assert i2_shrink_guard(result(no_shrink, 64 * M, 0, M)).ok is False
    assert i2_shrink_guard(result(case("raw", "64M", "1M"), 64 * M, 0, M)).ok is None  # --shrink
    assert i2_shrink_guard(result(case("raw", "1M", "64M", False), M, 0, 64 * M)).ok is None


def test_i3() -> None:
    c = case("qcow2", "1M", "+1")
    assert i3_rejected_resize_safe(result(c, M, 1, M)).ok is True
    assert i3_rejected_resize_safe(result(c, M, 1, M, length=(M, M + 1))).ok is False
    assert i3_rejected_resize_safe(result(c, M, 1, 2 * M)).ok is False
    assert i3_rejected_resize_safe(result(c, M, 1, None)).ok is False  # no longer opens
    assert i3_rejected_resize_safe(result(c, M, 0, 2 * M)).ok is None


def test_i3_ignores_whitelisted_values() -> None:
    r = result(case("raw", "1M", "64M", False), M, 1, M)
    steps = list(r.steps)
    steps[3] = replace(steps[3], stdout=info(M).replace("4096", "8192"))
    assert i3_rejected_resize_safe(replace(r, steps=tuple(steps))).ok is True


def test_i4() -> None:
    assert i4_direction(result(case("raw", "1M", "+1M"), M, 0, 2 * M)).ok is True
    assert i4_direction(result(case("raw", "1M", "+1M"), M, 0, M - 512)).ok is False
    assert i4_direction(result(case("raw", "4M", "-1M"), 4 * M, 0, 5 * M)).ok is False
    assert i4_direction(result(case("raw", "4M", "-0"), 4 * M, 0, 4 * M)).ok is None


def test_i6_and_drift() -> None:
    c = case("raw", "1M", "4M")
    a, b = result(c, M, 0, 4 * M), result(c, M, 0, 4 * M)
    assert i6_determinism(a, b).ok is True
    noisy = replace(b, steps=tuple(replace(s, stderr="warning\n") if s.name == "resize" else s
                                   for s in b.steps))  # fmt: skip
    verdict = i6_determinism(a, noisy)
    assert verdict.ok is False and "resize" in verdict.detail
    old = result(c, M, 1, M, version="5.2.0")
    found = drift([old, a], ("create", "resize", "info"))
    keys = {d.key for d in found}
    assert "drift raw resize.rc 5.2.0 | 11.1.3" in keys
    assert drift([a], ("create", "resize", "info")) == []


def test_i5_classification() -> None:
    # modelled: 7.2.22 takes 0x10M (deprecated), 11.1.3 refuses it, and sizes.py knows
    real = {"7.2.22": Answer(True, 16 * M), "11.1.3": Answer(False)}
    verdicts, note = i5_grammar("0x10M", real)
    assert all(v.ok for v in verdicts) and note is not None and note.unmodelled == ()
    # a planted disagreement: were 7.2.22 to take 1e3, sizes.py would be wrong on it only
    real = {"7.2.22": Answer(True, 1000), "11.1.3": Answer(False)}
    verdicts, note = i5_grammar("1e3", real)
    assert all(v.ok for v in verdicts) and note is not None
    assert note.unmodelled == ("7.2.22",)
    # the same disagreement with only one version: an I5 failure
    verdicts, note = i5_grammar("1e3", {"7.2.22": Answer(True, 1000)})
    assert [v.ok for v in verdicts] == [False] and note is None
    # versions differ, but sizes.py's answer is nobody's: still a failure
    real = {"7.2.22": Answer(True, 3000), "11.1.3": Answer(True, 3001)}
    verdicts, note = i5_grammar("3k", real)
    assert [v.ok for v in verdicts] == [False, False] and note is not None
    # modelled per-version difference: 5.2.0 accepts 1e3, 11.1.3 rejects it
    verdicts, note = i5_grammar("1e3", {"5.2.0": Answer(True, 1000), "11.1.3": Answer(False)})
    assert all(v.ok for v in verdicts) and note is not None and note.unmodelled == ()


def test_findings_round_trip_dedupe_and_validation(tmp_path: Path) -> None:
    curated = tmp_path / "curated"
    curated.mkdir()
    (curated / "resize.toml").write_text(
        '[[case]]\nformat = "raw"\nname = "a"\nstart = "64M"\nend = "1M"\nshrink = false\n'
    )
    target = findings.default_path(curated, "resize")
    assert target == curated / "discovered" / "resize.toml"
    weird = findings.grammar_case("+0.5k")
    assert weird is not None
    opts = ("cluster_size=4k,compat=1.1",)
    name = findings.case_name("qcow2", "1M", "-512", opts, "off", False)
    c = Case("resize", "qcow2", name, "1M", "-512", opts, "off", False)
    items = [
        findings.Finding("I2 qcow2 7.2.22", c, 'I2 shrink guard "failed"\non 7.2.22'),
        findings.Finding("drift raw create.rc 5.2.0 | 7.2.22", weird, "drift"),
        findings.Finding(
            "I2 raw 7.2.22", replace(c, format="raw", name="b", create_options=()), "x"
        ),
        findings.Finding(
            "I3 raw 7.2.22", Case("resize", "raw", "c", "64M", "1M", shrink=False), "x"
        ),
        findings.Finding("drift raw info.stdout 5.2.0 | 7.2.22", weird, "same case, more drift"),
    ]
    saved = findings.save(items, target, curated)
    # the 4th is in resize.toml already; the 5th shares the 2nd's case: one table, two keys
    assert [f.key for f in saved] == [items[0].key, items[1].key, items[4].key, items[2].key]
    assert [c.name for c in load_cases(curated, RESIZE)] == ["a"]  # the matrix is untouched
    loaded = {x.name: x for x in load_cases(curated, COMMANDS["resize-discovered"])}
    assert replace(loaded[c.name], source="", comment="") == c
    assert "[finding: I2 qcow2 7.2.22]" in loaded[c.name].comment
    assert len(loaded) == 3 and loaded[weird.name].comment.count("[finding: drift raw ") == 2
    assert findings.save(items, target, curated) == []  # everything already recorded
    text = target.read_text()
    assert (
        text.startswith("# Resize cases found by")
        and '# I2 shrink guard "failed" on 7.2.22' in text
    )


def test_findings_never_write_an_invalid_file(tmp_path: Path) -> None:
    target = findings.default_path(tmp_path, "resize")
    bad = Case("resize", "raw", "bad name!", "1M", "4M")
    with pytest.raises(ToolkitFailure):
        findings.save([findings.Finding("k", bad, "x")], target, tmp_path)
    assert not target.exists()


def test_grammar_cases_only_when_the_loader_takes_them() -> None:
    assert findings.grammar_case("1e3") is None  # the loader's grammar (MODERN) rejects it
    case = findings.grammar_case("0.9999999999999999999999k")
    assert case is not None and case.format == "raw" and case.start_size == "1M"
