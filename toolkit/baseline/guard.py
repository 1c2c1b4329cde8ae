"""What generate checks in the golden tree before it writes, and what a killed run left.

`check_root`: the tree's root is a place for a golden tree (not `/`, not a directory
full of other things) and writable. `scan_tree`: nothing in the tree is a link or a
special file (a write would follow it out of the tree), and which triples a killed
run left unfinished (a staged file of the case is still there, see
triple.write_baseline). Both run before anything is written: bad input exits 2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from toolkit.baseline.tree import LOCK_FILE
from toolkit.baseline.triple import temp_file_owner
from toolkit.model import atomic
from toolkit.model.errors import BadInput
from toolkit.model.images import MANIFEST_DIR
from toolkit.model.outputs import output_dir
from toolkit.model.pipeline import COMMANDS, CURATED, CommandSpec

__all__ = ["Debris", "Place", "check_root", "scan_tree"]

# (format, version, case): one triple's place in the tree.
Place = tuple[str, str, str]


def check_root(root: Path) -> Path:
    """Refuse a filesystem root, and a non-empty directory that holds no golden tree."""
    option = "--expected-outputs"
    real = Path(os.path.realpath(root))
    if real == real.parent:
        raise BadInput(
            f"{option} {root}: a filesystem root cannot hold the golden tree; "
            "name a directory of its own (default: ./expected-outputs)"
        )
    output_dir(root, option)
    if root.is_dir():
        mine = {s.output_type for s in COMMANDS.values()} | {LOCK_FILE, MANIFEST_DIR}
        entries = {p.name for p in root.iterdir()}
        if entries and not entries & mine:
            shown = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
            raise BadInput(
                f"{option} {root}: neither empty nor a golden tree (it holds {shown}); "
                "name an empty directory or one that holds output types such as "
                f"{', '.join(s.output_type for s in CURATED)}"
            )
    return root


@dataclass(frozen=True)
class Debris:
    """What a killed generate left in the tree."""

    unfinished: dict[Place, tuple[Path, ...]]  # triple -> its staged files
    stray: tuple[Path, ...]  # temp files of no triple (versions.json, the version map)

    @property
    def temp_files(self) -> int:
        return len(self.stray) + sum(len(v) for v in self.unfinished.values())


def scan_tree(root: Path, spec: CommandSpec) -> Debris:
    """Links and special files are bad input; staged files mark unfinished triples."""
    odd: list[str] = []
    unfinished: dict[Place, list[Path]] = {}
    stray: list[Path] = []
    type_dir = root / spec.output_type
    for top in (root / LOCK_FILE, type_dir):
        if top.is_symlink() or (top.exists() and not (top.is_file() or top.is_dir())):
            odd.append(str(top))
    stack = [(type_dir, 0)] if type_dir.is_dir() and not odd else []
    while stack:
        d, depth = stack.pop()
        with os.scandir(d) as entries:
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink() or not (entry.is_dir() or entry.is_file()):
                    odd.append(str(path))
                elif entry.is_dir():
                    stack.append((path, depth + 1))
                elif atomic.temp_target(entry.name) is not None:
                    owner = temp_file_owner(entry.name) if depth == 2 else None
                    if owner is None:
                        stray.append(path)
                    else:
                        unfinished.setdefault((d.parent.name, d.name, owner[0]), []).append(path)
    if odd:
        raise BadInput(
            "the golden tree may hold only regular files and directories, and these are "
            f"not: {', '.join(sorted(odd))}. Remove them (a link or a FIFO would take a "
            "baseline out of the tree) and run again"
        )
    return Debris({k: tuple(sorted(v)) for k, v in unfinished.items()}, tuple(sorted(stray)))
