"""What a child prints is captured up to a cap, and what reaches a terminal or a report is
bounded and printable (issue 21 items 4 and 12).

Planted faults: tests/stand_ins/qemu-img-fault-floods-output (an `info` that prints lines
of `y`, a given amount or without end), qemu-img-fault-version-line (a 50 MB `--version`
line) and standin-candidate-escape-sequences (terminal escapes on stderr). Before the fix
`exec yes` at --timeout 2 captured 1.38 GB, and 50 MB of output became a 50 MB obtained
file, a 175 MB terminal summary and a 425 MB report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import REPO, toolkit

from toolkit.model.records import QemuBinary
from toolkit.qemu import process
from toolkit.qemu.capture import CAPTURE_CAP, PIPE_GRACE
from toolkit.render.printable import printable

pytestmark = pytest.mark.qemu

STAND_INS = REPO / "tests" / "stand_ins"
FLOODS = STAND_INS / "qemu-img-fault-floods-output"
VERSION_LINE = STAND_INS / "qemu-img-fault-version-line"
ESCAPES = STAND_INS / "standin-candidate-escape-sequences"
ONE_CASE = ["--format", "raw", "--case", "1M-to-64M-default"]


def test_capture_keeps_the_cap_and_counts_the_rest(
    tmp_path: Path, latest: QemuBinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.setenv("FLOOD_BYTES", str(CAPTURE_CAP + 12345))
    raw = process.run_process([str(FLOODS), "info"], tmp_path, 60)
    assert raw.return_code == 0 and raw.timed_out is False
    assert raw.stdout == b"y\n" * (CAPTURE_CAP // 2)  # the start, byte for byte
    assert (raw.stdout_dropped, raw.stderr_dropped) == (12345, 0)
    monkeypatch.setenv("FLOOD_BYTES", str(CAPTURE_CAP))
    whole = process.run_process([str(FLOODS), "info"], tmp_path, 60)
    assert len(whole.stdout) == CAPTURE_CAP and whole.stdout_dropped == 0


def test_output_without_end_is_drained_to_the_deadline(
    tmp_path: Path, latest: QemuBinary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))
    monkeypatch.delenv("FLOOD_BYTES", raising=False)
    t0 = time.monotonic()
    raw = process.run_process([str(FLOODS), "info"], tmp_path, 1)  # `exec yes`
    assert time.monotonic() - t0 < 1 + PIPE_GRACE + 3
    assert raw.timed_out is True and len(raw.stdout) == CAPTURE_CAP
    assert raw.stdout_dropped > CAPTURE_CAP  # drained, never blocked on a full pipe


def test_generate_never_records_a_cut_output(tmp_path: Path, latest: QemuBinary) -> None:
    out = tmp_path / "out"
    env = {"REAL_QEMU_IMG": str(latest.path), "FLOOD_BYTES": str(5 << 20),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}  # fmt: skip
    proc = toolkit("generate", "resize", "--expected-outputs", str(out), "--qemu-img",
                   str(FLOODS), *ONE_CASE, env=env)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    dropped = (5 << 20) - CAPTURE_CAP
    assert (
        f"raw/{latest.version}/1M-to-64M-default: info stdout was cut at the capture cap: "
        f"{dropped} more bytes were not kept: a baseline is never cut short"
    ) in proc.stderr
    assert list(out.rglob("*.meta.json")) == []


def test_verify_candidate_output_stays_bounded(tmp_path: Path, latest: QemuBinary) -> None:
    obtained, report = tmp_path / "obtained", tmp_path / "report.json"
    env = {"REAL_QEMU_IMG": str(latest.path), "FLOOD_BYTES": str(50_000_000)}
    proc = toolkit("verify", "resize", "--candidate", str(FLOODS), "--candidate-version",
                   latest.version,
                   "--obtained", str(obtained), "--report", str(report), *ONE_CASE,
                   env=env)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert f"    info stdout was cut at the capture cap: {50_000_000 - CAPTURE_CAP} more " in (
        proc.stdout
    )
    assert "... and " in proc.stdout and "more lines (see --report)" in proc.stdout
    assert len(proc.stdout) < 16 << 10, len(proc.stdout)
    assert report.stat().st_size < 256 << 10, report.stat().st_size
    (case,) = json.loads(report.read_text())["types"][0]["cases"]
    assert len(case["differences"]) < 300
    assert all(len(line) < 1000 for line in case["differences"])
    stdout = obtained / "resize" / "candidate" / "raw" / latest.version
    stdout /= "1M-to-64M-default.stdout.txt"
    assert stdout.stat().st_size == CAPTURE_CAP


def test_escape_sequences_reach_the_terminal_escaped(tmp_path: Path, latest: QemuBinary) -> None:
    env = {"REAL_QEMU_IMG": str(latest.path)}
    for fmt in ("text", "html"):
        proc = toolkit("verify", "resize", "--candidate", str(ESCAPES), "--candidate-version",
                       latest.version, "--obtained", str(tmp_path / "obtained"),
                       "--report-format", fmt, *ONE_CASE, env=env)  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
        assert "\\x1b[31mred\\x1b[0m\\x1b]0;title\\x07" in proc.stdout, fmt


def test_printable() -> None:
    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable("\x1b[2J\r\x00\x7f\x9b\u202eé") == "\\x1b[2J\\x0d\\x00\\x7f\\x9b\\u202eé"


def test_a_50_mb_version_line_is_refused_and_never_echoed_whole(
    tmp_path: Path, latest: QemuBinary
) -> None:
    env = {"REAL_QEMU_IMG": str(latest.path), "VERSION_LINE_BYTES": str(50_000_000),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}  # fmt: skip
    proc = toolkit("versions", "--qemu-img", str(VERSION_LINE), env=env)
    assert proc.returncode == 2, proc.stderr[:500]
    assert len(proc.stderr) < 1000, len(proc.stderr)
    assert (
        f"error: --qemu-img {VERSION_LINE}: `--version` printed a first line of "
        f"{CAPTURE_CAP}+ characters ('qemu-img version 7.2.22 xxx"
    ) in proc.stderr
    assert f"… ({CAPTURE_CAP - 200} more characters not shown)): a qemu-img's version line is " \
        "one short line" in proc.stderr  # fmt: skip
