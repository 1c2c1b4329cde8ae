"""The golden tree on disk: `expected-outputs/<output-type>/<format>/<version>/<case>.*`.

Where triples live and what is in the tree (`Tree`), and `versions.json`. Every file is
read and written through toolkit.baseline.guard (no links, FIFOs or devices, nothing
outside the tree, bounded reads; the lock). No qemu-img is needed for any of it, so drift
and offline verify run on any checkout.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.layout import LOCK_FILE, META_SUFFIX, PROFILES_DIR, VERSIONS_FILE
from toolkit.baseline.triple import dump_json, read_baseline
from toolkit.model.advice import AS_DEFAULTS, Fixes
from toolkit.model.errors import BadInput
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Baseline, QemuBinary
from toolkit.model.versions import is_version_name, select_versions, version_key

__all__ = [
    "LOCK_FILE",
    "META_SUFFIX",
    "PROFILES_DIR",
    "VERSIONS_FILE",
    "Tree",
    "case_dir",
    "load_json_or_empty",
    "version_dirs",
    "write_versions_file",
]


def case_dir(root: Path, spec: CommandSpec, fmt: str, version: str) -> Path:
    """Where the triples of one format and version live."""
    return root / spec.output_type / fmt / version


def version_dirs(type_dir: Path) -> list[str]:
    """Version directories under any format, oldest first (other names are not versions)."""
    found = (
        {
            v.name
            for f in type_dir.iterdir()
            if f.is_dir() and not f.name.startswith(".") and f.name != PROFILES_DIR
            for v in f.iterdir()
            if v.is_dir() and is_version_name(v.name)
        }
        if type_dir.is_dir()
        else set()
    )
    return sorted(found, key=version_key)


def load_json_or_empty(root: Path, path: Path, kind: guard.Kind) -> dict[str, Any]:
    """A JSON object below `root`, or {} when it is missing, unusable or no object (what
    the offline checks report, an online run reads as nothing recorded)."""
    try:
        data = guard.read_json(root, path, kind)
    except (OSError, ValueError, guard.UnsafeFile):
        return {}
    return data if isinstance(data, dict) else {}


class Tree:
    """One output type's part of the golden tree: expected-outputs/<output-type>/."""

    def __init__(self, root: Path, spec: CommandSpec, fixes: Fixes = AS_DEFAULTS) -> None:
        self.root = root
        self.spec = spec
        self.type_dir = root / spec.output_type
        self.fixes = fixes  # what the commands its messages suggest carry

    @cached_property
    def versions(self) -> list[str]:
        """Version directories under any format, oldest first."""
        return version_dirs(self.type_dir)

    @cached_property
    def formats(self) -> list[str]:
        if not self.type_dir.is_dir():
            return []
        return sorted(
            d.name
            for d in self.type_dir.iterdir()
            if d.is_dir() and not d.name.startswith(".") and d.name != PROFILES_DIR
        )

    def cases(self, fmt: str, version: str) -> list[str]:
        """Case names with a complete triple (the meta is written last), sorted."""
        d = case_dir(self.root, self.spec, fmt, version)
        if not d.is_dir():
            return []
        return sorted(
            p.name[: -len(META_SUFFIX)]
            for p in d.iterdir()
            if p.name.endswith(META_SUFFIX) and not p.name.startswith(".")
        )

    def require_versions(self) -> list[str]:
        if not self.versions:
            raise BadInput(
                f"no golden tree at {self.type_dir}: generate it with "
                f"`{self.fixes.generate(self.spec.name)}`, or point --expected-outputs "
                "at a checkout that has one"
            )
        return self.versions

    def resolve(self, request: str) -> str:
        """An exact version, a dotted prefix (highest match), 'oldest' or 'latest'."""
        try:
            return select_versions(self.require_versions(), [request])[0]
        except BadInput as exc:
            raise BadInput(
                f"{exc}; versions are those in the golden tree {self.type_dir}"
            ) from None

    def read(self, fmt: str, version: str, name: str) -> Baseline:
        d = case_dir(self.root, self.spec, fmt, version)
        try:
            baseline = read_baseline(self.root, d, name)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            selection = ("--version", version, "--format", fmt, "--case", name)
            raise BadInput(
                f"unreadable baseline {d / name}.*: {exc}; regenerate it with "
                f"`{self.fixes.generate(self.spec.name, *selection)}`"
            ) from None
        if not isinstance(baseline.meta, dict):
            raise BadInput(f"{d / name}{META_SUFFIX} is not a JSON object; regenerate it")
        return baseline


def write_versions_file(root: Path, spec: CommandSpec, binaries: Sequence[QemuBinary]) -> bool:
    """versions.json: each version directory present -> version line, source, sha256.
    Returns whether the file changed."""
    type_dir = root / spec.output_type
    path = type_dir / VERSIONS_FILE
    current = guard.recorded_versions(root, spec)  # a malformed one: refused, never rebuilt
    for b in binaries:
        prov = b.provenance_dict()
        source = (
            {"suite": prov["suite"], "package_version": prov["package_version"]}
            if "suite" in prov
            else {"path": str(b.path)}
        )
        current[b.version] = {
            "version_line": b.version_line,
            "source": source,
            "sha256": prov.get("sha256", ""),
        }
    present = version_dirs(type_dir)
    kept = {v: current[v] for v in present if v in current}
    return guard.write_text(root, path, dump_json(kept), guard.VERSIONS)  # made even if nothing ran
