"""verify: offline checks on planted defects, online re-runs, --update, candidate mode.

Everything runs the real qemu-img builds. A small tree (raw + vmdk, two versions)
is generated once; each test plants its defect in its own copy.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import case_files

from toolkit.baseline import profiles
from toolkit.baseline.tree import Tree
from toolkit.baseline.triple import SUFFIXES, dump_json
from toolkit.cli import main as cli
from toolkit.model.errors import ToolkitError
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import QemuBinary
from toolkit.stages.verify.offline import CHECKS

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parent.parent
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
SPEC = COMMANDS["resize"]
OLD, NEW = "7.2.22", "11.1.3"  # 11.1.3's info has a `children` block, 7.2.22's has not
GROWN = "1M-to-64M-default"  # all three steps return 0
REFUSED = "64M-to-1M-no-shrink"  # resize returns 1: info does not run


@dataclass
class Run:
    code: int
    out: str
    report: dict[str, Any]

    def checks(self) -> set[str]:
        return {p["check"] for p in self.report["offline"]["errors"]}

    def status(self, fmt: str, version: str, case: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [
            c
            for c in self.report["cases"]
            if (c["format"], c["version"], c["case"]) == (fmt, version, case)
        ]
        assert len(found) == 1, self.out
        return found[0]


@pytest.fixture(scope="session")
def by_version(qemu_binaries: list[QemuBinary]) -> dict[str, QemuBinary]:
    found = {b.version: b for b in qemu_binaries}
    missing = {OLD, NEW} - set(found)
    assert not missing, f"these tests need qemu-img {sorted(missing)}: run `nox -s provision_qemu`"
    return found


@pytest.fixture(scope="session")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real curated raw and vmdk cases (11 of 41): a small tree that is complete."""
    text = (REPO / "curated_cases" / "resize.toml").read_text()
    blocks = text.split("\n[[case]]\n")[1:]
    keep = [b for b in blocks if b.startswith(('format = "raw"', 'format = "vmdk"'))]
    assert len(keep) == 11
    d = tmp_path_factory.mktemp("cases")
    (d / "resize.toml").write_text("".join(f"[[case]]\n{b}\n" for b in keep))
    return d


@pytest.fixture(scope="session")
def pristine(
    tmp_path_factory: pytest.TempPathFactory, curated: Path, by_version: dict[str, QemuBinary]
) -> Path:
    root = tmp_path_factory.mktemp("golden") / "expected-outputs"
    paths = [str(by_version[v].path) for v in (OLD, NEW)]
    argv = ["generate", "resize", "--curated-cases", str(curated), "--expected-outputs", str(root)]
    assert cli.main([*argv, "--qemu-img", paths[0], "--qemu-img", paths[1], "-j", "2"]) == 0
    return root


