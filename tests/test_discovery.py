"""Discovery against the real provisioned binaries: parsing, precedence, caching, selection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.model.errors import BadInput
from toolkit.model.records import QemuBinary
from toolkit.model.versions import parse_version_line, version_key
from toolkit.qemu.discovery import discover, select_binaries
from toolkit.qemu.store import default_store
from toolkit.qemu.version_probe import sha256_file

pytestmark = pytest.mark.qemu

# The real first lines of `qemu-img --version` of the six builds Debian served when written.
REAL_FIRST_LINES = {
    "qemu-img version 5.2.0 (Debian 1:5.2+dfsg-11+deb11u3)": "5.2.0",
    "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)": "7.2.22",
    "qemu-img version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)": "10.0.2",
    "qemu-img version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)": "10.0.13",
    "qemu-img version 11.1.2 (Debian 1:11.1.2+ds-3)": "11.1.2",
    "qemu-img version 11.1.3 (Debian 1:11.1.3+ds-1)": "11.1.3",
}


@pytest.fixture(scope="module")
def store() -> Path:
    return default_store()


@pytest.fixture(scope="module")
def store_bins(store: Path, tmp_path_factory: pytest.TempPathFactory) -> list[QemuBinary]:
    cache = tmp_path_factory.mktemp("cache") / "probe.json"
    found = [b for b in discover([], None, store, cache_file=cache) if b.source == "store"]
    if len(found) < 3:
        pytest.fail(f"need the provisioned store in {store}: run `nox -s provision_qemu`")
    return found


def wrapper(path: Path, target: Path, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\n{extra}exec "{target}" "$@"\n')
    path.chmod(0o755)
    return path


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(("line", "version"), sorted(REAL_FIRST_LINES.items()))
def test_parse_real_first_lines(line: str, version: str) -> None:
    assert parse_version_line(line) == version


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("qemu-img version 8.2.0 (v8.2.0)", "8.2.0"),
        ("qemu-img version 9.0.50 (v9.0.0-1300-g0123abcd)", "9.0.50"),
        ("qemu-img version 6.2.0\n", "6.2.0"),
        ("qemu-img version 7", None),
        ("qemu-img version x.y.z", None),
        ("qemu-io version 7.2.0", None),
        ("", None),
    ],
)
def test_parse_other_lines(line: str, version: str | None) -> None:
    assert parse_version_line(line) == version


def test_store_binaries_report_what_their_dir_says(store_bins: list[QemuBinary]) -> None:
    for b in store_bins:
        out = subprocess.run([b.path, "--version"], capture_output=True, text=True, check=True)
        first = out.stdout.splitlines()[0]
        assert first == b.version_line
        assert parse_version_line(first) == b.version == first.split()[2] == b.path.parent.name
        prov = b.provenance_dict()
        assert f"(Debian {prov['package_version']})" in first
        assert prov["sha256"] == sha256_file(b.path.parent / "root/usr/bin/qemu-img")
    versions = [b.version for b in store_bins]
    assert versions == sorted(versions, key=version_key)


def test_precedence_farm_store_path(
    tmp_path: Path, store: Path, store_bins: list[QemuBinary], monkeypatch: pytest.MonkeyPatch
) -> None:
    oldest, second, latest = store_bins[0], store_bins[1], store_bins[-1]
    farm = tmp_path / "farm"
    (farm / "a").mkdir(parents=True)
    (farm / "a" / "qemu-img").symlink_to(oldest.path)
    farm_latest = wrapper(farm / "b" / "bin" / "qemu-img", latest.path)
    wrapper(farm / ".hidden" / "qemu-img", latest.path)
    (farm / "empty").mkdir()
    broken = script(farm / "broken" / "qemu-img", "echo boom >&2; exit 3")
    garbage = script(farm / "garbage" / "qemu-img", "echo hello")
    path_dir = tmp_path / "pathbin"
    on_path = wrapper(path_dir / "qemu-img", second.path)
    monkeypatch.setenv("PATH", f"{path_dir}:/usr/bin:/bin")
    warnings: list[str] = []

    found = discover([], farm, store, warn=warnings.append, cache_file=tmp_path / "c.json")

    by_version = {b.version: b for b in found}
    assert [b.version for b in found] == [b.version for b in store_bins]
    assert by_version[oldest.version].source == "binaries"
    assert by_version[oldest.version].path == farm / "a" / "qemu-img"  # symlink kept as given
    assert by_version[latest.version].source == "binaries"
    assert by_version[latest.version].path == farm_latest
    assert by_version[second.version].source == "store"
    assert by_version[second.version].provenance_dict()["suite"]
    text = "\n".join(warnings)
    assert f"{broken} (binaries) skipped: `--version` exited 3: boom" in text
    assert f"{garbage} (binaries) skipped" in text and "'hello'" in text
    assert f"{farm}: skipped 1 directories" in text and "(empty)" in text
    assert ".hidden" not in text
    assert f"{latest.path} (store) also reports qemu-img {latest.version}" in text
    assert f"{on_path} (PATH) also reports qemu-img {second.version}" in text
    # the farm symlink is the store launcher itself: nothing was shadowed, no warning
    assert f"{oldest.path} (store)" not in text


def test_path_is_the_last_resort(
    tmp_path: Path, store_bins: list[QemuBinary], monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = wrapper(tmp_path / "pathbin" / "qemu-img", store_bins[0].path)
    monkeypatch.setenv("PATH", f"{on_path.parent}:/usr/bin:/bin")
    monkeypatch.delenv("QEMU_IMG_BINARIES", raising=False)
    found = discover([], None, tmp_path / "no-store", cache_file=tmp_path / "c.json")
    assert [(b.version, b.source, b.path) for b in found] == [
        (store_bins[0].version, "PATH", on_path)
    ]
    assert found[0].provenance_dict() == {"sha256": sha256_file(on_path)}


def test_qemu_img_option_excludes_everything_else(
    tmp_path: Path, store: Path, store_bins: list[QemuBinary]
) -> None:
    first = wrapper(tmp_path / "w1", store_bins[-1].path)
    same = wrapper(tmp_path / "w2", store_bins[-1].path)
    warnings: list[str] = []
    found = discover(
        [first, same], tmp_path, store, warn=warnings.append, cache_file=tmp_path / "c.json"
    )
    assert [(b.path, b.source) for b in found] == [(first, "qemu-img")]
    assert warnings == [
        f"{same} (qemu-img) also reports qemu-img {store_bins[-1].version}; "
        f"using {first} (qemu-img)"
    ]


def test_binaries_from_env_and_bad_dirs(
    tmp_path: Path, store_bins: list[QemuBinary], monkeypatch: pytest.MonkeyPatch
) -> None:
    farm = tmp_path / "farm"
    wrapper(farm / store_bins[0].version / "qemu-img", store_bins[0].path)
    monkeypatch.setenv("QEMU_IMG_BINARIES", str(farm))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))  # no qemu-img there for sure
    cache = tmp_path / "c.json"
    found = discover([], None, tmp_path / "no-store", cache_file=cache)
    assert [(b.version, b.source) for b in found] == [(store_bins[0].version, "binaries")]

    monkeypatch.setenv("QEMU_IMG_BINARIES", str(tmp_path / "missing"))
    warnings: list[str] = []
    assert discover([], None, tmp_path / "no-store", warn=warnings.append, cache_file=cache) == []
    assert "QEMU_IMG_BINARIES" in warnings[0]
    with pytest.raises(BadInput, match="not a directory"):
        discover([], tmp_path / "missing", None, cache_file=cache)


def test_version_probe_is_cached(tmp_path: Path, store_bins: list[QemuBinary]) -> None:
    runs = tmp_path / "runs"
    target = store_bins[0].path
    w = wrapper(tmp_path / "qemu-img", target, extra=f'echo run >> "{runs}"\n')
    cache = tmp_path / "cache" / "probe.json"
    for _ in range(3):
        assert [b.version for b in discover([w], None, None, cache_file=cache)] == [
            store_bins[0].version
        ]
    assert runs.read_text().count("run") == 1
    assert str(w) in json.loads(cache.read_text())

    wrapper(w, target, extra=f'echo run >> "{runs}"  # changed\n')  # size and mtime change
    discover([w], None, None, cache_file=cache)
    assert runs.read_text().count("run") == 2

    cache.write_text("{ corrupt")
    assert len(discover([w], None, None, cache_file=cache)) == 1
    assert runs.read_text().count("run") == 3
    json.loads(cache.read_text())  # rewritten whole


def _bins(*versions: str) -> list[QemuBinary]:
    return [
        QemuBinary(v, Path(f"/x/{v}/qemu-img"), "store", f"qemu-img version {v}") for v in versions
    ]


def test_select_binaries() -> None:
    bins = _bins(*reversed(REAL_FIRST_LINES.values()))

    def pick(*req: str) -> list[str]:
        return [b.version for b in select_binaries(bins, list(req))]

    assert pick() == ["5.2.0", "7.2.22", "10.0.2", "10.0.13", "11.1.2", "11.1.3"]
    assert pick("7.2.22") == ["7.2.22"]
    assert pick("10.0") == ["10.0.13"]
    assert pick("10") == ["10.0.13"]
    assert pick("11.1.2", "11") == ["11.1.2", "11.1.3"]
    assert pick("latest", "oldest", "11.1.3") == ["5.2.0", "11.1.3"]
    with pytest.raises(BadInput) as exc:
        pick("1")  # a prefix is whole dotted components: "1" is not 10.x or 11.x
    assert "5.2.0, 7.2.22, 10.0.2, 10.0.13, 11.1.2, 11.1.3" in str(exc.value)
    for bad in ("10.0.1", "7.2.2"):  # a full version names that version, never a neighbour
        with pytest.raises(BadInput, match="unknown qemu-img version"):
            pick(bad)
    for junk in ("newest", "10.0.x", "7.2.22x"):
        with pytest.raises(BadInput, match="is not a version query"):
            pick(junk)
    with pytest.raises(BadInput, match="no qemu-img binaries"):
        select_binaries([], ["latest"])


def test_select_versions_on_real_binaries(store_bins: list[QemuBinary]) -> None:
    assert select_binaries(store_bins, ["oldest"]) == [store_bins[0]]
    assert select_binaries(store_bins, ["latest"]) == [store_bins[-1]]
    major = store_bins[-1].version.split(".")[0]
    assert select_binaries(store_bins, [major]) == [store_bins[-1]]


def test_versions_command(tmp_path: Path, store: Path, store_bins: list[QemuBinary]) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("QEMU_IMG_BINARIES", None)
    cmd = [sys.executable, "-m", "toolkit", "versions", "--store", str(store)]
    out = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env, check=True)
    rows = [r for r in json.loads(out.stdout) if r["source"] == "store"]
    assert [r["version"] for r in rows] == [b.version for b in store_bins]
    for row, b in zip(rows, store_bins, strict=True):
        assert row["path"] == str(b.path) and row["source"] == "store"
        assert row["version_line"] == b.version_line
        assert row["provenance"]["suite"] == b.provenance_dict()["suite"]
    table = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    assert all(b.version_line in table for b in store_bins)

    none = subprocess.run(
        [*cmd, "--qemu-img", "/bin/false"], capture_output=True, text=True, env=env
    )
    assert none.returncode == 2  # the user named it: bad input, as in every command
    assert "--qemu-img /bin/false: `--version` exited 1" in none.stderr
