"""The golden tree as read by the offline checks (drift, profiles): no qemu-img needed.

A *view* of one triple is what cross-version comparison looks at:

- stdout: the info JSON, parsed and passed through `whitelist.mask` (raw with
  `show_all`); None when info printed nothing (it did not run); text that is not
  JSON stays text.
- stderr: `{step: [lines]}`, split at the command's marker lines. Empty sections
  are dropped: whether a step ran at all is in the meta's `<step>_return_code`.
- meta: every key except the identity fields (`qemu_version`,
  `qemu_version_line`, any key naming a hash or sha256), which differ between
  versions by definition. Unless `show_all`, also without the derived byte counts
  `<step>_stdout_bytes` / `<step>_stderr_bytes`: they restate the length of text
  that is compared itself, so they would only echo a change (or a whitelisted
  `actual-size` of another width) a second time.

Two triples have equal views exactly when drift reports the case unchanged, and
that equality is what groups versions into profiles.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from toolkit import artefacts, whitelist
from toolkit.commands import COMMANDS, CommandSpec
from toolkit.discovery import select_versions
from toolkit.errors import BadInput
from toolkit.model import Baseline, QemuBinary
from toolkit.options import add_expected_outputs_option

META_SUFFIX = ".meta.json"
IDENTITY_KEYS = frozenset({"qemu_version", "qemu_version_line"})
DERIVED_SUFFIXES = ("_stdout_bytes", "_stderr_bytes")


def is_identity_key(key: str) -> bool:
    k = key.lower()
    return key in IDENTITY_KEYS or "sha256" in k or "hash" in k


def is_version_name(name: str) -> bool:
    return all(part.isdigit() for part in name.split("."))


class Tree:
    """One output type's part of the golden tree: expected-outputs/<output-type>/."""

    def __init__(self, root: Path, spec: CommandSpec) -> None:
        self.root = root
        self.spec = spec
        self.type_dir = root / spec.output_type

    @cached_property
    def versions(self) -> list[str]:
        """Version directories under any format, oldest first (other names are ignored)."""
        return [v for v in artefacts.version_dirs(self.type_dir) if is_version_name(v)]

    @cached_property
    def formats(self) -> list[str]:
        if not self.type_dir.is_dir():
            return []
        return sorted(
            d.name for d in self.type_dir.iterdir() if d.is_dir() and not d.name.startswith(".")
        )

    def cases(self, fmt: str, version: str) -> list[str]:
        """Case names with a complete triple (the meta is written last), sorted."""
        d = artefacts.case_dir(self.root, self.spec, fmt, version)
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
        present = [QemuBinary(v, self.type_dir, "tree", v) for v in self.require_versions()]
        try:
            return select_versions(present, [request])[0].version
        except BadInput as exc:
            raise BadInput(
                f"{exc}; versions are those in the golden tree {self.type_dir}"
            ) from None

    def read(self, fmt: str, version: str, name: str) -> Baseline:
        d = artefacts.case_dir(self.root, self.spec, fmt, version)
        try:
            baseline = artefacts.read_baseline(d, name)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(
                f"unreadable baseline {d / name}.*: {exc}; regenerate it with `python -m toolkit "
                f"generate {self.spec.name} --version {version} --format {fmt} --case {name}`"
            ) from None
        if not isinstance(baseline.meta, dict):
            raise BadInput(f"{d / name}{META_SUFFIX} is not a JSON object; regenerate it")
        return baseline


@dataclass(frozen=True)
class View:
    stdout: Any
    stderr: dict[str, list[str]]
    meta: dict[str, Any]

    def fingerprint(self) -> str:
        """A canonical text of the whole view: equal fingerprints mean equal views."""
        return json.dumps(
            {"stdout": self.stdout, "stderr": self.stderr, "meta": self.meta},
            sort_keys=True,
            ensure_ascii=False,
        )


def parse_stdout(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def stderr_sections(text: str, spec: CommandSpec) -> dict[str, list[str]]:
    """`{step: lines}` for each step whose stderr section has any line."""
    markers = {s.marker: s.name for s in spec.steps if s.marker is not None}
    current = spec.steps[0].name
    sections: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line in markers:
            current = markers[line]
            continue
        sections.setdefault(current, []).append(line)
    return sections


def meta_view(meta: dict[str, Any], show_all: bool) -> dict[str, Any]:
    return {
        k: v
        for k, v in meta.items()
        if not is_identity_key(k) and (show_all or not k.endswith(DERIVED_SUFFIXES))
    }


def view(baseline: Baseline, fmt: str, spec: CommandSpec, show_all: bool = False) -> View:
    stdout = parse_stdout(baseline.stdout)
    if not show_all and isinstance(stdout, dict | list):
        stdout = whitelist.mask(stdout, fmt)
    return View(stdout, stderr_sections(baseline.stderr, spec), meta_view(baseline.meta, show_all))


def add_tree_arguments(parser: argparse.ArgumentParser) -> None:
    """--command and --expected-outputs, spelled as generate spells them."""
    parser.add_argument(
        "--command",
        default="resize",
        choices=sorted(COMMANDS),
        help="whose baselines to read (default: resize)",
    )
    add_expected_outputs_option(parser)
