"""Version strings: the one grammar, ordering, `--version` lines, and the one resolver of
version queries every command uses (issue 21 items 7 and 8)."""

from __future__ import annotations

import pytest

from toolkit.model.errors import BadInput
from toolkit.model.versions import (
    QUERY_FORMS,
    Resolved,
    is_version_name,
    parse_query,
    parse_version_line,
    read_version_line,
    resolve,
    select_versions,
    version_key,
)

# The builds the project records (README "Versions"), in a scrambled order with a repeat.
AVAILABLE = ["11.1.3", "5.2.0", "10.0.13", "7.2.22", "10.0.2", "11.1.2", "10.0.2"]
ORDERED = ["5.2.0", "7.2.22", "10.0.2", "10.0.13", "11.1.2", "11.1.3"]
ARABIC_INDIC = "\u0667.\u0662.\u0662\u0662"  # 7.2.22 in digits \d and str.isdigit accept
SUPERSCRIPT = "7.\u00b2"  # 7.²: str.isdigit accepts it, int() does not


def test_version_key() -> None:
    assert version_key("10.0.13") == (10, 0, 13)
    assert version_key("10.0.x") == (10, 0, -1)
    assert sorted(AVAILABLE, key=version_key)[2:4] == ["10.0.2", "10.0.2"]


@pytest.mark.parametrize(
    ("name", "key"),
    [("7.2.022", (7, 2, -1)), (ARABIC_INDIC, (-1, -1, -1)), (SUPERSCRIPT, (7, -1)), ("/etc", (-1,)),
     ("0.0", (0, 0))],
)  # fmt: skip
def test_version_key_of_a_spelling_that_is_not_canonical(name: str, key: tuple[int, ...]) -> None:
    # Never equal to the canonical version's key (7.2.022 once sorted as 7.2.22), never a
    # ValueError (int('²') raised one through select_baseline).
    assert version_key(name) == key


@pytest.mark.parametrize(
    ("name", "ok"),
    [("7.2.22", True), ("10.0", True), ("0.0.0", True), ("10", False), ("10.", False),
     ("v10.0", False), ("10.0.2-rc1", False), ("", False), ("7.2.022", False),
     ("07.2.22", False), ("7.02.22", False), (ARABIC_INDIC, False), (SUPERSCRIPT, False),
     ("7.2.22\n", False), (" 7.2.22", False), ("/etc", False)],
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
        ("qemu-img version 10.0.2x", None),  # the token is the version, whole
        ("qemu-img version 7.2.022", None),
        ("qemu-img version 7.2.022 (Debian)", None),
        (f"qemu-img version {ARABIC_INDIC}", None),
        ("qemu-img version ", None),
        ("instar version 1.0", None),
        ("x qemu-img version 1.0", None),
    ],
)
def test_parse_version_line(line: str, version: str | None) -> None:
    assert parse_version_line(line) == version


def test_read_version_line_says_why() -> None:
    with pytest.raises(ValueError) as info:
        read_version_line("qemu-img version 7.2.022 (fake)")
    assert str(info.value) == (
        "'7.2.022' is not a version in its canonical spelling (dotted ASCII digits without "
        "leading zeros, such as 7.2.22)"
    )
    with pytest.raises(ValueError) as info:
        read_version_line("hello")
    assert str(info.value) == "'hello' does not start with `qemu-img version`"
    with pytest.raises(ValueError) as info:
        read_version_line("x" * 1000)
    assert str(info.value) == (
        f"'{'x' * 200}'… (800 more characters not shown) does not start with `qemu-img version`"
    )


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        ("oldest", ("oldest", "oldest")),
        (" LATEST ", ("latest", "latest")),
        ("7", ("prefix", "7")),
        ("10.0", ("prefix", "10.0")),
        ("7.2.22", ("version", "7.2.22")),
        ("10.0.2.1", ("version", "10.0.2.1")),
        ("qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", ("version", "7.2.22")),
        ("qemu-img version 10.0", ("version", "10.0")),  # a version line names a version
        ("qemu-img version 7.2.22\nCopyright (c) 2003-2022", ("version", "7.2.22")),
    ],
)
def test_parse_query(query: str, parsed: tuple[str, str]) -> None:
    assert parse_query(query) == parsed


