"""fuzz's summary counts what it saved as the case file holds it: findings of one case
(commit's drift in both of its info steps) are one case, and the line says how many
findings it holds. Real qemu-img, two versions, a few commit examples."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from toolkit.cli.main import main

pytestmark = pytest.mark.qemu


def test_cases_saved_counts_cases_not_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["fuzz", "--command", "commit", "--version", "5.2.0", "--version", "11.1.3",
                 "--seed", "3", "--max-examples", "8", "--max-shrink-time", "1",
                 "--curated-cases", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out  # drift is no failure
    saved = re.search(r"cases saved: (\d+)(?: \((\d+) findings\))? to ", out)
    assert saved is not None, out
    entries = tomllib.loads((tmp_path / "discovered" / "commit.toml").read_text())["case"]
    held = sum(e["comment"].count("[finding: ") for e in entries)
    assert int(saved.group(1)) == len(entries) and held > len(entries), out
    assert saved.group(2) is not None and int(saved.group(2)) == held, out
