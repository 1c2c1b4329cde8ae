"""Which recorded baseline applies to a given qemu-img: the rule a harness follows.

    from toolkit.baseline.selection import select_baseline
    pick = select_baseline(Path("expected-outputs"), "create-info-json",
                           "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)")
    pick.version_dir("qcow2")   # expected-outputs/create-info-json/qcow2/7.2.22
    pick.profile_file("qcow2", "1G-default", ".stdout.txt")

The host is a version query (toolkit.model.versions: the one grammar and resolver every
command uses). Rule for a full version or a `--version` line, the consuming harness's
own (instar tests/base.py `_select_version_match`): the version itself when recorded;
else the highest recorded at or below it in its major.minor series (7.2.30 reads 7.2.22);
else the lowest of that series (7.2.0 reads 7.2.18, not 5.2.0); else the highest recorded
below it (9.0.0 reads 7.2.22; a host newer than every recorded version gets the newest);
else the oldest (with a warning: nothing recorded is known to hold for it). A prefix
(`10.0`, `7`) reads
the highest recorded version with that prefix, as in every other command; `oldest` and
`latest` the ends. The profile is the one version-map.json assigns that version.

Reads only version-map.json: no qemu-img, no case data. The map is checked before it
is used (`checked_map`): every path this module hands a harness is built from names the
map gives, so a hand-edited or foreign map (a profile `../../../../etc`, a version key
`/etc`, `7.²`) is bad input, never a path outside the tree or a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.profiles import VERSION_MAP_FILE, profile_name
from toolkit.baseline.tree import PROFILES_DIR
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import COMMANDS
from toolkit.model.text import clip, shown
from toolkit.model.versions import is_version_name, parse_query, resolve

__all__ = ["Selection", "checked_map", "host_version", "select_baseline", "select_from_map"]


@dataclass(frozen=True)
class Selection:
    host: str  # what was asked about: a full version ("7.2.22"), a prefix, oldest or latest
    version: str  # the recorded version directory to read
    profile: str  # e.g. "profile-7-2-18"
    representative: str  # the profile's oldest version, whose files profiles/<profile>/ hold
    # "exact", "below" (highest recorded below it), "series" (the lowest of its major.minor,
    # all above it), "newer", "older", "prefix" (the highest recorded with that prefix),
    # "oldest" or "latest"
    relation: str
    type_dir: Path  # expected-outputs/<output-type>
    # How profiles/<profile>/ names a triple: "format-case" (`qcow2-1G-default.*`) or
    # "case" (`1M-raw-whole-vhd.*`: dd's names are unique across formats), as the type says.
    profile_names: str = "format-case"

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
        if self.relation == "series":
            return (
                f"{self.host} is not recorded, nor any {'.'.join(self.version.split('.')[:2])}.x "
                f"below it: using the lowest of that series, {self.version}"
            )
        if self.relation == "prefix":
            return f"{self.host} is a prefix: using the highest recorded {self.host}.x, " \
                f"{self.version}"  # fmt: skip
        if self.relation in ("oldest", "latest"):
            return f"{self.relation}: the {self.relation} recorded version, {self.version}"
        return f"{self.host} is recorded"

    @property
    def profile_dir(self) -> Path:
        return self.type_dir / PROFILES_DIR / self.profile

    def version_dir(self, target: str) -> Path:
        return self.type_dir / target / self.version

    def targets(self) -> list[str]:
        """The `<target>` directories (formats; measure's `_size`) that hold this version,
        sorted: read from the tree, links and special files not followed."""
        found: list[str] = []
        try:
            entries = list(os.scandir(self.type_dir))
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            if entry.name != PROFILES_DIR and entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    if stat.S_ISDIR((Path(entry.path) / self.version).lstat().st_mode):
                        found.append(entry.name)
        return sorted(found)

    def profile_file(self, target: str, case: str, suffix: str) -> Path:
        return self.profile_dir / f"{self.profile_stem(target, case)}{suffix}"

    def profile_stem(self, target: str, case: str) -> str:
        """A triple's name in the profile directory, without its suffix."""
        return case if self.profile_names == "case" else f"{target}-{case}"

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
    """The version a query names: `7.2.22`, a prefix (`10.0`), `oldest`/`latest`, or the
    version of a `qemu-img --version` line such as `qemu-img version 7.2.22 (Debian
    1:7.2+dfsg-7+deb12u18+b3)` -> `7.2.22` (a distro suffix is ignored). BadInput for
    anything else (toolkit.model.versions.parse_query)."""
    return parse_query(text)[1]


def _regenerate(type_dir: Path) -> str:
    command = next((c for c, s in COMMANDS.items() if s.output_type == type_dir.name), None)
    flag = f" --command {command}" if command not in (None, "resize") else ""
    return f"regenerate it with `python -m toolkit profiles{flag}`"


def _value(value: Any) -> str:
    """A map value as a message shows it: a string quoted, anything else as JSON."""
    return shown(value) if isinstance(value, str) else clip(json.dumps(value))


def checked_map(vmap: Any, type_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(version_to_profile, profiles) of a loaded version-map.json, or BadInput naming
    the first thing wrong: not the shape `profiles` writes, a version key that is not a
    canonical version, a profile name other than `profile-<its representative>`, a
    version assigned to a profile that is not listed, a representative not in it."""
    where = type_dir / VERSION_MAP_FILE
    fix = _regenerate(type_dir)
    to_profile = vmap.get("version_to_profile") if isinstance(vmap, dict) else None
    profiles = vmap.get("profiles") if isinstance(vmap, dict) else None
    if not isinstance(to_profile, dict) or not isinstance(profiles, dict) or not to_profile:
        raise BadInput(f"{where} has no versions (`profiles` and `version_to_profile`): {fix}")

    def bad(problem: str) -> BadInput:
        return BadInput(f"{where}: {problem}; {fix}")

    reps: dict[str, str] = {}
    for name, info in profiles.items():
        rep = info.get("representative") if isinstance(info, dict) else None
        versions = info.get("versions") if isinstance(info, dict) else None
        if not isinstance(rep, str) or not is_version_name(rep):
            raise bad(f"profile {shown(name)} names {_value(rep)} as its representative, "
                      "not a version")  # fmt: skip
        if name != profile_name(rep):
            raise bad(f"profile {shown(name)} should be named {profile_name(rep)!r} "
                      f"after its representative {rep}")  # fmt: skip
        if not isinstance(versions, list) or rep not in versions:
            raise bad(f"profile {name}'s `versions` must list its versions, {rep} among them")
        reps[name] = rep
    for version, profile in to_profile.items():
        if not is_version_name(version):
            raise bad(f"version key {shown(version)} is not a version (such as 7.2.22)")
        if not isinstance(profile, str) or profile not in profiles:
            raise bad(f"version {version} is assigned {_value(profile)}, which is not a "
                      "profile listed under `profiles`")  # fmt: skip
        if version not in profiles[profile]["versions"]:
            raise bad(f"version {version} is assigned {profile}, whose `versions` lack it")
    for name, rep in reps.items():
        if to_profile.get(rep) != name:
            raise bad(f"profile {name}'s representative {rep} is not assigned to it")
    return to_profile, reps


def select_from_map(vmap: Any, host: str, type_dir: Path) -> Selection:
    """Apply the rule to a loaded version-map.json ({"profiles", "version_to_profile"})."""
    to_profile, profiles = checked_map(vmap, type_dir)
    pick = resolve(list(to_profile), host, nearest=True)
    profile = to_profile[pick.version]
    spec = next((s for s in COMMANDS.values() if s.output_type == type_dir.name), None)
    naming = spec.profile_names if spec is not None else "format-case"
    return Selection(pick.query, pick.version, profile, profiles[profile], pick.relation,
                     type_dir, naming)  # fmt: skip


def select_baseline(expected_outputs: Path, output_type: str, host: str) -> Selection:
    """The baseline for qemu-img `host` (a version query or a --version line) in one
    output type."""
    type_dir = expected_outputs / output_type
    path = type_dir / VERSION_MAP_FILE
    try:
        vmap = guard.read_json(expected_outputs, path, guard.VERSION_MAP)  # no link, no FIFO
    except FileNotFoundError:
        raise BadInput(
            f"{path} is missing: generate the tree (`python -m toolkit generate ...`) or point "
            "--expected-outputs at a checkout that has one"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadInput(f"{path} is unreadable: {exc}; regenerate it") from None
    if not isinstance(vmap, dict):
        raise BadInput(f"{path} is not a JSON object; regenerate it")
    return select_from_map(vmap, host, type_dir)
