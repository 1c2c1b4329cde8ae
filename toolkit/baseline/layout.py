"""The golden tree's file names: `<output-type>/<format>/<version>/<case>{SUFFIXES}`, the
type's own files (versions.json, version-map.json, profiles/) and the root's lock file.

Names only, no I/O: the guard (toolkit.baseline.guard) and everything above it share them.
"""

from __future__ import annotations

from pathlib import Path

from toolkit.model import atomic

__all__ = [
    "LOCK_FILE",
    "META_SUFFIX",
    "PROFILES_DIR",
    "SUFFIXES",
    "VERSIONS_FILE",
    "VERSION_MAP_FILE",
    "temp_file_owner",
    "triple_paths",
]

SUFFIXES = (".stdout.txt", ".stderr.txt", ".meta.json")
META_SUFFIX = ".meta.json"
VERSIONS_FILE = "versions.json"
VERSION_MAP_FILE = "version-map.json"
LOCK_FILE = ".generate.lock"
# `<output-type>/profiles/`: each profile's files once (toolkit.baseline.profile_files);
# never a format directory.
PROFILES_DIR = "profiles"


def triple_paths(directory: Path, name: str) -> tuple[Path, Path, Path]:
    return (
        directory / f"{name}.stdout.txt",
        directory / f"{name}.stderr.txt",
        directory / f"{name}.meta.json",
    )


def temp_file_owner(name: str) -> tuple[str, str] | None:
    """(case, suffix) of a staged file `.<case><suffix>.tmp-<pid>-<hex>`, else None."""
    target = atomic.temp_target(name)
    if target is None:
        return None
    for suffix in SUFFIXES:
        if target.endswith(suffix) and len(target) > len(suffix):
            return target[: -len(suffix)], suffix
    return None
