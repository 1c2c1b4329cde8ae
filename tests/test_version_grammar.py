"""One version grammar and one version-query grammar, in every command (issue 21 items 7, 8).

Item 7, planted with tests/stand_ins/qemu-img-fault-version-line: a `--version` line of
`qemu-img version 7.2.022` or the same in Arabic-Indic digits was accepted, compared
equal to 7.2.22, and `generate` recorded directories `7.2.022` and the Arabic-Indic one
beside `7.2.22`. Item 8: `profiles --for 10.0` answered 7.2.22 where drift and
--version read 10.0 as the highest 10.0.x; `--for 7` was refused; `7.2.22x` and
`7.2.22-rc1` were reported as "7.2.22 is recorded".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import REPO, in_process, toolkit

from toolkit.model.records import QemuBinary
from toolkit.model.versions import QUERY_FORMS

pytestmark = pytest.mark.qemu

VERSION_LINE = REPO / "tests" / "stand_ins" / "qemu-img-fault-version-line"
NOT_CANONICAL = {"leading-zero": "7.2.022", "arabic-indic": "\u0667.\u0662.\u0662\u0662"}


@pytest.mark.parametrize("label", sorted(NOT_CANONICAL))
def test_a_version_that_is_not_canonical_is_refused_and_never_recorded(
    label: str, tmp_path: Path, latest: QemuBinary
) -> None:
    version = NOT_CANONICAL[label]
    line = f"qemu-img version {version} (Debian 1:7.2+dfsg-7+deb12u18+b3)"
    env = {"REAL_QEMU_IMG": str(latest.path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "VERSION_LINE": line}  # fmt: skip
    out = tmp_path / "out"
    message = (
        f"--qemu-img {VERSION_LINE}: `--version` printed no parsable version: {version!r} is "
        "not a version in its canonical spelling (dotted ASCII digits without leading zeros, "
        "such as 7.2.22)"
    )
    for argv in (
        ["versions", "--qemu-img", str(VERSION_LINE)],
        ["generate", "resize", "--expected-outputs", str(out), "--qemu-img", str(VERSION_LINE),
         "--format", "raw", "--case", "1M-to-64M-default"],
    ):  # fmt: skip
        proc = toolkit(*argv, env=env)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() or list(out.rglob("*")) == []


# query -> (version, relation) of `profiles --for` on the committed resize tree
PROFILES_FOR = {
    "10.0": ("10.0.13", "prefix"),
    "7.2": ("7.2.22", "prefix"),
    "7": ("7.2.22", "prefix"),
    "oldest": ("5.2.0", "oldest"),
    "latest": ("11.1.3", "latest"),
    "7.2.22": ("7.2.22", "exact"),
    "7.2.30": ("7.2.22", "below"),
    "qemu-img version 10.0.5 (Ubuntu 1:10.0.5+ds-0ubuntu1)": ("10.0.2", "below"),
}


@pytest.mark.parametrize("query", sorted(PROFILES_FOR))
def test_profiles_for_reads_a_query_as_every_command_does(query: str) -> None:
    proc = in_process("profiles", "--for", query, "--json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert (answer["version"], answer["relation"]) == PROFILES_FOR[query]


def test_a_prefix_means_the_same_in_drift_and_profiles() -> None:
    drift = in_process("drift", "10.0", "7", "--format", "json")
    assert drift.returncode == 0, drift.stderr
    compared = json.loads(drift.stdout)
    assert (compared["from"], compared["to"]) == ("10.0.13", "7.2.22")
    for prefix, version in (("10.0", "10.0.13"), ("7", "7.2.22")):
        assert (
            json.loads(in_process("profiles", "--for", prefix, "--json").stdout)["version"]
            == version
        )


@pytest.mark.parametrize("junk", ["7.2.22x", "7.2.22-rc1", "v7.2.22", "7.2.022"])
def test_junk_is_bad_input_in_every_command(junk: str) -> None:
    for argv in (
        ["profiles", "--for", junk],
        ["drift", junk, "latest"],
        ["verify", "--offline", "--version", junk],
        ["verify", "--candidate", "/bin/true", "--candidate-version", junk],
    ):
        proc = in_process(*argv)
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert f"{junk!r} is not a version query" in proc.stderr, (argv, proc.stderr)
        assert QUERY_FORMS in proc.stderr
        assert "is recorded" not in proc.stdout
