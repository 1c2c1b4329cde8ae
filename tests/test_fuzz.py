"""`fuzz` on real qemu-img: every fault stand-in is caught, real versions raise no alarm."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.baseline.cases import load_cases
from toolkit.cli.main import main
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case, QemuBinary
from toolkit.qemu.runner import run_case, run_directory
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.grammar import i5_grammar, real_answer
from toolkit.stages.fuzz.invariants import (
    FUZZ_SPEC,
    i1_exact_size,
    i2_shrink_guard,
    i3_rejected_resize_safe,
    i4_direction,
    i6_determinism,
)

REPO = Path(__file__).resolve().parent.parent
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
RESIZE = COMMANDS["resize"]
FINDINGS = COMMANDS["resize-discovered"]  # where fuzz saves what it finds
BOUND = 40  # every fault must be caught within this many examples of the ci profile
CHECKS = {"I1": i1_exact_size, "I2": i2_shrink_guard, "I3": i3_rejected_resize_safe,
          "I4": i4_direction}  # fmt: skip

pytestmark = pytest.mark.qemu


def fuzz(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["fuzz", "--profile", "ci", *argv])
    return code, capsys.readouterr().out


def real_for(invariant: str, binaries: list[QemuBinary]) -> QemuBinary:
    # I5 wraps the oldest version: sizes.py models its whole grammar, so the stand-in's
    # own fault is the only disagreement there is to find (see test_grammar_notes).
    return binaries[0] if invariant == "I5" else binaries[-1]


@pytest.mark.parametrize(
    ("fault", "invariant", "fmt"),
    [
        ("qemu-img-fault-wrong-size", "I1", "raw"),
        ("qemu-img-fault-no-shrink-guard", "I2", "raw"),
        ("qemu-img-fault-corrupts-on-rejected-resize", "I3", "qcow2"),
        ("qemu-img-fault-shrinks-on-grow", "I4", "raw"),
        ("qemu-img-fault-grammar", "I5", "raw"),
        ("qemu-img-fault-nondeterministic", "I6", "raw"),
    ],
)
def test_fuzz_catches_each_fault_and_saves_a_replayable_case(
    fault: str,
    invariant: str,
    fmt: str,
    qemu_binaries: list[QemuBinary],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = real_for(invariant, qemu_binaries)
    monkeypatch.setenv("REAL_QEMU_IMG", str(real.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the probe cache keys on path
    curated, stand_in = tmp_path / "curated", STAND_INS / fault
    code, out = fuzz(capsys, "--qemu-img", str(stand_in), "--invariant", invariant,
                     "--format", fmt, "--max-examples", str(BOUND), "--no-shrink",
                     "--curated-cases", str(curated))  # fmt: skip
    assert code == 1, out
    m = re.search(rf"{invariant} .* failed \(first at example (\d+)\)", out)
    assert m and int(m.group(1)) <= BOUND, out
    assert f"FAILED {invariant}" in out
    # The finding is a curated case: it loads alone, and replays with the one runner.
    (saved,) = load_cases(curated, FINDINGS)
    assert f"[finding: {invariant} {saved.format} {real.version}]" in saved.comment
    binary = QemuBinary(real.version, stand_in, "qemu-img", real.version_line)
    with run_directory(tmp_path) as run_dir:
        if invariant == "I5":
            assert saved.end_spec is not None
            answer = real_answer(binary, saved.end_spec, run_dir, 60)
            (verdict,), _note = i5_grammar(saved.end_spec, {real.version: answer})
            assert verdict.ok is False
        elif invariant == "I6":  # a coin flip per resize: some pair of runs must differ
            runs = [run_case(saved, binary, FUZZ_SPEC, run_dir) for _ in range(24)]
            assert any(i6_determinism(a, b).ok is False for a, b in itertools.pairwise(runs))
        else:
            result = run_case(saved, binary, FUZZ_SPEC, run_dir)
            assert CHECKS[invariant](result).ok is False
            assert CHECKS[invariant](run_case(saved, real, FUZZ_SPEC, run_dir)).ok is True


@pytest.mark.slow
def test_shrinking_saves_a_small_case(
    qemu_binaries: list[QemuBinary],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REAL_QEMU_IMG", str(qemu_binaries[-1].path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, out = fuzz(capsys, "--qemu-img", str(STAND_INS / "qemu-img-fault-no-shrink-guard"),
                     "--invariant", "I2", "--max-examples", str(BOUND),
                     "--max-shrink-time", "4", "--curated-cases", str(tmp_path))  # fmt: skip
    assert code == 1, out
    (saved,) = load_cases(tmp_path, FINDINGS)
    assert saved.shrink is False and saved.create_options == () and saved.prealloc is None
    assert len(saved.start_size) + len(saved.end_spec or "") <= 10, saved


@pytest.mark.slow
def test_no_false_alarms_on_the_real_versions(
    qemu_binaries: list[QemuBinary], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [a for b in qemu_binaries for a in ("--qemu-img", str(b.path))]
    code, out = fuzz(capsys, *paths, "--max-examples", "15", "--curated-cases", str(tmp_path))
    assert code == 0, out
    for inv in ("I1", "I2", "I3", "I4", "I5", "I6"):
        assert re.search(rf"  {inv} .*\s0 failed", out), out
    # every provisioned build (conftest), so cross-version: drift is found, saved, and loads
    assert len(qemu_binaries) > 1 and "drift" in out
    saved = load_cases(tmp_path, FINDINGS)
    assert saved and all("[finding: " in c.comment for c in saved)


def test_seed_makes_a_run_reproducible(
    qemu_binaries: list[QemuBinary], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--qemu-img", str(qemu_binaries[-1].path), "--profile", "fuzz", "--seed", "7",
            "--max-examples", "8", "--no-save"]  # fmt: skip
    runs = [fuzz(capsys, *argv) for _ in range(2)]
    strip = [re.sub(r" in [0-9.]+ s: .*", "", out) for _code, out in runs]
    assert runs[0][0] == runs[1][0] and strip[0] == strip[1]


def test_bad_input_exits_2(
    qemu_binaries: list[QemuBinary], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = ["--qemu-img", str(qemu_binaries[-1].path)]
    assert fuzz(capsys, *binary, "--invariant", "I9")[0] == 2
    assert fuzz(capsys, *binary, "--format", "qcow3")[0] == 2
    assert fuzz(capsys, *binary, "--save-cases", str(tmp_path))[0] == 2  # a directory
    assert fuzz(capsys, "--qemu-img", str(tmp_path / "missing"), "--max-examples", "1")[0] == 2
    with pytest.raises(SystemExit) as exc:
        fuzz(capsys, *binary, "--max-examples", "0")
    assert exc.value.code == 2


# (text, {version prefix: expected answer}); the answer is "rejected" or the amount in
# bytes after resize strips one sign. Found by the fuzzer and checked by hand.
U64_MAX = (1 << 64) - 1
GRAMMAR = [
    ("1e3", {"5.2": 1000, "7.2": None, "10.": None, "11.": None}),
    ("0x10M", {"5.2": 16 << 20, "7.2": 16 << 20, "10.": None, "11.": None}),
    (".5k", {"5.2": 512, "7.2": None, "10.": 512, "11.": 512}),
    ("-+1M", {"5.2": 1 << 20, "7.2": 1 << 20, "10.": None, "11.": None}),
    ("0.9999999999999999999999k", {"5.2": 1024, "7.2": 0, "10.": 1024, "11.": 1024}),
    ("8E", {"5.2": 1 << 63, "7.2": 1 << 63, "10.": 1 << 63, "11.": 1 << 63}),
    ("18446744073709551615", {"5.2": None, "7.2": U64_MAX, "10.": U64_MAX, "11.": U64_MAX}),
    ("+1k", {"5.2": 1024, "7.2": 1024, "10.": 1024, "11.": 1024}),
]


@pytest.mark.parametrize(("text", "expected"), GRAMMAR)
def test_grammar_probe_on_the_real_versions(
    text: str, expected: dict[str, int | None], qemu_binaries: list[QemuBinary], tmp_path: Path
) -> None:
    real = {}
    with run_directory(tmp_path) as run_dir:
        for b in qemu_binaries:
            wants = [v for k, v in expected.items() if b.version.startswith(k)]
            assert len(wants) == 1, f"{text!r}: no expected answer for qemu-img {b.version}"
            want = wants[0]
            answer = real_answer(b, text, run_dir, 60)
            assert (answer.amount if answer.accepted else None) == want, (b.version, answer)
            real[b.version] = answer
    verdicts, note = i5_grammar(text, real)
    # every installed version together: sizes.py models each, so per-version notes only
    assert all(v.ok for v in verdicts), verdicts
    assert (note is None) == (len({a.amount if a.accepted else None for a in real.values()}) == 1)


def test_probe_value_is_what_resize_does(qemu_binaries: list[QemuBinary], tmp_path: Path) -> None:
    """The probe's amount, applied by the real pipeline to a 1M raw image."""
    with run_directory(tmp_path) as run_dir:
        for b in qemu_binaries:
            for text in ("+1k", "-512", "3.5M", "+0.5k", "1536"):
                case = Case("resize", "raw", "p", "1M", text, shrink=True)
                resize = run_case(case, b, FUZZ_SPEC, run_dir).step("resize")
                answer = real_answer(b, text, run_dir, 60)
                amount = answer.amount or 0
                final = {"+": (1 << 20) + amount, "-": (1 << 20) - amount}.get(text[0], amount)
                assert resize.return_code == 0 and resize.image_bytes == final, (b.version, text)