@pytest.fixture
def tree(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "expected-outputs"
    shutil.copytree(pristine, root)
    return root


@pytest.fixture
def verify(
    tree: Path, curated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Run]:
    def run(*args: str, obtained: bool = True) -> Run:
        report = tmp_path / "report.json"
        report.unlink(missing_ok=True)
        argv = ["verify", "--expected-outputs", str(tree), "--curated-cases", str(curated)]
        argv += ["--report", str(report), *args]
        if obtained:
            argv += ["--obtained", str(tmp_path / "obtained")]
        capsys.readouterr()
        code = cli.main(argv)
        captured = capsys.readouterr()
        out = captured.out + captured.err
        data = json.loads(report.read_text()) if report.exists() else {"types": [{}]}
        return Run(code, out, data["types"][0])  # the one type this tree holds: resize

    return run


def triple(tree: Path, fmt: str, version: str, case: str) -> tuple[Path, Path, Path]:
    d = tree / SPEC.output_type / fmt / version
    return d / f"{case}.stdout.txt", d / f"{case}.stderr.txt", d / f"{case}.meta.json"


def edit_meta(tree: Path, fmt: str, version: str, case: str, **changes: Any) -> None:
    path = triple(tree, fmt, version, case)[2]
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(dump_json(meta))


def replace_text(path: Path, old: str, new: str) -> int:
    """Replace once; returns the change in UTF-8 bytes."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    return len(new.encode()) - len(old.encode())


def plant_consistently(
    tree: Path, fmt: str, version: str, case: str, which: str, old: str, new: str, count: str
) -> None:
    """Edit a text and its byte count in the meta, then refresh version-map.json:
    a tree that is consistent offline but no longer what qemu-img does."""
    path = triple(tree, fmt, version, case)[0 if which == "stdout" else 1]
    delta = replace_text(path, old, new)
    meta = json.loads(triple(tree, fmt, version, case)[2].read_text())
    edit_meta(tree, fmt, version, case, **{count: meta[count] + delta})
    profiles.write_version_map(tree, SPEC)


# ---------------------------------------------------------------- offline: one defect each


def _missing(t: Path) -> None:
    triple(t, "raw", NEW, GROWN)[0].unlink()


def _unfinished(t: Path) -> None:
    # What a generate killed between two renames of this triple leaves beside it.
    d = triple(t, "raw", NEW, GROWN)[2].parent
    (d / f".{GROWN}.meta.json.tmp-999999-deadbeef").write_text('{"half": ')


def _stale(t: Path) -> None:
    for src in triple(t, "raw", NEW, GROWN):
        shutil.copy(src, src.with_name(src.name.replace(GROWN, "1M-to-65M-renamed")))


def _schema(t: Path) -> None:
    edit_meta(t, "raw", NEW, GROWN, create_return_code="0")


def _identity(t: Path) -> None:
    edit_meta(t, "raw", NEW, GROWN, qemu_version=OLD)


def _case_data(t: Path) -> None:
    edit_meta(t, "raw", NEW, GROWN, prealloc="off")


def _case_data_preallocation(t: Path) -> None:
    edit_meta(t, "raw", NEW, GROWN, preallocation="off")  # prealloc stays null


def _plan(t: Path) -> None:
    edit_meta(t, "raw", NEW, GROWN, applied_shrink_flag=True)


def _argv(t: Path) -> None:
    edit_meta(
        t, "raw", NEW, GROWN, resize_argv=["qemu-img", "resize", "-f", "raw", "$FILENAME", "65M"]
    )


def _return_codes(t: Path) -> None:
    edit_meta(t, "raw", NEW, REFUSED, resize_return_code=0)  # then info should have run


def _timed_out(t: Path) -> None:
    # A consistent record of a resize killed at --timeout (#12 item 3): never a baseline.
    edit_meta(t, "raw", NEW, REFUSED, resize_return_code=-9, resize_timed_out=True)


def _stdout_json(t: Path) -> None:
    triple(t, "raw", NEW, GROWN)[0].write_text("Image resized.\n")


def _stdout_not_empty(t: Path) -> None:
    triple(t, "vmdk", NEW, GROWN)[0].write_text("{}\n")  # info never ran


def _stderr_markers(t: Path) -> None:
    replace_text(triple(t, "raw", NEW, GROWN)[1], "---INFO STDERR---\n", "")


def _final_size(t: Path) -> None:
    # Same width, so every byte count still holds; only the top-level value changes.
    top = '\n    "virtual-size": 6710886'
    replace_text(triple(t, "raw", NEW, GROWN)[0], top + "4", top + "5")


def _abs_path(t: Path) -> None:
    # A leak as a broken normaliser would write it: byte counts consistent.
    path = triple(t, "raw", NEW, GROWN)[2]
    meta = json.loads(path.read_text())
    leaked = "/tmp/qemu-img-baselines-run-4242-x/case-abcd1234/img.raw"
    meta["create_stdout"] = meta["create_stdout"].replace("$FILENAME", leaked)
    meta["create_stdout_bytes"] = len(meta["create_stdout"].encode())
    path.write_text(dump_json(meta))


def _versions_json(t: Path) -> None:
    path = t / SPEC.output_type / "versions.json"
    data = json.loads(path.read_text())
    del data[OLD]
    path.write_text(dump_json(data))


def _version_lines(t: Path) -> None:
    path = t / SPEC.output_type / "versions.json"
    data = json.loads(path.read_text())
    data[NEW]["version_line"] = "qemu-img version 11.1.3 (some other build)"
    path.write_text(dump_json(data))


def _version_map(t: Path) -> None:
    path = profiles.version_map_path(t, SPEC)
    data = json.loads(path.read_text())
    data["version_to_profile"][NEW] = "profile-9-9-9"
    path.write_text(dump_json(data))


def _profile_file(t: Path, suffix: str = ".stdout.txt") -> Path:
    return next((t / SPEC.output_type / "profiles").glob(f"profile-*/raw-{GROWN}{suffix}"))


def _profile_edited(t: Path) -> None:
    replace_text(_profile_file(t), '"virtual-size"', '"virtual-size" ')


def _profile_missing(t: Path) -> None:
    _profile_file(t, ".meta.json").unlink()


def _profile_stale(t: Path) -> None:
    shutil.copy(_profile_file(t), _profile_file(t).with_name("raw-gone.stdout.txt"))


def _profile_duplicate(t: Path) -> None:
    """Two profiles with the same stdout (instar-testdata's validate_profiles() refuses that
    tree): NEW's info text made OLD's everywhere, its create line one byte longer, so the two
    versions stay two profiles (they differ in a meta key) and the tree holds together."""
    for out in sorted((t / SPEC.output_type).glob(f"*/{NEW}/*.stdout.txt")):
        fmt, case = out.parent.parent.name, out.name.removesuffix(".stdout.txt")
        old_out, _, old_meta = triple(t, fmt, OLD, case)
        meta = json.loads(triple(t, fmt, NEW, case)[2].read_text())
        size = json.loads(old_meta.read_text())["info_stdout_bytes"]
        line = meta["create_stdout"] + " "
        out.write_text(old_out.read_text())
        edit_meta(t, fmt, NEW, case, info_stdout_bytes=size, stdout_bytes=size or 0,
                  create_stdout=line, create_stdout_bytes=len(line.encode()))  # fmt: skip


def _file_type(t: Path) -> None:
    # A link out of the tree (#21 item 5): named, never read, never followed.
    secret = t.parent / "secret.txt"
    secret.write_text("TOPSECRET\n")
    stderr = triple(t, "raw", NEW, GROWN)[1]
    stderr.unlink()
    stderr.symlink_to(secret)


DEFECTS: list[tuple[str, Callable[[Path], None], str]] = [
    ("missing", _missing, f"raw/{NEW}/{GROWN}.stdout.txt"),
    ("unfinished", _unfinished, f"--format raw --case {GROWN}"),
    ("stale", _stale, "1M-to-65M-renamed.meta.json"),
    ("schema", _schema, "create_return_code"),
    ("identity", _identity, "qemu_version"),
    ("case-data", _case_data, "prealloc"),
    ("case-data", _case_data_preallocation, "preallocation"),
    ("plan", _plan, "applied_shrink_flag"),
    ("argv", _argv, "resize_argv"),
    ("return-codes", _return_codes, "info did not run although resize"),
    ("return-codes", _timed_out, "resize was killed at --timeout"),
    ("stdout-json", _stdout_json, "not JSON"),
    ("stdout-json", _stdout_not_empty, "info did not run"),
    ("stderr-markers", _stderr_markers, "---INFO STDERR---"),
    ("final-size", _final_size, "virtual-size is 67108865"),
    ("abs-path", _abs_path, "/tmp"),
    ("versions-json", _versions_json, f"does not list version directory {OLD}"),
    ("versions-json", _version_lines, "recorded by another build"),
    ("version-map", _version_map, "not current"),
    ("profiles", _profile_edited, "hand-edited or stale"),
    ("profiles", _profile_missing, "missing: the profile's copy of"),
    ("profiles", _profile_stale, "belongs to no profile"),
    ("profile-rules", _profile_duplicate, "may be identical (profile-11-1-3, profile-7-2-22)"),
    ("file-type", _file_type, "a symbolic link (to "),
]


def test_every_offline_check_has_a_planted_defect() -> None:
    assert [c for c in CHECKS if c not in {check for check, _, _ in DEFECTS}] == []


def _refresh_version_map(t: Path) -> None:
    """Keep version-map.json in step with a planted defect, where the tree can still be read,
    so the defect is the only thing wrong."""
    with contextlib.suppress(ToolkitError):
        profiles.write_version_map(t, SPEC)


@pytest.mark.parametrize(
    ("check", "plant", "mentions"), DEFECTS, ids=[f"{c}-{p.__name__[1:]}" for c, p, _ in DEFECTS]
)
def test_each_offline_check_catches_its_defect(
    tree: Path,
    verify: Callable[..., Run],
    check: str,
    plant: Callable[[Path], None],
    mentions: str,
) -> None:
    assert verify("--offline").code == 0
    plant(tree)
    if check not in ("version-map", "profiles"):  # a refresh would repair what is planted
        _refresh_version_map(tree)
    run = verify("--offline")
    assert run.code == 1, run.out
    # Where the defect leaves the tree unreadable for toolkit.profiles, the map fails too; a
    # stdout whose size its meta contradicts breaks the consumer's profile rules as well.
    also = (
        {"profile-rules"} if plant in (_stdout_json, _stdout_not_empty, _profile_edited) else set()
    )
    assert run.checks() in ({check} | also, {check, "version-map"} | also), run.out
    assert f"[{check}]" in run.out
    messages = [f"{p['where']}: {p['message']}" for p in run.report["offline"]["errors"]]
    assert any(mentions in m for m in messages), messages
    assert "FAILED: " in run.out
    assert "TOPSECRET" not in run.out + json.dumps(run.report)  # nothing read through a link


def test_clean_tree_passes_offline(verify: Callable[..., Run]) -> None:
    run = verify("--offline")
    assert run.code == 0, run.out
    assert run.report["offline"] == {
        "errors": [],
        "warnings": [],
        "triples": 22,
        "version_map": "current",
        "unrecorded": [],
    }
    assert run.report["mode"] == "offline" and run.report["cases"] == []


def test_allow_stale_demotes_stale_files_to_warnings(
    tree: Path, verify: Callable[..., Run]
) -> None:
    _stale(tree)
    _refresh_version_map(tree)
    strict = verify("--offline")
    assert strict.code == 1 and strict.checks() == {"stale"}
    lenient = verify("--offline", "--allow-stale")
    assert lenient.code == 0, lenient.out
    assert len(lenient.report["offline"]["warnings"]) == 3
    assert "warning [stale]" in lenient.out


def test_filters_narrow_the_offline_checks(tree: Path, verify: Callable[..., Run]) -> None:
    _missing(tree)  # raw/NEW only
    assert verify("--offline", "--format", "vmdk").code == 0
    assert verify("--offline", "--version", OLD).code == 0
    run = verify("--offline", "--case", "1M-to-64M-*", "--version", "latest")
    assert run.code == 1 and run.report["offline"]["triples"] == 1  # vmdk's; raw's is broken


def test_committed_tree_verifies_offline(capsys: pytest.CaptureFixture[str]) -> None:
    # How long this takes is measured by `nox -s bench` (verify_offline_s), not asserted here.
    root = REPO / "expected-outputs"
    assert (root / SPEC.output_type).is_dir(), "no committed tree: run `nox -s generate_resize`"
    argv = ["verify", "--offline", "--expected-outputs", str(root)]
    code = cli.main([*argv, "--curated-cases", str(REPO / "curated_cases")])
    out = capsys.readouterr().out
    assert code == 0, out


# ---------------------------------------------------------------- online


def test_mismatch_writes_obtained_triple_and_prints_both_diffs(
    tree: Path, tmp_path: Path, verify: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    message = "qemu-img: Use the --shrink option to perform a shrink operation."
    plant_consistently(
        tree, "raw", NEW, REFUSED, "stderr", "shrink operation.", "shrink.", "resize_stderr_bytes"
    )
    # The protocol child's virtual size (11.1.3 lists children): a non-whitelisted change.
    child = '"virtual-size": 67108864,\n                "filename"'
    plant_consistently(
        tree, "raw", NEW, GROWN, "stdout", child, child.replace("864", "865"), "info_stdout_bytes"
    )
    assert verify("--offline").code == 0  # consistent, just not true
    monkeypatch.chdir(tmp_path)  # obtained triples default to ./.verify
    run = verify("--version", NEW, "--format", "raw", obtained=False)
    assert run.code == 1, run.out
    assert run.report["counts"] == {"pass": 6, "diff": 2, "skip": 0, "gap": 0}
    assert "-qemu-img: Use the --shrink option to perform a shrink." in run.out
    assert f"+{message}" in run.out
    assert "root['children'][0]['info']['virtual-size']: 67108865 → 67108864" in run.out
    obtained = tmp_path / ".verify" / SPEC.name / "raw" / NEW
    assert message in (obtained / f"{REFUSED}.stderr.txt").read_text()
    assert sorted(p.name for p in obtained.iterdir()) == sorted(
        f"{case}{suffix}"
        for case in (GROWN, REFUSED)
        for suffix in (".meta.json", ".stderr.txt", ".stdout.txt")
    )
    assert run.status("raw", NEW, REFUSED)["obtained"] == f".verify/{SPEC.name}/raw/{NEW}/{REFUSED}"


def test_update_round_trip(tree: Path, pristine: Path, verify: Callable[..., Run]) -> None:
    stderr = triple(tree, "raw", NEW, REFUSED)[1]
    plant_consistently(
        tree, "raw", NEW, REFUSED, "stderr", "shrink operation.", "shrink.", "resize_stderr_bytes"
    )
    assert verify("--version", NEW, "--format", "raw").code == 1
    updated = verify("--version", NEW, "--format", "raw", "--update")
    assert updated.code == 0, updated.out
    assert updated.status("raw", NEW, REFUSED)["updated"] is True
    assert "--update: rewrote 1 baseline from what was obtained" in updated.out
    assert stderr.read_text() == triple(pristine, "raw", NEW, REFUSED)[1].read_text()
    assert triple(tree, "raw", NEW, REFUSED)[2].read_text() == (
        triple(pristine, "raw", NEW, REFUSED)[2].read_text()
    )
    again = verify("--version", NEW, "--format", "raw")
    assert again.code == 0 and again.report["counts"]["pass"] == 8, again.out
    assert verify("--offline").code == 0  # version-map.json was refreshed too


def test_whitelisted_host_differences_still_pass(tree: Path, verify: Callable[..., Run]) -> None:
    """A baseline recorded on XFS: other actual-size, and the child's extent-size-hint."""
    stdout = triple(tree, "raw", NEW, GROWN)[0]
    info = json.loads(stdout.read_text())
    info["actual-size"] = 1048576
    info["children"][0]["info"]["format-specific"]["data"]["extent-size-hint"] = 1048576
    text = json.dumps(info, indent=4) + "\n"
    stdout.write_text(text)
    n = len(text.encode())
    edit_meta(tree, "raw", NEW, GROWN, info_stdout_bytes=n, stdout_bytes=n)
    run = verify("--version", NEW, "--format", "raw", "--case", GROWN)
    assert run.code == 0, run.out
    assert run.status("raw", NEW, GROWN)["status"] == "pass"


def test_versions_without_binaries_and_binaries_without_baselines(
    verify: Callable[..., Run], by_version: dict[str, QemuBinary]
) -> None:
    extra = next(b for v, b in by_version.items() if v not in (OLD, NEW))
    run = verify("--qemu-img", str(by_version[NEW].path), "--qemu-img", str(extra.path))
    assert run.code == 0, run.out
    assert run.report["run"]["versions"] == [NEW]
    assert run.report["run"]["not_run"] == {OLD: f"no qemu-img {OLD} found by --qemu-img"}
    assert run.report["run"]["binaries_without_baselines"] == [
        {"version": extra.version, "path": str(extra.path)}
    ]
    assert run.report["counts"]["pass"] == 11
    assert f"not run: {OLD}" in run.out and f"binary without baselines: {extra.version}" in run.out


# ---------------------------------------------------------------- candidate mode


def test_newer_qemu_as_candidate_shows_children_appearing(
    verify: Callable[..., Run], by_version: dict[str, QemuBinary], tmp_path: Path
) -> None:
    run = verify(
        "--candidate",
        str(by_version[NEW].path),
        "--candidate-version",
        OLD,
        "--format",
        "raw",
        "--case",
        GROWN,
    )
    assert run.code == 1, run.out
    case = run.status("raw", OLD, GROWN)
    assert case["status"] == "diff"
    assert any(d.startswith("  root['children']: (absent) → [") for d in case["differences"])
    assert "root['children']: (absent) →" in run.out
    obtained = tmp_path / "obtained" / SPEC.name / "candidate" / "raw" / OLD
    obtained /= f"{GROWN}.stdout.txt"
    assert '"children"' in obtained.read_text()


def test_stand_in_that_resizes_vmdk_is_a_capability_gap(
    verify: Callable[..., Run], by_version: dict[str, QemuBinary], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REAL_QEMU_IMG", str(by_version[NEW].path))
    stand_in = STAND_INS / "qemu-img-fake-vmdk-resize-success"
    run = verify("--candidate", str(stand_in), "--candidate-version", NEW, "--format", "vmdk")
    assert run.code == 0, run.out
    assert run.report["counts"] == {"pass": 0, "diff": 0, "skip": 0, "gap": 3}
    gap = run.status("vmdk", NEW, "1M-plus-63M-default")
    assert "does not support resize" in gap["reason"]
    assert "virtual-size 67108864 = expected_final_size" in gap["reason"]
    assert "check passed" in gap["reason"]
    assert run.report["candidate"]["path"] == str(stand_in)


def test_candidate_skips_cases_whose_baseline_create_failed(
    tmp_path: Path, by_version: dict[str, QemuBinary], capsys: pytest.CaptureFixture[str]
) -> None:
    cases = case_files(
        tmp_path,
        "resize",
        '[[case]]\nformat = "qcow2"\nname = "bad-cluster-size"\nstart = "1M"\nend = "4M"\n'
        'options = ["cluster_size=3k"]\n',
    )
    root = tmp_path / "eo"
    common = ["--curated-cases", str(cases), "--expected-outputs", str(root)]
    assert cli.main(["generate", "resize", *common, "--qemu-img", str(by_version[NEW].path)]) == 0
    report = tmp_path / "r.json"
    argv = ["verify", *common, "--candidate", str(by_version[NEW].path)]
    argv += ["--candidate-version", NEW, "--report", str(report), "--obtained", str(tmp_path / "o")]
    code = cli.main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    (case,) = json.loads(report.read_text())["types"][0]["cases"]
    assert case["status"] == "skip"
    assert "create failed (rc 1)" in case["reason"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--candidate", "x"], "go together"),
        (["--update", "--offline"], "drop --offline"),
        (["--candidate", "/nonexistent", "--candidate-version", NEW], "not an executable"),
        (["--candidate", "x", "--candidate-version", NEW, "--update"], "cannot be combined"),
        (["--candidate", "x", "--candidate-version", "4.0"], "unknown qemu-img version"),
        (["--offline", "--version", "99.9"], "unknown qemu-img version"),
        (["--offline", "--format", "qed"], "unknown format"),
        (["--offline", "--case", "nothing-*"], "matches no case"),
        (["--offline", "--obtained", "{tree}/x"], "inside"),
        (["--offline", "--report", "/nonexistent/r.json"], "does not exist"),
    ],
)
def test_bad_input_exits_2(
    tree: Path, curated: Path, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["verify", "--expected-outputs", str(tree), "--curated-cases", str(curated)]
    argv += [a.replace("{tree}", str(tree)) for a in args]
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # an output path is checked as the options are parsed
        code = exc.code
    assert code == 2
    assert says in capsys.readouterr().err


def test_no_tree_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = str(REPO / "curated_cases")
    code = cli.main(
        ["verify", "--offline", "--expected-outputs", str(tmp_path), "--curated-cases", cases]
    )
    assert code == 2
    assert "no golden tree" in capsys.readouterr().err


def test_a_directory_named_like_a_major_version_is_no_version_anywhere(
    tree: Path, verify: Callable[..., Run], capsys: pytest.CaptureFixture[str]
) -> None:
    """`10` is not a version directory (discovery records at least major.minor): verify
    calls it stale, and drift and profiles do not list it as a version. (The two once
    had their own definitions, and drift took `10` for a version.)"""
    shutil.copytree(tree / SPEC.output_type / "raw" / NEW, tree / SPEC.output_type / "raw" / "10")
    run = verify("--offline")
    assert run.code == 1 and run.checks() == {"stale"}, run.out
    (stale,) = run.report["offline"]["errors"]
    assert stale["where"] == f"{SPEC.output_type}/raw/10"
    assert Tree(tree, SPEC).versions == [OLD, NEW]
    assert cli.main(["drift", "--expected-outputs", str(tree), "--format", "json"]) == 0
    assert "10" not in json.loads(capsys.readouterr().out)["version_to_profile"]
    code = cli.main(["drift", OLD, "10", "--expected-outputs", str(tree)])
    assert code == 2 and "unknown qemu-img version '10'" in capsys.readouterr().err


def test_a_case_file_is_stale_in_a_format_that_has_no_such_case(
    tree: Path, verify: Callable[..., Run]
) -> None:
    """`64M-to-1M-shrink` is a raw case; the same triple under vmdk belongs to nothing."""
    for src in triple(tree, "raw", NEW, "64M-to-1M-shrink"):
        shutil.copy(src, tree / SPEC.output_type / "vmdk" / NEW / src.name)
    _refresh_version_map(tree)
    run = verify("--offline")
    assert run.code == 1 and run.checks() == {"stale"}, run.out
    wheres = sorted(p["where"] for p in run.report["offline"]["errors"])
    assert wheres == sorted(f"{SPEC.output_type}/vmdk/{NEW}/64M-to-1M-shrink{s}" for s in SUFFIXES)


def test_stray_formats_versions_and_top_level_files_are_stale(
    tree: Path, verify: Callable[..., Run]
) -> None:
    type_dir = tree / SPEC.output_type
    shutil.copytree(type_dir / "raw", type_dir / "qcow2")  # no qcow2 case in this selection
    (type_dir / "raw" / "latest").mkdir()  # not a version directory
    (type_dir / "raw" / "README").write_text("a file beside the version directories\n")
    (type_dir / "notes.txt").write_text("a file beside the format directories\n")
    _refresh_version_map(tree)
    run = verify("--offline")
    assert run.code == 1 and run.checks() == {"stale"}, run.out
    stale = {p["where"]: p["message"] for p in run.report["offline"]["errors"]}
    assert sorted(stale) == [
        f"{SPEC.output_type}/notes.txt",
        f"{SPEC.output_type}/qcow2",
        f"{SPEC.output_type}/raw/README",
        f"{SPEC.output_type}/raw/latest",
    ]
    assert "format with no curated case" in stale[f"{SPEC.output_type}/qcow2"]
