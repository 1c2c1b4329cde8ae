"""qemu-img versions as text: parsing, ordering, naming and selection.

One place for every rule about a version string, so discovery (binaries), the golden
tree (version directories) and every stage agree on what a version is and on what
`--version 10.0`, `oldest` and `latest` select.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from toolkit.model.errors import BadInput

__all__ = ["is_version_name", "parse_version_line", "select_versions", "version_key"]

# The version key of `qemu-img --version`: at least major.minor. A directory named
# `10` can never be one, so it is not a version directory either.
_VERSION = r"\d+(?:\.\d+)+"
_VERSION_NAME = re.compile(_VERSION)
_VERSION_LINE = re.compile(rf"^qemu-img version ({_VERSION})(?![\d.])")


def version_key(version: str) -> tuple[int, ...]:
    """Sort key of a dotted version ("10.0.13" after "10.0.2"); a non-numeric part is -1."""
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


def is_version_name(name: str) -> bool:
    """Whether a directory name is a version (`7.2.22`, `10.0`), as discovery records them."""
    return _VERSION_NAME.fullmatch(name) is not None


def parse_version_line(first_line: str) -> str | None:
    """`qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)` -> `7.2.22`."""
    m = _VERSION_LINE.match(first_line.strip())
    return m.group(1) if m else None


def _resolve_one(ordered: list[str], request: str) -> str:
    req = request.strip().lower()
    if req == "oldest":
        return ordered[0]
    if req == "latest":
        return ordered[-1]
    if req in ordered:
        return req
    if re.fullmatch(r"\d+(\.\d+)*", req):
        want = version_key(req)
        matches = [v for v in ordered if version_key(v)[: len(want)] == want]
        if matches:
            return matches[-1]
    raise BadInput(
        f"unknown qemu-img version {request!r}: available are {', '.join(ordered)} "
        "(give an exact version, a prefix such as 10.0, 'oldest' or 'latest')"
    )


def select_versions(available: Sequence[str], requested: Sequence[str]) -> list[str]:
    """Resolve --version requests (exact, dotted prefix -> highest match, oldest, latest).

    No request selects everything. The result is sorted, without duplicates.
    """
    ordered = sorted(set(available), key=version_key)
    if not requested:
        return ordered
    if not ordered:
        raise BadInput(
            "no qemu-img binaries were found; run `python -m toolkit provision` "
            "or pass --qemu-img PATH / --binaries DIR"
        )
    return sorted({_resolve_one(ordered, r) for r in requested}, key=version_key)
