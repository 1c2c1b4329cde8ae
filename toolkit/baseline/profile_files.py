"""`<output-type>/profiles/<profile>/<target>-<case>.*`: each profile's triples, stored once.

The consuming harnesses read a profile's files by target-qualified name (vhd and vhdx
share case names): `profiles/profile-7-2-18/qcow2-1G-default.stdout.txt` is a byte copy
of `qcow2/7.2.18/1G-default.stdout.txt`, the representative (oldest) version's. They
are derived files: `write` makes them match the tree (removing what no profile holds),
and `problems` reports a missing, hand-edited or stale one.
"""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.baseline.tree import PROFILES_DIR, Tree, case_dir, confined
from toolkit.baseline.triple import SUFFIXES
from toolkit.model import atomic
from toolkit.model.pipeline import CommandSpec

__all__ = ["expected", "problems", "profiles_dir", "write"]


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
                for suffix in SUFFIXES:  # the meta last
                    out[d / f"{fmt}-{case}{suffix}"] = src_dir / f"{case}{suffix}"
    return out


def _present(root: Path, spec: CommandSpec) -> set[Path]:
    top = profiles_dir(root, spec)
    found: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(top):  # never follows a symlinked dir
        found.update(Path(dirpath) / f for f in filenames)
        found.update(Path(dirpath) / d for d in dirnames if (Path(dirpath) / d).is_symlink())
    return found


def write(root: Path, spec: CommandSpec, profiles: dict[str, str]) -> int:
    """Make profiles/ the copies `expected` names, and nothing else. Returns files changed."""
    want = expected(root, spec, profiles)
    changed = 0
    made: set[Path] = set()
    for dst, src in want.items():
        if dst.parent not in made:
            dst.parent.mkdir(parents=True, exist_ok=True)
            made.add(confined(root, dst.parent))
        if dst.is_symlink():  # a link is no copy, even to the right bytes (see problems)
            dst.unlink()
        changed += atomic.write_bytes(dst, src.read_bytes())
    for extra in sorted(_present(root, spec) - set(want)):
        extra.unlink()
        changed += 1
    # Deepest first, each looked at afresh: a directory emptied below goes too, up to top.
    for dirpath, _, _ in os.walk(profiles_dir(root, spec), topdown=False):
        if not any(Path(dirpath).iterdir()):
            Path(dirpath).rmdir()
    return changed


def problems(root: Path, spec: CommandSpec, profiles: dict[str, str]) -> list[tuple[Path, str]]:
    """(path, what is wrong) for every profile file that is not a copy `expected` names."""
    fix = "refresh it with `python -m toolkit profiles` (generate refreshes it too)"
    want = expected(root, spec, profiles)
    found: list[tuple[Path, str]] = []
    for dst, src in want.items():
        rel = src.relative_to(root)
        try:
            if dst.is_symlink() or dst.read_bytes() != src.read_bytes():
                found.append(
                    (dst, f"differs from the representative {rel} (hand-edited or stale); {fix}")
                )
        except FileNotFoundError:
            found.append((dst, f"missing: the profile's copy of {rel}; {fix}"))
        except OSError as exc:
            found.append((dst, f"cannot be read: {exc.strerror or exc}; {fix}"))
    for extra in sorted(_present(root, spec) - set(want)):
        found.append((extra, f"belongs to no profile in version-map.json (stale); {fix}"))
    return found
