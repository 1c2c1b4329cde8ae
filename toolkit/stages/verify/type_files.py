"""Offline checks of an output type's own files: versions.json, version-map.json and
the copies under profiles/ (the checks `versions-json`, `version-map` and `profiles`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit.baseline import profile_files
from toolkit.baseline.profiles import VERSION_MAP_FILE, expected_version_map
from toolkit.baseline.tree import VERSIONS_FILE, version_dirs
from toolkit.baseline.triple import dump_json
from toolkit.model.errors import ToolkitError
from toolkit.model.pipeline import CommandSpec
from toolkit.stages.verify.triple_checks import Problem, relative

__all__ = ["check_version_map", "load_versions_json"]


def load_versions_json(
    root: Path, spec: CommandSpec
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """versions.json, and what is wrong with it: unreadable, or out of step with the tree."""
    path = root / spec.output_type / VERSIONS_FILE
    found: list[Problem] = []

    def problem(message: str) -> None:
        found.append(Problem("versions-json", relative(root, path), message))

    fix = f"regenerate it with `python -m toolkit generate {spec.name}`"
    try:
        data = json.loads(path.read_bytes().decode())  # UTF-8, never the locale
    except FileNotFoundError:
        problem(f"missing; {fix}")
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


def check_version_map(root: Path, spec: CommandSpec) -> tuple[str, list[Problem]]:
    """'current', or 'failed' with its problem; plus any problem of the files in profiles/."""
    path = root / spec.output_type / VERSION_MAP_FILE
    found: list[Problem] = []
    fix = "refresh it with `python -m toolkit profiles` (generate refreshes it too)"
    try:
        wanted = expected_version_map(root, spec)
        want: bytes | None = dump_json(wanted).encode()
    except ToolkitError as exc:
        want, why = None, f"cannot be recomputed: {exc}"
    else:
        for where, message in profile_files.problems(root, spec, wanted["profiles"]):
            found.append(Problem("profiles", relative(root, where), message))
    try:
        have: bytes | None = path.read_bytes()  # bytes: a non-UTF-8 map is just not current
    except FileNotFoundError:
        have = None
    if want is not None:
        if have == want:
            return "current", found
        why = f"missing; {fix}" if have is None else f"not current for this tree; {fix}"
    found.append(Problem("version-map", relative(root, path), why))
    return "failed", found
