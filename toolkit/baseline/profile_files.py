"""`<output-type>/profiles/<profile>/<target>-<case>.*`: each profile's triples, stored once.

The consuming harnesses read a profile's files by target-qualified name where case names
repeat across targets (resize, create: vhd and vhdx share names):
`profiles/profile-7-2-18/qcow2-1G-default.stdout.txt` is a byte copy of
`qcow2/7.2.18/1G-default.stdout.txt`, the representative (oldest) version's; and by case
name alone where the type says so (CommandSpec.profile_names "case": dd, measure, the
image corpus's types, whose names are unique across groups). They
are derived files: `write` makes them match the tree (removing what no profile holds),
and `problems` reports a missing, hand-edited or stale one.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import NamedTuple

from toolkit.baseline import guard
from toolkit.baseline.layout import PROFILES_DIR, SUFFIXES
from toolkit.baseline.tree import Tree, case_dir
from toolkit.model.advice import Fixes
from toolkit.model.pipeline import CommandSpec

__all__ = ["ProfileProblem", "expected", "problems", "profiles_dir", "write"]


class ProfileProblem(NamedTuple):
    path: Path
    message: str
    check: str = "profiles"  # or "file-type": a link or a special file where a copy goes


def profiles_dir(root: Path, spec: CommandSpec) -> Path:
    return root / spec.output_type / PROFILES_DIR


def expected(root: Path, spec: CommandSpec, profiles: dict[str, str]) -> dict[Path, Path]:
    """Each profile file -> the representative's file it copies, a triple's meta last."""
    tree = Tree(root, spec)
    out: dict[Path, Path] = {}
    for name, representative in sorted(profiles.items()):
        d = profiles_dir(root, spec) / name
        for fmt in tree.formats:
            src_dir = case_dir(root, spec, fmt, representative)
            for case in tree.cases(fmt, representative):
                stem = f"{fmt}-{case}" if spec.profile_names == "format-case" else case
                for suffix in SUFFIXES:  # the meta last
                    out[d / f"{stem}{suffix}"] = src_dir / f"{case}{suffix}"
    return out


def _present(root: Path, spec: CommandSpec) -> set[Path]:
    """Every file and link under profiles/ (none when profiles/ itself is a link: the guard
    refuses that, and nothing through it is ever listed for removal)."""
    top = profiles_dir(root, spec)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISDIR(top.lstat().st_mode):
            return set()
    found: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(top):  # never follows a symlinked dir
        found.update(Path(dirpath) / f for f in filenames)
        found.update(Path(dirpath) / d for d in dirnames if (Path(dirpath) / d).is_symlink())
    return found


def _source(root: Path, src: Path) -> bytes:
    """A representative's file, through the guard like every read of the tree."""
    kind = guard.META if src.name.endswith(SUFFIXES[-1]) else guard.TEXT
    return guard.read_bytes(root, src, kind)


def write(root: Path, spec: CommandSpec, profiles: dict[str, str]) -> int:
    """Make profiles/ the copies `expected` names, and nothing else. Returns files changed.

    Every read and write goes through the guard: a link among the parents (profiles/ itself
    a link) or a special file where a copy goes is refused. A link where a copy goes is
    removed (the link, never its target) and replaced by a copy."""
    want = expected(root, spec, profiles)
    changed = 0
    for dst, src in want.items():
        if dst.is_symlink():  # a link is no copy, even to the right bytes (see problems)
            guard.remove(root, dst)
        changed += guard.write_bytes(root, dst, _source(root, src), guard.PROFILE_COPY)
    for extra in sorted(_present(root, spec) - set(want)):
        guard.remove(root, extra)
        changed += 1
    # Deepest first, each looked at afresh: a directory emptied below goes too, up to top.
    top = profiles_dir(root, spec)
    if top.is_dir() and not top.is_symlink():
        for dirpath, _, _ in os.walk(top, topdown=False):
            if not any(Path(dirpath).iterdir()):
                Path(dirpath).rmdir()
    return changed


def problems(
    root: Path, spec: CommandSpec, profiles: dict[str, str], refresh: str = ""
) -> list[ProfileProblem]:
    """Every profile file that is not a copy `expected` names: what is wrong, and the check
    (`profiles`, or `file-type` for a link or a special file, named once). `refresh`: the
    command the fix names (default: `python -m toolkit profiles` for this command)."""
    refresh = refresh or Fixes().profiles(spec.name)
    fix = f"refresh it with `{refresh}` (generate refreshes it too)"
    want = expected(root, spec, profiles)
    found: list[ProfileProblem] = []
    unsafe: set[Path] = set()
    for dst, src in want.items():
        rel = src.relative_to(root)
        try:
            copy = guard.read_bytes(root, dst, guard.PROFILE_COPY)
        except FileNotFoundError:
            found.append(ProfileProblem(dst, f"missing: the profile's copy of {rel}; {fix}"))
            continue
        except guard.UnsafeFile as exc:
            if exc.path not in unsafe:  # profiles/ a link: once, not once per copy
                unsafe.add(exc.path)
                found.append(ProfileProblem(exc.path, f"{exc.found}; {fix}", "file-type"))
            continue
        except OSError as exc:
            found.append(ProfileProblem(dst, f"cannot be read: {exc.strerror or exc}; {fix}"))
            continue
        try:
            same = copy == _source(root, src)
        except (OSError, guard.UnsafeFile) as exc:  # the triple's own problem is reported
            found.append(ProfileProblem(dst, f"cannot be compared with {rel}: {exc}"))
            continue
        if not same:
            found.append(
                ProfileProblem(
                    dst, f"differs from the representative {rel} (hand-edited or stale); {fix}"
                )
            )
    for extra in sorted(_present(root, spec) - set(want)):
        if extra not in unsafe:
            found.append(
                ProfileProblem(extra, f"belongs to no profile in version-map.json (stale); {fix}")
            )
    return found