@pytest.mark.parametrize(
    "junk",
    ["7.2.22x", "7.2.22-rc1", "v7.2", "7.2.", ".7", "newest", "1O.0", "7.2.022", ARABIC_INDIC,
     SUPERSCRIPT, "", "  ", "7 2"],
)  # fmt: skip
def test_junk_is_not_a_query(junk: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_query(junk)
    assert str(info.value) == f"{junk!r} is not a version query: {QUERY_FORMS}"


def test_a_bad_version_line_says_why_and_what_is_accepted() -> None:
    with pytest.raises(BadInput) as info:
        parse_query("qemu-img version 7.2.022")
    assert str(info.value) == (
        "'qemu-img version 7.2.022' is not a version query: '7.2.022' is not a version in its "
        "canonical spelling (dotted ASCII digits without leading zeros, such as 7.2.22); "
        + QUERY_FORMS
    )


def test_a_huge_query_is_echoed_bounded() -> None:
    with pytest.raises(BadInput) as info:
        parse_query("7" * 100_000 + "x")
    assert len(str(info.value)) < 600
    assert "(99801 more characters not shown)" in str(info.value)


# resolve: (query, nearest) -> (version, relation), on ORDERED
RESOLVED = {
    ("oldest", False): ("5.2.0", "oldest"),
    ("latest", False): ("11.1.3", "latest"),
    ("7.2.22", False): ("7.2.22", "exact"),
    ("7.2.22", True): ("7.2.22", "exact"),
    ("qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", False): ("7.2.22", "exact"),
    ("10.0", False): ("10.0.13", "prefix"),  # the same in every command, profiles --for too
    ("10.0", True): ("10.0.13", "prefix"),
    ("7", True): ("7.2.22", "prefix"),
    ("7.2", True): ("7.2.22", "prefix"),
    ("7.2.30", True): ("7.2.22", "below"),
    ("7.2.0", True): ("7.2.22", "series"),  # the harness reads its series, not 5.2.0
    ("10.0.5", True): ("10.0.2", "below"),
    ("10.0.2.1", True): ("10.0.2", "below"),
    ("12.0.0", True): ("11.1.3", "newer"),
    ("4.2.0", True): ("5.2.0", "older"),
}


@pytest.mark.parametrize(("query", "nearest"), sorted(RESOLVED))
def test_resolve(query: str, nearest: bool) -> None:
    version, relation = RESOLVED[query, nearest]
    got = resolve(AVAILABLE, query, nearest=nearest)
    assert (got.version, got.relation) == (version, relation)
    assert got == Resolved(parse_query(query)[1], version, relation)


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
        (["qemu-img version 10.0.2 (Debian 1:10.0.2+ds-2)"], ["10.0.2"]),
    ],
)
def test_select_versions(requested: list[str], selected: list[str]) -> None:
    assert select_versions(AVAILABLE, requested) == selected


def test_select_versions_exact_wins_over_prefix() -> None:
    assert select_versions(["1.1", "1.1.5"], ["1.1"]) == ["1.1"]


@pytest.mark.parametrize("request_", ["12", "10.1", "1", "10.0.2.1", "7.2.30", "4.2.0"])
def test_unknown_version_says_what_is_there(request_: str) -> None:
    # Outside profiles --for, a full version names that version: never a neighbour.
    with pytest.raises(BadInput) as info:
        select_versions(AVAILABLE, [request_])
    assert str(info.value) == (
        f"unknown qemu-img version {request_!r}: available are "
        "5.2.0, 7.2.22, 10.0.2, 10.0.13, 11.1.2, 11.1.3 "
        "(give an exact version, a prefix such as 10.0, 'oldest' or 'latest')"
    )


@pytest.mark.parametrize("request_", ["newest", "1O.0", "7.2.22x", "7.2.22-rc1", ARABIC_INDIC])
def test_junk_is_refused_whatever_is_available(request_: str) -> None:
    with pytest.raises(BadInput) as info:
        select_versions(AVAILABLE, [request_])
    assert str(info.value) == (
        f"{request_!r} is not a version query: {QUERY_FORMS}; available are "
        "5.2.0, 7.2.22, 10.0.2, 10.0.13, 11.1.2, 11.1.3"
    )
    with pytest.raises(BadInput) as info:
        select_versions([], [request_])
    assert str(info.value) == f"{request_!r} is not a version query: {QUERY_FORMS}"


def test_no_binaries_at_all() -> None:
    assert select_versions([], []) == []
    with pytest.raises(BadInput) as info:
        select_versions([], ["latest"])
    assert str(info.value) == (
        "no qemu-img binaries were found; run `python -m toolkit provision` "
        "or pass --qemu-img PATH / --binaries DIR"
    )


def test_every_unknown_version_is_named_once_with_how_to_add_a_build() -> None:
    with pytest.raises(BadInput) as caught:
        select_versions(["5.2.0", "11.1.3"], ["9.9", "11", "4.0"], "; HOW TO ADD")
    assert str(caught.value) == (
        "unknown qemu-img versions '9.9', '4.0': available are 5.2.0, 11.1.3 (give an exact "
        "version, a prefix such as 10.0, 'oldest' or 'latest'); HOW TO ADD"
    )
    with pytest.raises(BadInput, match=r"^unknown qemu-img version '9.9': available"):
        select_versions(["5.2.0"], ["9.9"])
