"""rebase and commit: their case files (the harness's cases, exactly; every bad table exits 2),
each step's argv, and the pipelines on a real qemu-img: commit's two types written from one
run of each case, the placeholders the harness reads, a regeneration that writes nothing,
verify online and with a candidate (the real qemu-img, and a planted fault).

One version (the newest) and the real case files: the seven-version trees are read by the
consumer-contract test and `verify --offline`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from consumer import COMMIT_CASES, REBASE_CASES
from helpers import case_files, in_process

from toolkit.baseline.cases import load_cases
from toolkit.model.pipeline import COMMANDS, NO_PLAN, types_named
from toolkit.model.records import Case, CaseResult, QemuBinary
from toolkit.qemu import pool

REPO = Path(__file__).resolve().parent.parent
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
REBASE = COMMANDS["rebase"]
OVERLAY, BACKING = COMMANDS["commit-overlay"], COMMANDS["commit-backing"]


def argvs(spec: Any, case: Case) -> dict[str, list[str]]:
    return {s.name: [s.program, *s.argv(case, NO_PLAN)] for s in spec.steps_for(case)}


# ---------------------------------------------------------------- the case files


def test_the_rebase_cases_are_the_harness_s() -> None:
    cases = load_cases(REPO / "curated_cases", REBASE)
    got = [(c.name, c.start_size, c.param("backing"), list(c.param("flags"))) for c in cases]
    assert {c.format for c in cases} == {"qcow2"}
    assert got == [tuple(c) for c in REBASE_CASES["qcow2"]]


def test_the_commit_cases_are_the_harness_s() -> None:
    cases = load_cases(REPO / "curated_cases", OVERLAY)
    assert cases == load_cases(REPO / "curated_cases", BACKING)  # one case file, two types
    got: dict[str, list[tuple[str, str, str | None, str | None]]] = {}
    for c in cases:
        seed = f"seed-{c.param('seed')}" if c.param("seed") else None
        base = f"base.{c.format}" if c.param("explicit_base") else None
        got.setdefault(c.format, []).append((c.name, c.start_size, base, seed))
    assert got == COMMIT_CASES


def test_each_step_is_the_harness_s_fixture() -> None:
    """instar tests/test_rebase.py and test_commit.py, call by call."""
    by = {c.name: c for c in load_cases(REPO / "curated_cases", REBASE)}
    name = "1M-unsafe-to-larger-parent"
    assert argvs(REBASE, by[name]) == {
        "create_base": ["qemu-img", "create", "-f", "qcow2", "$BASE", "1M"],
        "create_next": ["qemu-img", "create", "-f", "qcow2", "$NEXT", "64M"],
        "create_overlay": ["qemu-img", "create", "-f", "qcow2", "-o",
                           f"backing_file=qcow2-{name}-base.qcow2,backing_fmt=qcow2",
                           "$FILENAME", "1M"],
        "rebase": ["qemu-img", "rebase", "-b", f"qcow2-{name}-next.qcow2", "-u", "-F", "qcow2",
                   "$FILENAME"],
        "info": ["qemu-img", "info", "--output=json", "$FILENAME"],
    }  # fmt: skip
    detach = argvs(REBASE, by["1M-safe-detach"])
    assert "create_next" not in detach
    assert detach["rebase"] == ["qemu-img", "rebase", "-b", "", "$FILENAME"]
    assert dict(REBASE.images)["$NEXT"] == "{format}-{case}-next.{ext}"

    commit = {(c.format, c.name): c for c in load_cases(REPO / "curated_cases", OVERLAY)}
    seeded = argvs(OVERLAY, commit["vmdk", "1M-seeded-explicit"])
    assert seeded == {
        "create_base": ["qemu-img", "create", "-f", "vmdk", "$BASE", "1M"],
        "create_overlay": ["qemu-img", "create", "-f", "vmdk", "-o",
                           "backing_file=base.vmdk,backing_fmt=vmdk", "$FILENAME", "1M"],
        "seed": ["qemu-io", "-f", "vmdk", "-c", "write -P 0xab 0 64k", "$FILENAME"],
        "commit": ["qemu-img", "commit", "-b", "base.vmdk", "$FILENAME"],
        "overlay_info": ["qemu-img", "info", "--output=json", "$FILENAME"],
        "backing_info": ["qemu-img", "info", "--output=json", "$BASE"],
    }  # fmt: skip
    empty = argvs(OVERLAY, commit["qcow2", "64M-empty-implicit"])
    assert "seed" not in empty and empty["commit"] == ["qemu-img", "commit", "$FILENAME"]
    # both infos look at what commit left, whichever of them fails
    schedule = OVERLAY.schedule(commit["qcow2", "64M-empty-implicit"])
    assert [(s.name, r) for s, r in schedule][-2:] == [
        ("overlay_info", ("commit",)), ("backing_info", ("commit",))]  # fmt: skip


def test_a_case_with_data_writes_each_image_after_making_it() -> None:
    """Data (fuzz's findings) goes in with one qemu-io call per image, each right after it
    is made (a base before the overlay on it); a case without data runs the harness's steps."""
    case = Case("rebase", "qcow2", "d", "1M", params=(
        ("backing", "2M"), ("base_writes", ((0xAA, 0, 65536), (1, 512, 512))), ("flags", ()),
        ("next_writes", ((0, 1048576, 4096),)), ("overlay_writes", None)))  # fmt: skip
    got = argvs(REBASE, case)
    assert list(got) == ["create_base", "write_base", "create_next", "write_next",
                         "create_overlay", "rebase", "info"]  # fmt: skip
    assert got["write_base"] == ["qemu-io", "-f", "qcow2", "-c", "write -P 0xaa 0 65536",
                                 "-c", "write -P 0x01 512 512", "$BASE"]  # fmt: skip
    assert got["write_next"] == ["qemu-io", "-f", "qcow2", "-c", "write -P 0x00 1048576 4096",
                                 "$NEXT"]  # fmt: skip
    assert [(s.name, r) for s, r in REBASE.schedule(case)][1:3] == [
        ("write_base", ("create_base",)), ("create_next", ("write_base",))]  # fmt: skip
    commit = Case("commit", "vmdk", "d", "1M", params=(
        ("base_writes", ((2, 0, 512),)), ("explicit_base", True),
        ("overlay_writes", ((3, 512, 512),)), ("seed", "64k")))  # fmt: skip
    assert list(argvs(OVERLAY, commit)) == [
        "create_base", "write_base", "create_overlay", "seed", "write_overlay", "commit",
        "overlay_info", "backing_info"]  # fmt: skip
    assert argvs(OVERLAY, commit)["write_overlay"] == [
        "qemu-io", "-f", "vmdk", "-c", "write -P 0x03 512 512", "$FILENAME"]  # fmt: skip


def _table(**fields: str) -> str:
    return "[[case]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v)


REBASE_OK = {"format": '"qcow2"', "name": '"a-case"', "size": '"1M"', "backing": '"1M"'}
COMMIT_OK = {"format": '"vmdk"', "name": '"a-case"', "size": '"1M"'}
REJECTIONS: dict[str, tuple[str, dict[str, str], str]] = {
    "rebase-unknown-key": ("rebase", {"colour": '"red"'}, "unknown key 'colour'"),
    "rebase-bad-size": ("rebase", {"size": '"1Q"'}, "size '1Q' is not a size qemu-img accepts"),
    "rebase-bad-backing": ("rebase", {"backing": '"-1M"'}, "backing '-1M' is not a size"),
    "rebase-over-cap": ("rebase", {"backing": '"2G"'}, "backing: start 2147483648 bytes "
                                                       "exceeds the 1024M cap"),
    "rebase-unsafe-name": ("rebase", {"name": '"../up"'}, "name must be non-empty"),
    "rebase-name-too-long": ("rebase", {"name": '"' + "n" * 230 + '"'},
                             "keep the name to 202 bytes"),
    "rebase-raw": ("rebase", {"format": '"raw"'},
                   "unknown format 'raw'; known formats: qcow2, vmdk"),
    "rebase-host-flag": ("rebase", {"flags": '["--object", "secret,id=s,file=/etc/shadow"]'},
                         "flags: '--object' is not a rebase flag a case may pass"),
    "rebase-format-flag": ("rebase", {"flags": '["-F"]'}, "flags: -F needs a format after it"),
    "rebase-flags-type": ("rebase", {"flags": '"-u"'}, "`flags` must be a list of strings"),
    "commit-unknown-key": ("commit", {"base": "true"}, "unknown key 'base'"),
    "commit-bad-size": ("commit", {"size": '""'}, "`size` must be a non-empty size string"),
    "commit-seed-past-end": ("commit", {"seed": '"2M"'}, "seed '2M' writes past the end"),
    "commit-explicit-type": ("commit", {"explicit_base": '"yes"'}, "`explicit_base` must be "
                                                                   "true or false"),
    "commit-unsafe-name": ("commit", {"name": '".hidden"'}, "name must be non-empty"),
    "rebase-write-pattern": ("rebase", {"base_writes": "[[256, 0, 512]]"},
                             "base_writes` write #1: pattern 256 is not a byte"),
    "rebase-write-unaligned": ("rebase", {"overlay_writes": "[[1, 100, 512]]"},
                               "offset 100 and length 512 must be multiples of 512"),
    "rebase-write-empty": ("rebase", {"overlay_writes": "[[1, 0, 0]]"},
                           "the length at least 512"),
    "rebase-write-past-end": ("rebase", {"next_writes": "[[0xbb, 1048064, 1024]]"},
                              "bytes 1048064..1049088 end past the image's 1M"),
    "rebase-next-writes-detach": ("rebase", {"backing": "", "next_writes": "[[1, 0, 512]]"},
                                  "next_writes: the case detaches"),
    "commit-write-shape": ("commit", {"overlay_writes": "[[1, 0]]"},
                           "must be a list of [pattern, offset, length] integer triples"),
    "commit-write-bool": ("commit", {"base_writes": "[[true, 0, 512]]"}, "write #1 is [True"),
    "commit-write-none": ("commit", {"base_writes": "[]"}, "leave the key out for no writes"),
    "commit-too-many-writes": ("commit", {"base_writes": "[" + ", ".join(["[1, 0, 512]"] * 9)
                                                         + "]"}, "9 writes; at most 8"),
}  # fmt: skip


@pytest.mark.parametrize("label", sorted(REJECTIONS))
def test_a_bad_case_exits_2_naming_file_and_case(label: str, tmp_path: Path) -> None:
    command, fields, says = REJECTIONS[label]
    ok = REBASE_OK if command == "rebase" else COMMIT_OK
    cases = case_files(tmp_path, command, _table(**{**ok, **fields}))
    out = tmp_path / "out"
    proc = in_process("generate", command, "--curated-cases", str(cases),
                      "--expected-outputs", str(out))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if says in ln)
    assert line.strip().startswith(f"{cases / f'{command}.toml'}: case "), line
    assert "Traceback" not in proc.stderr and not out.exists()


