"""verify --candidate as a candidate's developers use it: patterns, records, reproduce,
--candidate-name, vhd geometry in the gap checks, one error when it cannot start.

Against the committed tree's newest version (one version: the point is the report).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from toolkit.cli.main import main
from toolkit.model.records import QemuBinary

REPO = Path(__file__).resolve().parent.parent
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
SCHEMA = json.loads((REPO / "toolkit" / "data" / "candidate-report.schema.json").read_text())

pytestmark = pytest.mark.qemu


@pytest.fixture
def verify(latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]  # fmt: skip
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))

    def run(stand_in: str, *args: str) -> tuple[int, str, dict]:  # type: ignore[type-arg]
        report = tmp_path / "report.json"
        report.unlink(missing_ok=True)
        code = main(["verify", "resize", "--candidate", str(STAND_INS / stand_in),
                     "--candidate-version", latest.version,
                     "--expected-outputs", str(REPO / "expected-outputs"),
                     "--curated-cases", str(REPO / "curated_cases"), "--obtained",
                     str(tmp_path / "obtained"), "--report", str(report), *args])  # fmt: skip
        out = capsys.readouterr().out
        if not report.exists():
            return code, out, {}
        whole = json.loads(report.read_text())
        jsonschema.validate(whole, SCHEMA)
        return code, out, whole["types"][0]  # resize's

    return run


def test_identical_differences_are_one_pattern_with_records_and_reproduce(verify) -> None:  # type: ignore[no-untyped-def]
    code, out, report = verify("standin-candidate-drops-children", "--format", "raw")
    assert code == 1
    diffs = [c for c in report["cases"] if c["status"] == "diff"]
    assert len(diffs) == 7 and out.count("diff pattern") == 1, out
    assert "diff pattern 1: 7 cases (raw x7)" in out
    assert out.count("root['children']") == 1  # the block once, not once per case
    for c in diffs:
        assert c["records"] == [{"artefact": "info", "path": "root['children']",
                                 "kind": "removed", "from": c["records"][0]["from"],
                                 "to": None}]  # fmt: skip
        assert c["records"][0]["from"][0]["name"] == "file"
    # the reproducing commands replay the case: the candidate's info lacks children
    cmds = diffs[0]["reproduce"]
    assert cmds[0] == 'cd "$(mktemp -d)"' and "info --output=json" in cmds[-2]
    script = " && ".join(cmds[:-1])
    shown = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert '"children"' not in shown.stdout and '"virtual-size"' in shown.stdout


def test_candidate_name_reads_as_qemu_img(verify) -> None:  # type: ignore[no-untyped-def]
    args = ["--format", "vhd", "--format", "raw"]
    code, out, report = verify("standin-candidate-own-name", *args)
    assert code == 1 and report["counts"]["diff"] > 0
    assert "+instar: Image format driver does not support resize" in out
    code, out, report = verify("standin-candidate-own-name", *args, "--candidate-name", "instar")
    assert code == 0, out
    assert report["counts"]["diff"] == 0 and report["candidate"]["names"] == ["instar"]


def test_vhd_resize_by_recreation_is_held_to_chs_geometry(verify) -> None:  # type: ignore[no-untyped-def]
    code, out, report = verify("standin-candidate-resizes-vhd", "--format", "vhd")
    by = {c["case"]: c for c in report["cases"]}
    # 1M -> 64M reports 67125248 (CHS geometry), not 67108864: still a consistent gap
    assert by["1M-to-64M-default"]["status"] == "gap", out
    # the stand-in re-creates a fixed vhd as dynamic: 512 bytes short of a fixed footer
    fixed = by["1M-to-4M-fixed"]
    assert fixed["status"] == "diff" and fixed["records"] == [
        {"artefact": "consistency", "path": "virtual-size", "kind": "changed",
         "from": 4213248, "to": 4212736}]  # fmt: skip
    assert code == 1


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_report_formats(verify, fmt: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _report = verify("standin-candidate-drops-children", "--format", "raw",
                                "--report-format", fmt)  # fmt: skip
    assert code == 1
    head = "### pattern 1: 7 cases (raw x7)" if fmt == "markdown" else "<h2>pattern 1: 7 cases"
    children = "root[&#x27;children&#x27;]" if fmt == "html" else "root['children']"
    assert head in out and children in out, out


def test_candidate_that_cannot_start_is_one_error(
    verify,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    broken = tmp_path / "standin-candidate-bad-interpreter"
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    code = main(["verify", "--candidate", str(broken), "--candidate-version", "latest",
                 "--expected-outputs", str(REPO / "expected-outputs"), "--curated-cases",
                 str(REPO / "curated_cases"), "--obtained", str(tmp_path / "o")])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    (line,) = captured.err.splitlines()
    assert f"--candidate {broken} cannot start" in line
    assert not (tmp_path / "o").exists()
