"""What cross-version comparison looks at in one triple: its *view*.

- stdout: the artefact's JSON, parsed and passed through `whitelist.mask` (raw with
  `show_all`); None when it printed nothing (or did not run); text that is not
  JSON stays text. A type whose stdout is text (human output) is never parsed: it is
  text passed through `whitelist.mask_text` (`disk size:` lines).
- stderr: `{step: [lines]}`, split at the command's marker lines. Empty sections
  are dropped: whether a step ran at all is in the meta's `<step>_return_code`.
- meta: every key except the version's own identity (`qemu_version`,
  `qemu_version_line`, any key naming a hash or sha256), which differ between
  versions by definition. Unless `show_all`, also without the derived byte counts
  `<step>_stdout_bytes` / `<step>_stderr_bytes` and `stdout_bytes`: they restate the length of text
  that is compared itself, so they would only echo a change (or a whitelisted
  `actual-size` of another width) a second time.

Two triples have equal views exactly when drift reports the case unchanged, and
that equality is what groups versions into profiles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from toolkit.baseline import whitelist
from toolkit.model.info import parse_info
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Baseline

__all__ = ["View", "same_recording", "stderr_sections", "stdout_view", "view"]

# Meta keys that name the version that recorded a triple, so always differ between versions.
VERSION_IDENTITY_KEYS = frozenset({"qemu_version", "qemu_version_line"})
DERIVED_SUFFIXES = ("_stdout_bytes", "_stderr_bytes")
STDOUT_BYTES = "stdout_bytes"  # the stdout file's length: derived, like the steps' counts


def is_version_identity_key(key: str) -> bool:
    k = key.lower()
    return key in VERSION_IDENTITY_KEYS or "sha256" in k or "hash" in k


@dataclass(frozen=True)
class View:
    stdout: Any
    stderr: dict[str, list[str]]
    meta: dict[str, Any]

    def fingerprint(self) -> str:
        """A canonical text of the whole view: equal fingerprints mean equal views."""
        return json.dumps(
            {"stdout": self.stdout, "stderr": self.stderr, "meta": self.meta}, sort_keys=True
        )


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
        if not is_version_identity_key(k)
        and (show_all or not (k == STDOUT_BYTES or k.endswith(DERIVED_SUFFIXES)))
    }


def stdout_view(text: str, fmt: str, spec: CommandSpec, show_all: bool = False) -> Any:
    """What comparison sees of a stdout: masked JSON, masked text, or None (empty)."""
    if spec.stdout_kind == "text":
        if not text:
            return None
        return text if show_all else whitelist.mask_text(text)
    value = parse_info(text)
    if not show_all and isinstance(value, dict | list):
        value = whitelist.mask(value, fmt)
    return value


def view(baseline: Baseline, fmt: str, spec: CommandSpec, show_all: bool = False) -> View:
    return View(
        stdout_view(baseline.stdout, fmt, spec, show_all),
        stderr_sections(baseline.stderr, spec),
        meta_view(baseline.meta, show_all),
    )


def same_recording(old: Baseline, new: Baseline, fmt: str, spec: CommandSpec) -> bool:
    """Whether `new` differs from `old` only in whitelisted stdout values (JSON values, or
    the masked part of a text line) and the byte count of that text, with `old` consistent
    in itself.

    generate keeps `old` then, so a regeneration writes nothing for output that differs only
    in noise (vmdk's random `cid` on every create, `actual-size` or `disk size:` on another
    file system): the tree stays byte-identical. Anything else, a stale byte count included,
    is rewritten.
    """
    if old.stdout == new.stdout or old.stderr != new.stderr or set(old.meta) != set(new.meta):
        return False  # nothing to keep, or a real difference (a key added or gone too)
    counts = {f"{spec.artefact}_stdout_bytes", STDOUT_BYTES} & set(old.meta)
    if {k: v for k, v in old.meta.items() if k not in counts} != {
        k: v for k, v in new.meta.items() if k not in counts
    }:
        return False
    if any(old.meta[k] != len(old.stdout.encode("utf-8")) for k in counts):
        return False
    before = stdout_view(old.stdout, fmt, spec)
    kept = {"object": dict, "array": list, "text": str}[spec.stdout_kind]
    if not isinstance(before, kept):  # only the type's own document (or text) is kept
        return False
    return bool(before == stdout_view(new.stdout, fmt, spec))
