"""A baseline triple is written as one unit (#12 item 14), checked by SIGKILLing a real
generate at chosen points of its writes.

A small driver runs `python -m toolkit generate` with os.replace (or os.fsync) wrapped to
SIGKILL the process itself right after the Nth call: the kill lands exactly between two
renames of one triple (where a writer that stages each file only after the previous
rename leaves no trace), or while its files are being staged. The tree it regenerates holds
older bytes for every file, so a triple that mixed new and old files would show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.baseline.triple import SUFFIXES
from toolkit.cli import main as cli
from toolkit.model.records import QemuBinary

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parent.parent
CASES = """
[[case]]
format = "raw"
name = "1M-to-64M-default"
start = "1M"
end = "64M"

[[case]]
format = "raw"
name = "64M-to-1M-no-shrink"
start = "64M"
end = "1M"
shrink = false
"""
# Kills by the call they follow: three renames per triple (stdout, stderr, meta last), so
# each point is inside a triple's writes; fsync 2 is while the first triple is staged.
KILL_POINTS = [("fsync", 2), ("replace", 1), ("replace", 2), ("replace", 4)]
DRIVER = """
import os, runpy, signal, sys
which, n = sys.argv.pop(1), int(sys.argv.pop(1))
real = getattr(os, which)
calls = [0]
def wrapped(*args, **kwargs):
    done = real(*args, **kwargs)
    calls[0] += 1
    if calls[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return done
setattr(os, which, wrapped)
sys.argv[0] = "toolkit"
runpy.run_module("toolkit", run_name="__main__")
"""


def _files(tree: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tree)): p.read_bytes() for p in tree.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("which", "n"), KILL_POINTS, ids=[f"{w}-{n}" for w, n in KILL_POINTS])
def test_sigkill_mid_write_leaves_whole_triples_or_names_the_unfinished_one(
    tmp_path: Path,
    latest: QemuBinary,
    capsys: pytest.CaptureFixture[str],
    which: str,
    n: int,
) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "resize.toml").write_text(CASES)
    tree = tmp_path / "expected-outputs"
    common = ["--curated-cases", str(cases), "--expected-outputs", str(tree)]
    argv = ["generate", "resize", *common, "--qemu-img", str(latest.path), "-j", "1"]
    assert cli.main(argv) == 0
    new = _files(tree)
    # The older tree: every baseline file differs from what this run writes.
    for rel in new:
        if rel.endswith(SUFFIXES):
            (tree / rel).write_bytes(new[rel] + b"\n")
    old = _files(tree)

    # The probe cache is the one the first run filled: no write of it shifts the count.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run(
        [sys.executable, "-c", DRIVER, which, str(n), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert killed.returncode == -9, killed.stderr

    report = tmp_path / "report.json"
    capsys.readouterr()
    code = cli.main(["verify", "--offline", *common, "--report", str(report)])
    out = capsys.readouterr().out
    errors = json.loads(report.read_text())["types"][0]["offline"]["errors"]
    unfinished = {e["where"].rsplit("/", 1)[1] for e in errors if e["check"] == "unfinished"}
    after = _files(tree)
    for stem in ("1M-to-64M-default", "64M-to-1M-no-shrink"):
        rels = [f"resize-info-json/raw/{latest.version}/{stem}{s}" for s in
                (".stdout.txt", ".stderr.txt", ".meta.json")]  # fmt: skip
        states = {
            "new" if after[r] == new[r] else "old" if after[r] == old[r] else "?" for r in rels
        }
        assert "?" not in states
        if len(states) > 1:  # a mixed triple is never passed off as a finished one
            assert stem in unfinished, out
    assert unfinished, f"a kill mid-write leaves evidence: {out}"
    assert code == 1
    for e in errors:
        if e["check"] == "unfinished":
            assert "generate resize --version" in e["message"] and "--case" in e["message"]

    # The next generate reports the unfinished triple, rewrites it and leaves no temp file.
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert "unfinished triples (" in capsys.readouterr().out
    assert _files(tree) == {**new, **{k: v for k, v in _files(tree).items() if k not in new}}
    assert [p for p in tree.rglob(".*") if p.name != ".generate.lock"] == []
    assert cli.main(["verify", "--offline", *common]) == 0
