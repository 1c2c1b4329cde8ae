"""qemu-img versions as text: the one grammar, ordering, and the one resolver of queries.

One place for every rule about a version string, so discovery (binaries), the golden
tree (version directories), version-map.json and every command agree on what a version
is and on what `10.0`, `7.2.30`, `oldest` and `latest` select.

The version grammar: dotted parts, at least two, each ASCII digits without a leading
zero (`0` itself is a part): `7.2.22`, `10.0`. One canonical spelling per version:
`7.2.022` and `\\u0667.\\u0662.\\u0662\\u0662` (Arabic-Indic digits, which `\\d` and
str.isdigit accept) are not versions, so they never name a directory beside `7.2.22`.

The query grammar (`--version`, `--candidate-version`, `--against`, drift's A and B,
`profiles --for`), the same in every command:

  oldest, latest     the lowest and the highest available version (any case);
  a prefix           one or two parts (`7`, `10.0`): the highest available version that
                     starts with those parts;
  a full version     three parts or more (`7.2.22`): that version when it is available.
                     Where the question is which recorded baseline applies to a host's
                     qemu-img (profiles --for / --qemu-img, select_baseline), a full version
                     that is not recorded reads what the consuming harness reads
                     (`nearest=True`, its `_select_version_match`): the highest recorded at
                     or below it in its major.minor series, else the lowest of that series,
                     else the highest below it, else the lowest; every other command refuses
                     it, naming what is available;
  a `qemu-img --version` line
                     `qemu-img version 7.2.22 (Debian ...)`: its version, as a full version.

An available version named exactly wins over a prefix reading (`1.1` among 1.1 and 1.1.5).
Anything else (`7.2.22x`, `7.2.22-rc1`, `v7.2`, `7.2.`) is bad input that says which
forms are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.model.errors import BadInput
from toolkit.model.text import shown

__all__ = [
    "QUERY_FORMS",
    "Resolved",
    "is_version_name",
    "parse_query",
    "parse_version_line",
    "read_version_line",
    "resolve",
    "select_versions",
    "version_key",
]

_PART = r"(?:0|[1-9][0-9]*)"  # [0-9], never \d: \d matches every Unicode digit
_PART_RE = re.compile(_PART)
_VERSION_NAME = re.compile(rf"{_PART}(?:\.{_PART})+")
_DOTTED = re.compile(rf"{_PART}(?:\.{_PART})*")  # a version or a prefix of one
_LINE_HEAD = "qemu-img version "
FULL_PARTS = 3  # fewer parts than this: a prefix

QUERY_FORMS = (
    "give a version such as 7.2.22 (ASCII digits, no leading zeros), a prefix such as 10.0 "
    "or 7 (its highest version), 'oldest', 'latest' or the first line of `qemu-img --version`"
)


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a dotted version ("10.0.13" after "10.0.2"); a part that is not
    canonical ASCII digits ("x", "022", "٢") is -1."""
    return tuple(int(p) if _PART_RE.fullmatch(p) else -1 for p in version.split("."))


def is_version_name(name: str) -> bool:
    """Whether a name is a version in its one canonical spelling (`7.2.22`, `10.0`): a
    version directory, a version-map key, what discovery records."""
    return _VERSION_NAME.fullmatch(name) is not None


def read_version_line(first_line: str) -> str:
    """`qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)` -> `7.2.22`.

    ValueError saying why otherwise: no `qemu-img version` at the start, or a version
    token (up to the first blank) that is not a canonical version (`7.2.022`, `10.0.2x`).
    """
    line = first_line.strip()
    if not line.startswith(_LINE_HEAD):
        raise ValueError(f"{shown(line)} does not start with `{_LINE_HEAD.strip()}`")
    words = line[len(_LINE_HEAD) :].split(maxsplit=1)
    token = words[0] if words else ""
    if not is_version_name(token):
        raise ValueError(
            f"{shown(token or line)} is not a version in its canonical spelling (dotted "
            "ASCII digits without leading zeros, such as 7.2.22)"
        )
    return token


def parse_version_line(first_line: str) -> str | None:
    """The version of a `qemu-img --version` first line, None when it has none."""
    try:
        return read_version_line(first_line)
    except ValueError:
        return None