def test_a_type_name_or_its_command() -> None:
    assert types_named("commit") == (OVERLAY, BACKING)
    assert types_named("commit-backing") == (BACKING,) and types_named("rebase") == (REBASE,)
    assert types_named("resize") == (COMMANDS["resize"],) and types_named("nope") == ()
    proc = in_process("generate", "comit")
    assert proc.returncode == 2 and "unknown output type 'comit'" in proc.stderr
    assert (
        proc.stderr.rstrip()
        .splitlines()[-2]
        .endswith(
            ", measure-json-discovered, commit, measure, commit-discovered, measure-discovered"
        )
    )


# ---------------------------------------------------------------- on a real qemu-img


@pytest.fixture(scope="module")
def generated(
    latest: QemuBinary, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Counter[str], str]:
    """rebase and commit recorded with the newest qemu-img, every runner call counted."""
    root = tmp_path_factory.mktemp("eo")
    calls: Counter[str] = Counter()
    real = pool.run_case

    def counted(case: Case, *args: Any, **kwargs: Any) -> CaseResult:
        calls[case.command] += 1
        return real(case, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pool, "run_case", counted)
        proc = in_process("generate", "rebase", "commit", "--qemu-img", str(latest.path),
                          "--expected-outputs", str(root), "-j", "2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root, calls, proc.stdout


def test_commit_records_both_types_from_one_run_of_each_case(
    generated: tuple[Path, Counter[str], str], latest: QemuBinary
) -> None:
    root, calls, out = generated
    assert calls == {"rebase": 6, "commit": 8}
    for t in ("commit-overlay", "commit-backing"):
        assert f"generate {t}: 1 version ({latest.version}), 8 cases, 8 runs" in out
    v = latest.version
    names = {t: sorted(p.name for p in (root / t / "qcow2" / v).iterdir())
             for t in ("commit-overlay-info-json", "commit-backing-info-json")}  # fmt: skip
    assert names["commit-overlay-info-json"] == names["commit-backing-info-json"]
    assert len(names["commit-overlay-info-json"]) == 18  # 6 triples


def test_the_placeholders_and_meta_keys_the_harness_reads(
    generated: tuple[Path, Counter[str], str], latest: QemuBinary
) -> None:
    root, _, _ = generated
    v = latest.version
    d = root / "commit-overlay-info-json" / "qcow2" / v
    meta = json.loads((d / "1M-seeded-implicit.meta.json").read_text())
    codes = ("commit", "overlay_info", "backing_info", "seed", "create_base", "create_overlay")
    assert {meta[f"{s}_return_code"] for s in codes} == {0}
    assert meta["command"] == "commit" and meta["seed"] == "64k"
    assert meta["seed_stdout"] == ("wrote 65536/65536 bytes at offset 0\n64 KiB, X ops; "
                                   "XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)\n")  # fmt: skip
    assert meta["commit_stdout"] == "Image committed.\n"
    # each type keeps its own info; the other's stdout is in the other tree, not repeated
    assert "backing_info_stdout" not in meta and "backing_info_stdout_bytes" not in meta
    top = json.loads((d / "1M-seeded-implicit.stdout.txt").read_text())
    assert (top["filename"], top["full-backing-filename"], top["backing-filename"]) == (
        "$FILENAME", "$BASE", "base.qcow2")  # fmt: skip
    bottom_dir = root / "commit-backing-info-json" / "qcow2" / v
    bottom = json.loads((bottom_dir / "1M-seeded-implicit.stdout.txt").read_text())
    assert bottom["filename"] == "$BASE" and "backing-filename" not in bottom
    other = json.loads((bottom_dir / "1M-seeded-implicit.meta.json").read_text())
    assert "overlay_info_stdout" not in other and other["backing_info_stdout_bytes"] > 0

    r = root / "rebase-info-json" / "qcow2" / v
    moved = json.loads((r / "1M-unsafe-to-larger-parent.stdout.txt").read_text())
    assert (moved["backing-filename"], moved["full-backing-filename"]) == (
        "qcow2-1M-unsafe-to-larger-parent-next.qcow2", "$NEXT")  # fmt: skip
    detached = json.loads((r / "1M-safe-detach.stdout.txt").read_text())
    assert "backing-filename" not in detached and detached["filename"] == "$FILENAME"
    rmeta = json.loads((r / "1M-safe-detach.meta.json").read_text())
    assert (rmeta["rebase_return_code"], rmeta["info_return_code"]) == (0, 0)
    assert rmeta["new_backing_size"] is None and "create_next_argv" not in rmeta


def test_a_second_run_writes_nothing_and_verify_passes(
    generated: tuple[Path, Counter[str], str], latest: QemuBinary, tmp_path: Path
) -> None:
    """vmdk's cid is random on every create (and an overlay's parent-cid is its base's): the
    whitelist keeps the tree byte-identical."""
    root, _, _ = generated
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    common = ["--qemu-img", str(latest.path), "--expected-outputs", str(root)]
    proc = in_process("generate", "commit", "rebase", *common)
    assert proc.returncode == 0 and proc.stdout.count("files written 0,") == 3, proc.stdout
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    proc = in_process("verify", "rebase", "commit", *common, "--obtained", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stdout
    assert "verify OK: rebase OK, commit-overlay OK, commit-backing OK" in proc.stdout


def test_a_meta_repeating_the_other_type_s_stdout_fails_offline(
    generated: tuple[Path, Counter[str], str], latest: QemuBinary, tmp_path: Path
) -> None:
    import shutil

    root = tmp_path / "eo"
    for t in ("commit-overlay-info-json", "commit-backing-info-json"):
        shutil.copytree(generated[0] / t, root / t)
    path = (
        root / "commit-overlay-info-json" / "vmdk" / latest.version / "1M-empty-explicit.meta.json"
    )
    meta = json.loads(path.read_text())
    meta["backing_info_stdout"] = "{}"
    path.write_text(json.dumps(meta))
    proc = in_process("verify", "commit", "--offline", "--expected-outputs", str(root))
    assert proc.returncode == 1
    assert "'backing_info_stdout' was unexpected" in proc.stdout
    assert "verify FAILED: commit-overlay FAILED, commit-backing OK" in proc.stdout, proc.stdout


# ---------------------------------------------------------------- candidate mode


@pytest.fixture
def candidate(
    latest: QemuBinary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, dict[str, Any]]]:
    monkeypatch.setenv("REAL_QEMU_IMG", str(latest.path))

    def run(path: Path, *types: str) -> tuple[int, str, dict[str, Any]]:
        report = tmp_path / "report.json"
        proc = in_process("verify", *types, "--candidate", str(path), "--candidate-version",
                          latest.version, "--expected-outputs", str(REPO / "expected-outputs"),
                          "--obtained", str(tmp_path / "o"), "--report", str(report))  # fmt: skip
        return proc.returncode, proc.stdout, json.loads(report.read_text())

    return run


def test_the_real_qemu_img_as_candidate_passes(
    candidate: Callable[..., tuple[int, str, dict[str, Any]]], latest: QemuBinary
) -> None:
    """Its qemu-io (for the seeded cases) is the one beside it."""
    code, out, report = candidate(latest.path, "rebase", "commit")
    assert code == 0, out
    assert [(t["command"], t["counts"]["pass"]) for t in report["types"]] == [
        ("rebase", 6), ("commit-overlay", 8), ("commit-backing", 8)]  # fmt: skip


def test_a_candidate_that_ignores_a_detach_fails_with_one_pattern(
    candidate: Callable[..., tuple[int, str, dict[str, Any]]], latest: QemuBinary
) -> None:
    stand_in = STAND_INS / "standin-candidate-rebase-ignores-detach"
    code, out, report = candidate(stand_in, "rebase")
    assert code == 1
    (rebase,) = report["types"]
    by = {c["case"]: c["status"] for c in rebase["cases"]}
    assert by == {c[0]: "diff" if c[2] is None else "pass" for c in REBASE_CASES["qcow2"]}
    assert "diff pattern 1: 2 cases (qcow2 x2)" in out, out
    assert out.count("root['backing-filename']: (absent) →") == 1, out  # once, not per case
    (case,) = [c for c in rebase["cases"] if c["case"] == "1M-safe-detach"]
    # the replay names the images as the run did, and shows the detach the candidate ignored
    assert case["reproduce"][1].endswith(" create -f qcow2 qcow2-1M-safe-detach-base.qcow2 1M")
    assert case["reproduce"][3] == (f"{stand_in} rebase -b '' qcow2-1M-safe-detach-overlay.qcow2")
