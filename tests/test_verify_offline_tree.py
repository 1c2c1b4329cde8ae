"""verify --offline's tree-level checks (stages/verify/offline.py, type_files.py), in-process.

A small real tree: two committed raw triples of two versions copied out of
expected-outputs/, with their versions.json entries, version map and profile copies. Each
test plants one defect for real and pins the whole list of problems (check id, path,
message, warning): the messages are what `verify --offline` prints.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from toolkit.baseline import profiles
from toolkit.baseline.cases import load_cases
from toolkit.model.pipeline import COMMANDS
from toolkit.stages.verify.offline import CHECKS, Scope, check_tree
from toolkit.stages.verify.triple_checks import Problem

REPO = Path(__file__).resolve().parent.parent
SPEC = COMMANDS["resize"]
OLD, NEW = "7.2.22", "11.1.3"
VERSIONS = (OLD, NEW)
GROWN, REFUSED = "1M-to-64M-default", "64M-to-1M-no-shrink"
NAMES = (GROWN, REFUSED)
CASES = tuple(
    c for c in load_cases(REPO / "curated_cases", SPEC) if c.format == "raw" and c.name in NAMES
)
T = SPEC.output_type  # resize-info-json
FIX = f"regenerate it with `python -m toolkit generate {SPEC.name}`"
MAP_FIX = "refresh it with `python -m toolkit profiles` (generate refreshes it too)"


def regenerate(version: str, case: str | None = None) -> str:
    tail = f" --case {case}" if case else ""
    return f"run `python -m toolkit generate resize --version {version} --format raw{tail}`"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "expected-outputs"
    src, dst = REPO / "expected-outputs" / T, root / T
    for v in VERSIONS:
        (dst / "raw" / v).mkdir(parents=True)
        for n in NAMES:
            for suffix in (".stdout.txt", ".stderr.txt", ".meta.json"):
                shutil.copy(src / "raw" / v / f"{n}{suffix}", dst / "raw" / v)
    listing = json.loads((src / "versions.json").read_text())
    (dst / "versions.json").write_text(json.dumps({v: listing[v] for v in VERSIONS}))
    (dst / "version-map.json").write_text("{}")
    assert profiles.write_version_map(root, SPEC)
    return root


@pytest.fixture
def root(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "expected-outputs"
    shutil.copytree(pristine, copy)
    return copy


def scope(root: Path, **changes: object) -> Scope:
    args: dict[str, object] = {
        "root": root,
        "spec": SPEC,
        "all_cases": CASES,
        "cases": CASES,
        "versions": VERSIONS,
    }
    return Scope(**{**args, **changes})  # type: ignore[arg-type]


def problems(root: Path, **changes: object) -> list[Problem]:
    return check_tree(scope(root, **changes)).problems


def test_the_clean_tree_passes_with_every_triple_readable(root: Path) -> None:
    result = check_tree(scope(root))
    assert (result.problems, result.triples, result.version_map) == ([], 4, "current")
    assert result.readable == {("raw", v, n) for v in VERSIONS for n in NAMES}
    assert (result.errors, result.warnings) == ([], [])


def raw(root: Path, version: str = NEW) -> Path:
    return root / T / "raw" / version


def _remove_a_file(root: Path) -> None:
    (raw(root) / f"{GROWN}.stderr.txt").unlink()


def _remove_a_version_dir(root: Path) -> None:
    shutil.rmtree(raw(root, OLD))


def _staged_file(root: Path) -> None:
    (raw(root) / f".{GROWN}.meta.json.tmp-123-abcdef").write_text("{}")


def _staged_file_of_unknown_case(root: Path) -> None:
    (raw(root) / ".gone.meta.json.tmp-123-abcdef").write_text("{}")


def _stale_everywhere(root: Path) -> None:
    (root / T / "notes.txt").write_text("x")
    (root / T / "vmdk").mkdir()
    (root / T / "raw" / "latest").mkdir()
    (root / T / "raw" / "README").write_text("x")
    (raw(root) / "README").write_text("x")
    (raw(root) / ".meta.json").write_text("x")
    (raw(root) / "gone.meta.json").write_text("x")


def _no_versions_json(root: Path) -> None:
    (root / T / "versions.json").unlink()


def _versions_json_not_json(root: Path) -> None:
    (root / T / "versions.json").write_text("{")


def _versions_json_not_utf8(root: Path) -> None:
    (root / T / "versions.json").write_bytes(b"\xff")


def _versions_json_a_list(root: Path) -> None:
    (root / T / "versions.json").write_text("[]")


def _versions_json_out_of_step(root: Path) -> None:
    path = root / T / "versions.json"
    data = json.loads(path.read_text())
    data["9.9.9"] = data.pop(OLD)
    data[NEW] = {**data[NEW], "sha256": 1}
    path.write_text(json.dumps(data))


def _no_version_map(root: Path) -> None:
    (root / T / "version-map.json").unlink()


def _stale_version_map(root: Path) -> None:
    (root / T / "version-map.json").write_text("{}\n")


def _version_map_not_utf8(root: Path) -> None:
    (root / T / "version-map.json").write_bytes(b"\xff")


def _profile_copy_edited(root: Path) -> None:
    path = root / T / "profiles" / "profile-7-2-22" / f"raw-{GROWN}.stdout.txt"
    path.write_text(path.read_text() + " ")


def _meta_unreadable_for_the_map(root: Path) -> None:
    (raw(root) / f"{GROWN}.meta.json").write_text("[")


PLANTS = {
    f.__name__[1:]: f
    for f in (
        _remove_a_file,
        _remove_a_version_dir,
        _staged_file,
        _staged_file_of_unknown_case,
        _stale_everywhere,
        _no_versions_json,
        _versions_json_not_json,
        _versions_json_not_utf8,
        _versions_json_a_list,
        _versions_json_out_of_step,
        _no_version_map,
        _stale_version_map,
        _version_map_not_utf8,
        _profile_copy_edited,
        _meta_unreadable_for_the_map,
    )
}


def stale_copies(*cases: str) -> list[Problem]:
    d = f"{T}/profiles/profile-7-2-22"
    why = f"belongs to no profile in version-map.json (stale); {MAP_FIX}"
    return [
        Problem("profiles", f"{d}/raw-{c}{s}", why)
        for c in cases
        for s in (".meta.json", ".stderr.txt", ".stdout.txt")
    ]


NOT_CURRENT = Problem(
    "version-map", f"{T}/version-map.json", f"not current for this tree; {MAP_FIX}"
)
NOT_A_BASELINE = "not a baseline file (suffixes: .stdout.txt, .stderr.txt, .meta.json)"
NOT_A_VERSION = "not a version directory (expected <format>/<version>/)"
UNREADABLE_MAP = "cannot be recomputed: unreadable baseline {root}/" + T + "/raw/11.1.3/"
UNREADABLE_MAP += GROWN + ".*: {why}; regenerate it with `python -m toolkit generate resize "
UNREADABLE_MAP += f"--version 11.1.3 --format raw --case {GROWN}`"
EXPECTED: dict[str, tuple[str, int, list[Problem]]] = {  # plant -> version map, triples, problems
    "remove_a_file": (
        "failed",
        3,
        [
            Problem(
                "missing",
                f"{T}/raw/11.1.3/{GROWN}.stderr.txt",
                f"missing, of curated case {GROWN!r}; {regenerate(NEW, GROWN)}",
            ),
            Problem(
                "version-map",
                f"{T}/version-map.json",
                UNREADABLE_MAP.replace(
                    "{why}",
                    "[Errno 2] No such file or directory: "
                    f"'{{root}}/{T}/raw/11.1.3/{GROWN}.stderr.txt'",
                ),
            ),
        ],
    ),
    "remove_a_version_dir": (
        "failed",
        2,
        [
            Problem(
                "versions-json",
                f"{T}/versions.json",
                f"lists {OLD}, which has no version directory",
            ),
            Problem(
                "missing",
                f"{T}/raw/{OLD}",
                f"directory missing: 2 curated cases have no triple; {regenerate(OLD)}",
            ),
            *stale_copies(GROWN, REFUSED),
            NOT_CURRENT,
        ],
    ),
    "staged_file": (
        "current",
        3,
        [
            Problem(
                "unfinished",
                f"{T}/raw/11.1.3/{GROWN}",
                "unfinished triple: a killed generate left staged files "
                f"['.{GROWN}.meta.json.tmp-123-abcdef'], its files may mix two runs; repair it "
                f"with `python -m toolkit generate resize --version 11.1.3 --format raw --case "
                f"{GROWN}`",
            )
        ],
    ),
    "staged_file_of_unknown_case": (
        "current",
        4,
        [Problem("stale", f"{T}/raw/11.1.3/.gone.meta.json.tmp-123-abcdef", NOT_A_BASELINE)],
    ),
    "stale_everywhere": (
        "failed",
        4,
        [
            Problem(
                "stale", f"{T}/notes.txt", "a file outside the <format>/<version>/<case>.* layout"
            ),
            Problem("stale", f"{T}/raw/README", NOT_A_VERSION),
            Problem("stale", f"{T}/raw/latest", NOT_A_VERSION),
            Problem(
                "stale", f"{T}/vmdk", "a format with no curated case (formats with cases: ['raw'])"
            ),
            Problem("stale", f"{T}/raw/11.1.3/.meta.json", NOT_A_BASELINE),
            Problem("stale", f"{T}/raw/11.1.3/README", NOT_A_BASELINE),
            Problem(
                "stale",
                f"{T}/raw/11.1.3/gone.meta.json",
                "belongs to no curated raw case (renamed or removed?)",
            ),
            *(
                Problem(
                    "profiles",
                    f"{T}/profiles/profile-11-1-3/raw-gone{s}",
                    f"missing: the profile's copy of {T}/raw/11.1.3/gone{s}; {MAP_FIX}",
                )
                for s in (".stdout.txt", ".stderr.txt", ".meta.json")
            ),
            NOT_CURRENT,
        ],
    ),
    "no_versions_json": (
        "current",
        4,
        [Problem("versions-json", f"{T}/versions.json", f"missing; {FIX}")],
    ),
    "versions_json_not_json": (
        "current",
        4,
        [
            Problem(
                "versions-json",
                f"{T}/versions.json",
                "unreadable: Expecting property name enclosed in double quotes: line 1 column 2 "
                f"(char 1); {FIX}",
            )
        ],
    ),
    "versions_json_not_utf8": (
        "current",
        4,
        [
            Problem(
                "versions-json",
                f"{T}/versions.json",
                "unreadable: 'utf-8' codec can't decode byte 0xff in position 0: invalid start "
                f"byte; {FIX}",
            )
        ],
    ),
    "versions_json_a_list": (
        "current",
        4,
        [
            Problem(
                "versions-json",
                f"{T}/versions.json",
                f"must be a JSON object mapping version -> provenance; {FIX}",
            )
        ],
    ),
    "versions_json_out_of_step": (
        "current",
        4,
        [
            Problem(
                "versions-json",
                f"{T}/versions.json",
                f"does not list version directory {OLD}; {FIX}",
            ),
            Problem(
                "versions-json", f"{T}/versions.json", "lists 9.9.9, which has no version directory"
            ),
            Problem(
                "versions-json",
                f"{T}/versions.json",
                f"entry {NEW!r} needs version_line (text), source (object) and sha256 (text)",
            ),
        ],
    ),
    "no_version_map": (
        "failed",
        4,
        [Problem("version-map", f"{T}/version-map.json", f"missing; {MAP_FIX}")],
    ),
    "stale_version_map": ("failed", 4, [NOT_CURRENT]),
    "version_map_not_utf8": ("failed", 4, [NOT_CURRENT]),
    "profile_copy_edited": (
        "current",
        4,
        [
            Problem(
                "profiles",
                f"{T}/profiles/profile-7-2-22/raw-{GROWN}.stdout.txt",
                f"differs from the representative {T}/raw/7.2.22/{GROWN}.stdout.txt "
                f"(hand-edited or stale); {MAP_FIX}",
            ),
            # one byte longer than its meta says: the consumer's validate_profiles() too
            Problem(
                "profile-rules",
                f"{T}/profiles/profile-7-2-22/raw-{GROWN}.stdout.txt",
                f"is 134 bytes but raw-{GROWN}.meta.json says stdout_bytes 133; the consumer's "
                "validate_profiles() refuses such a tree; refresh profiles/ with `python -m "
                "toolkit profiles` (a hand-made or copied profile directory is removed), or "
                "regenerate the type",
            ),
        ],
    ),
    "meta_unreadable_for_the_map": (
        "failed",
        4,
        [
            Problem(
                "schema",
                f"{T}/raw/11.1.3/{GROWN}.meta.json",
                "not valid JSON: Expecting value: line 1 column 2 (char 1)",
            ),
            Problem(
                "version-map",
                f"{T}/version-map.json",
                UNREADABLE_MAP.replace("{why}", "Expecting value: line 1 column 2 (char 1)"),
            ),
        ],
    ),
}


def test_every_plant_has_its_expected_problems() -> None:
    assert sorted(PLANTS) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_each_planted_defect_is_reported_exactly(root: Path, name: str) -> None:
    PLANTS[name](root)
    result = check_tree(scope(root))
    version_map, triples, expected = EXPECTED[name]
    at_root = [
        Problem(p.check, p.where, p.message.replace("{root}", str(root)), p.warning)
        for p in expected
    ]
    assert (result.version_map, result.triples, result.problems) == (version_map, triples, at_root)
    assert {p.check for p in result.problems} <= set(CHECKS)


def test_allow_stale_makes_stale_files_warnings(root: Path) -> None:
    (root / T / "notes.txt").write_text("x")
    (raw(root) / "gone.stderr.txt").write_text("x")  # no meta: the version map ignores it
    result = check_tree(scope(root, allow_stale=True))
    stale = [
        Problem(
            "stale", f"{T}/notes.txt", "a file outside the <format>/<version>/<case>.* layout", True
        ),
        Problem(
            "stale",
            f"{T}/raw/11.1.3/gone.stderr.txt",
            "belongs to no curated raw case (renamed or removed?)",
            True,
        ),
    ]
    assert (result.problems, result.warnings, result.errors) == (stale, stale, [])


def test_a_case_filter_judges_only_the_files_it_selects(root: Path) -> None:
    (raw(root) / "gone.meta.json").write_text("x")
    (raw(root) / "1M-other.meta.json").write_text("x")
    (raw(root) / "zz-gone.meta.json").write_text("x")  # after names the globs skip
    (root / T / "notes.txt").write_text("x")
    (root / T / "versions.json").write_text("[]")
    result = check_tree(
        scope(root, cases=CASES[:1], case_globs=("1M-*", "zz-*"), versions=(NEW,), filtered=True)
    )
    assert CASES[0].name == GROWN
    assert (result.version_map, result.triples) == ("not checked (filtered)", 1)
    assert result.readable == {("raw", NEW, GROWN)}
    why = "belongs to no curated raw case (renamed or removed?)"
    assert result.problems == [
        Problem("stale", f"{T}/raw/11.1.3/{name}.meta.json", why)
        for name in ("1M-other", "zz-gone")
    ]


def test_a_filtered_run_keeps_per_triple_version_lines(root: Path) -> None:
    path = root / T / "versions.json"
    listing = json.loads(path.read_text())
    listing[NEW]["version_line"] = "qemu-img version 11.1.3"
    listing["9.9.9"] = listing[OLD]
    path.write_text(json.dumps(listing))
    found = problems(root, versions=(NEW,), cases=CASES[1:], filtered=True)
    recorded = "qemu-img version 11.1.3 (Debian 1:11.1.3+ds-1)"
    assert found == [
        Problem(
            "versions-json",
            f"{T}/raw/11.1.3/{REFUSED}.meta.json",
            f"qemu_version_line {recorded!r} is not versions.json's 'qemu-img version 11.1.3' "
            "for 11.1.3: recorded by another build",
        )
    ]