def parse_query(text: str) -> tuple[str, str]:
    """A version query as (kind, value): ("oldest", "oldest"), ("latest", "latest"),
    ("prefix", "10.0") or ("version", "7.2.22"). Only the first line counts (the whole
    output of `qemu-img --version` may be passed). BadInput for anything else."""
    stripped = text.strip()
    first = stripped.splitlines()[0].strip() if stripped else ""
    if first.lower() in ("oldest", "latest"):
        return first.lower(), first.lower()
    if first.startswith(_LINE_HEAD):
        try:
            return "version", read_version_line(first)
        except ValueError as exc:
            raise BadInput(f"{shown(text)} is not a version query: {exc}; {QUERY_FORMS}") from None
    if _DOTTED.fullmatch(first):
        return ("prefix" if first.count(".") + 1 < FULL_PARTS else "version"), first
    raise BadInput(f"{shown(text)} is not a version query: {QUERY_FORMS}")


@dataclass(frozen=True)
class Resolved:
    """What a query selects: the version and how it relates to the query."""

    query: str  # the query's value: the version, the prefix, "oldest" or "latest"
    version: str
    # exact, prefix, oldest, latest; with nearest=True also below (the highest below a
    # full version), series (the lowest of its major.minor, all above it), newer (above
    # every version) and older (below every version)
    relation: str


def _unknown(request: str, ordered: Sequence[str]) -> BadInput:
    return BadInput(
        f"unknown qemu-img version {shown(request)}: available are {', '.join(ordered)} "
        "(give an exact version, a prefix such as 10.0, 'oldest' or 'latest')"
    )


def resolve(available: Sequence[str], request: str, nearest: bool = False) -> Resolved:
    """The one resolver of a version query against non-empty `available` versions (see the
    module docstring). nearest=True: a full version that is not available reads the highest
    one below it (or the lowest, relation "older", when none is below)."""
    ordered = sorted(set(available), key=version_key)
    try:
        kind, value = parse_query(request)
    except BadInput as exc:
        raise BadInput(f"{exc}; available are {', '.join(ordered)}") from None
    if kind == "oldest":
        return Resolved(value, ordered[0], "oldest")
    if kind == "latest":
        return Resolved(value, ordered[-1], "latest")
    if value in ordered:
        return Resolved(value, value, "exact")
    want = version_key(value)
    if kind == "prefix":
        matches = [v for v in ordered if version_key(v)[: len(want)] == want]
        if not matches:
            raise _unknown(request, ordered)
        return Resolved(value, matches[-1], "prefix")
    if not nearest:
        raise _unknown(request, ordered)
    return _nearest(ordered, value, want)


def _nearest(ordered: Sequence[str], value: str, want: tuple[int, ...]) -> Resolved:
    """The consuming harness's `_select_version_match` (instar tests/base.py): within the
    host's major.minor, the highest at or below its patch, else the lowest of that series;
    then the highest below it overall; then the lowest of all."""
    series = [v for v in ordered if version_key(v)[:2] == want[:2]]
    below = [v for v in series if version_key(v) <= want]
    if below:
        return Resolved(value, below[-1], "newer" if below[-1] == ordered[-1] else "below")
    if series:
        return Resolved(value, series[0], "series")  # 7.2.0 reads 7.2.18, not 5.2.0
    below = [v for v in ordered if version_key(v) <= want]
    if not below:
        return Resolved(value, ordered[0], "older")
    return Resolved(value, below[-1], "newer" if below[-1] == ordered[-1] else "below")


def _refuse_junk(request: str, ordered: Sequence[str]) -> None:
    """BadInput for a request that is no query at all, naming what is available."""
    try:
        parse_query(request)
    except BadInput as exc:
        raise BadInput(f"{exc}; available are {', '.join(ordered)}") from None


def select_versions(
    available: Sequence[str], requested: Sequence[str], missing: str = ""
) -> list[str]:
    """Resolve --version requests (exact, prefix -> highest match, oldest, latest).

    No request selects everything. The result is sorted, without duplicates. Every request
    that selects nothing is named in one error, followed by `missing` (how to add a build).
    """
    ordered = sorted(set(available), key=version_key)
    if not requested:
        return ordered
    if not ordered:
        for r in requested:
            parse_query(r)  # junk is junk whatever is installed
        raise BadInput(
            "no qemu-img binaries were found; run `python -m toolkit provision` "
            "or pass --qemu-img PATH / --binaries DIR"
        )
    found, unknown = set(), []
    for r in requested:
        _refuse_junk(r, ordered)  # junk: its own error, with what is available
        try:
            found.add(resolve(ordered, r).version)
        except BadInput:
            unknown.append(r)
    if unknown:
        which = ", ".join(shown(u) for u in unknown)
        raise BadInput(
            f"unknown qemu-img version{'s' if len(unknown) > 1 else ''} {which}: available are "
            f"{', '.join(ordered)} (give an exact version, a prefix such as 10.0, 'oldest' or "
            f"'latest'){missing}"
        )
    return sorted(found, key=version_key)
