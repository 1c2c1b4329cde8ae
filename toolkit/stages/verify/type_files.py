"""Offline checks of an output type's own files: versions.json, version-map.json and
the copies under profiles/ (the checks `versions-json`, `version-map` and `profiles`; the
consumer's rules for a profile tree, `profile-rules`; a link or special file among them is
`file-type`). Every read goes through the guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit.baseline import guard, profile_files
from toolkit.baseline.layout import VERSION_MAP_FILE, VERSIONS_FILE
from toolkit.baseline.profile_rules import rule_problems
from toolkit.baseline.profiles import expected_version_map, representatives
from toolkit.baseline.tree import version_dirs
from toolkit.baseline.triple import dump_json
from toolkit.model.advice import AS_DEFAULTS, Fixes
from toolkit.model.errors import ToolkitError
from toolkit.model.pipeline import CommandSpec
from toolkit.stages.verify.triple_checks import Problem, relative

__all__ = ["check_version_map", "load_versions_json"]


def load_versions_json(
    root: Path, spec: CommandSpec, fixes: Fixes = AS_DEFAULTS
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """versions.json, and what is wrong with it: unreadable, or out of step with the tree."""
    path = root / spec.output_type / VERSIONS_FILE
    found: list[Problem] = []

    def problem(message: str, check: str = "versions-json") -> None:
        found.append(Problem(check, relative(root, path), message))

    fix = f"regenerate it with `{fixes.generate(spec.name)}`"
    try:
        data = guard.read_json(root, path, guard.VERSIONS)
    except FileNotFoundError:
        problem(f"missing; {fix}")
        return None, found
    except guard.UnsafeFile as exc:
        found.append(Problem("file-type", relative(root, exc.path), f"{exc.found}; {fix}"))
        return None, found
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem(f"unreadable: {exc}; {fix}")
        return None, found
    if not isinstance(data, dict):
        problem(f"must be a JSON object mapping version -> provenance; {fix}")
        return None, found
    present = set(version_dirs(root / spec.output_type))
    for v in sorted(present - set(data)):
        problem(f"does not list version directory {v}; {fix}")
    for v in sorted(set(data) - present):
        problem(f"lists {v}, which has no version directory")
    for v, entry in sorted(data.items()):
        shape_ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("version_line"), str)
            and isinstance(entry.get("source"), dict)
            and isinstance(entry.get("sha256"), str)
        )
        if not shape_ok:
            problem(f"entry {v!r} needs version_line (text), source (object) and sha256 (text)")
    return data, found


def check_version_map(
    root: Path, spec: CommandSpec, fixes: Fixes = AS_DEFAULTS
) -> tuple[str, list[Problem]]:
    """'current', or 'failed' with its problem; plus any problem of the files in profiles/."""
    path = root / spec.output_type / VERSION_MAP_FILE
    found: list[Problem] = []
    refresh = fixes.profiles(spec.name)
    fix = f"refresh it with `{refresh}` (generate refreshes it too)"
    try:
        wanted = expected_version_map(root, spec)
        want: bytes | None = dump_json(wanted).encode()
    except ToolkitError as exc:
        want, why = None, f"cannot be recomputed: {exc}"
    else:
        for p in profile_files.problems(root, spec, representatives(wanted), refresh):
            found.append(Problem(p.check, relative(root, p.path), p.message))
    for p in rule_problems(root, spec, refresh):
        found.append(Problem(p.check, relative(root, p.path), p.message))
    try:  # bytes: a non-UTF-8 map is just not current
        have: bytes | None = guard.read_bytes(root, path, guard.VERSION_MAP)
    except FileNotFoundError:
        have = None
    except guard.UnsafeFile as exc:
        found.append(Problem("file-type", relative(root, exc.path), f"{exc.found}; {fix}"))
        return "failed", found
    except OSError as exc:
        found.append(Problem("version-map", relative(root, path), f"unreadable: {exc}; {fix}"))
        return "failed", found
    if want is not None:
        if have == want:
            return "current", found
        why = f"missing; {fix}" if have is None else f"not current for this tree; {fix}"
    found.append(Problem("version-map", relative(root, path), why))
    return "failed", found
