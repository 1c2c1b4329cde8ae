"""Which recorded baseline applies to a given qemu-img: the rule a harness follows.

    from toolkit.baseline.selection import select_baseline
    pick = select_baseline(Path("expected-outputs"), "create-info-json",
                           "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)")
    pick.version_dir("qcow2")   # expected-outputs/create-info-json/qcow2/7.2.22
    pick.profile_file("qcow2", "1G-default", ".stdout.txt")

Rule: the highest recorded version <= the host's *full* version (never a `major.minor`
prefix match: 7.2.0 and 7.2.22 may differ); a host newer than every recorded version
gets the newest, one older than all of them the oldest (with a warning: nothing recorded
is known to hold for it). The profile is the one version-map.json assigns that version.
Reads only version-map.json: no qemu-img, no case data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.profiles import VERSION_MAP_FILE
from toolkit.baseline.tree import PROFILES_DIR
from toolkit.model.errors import BadInput
from toolkit.model.versions import parse_version_line, version_key

__all__ = ["Selection", "host_version", "select_baseline", "select_from_map"]

_BARE = re.compile(r"\s*v?(\d+(?:\.\d+)+)(?![\d.])")


@dataclass(frozen=True)
class Selection:
    host: str  # the full version asked about, e.g. "7.2.22"
    version: str  # the recorded version directory to read
    profile: str  # e.g. "profile-7-2-18"
    representative: str  # the profile's oldest version, whose files profiles/<profile>/ hold
    relation: str  # "exact", "below" (highest recorded below it), "newer" or "older"
    type_dir: Path  # expected-outputs/<output-type>

    @property
    def note(self) -> str:
        if self.relation == "newer":
            return (
                f"{self.host} is newer than every recorded version: using the newest, "
                f"{self.version}"
            )
        if self.relation == "older":
            return (
                f"{self.host} is older than every recorded version: using the oldest, "
                f"{self.version}; nothing recorded is known to hold for it"
            )
        if self.relation == "below":
            return (
                f"{self.host} is not recorded: using the highest recorded below it, {self.version}"
            )
        return f"{self.host} is recorded"

    @property
    def profile_dir(self) -> Path:
        return self.type_dir / PROFILES_DIR / self.profile

    def version_dir(self, target: str) -> Path:
        return self.type_dir / target / self.version

    def profile_file(self, target: str, case: str, suffix: str) -> Path:
        return self.profile_dir / f"{target}-{case}{suffix}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "host_version": self.host,
            "version": self.version,
            "relation": self.relation,
            "profile": self.profile,
            "representative": self.representative,
            "version_dir": str(self.type_dir / "<target>" / self.version),
            "profile_dir": str(self.profile_dir),
            "note": self.note,
        }


def host_version(text: str) -> str:
    """`7.2.22`, or a `qemu-img --version` line such as `qemu-img version 7.2.22 (Debian
    1:7.2+dfsg-7+deb12u18+b3)` -> `7.2.22` (a distro suffix is ignored)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    bare = _BARE.match(first)  # a version line starts `qemu-img`, so never both
    found = parse_version_line(first) or (bare.group(1) if bare else None)
    if found is None:
        raise BadInput(
            f"{text!r} is not a qemu-img version: give a full version such as 7.2.22 or the "
            "first line of `qemu-img --version` (`qemu-img version 7.2.22 (Debian ...)`)"
        )
    return found


def select_from_map(vmap: dict[str, Any], host: str, type_dir: Path) -> Selection:
    """Apply the rule to a loaded version-map.json ({"profiles", "version_to_profile"})."""
    to_profile = vmap.get("version_to_profile")
    profiles = vmap.get("profiles")
    if not isinstance(to_profile, dict) or not isinstance(profiles, dict) or not to_profile:
        raise BadInput(
            f"{type_dir / VERSION_MAP_FILE} has no versions (`profiles` and "
            "`version_to_profile`): regenerate it with `python -m toolkit profiles`"
        )
    want = version_key(host_version(host))
    recorded = sorted(to_profile, key=version_key)
    at_or_below = [v for v in recorded if version_key(v) <= want]
    if not at_or_below:
        version, relation = recorded[0], "older"
    else:
        version = at_or_below[-1]
        relation = (
            "exact"
            if version_key(version) == want
            else "newer"
            if version == recorded[-1]
            else "below"
        )
    profile = str(to_profile[version])
    return Selection(
        host_version(host), version, profile, str(profiles[profile]), relation, type_dir
    )


def select_baseline(expected_outputs: Path, output_type: str, host: str) -> Selection:
    """The baseline for qemu-img `host` (a version or a --version line) in one output type."""
    type_dir = expected_outputs / output_type
    path = type_dir / VERSION_MAP_FILE
    try:
        vmap = guard.read_json(expected_outputs, path, guard.VERSION_MAP)  # no link, no FIFO
    except FileNotFoundError:
        raise BadInput(
            f"{path} is missing: generate the tree (`python -m toolkit generate ...`) or point "
            "--expected-outputs at a checkout that has one"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path} is unreadable: {exc}; regenerate it") from None
    if not isinstance(vmap, dict):
        raise BadInput(f"{path} is not a JSON object; regenerate it")
    return select_from_map(vmap, host, type_dir)