def test_saved_cases_replay_through_generate_without_hypothesis(
    qemu_binaries: list[QemuBinary], tmp_path: Path
) -> None:
    curated = tmp_path / "curated"
    weird = findings.grammar_case("0.9999999999999999999999k")
    assert weird is not None
    plain = Case("resize", "qcow2", findings.case_name("qcow2", "1M", "-512", (), None, False),
                 "1M", "-512", shrink=False)  # fmt: skip
    items = [findings.Finding("drift a", weird, "x"), findings.Finding("I2 b", plain, "y")]
    assert len(findings.save(items, findings.default_path(curated, "resize"), curated)) == 2
    picked = [qemu_binaries[0], qemu_binaries[-1]]
    code = ("import sys; sys.modules['hypothesis'] = None; from toolkit.cli.main import main; "
            "rc = main(sys.argv[1:]); assert 'hypothesis' not in sys.modules or "
            "sys.modules['hypothesis'] is None; sys.exit(rc)")  # fmt: skip
    argv = [sys.executable, "-c", code, "generate", "resize-discovered", "--curated-cases",
            str(curated), "--expected-outputs", str(tmp_path / "out")]  # fmt: skip
    argv += [a for b in picked for a in ("--qemu-img", str(b.path))]
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    resized = 0
    for b in picked:
        for c in (weird, plain):
            meta = (
                tmp_path
                / "out"
                / "resize-discovered-info-json"
                / c.format
                / b.version
                / f"{c.name}.meta.json"
            )
            assert meta.is_file(), meta
            # the replayed case's plan (this version's grammar) is what qemu-img did
            data = json.loads(meta.read_text())
            if data["resize_return_code"] == 0:
                info = json.loads(meta.with_name(f"{c.name}.stdout.txt").read_text())
                assert info["virtual-size"] == data["expected_final_size"], (b.version, c.name)
                resized += 1
    assert resized == len(picked)  # the weird size resizes on both; -512 without --shrink fails
