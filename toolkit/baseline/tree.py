"""The golden tree on disk: `expected-outputs/<output-type>/<format>/<version>/<case>.*`.

Everything about where triples live and how the tree is kept whole: reading it
(`Tree`), one writer at a time (`tree_lock`), no write outside it (`confined`), and
`versions.json`. No qemu-img is needed for any of it, so drift and offline verify run
on any checkout.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from toolkit.baseline.triple import dump_json, read_baseline
from toolkit.model import atomic
from toolkit.model.errors import BadInput, ToolkitFailure
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
    "confined",
    "load_json_or_empty",
    "tree_lock",
    "version_dirs",
    "write_versions_file",
]

META_SUFFIX = ".meta.json"
VERSIONS_FILE = "versions.json"
LOCK_FILE = ".generate.lock"
# `<output-type>/profiles/`: each profile's files once (toolkit.baseline.profile_files);
# never a format directory.
PROFILES_DIR = "profiles"


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


def load_json_or_empty(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class Tree:
    """One output type's part of the golden tree: expected-outputs/<output-type>/."""

    def __init__(self, root: Path, spec: CommandSpec) -> None:
        self.root = root
        self.spec = spec
        self.type_dir = root / spec.output_type

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
                f"`python -m toolkit generate {self.spec.name}`, or point --expected-outputs "
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
            baseline = read_baseline(d, name)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(
                f"unreadable baseline {d / name}.*: {exc}; regenerate it with `python -m toolkit "
                f"generate {self.spec.name} --version {version} --format {fmt} --case {name}`"
            ) from None
        if not isinstance(baseline.meta, dict):
            raise BadInput(f"{d / name}{META_SUFFIX} is not a JSON object; regenerate it")
        return baseline


@contextmanager
def tree_lock(root: Path) -> Iterator[None]:
    """One writer per tree: a second generator fails at once with a clear message."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise ToolkitFailure(
                f"{root} is locked by a running generate ({holder}, lock file {path}); "
                f"wait for it to finish and run again"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def confined(root: Path, target: Path) -> Path:
    """Refuse any output path that resolves outside the expected-outputs root."""
    r, t = root.resolve(), target.resolve()
    if t != r and r not in t.parents:
        raise BadInput(f"refusing to write {target}: it resolves outside {root}")
    return target


def write_versions_file(root: Path, spec: CommandSpec, binaries: Sequence[QemuBinary]) -> bool:
    """versions.json: each version directory present -> version line, source, sha256.
    Returns whether the file changed."""
    type_dir = root / spec.output_type
    path = type_dir / VERSIONS_FILE
    current = load_json_or_empty(path)
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
    type_dir.mkdir(parents=True, exist_ok=True)  # a run may have recorded nothing
    return atomic.write_text(path, dump_json({v: current[v] for v in present if v in current}))
