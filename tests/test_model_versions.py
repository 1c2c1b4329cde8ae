"""Version strings: ordering, names, `--version` lines, and what each request selects."""

from __future__ import annotations

import pytest

from toolkit.model.errors import BadInput
from toolkit.model.versions import (
    is_version_name,
    parse_version_line,
    select_versions,
    version_key,
)

# The builds the project records (README "Versions"), in a scrambled order with a repeat.
AVAILABLE = ["11.1.3", "5.2.0", "10.0.13", "7.2.22", "10.0.2", "11.1.2", "10.0.2"]
ORDERED = ["5.2.0", "7.2.22", "10.0.2", "10.0.13", "11.1.2", "11.1.3"]


def test_version_key() -> None:
    assert version_key("10.0.13") == (10, 0, 13)
    assert version_key("10.0.x") == (10, 0, -1)
    assert sorted(AVAILABLE, key=version_key)[2:4] == ["10.0.2", "10.0.2"]


@pytest.mark.parametrize(
    ("name", "ok"),
    [("7.2.22", True), ("10.0", True), ("10", False), ("10.", False), ("v10.0", False),
     ("10.0.2-rc1", False), ("", False)],
)  # fmt: skip
def test_is_version_name(name: str, ok: bool) -> None:
    assert is_version_name(name) is ok


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", "7.2.22"),
        ("  qemu-img version 11.1.3\n", "11.1.3"),
        ("qemu-img version 10.0", "10.0"),
        ("qemu-img version 10", None),
        ("qemu-img version 10.0.2.", None),  # no prefix of a longer token
        ("qemu-img version 10.0.2x", "10.0.2"),
        ("instar version 1.0", None),
        ("x qemu-img version 1.0", None),
    ],
)
def test_parse_version_line(line: str, version: str | None) -> None:
    assert parse_version_line(line) == version


@pytest.mark.parametrize(
    ("requested", "selected"),
    [
        ([], ORDERED),
        (["oldest"], ["5.2.0"]),
        ([" LATEST "], ["11.1.3"]),
        (["10.0"], ["10.0.13"]),  # a prefix takes its highest match
        (["10"], ["10.0.13"]),
        (["5"], ["5.2.0"]),  # a prefix with one match
        (["10.0.2", "5.2.0", "10.0.2"], ["5.2.0", "10.0.2"]),
        (["11.1.2", "oldest", "latest"], ["5.2.0", "11.1.2", "11.1.3"]),
    ],
)
def test_select_versions(requested: list[str], selected: list[str]) -> None:
    assert select_versions(AVAILABLE, requested) == selected


def test_select_versions_exact_wins_over_prefix() -> None:
    assert select_versions(["1.1", "1.1.5"], ["1.1"]) == ["1.1"]


@pytest.mark.parametrize("request_", ["12", "10.1", "1", "newest", "10.0.2.1", "1O.0"])
def test_unknown_version_says_what_is_there(request_: str) -> None:
    with pytest.raises(BadInput) as info:
        select_versions(AVAILABLE, [request_])
    assert str(info.value) == (
        f"unknown qemu-img version {request_!r}: available are "
        "5.2.0, 7.2.22, 10.0.2, 10.0.13, 11.1.2, 11.1.3 "
        "(give an exact version, a prefix such as 10.0, 'oldest' or 'latest')"
    )


def test_no_binaries_at_all() -> None:
    assert select_versions([], []) == []
    with pytest.raises(BadInput) as info:
        select_versions([], ["latest"])
    assert str(info.value) == (
        "no qemu-img binaries were found; run `python -m toolkit provision` "
        "or pass --qemu-img PATH / --binaries DIR"
    )
