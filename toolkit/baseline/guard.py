"""The one guard between the toolkit and the files it trusts: every command that reads or
writes the golden tree (or a case file) goes through here.

Reads: `read_bytes`, `read_text`, `read_json` (`open_dir(root, d).read` for several files of
  one directory). Each directory below `root` is opened with O_NOFOLLOW, so a link anywhere
  below the root, a parent directory included, is refused, and so is a path not below the
  root: nothing outside the tree is read. The file must be a regular file (a FIFO never
  hangs a run, a device is never opened) of at most its `Kind`'s limit (TEXT, META,
  VERSIONS, VERSION_MAP, PROFILE_COPY, CASE_FILE). A refusal is `UnsafeFile`: bad input
  (exit 2) naming the file, what it is and the fix; verify --offline reports it as a
  problem of the check `file-type` and goes on.
Writes: `write_bytes`, `write_text` (`open_dir(root, d, create=True).write_unit` for a
  triple, one unit). The same walk, directories made as needed; a target that exists must
  be a regular file (a link or a special file is refused, never written through or over);
  the bytes are staged beside it and renamed over it, so nothing is ever half-written; a
  failed write (a full disk) is a ToolkitFailure naming the file.
Writers (generate, verify --update, profiles, anything new) enter `writing(root, spec)`:
  `prepare` (the root can hold a tree and is writable; no link, special file, or directory
  where a file belongs anywhere in the output type; versions.json a JSON object), all before
  any work, then `tree_lock`, whose file is never opened through a link or as a FIFO.
  Readers ask `lock_holder` whether a generate is running, without creating the lock file.
`tree_holding(path)`: the golden tree a path lies in, if any (verify's --obtained may not).

The mechanics (no-follow opens, the walk, staged writes) are toolkit.model.safe_io, which
knows no tree and so also serves the probe cache in toolkit.qemu; what the tree allows is
here. Over 250 lines on purpose: the scan, the lock and the reads share the tree's names
and kinds, and a newcomer has one place to look.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.baseline.layout import (
    LOCK_FILE,
    PROFILES_DIR,
    SUFFIXES,
    VERSION_MAP_FILE,
    VERSIONS_FILE,
    temp_file_owner,
)
from toolkit.model import atomic
from toolkit.model.errors import BadInput, ToolkitFailure
from toolkit.model.images import MANIFEST_DIR
from toolkit.model.outputs import output_dir
from toolkit.model.pipeline import COMMANDS, CURATED, CommandSpec
from toolkit.model.safe_io import (
    Kind,
    MiB,
    TreeDir,
    UnsafeFile,
    describe,
    open_dir,
    open_regular,
    parse_json,
)

__all__ = [
    "CASE_FILE",
    "LOCK",
    "META",
    "PROFILE_COPY",
    "TEXT",
    "TRIPLE",
    "VERSIONS",
    "VERSION_MAP",
    "Debris",
    "Kind",
    "Place",
    "TreeDir",
    "UnsafeFile",
    "check_root",
    "lock_holder",
    "odd_entries",
    "open_dir",
    "parse_json",
    "prepare",
    "read_bytes",
    "read_json",
    "read_text",
    "recorded_versions",
    "remove",
    "scan_tree",
    "tree_holding",
    "tree_lock",
    "write_bytes",
    "write_text",
    "writing",
]

# No command line here: one that names no tree or case would repair the default tree.
_REGENERATE = "restore it from git, or remove it and regenerate it with the generate command"
_REFRESH = "remove it: the profiles command (or generate) writes it afresh"
# Far above what a step prints (the runner caps that); a meta holds create's stdout too.
TEXT = Kind("a baseline's text (.stdout.txt, .stderr.txt)", 16 * MiB, _REGENERATE)
META = Kind("a baseline's meta (.meta.json)", 16 * MiB, _REGENERATE)
TRIPLE = Kind("a baseline file (.stdout.txt, .stderr.txt, .meta.json)", 16 * MiB, _REGENERATE)
VERSIONS = Kind(VERSIONS_FILE, 4 * MiB, _REGENERATE)
VERSION_MAP = Kind(VERSION_MAP_FILE, 64 * MiB, _REFRESH)
PROFILE_COPY = Kind("a profile's copy of a baseline file", 16 * MiB, _REFRESH)
CASE_FILE = Kind("a case file", 16 * MiB, "make it a regular file of [[case]] tables")
LOCK = Kind(f"the lock file {LOCK_FILE}", 4096, "remove it (no generate uses it) and run again")
IMAGE_MANIFEST = Kind(
    "the image corpus's manifest", 4 * MiB, "rewrite it with `python -m toolkit images build`"
)

# (format, version, case): one triple's place in the tree.
Place = tuple[str, str, str]


# ----------------------------------------------------------------------------- reads, writes


def read_bytes(root: Path, path: Path, kind: Kind) -> bytes:
    """A file below `root`: UnsafeFile for a link (the file or a parent), a special file, or
    one over the kind's limit; FileNotFoundError and other OSErrors pass through."""
    with open_dir(root, path.parent) as d:
        return d.read(path.name, kind)


def read_text(root: Path, path: Path, kind: Kind) -> str:
    """read_bytes as UTF-8 (never the locale's encoding); UnicodeDecodeError passes through."""
    return read_bytes(root, path, kind).decode()


def read_json(root: Path, path: Path, kind: Kind) -> Any:
    """read_bytes as JSON (json.JSONDecodeError for a malformed or too deeply nested one)."""
    return parse_json(read_bytes(root, path, kind))


def write_bytes(root: Path, path: Path, data: bytes, kind: Kind) -> bool:
    """Write one file below `root` atomically; False when it already held `data`. A link or
    special file there is UnsafeFile; a failed write (a full disk) is a ToolkitFailure naming
    the file, and leaves the old file whole."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open_dir(root, path.parent, create=True) as d:
            return d.write_unit([(path.name, data)], kind) > 0
    except OSError as exc:
        raise ToolkitFailure(
            f"cannot write {path}: {exc.strerror or exc}; no file was left half-written: fix the "
            "cause and run again"
        ) from exc


def write_text(root: Path, path: Path, text: str, kind: Kind) -> bool:
    return write_bytes(root, path, text.encode(), kind)  # str.encode is always UTF-8


def remove(root: Path, path: Path) -> None:
    """Unlink a file below `root` (a link itself, never its target)."""
    with open_dir(root, path.parent) as d:
        d.remove(path.name)


# ------------------------------------------------------------------------------------ the lock


@contextlib.contextmanager
def tree_lock(root: Path) -> Iterator[None]:
    """One writer per tree: a second one fails at once, naming the holder. The lock file is
    opened without following a link and must be a regular file (a FIFO would hang, a link
    would truncate its target)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    with open_dir(root, root) as d:
        fd = open_regular(path, LOCK, os.O_RDWR | os.O_CREAT, d.fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ToolkitFailure(
                f"{root} is locked by a running generate ({_holder(fd)}, lock file {path}); "
                "wait for it to finish and run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    text = os.pread(fd, LOCK.limit, 0).decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "another process"


def lock_holder(root: Path) -> str | None:
    """'pid N' of a generate holding the tree's lock now, else None. Never creates or truncates
    the lock file (a shared lock, taken and dropped at once, tells whether one is held)."""
    try:
        with open_dir(root, root) as d:
            fd = open_regular(root / LOCK_FILE, LOCK, os.O_RDONLY, d.fd)
    except (OSError, BadInput):  # none, or not a regular file: the scan reports that
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# --------------------------------------------------------------------- what writers check first


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
                f"{', '.join(s.output_type for s in CURATED[:2])}"
            )
    return root


def tree_holding(path: Path) -> Path | None:
    """The golden tree root that `path` (or any directory above it) lies in, if any: a
    directory holding an output type's directory or the lock file."""
    types = {s.output_type for s in COMMANDS.values()}
    for d in (p for p in (Path(os.path.realpath(path)), *Path(os.path.realpath(path)).parents)):
        if d.name in types and any((d / f).exists() for f in (VERSIONS_FILE, VERSION_MAP_FILE)):
            return d.parent
        if any((d / t).is_dir() for t in types) or (d / LOCK_FILE).exists():
            return d
    return None


@dataclass(frozen=True)
class Debris:
    """What a killed generate left in the tree."""

    unfinished: dict[Place, tuple[Path, ...]]  # triple -> its staged files
    stray: tuple[Path, ...]  # temp files of no triple (versions.json, the version map)

    @property
    def temp_files(self) -> int:
        return len(self.stray) + sum(len(v) for v in self.unfinished.values())


_SHOW_ODD = 20  # entries named in the message; the rest are counted


def odd_entries(root: Path, spec: CommandSpec) -> list[tuple[Path, str]]:
    """(path, what it is) for each link or special file in the lock's place and the output
    type's directory, and each directory where a file belongs; sorted by path."""
    return sorted(_walk(root, spec)[0])


_Walk = tuple[list[tuple[Path, str]], dict[Place, list[Path]], list[Path]]


def _walk(root: Path, spec: CommandSpec) -> _Walk:
    """(odd entries, staged files per unfinished triple, stray temp files)."""
    odd: list[tuple[Path, str]] = []
    unfinished: dict[Place, list[Path]] = {}
    stray: list[Path] = []
    type_dir = root / spec.output_type
    files_only = {VERSIONS_FILE, VERSION_MAP_FILE}
    for top in (root / LOCK_FILE, type_dir):
        with contextlib.suppress(FileNotFoundError):
            mode = top.lstat().st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                odd.append((top, _what(top, mode)))
            elif top.name == LOCK_FILE and stat.S_ISDIR(mode):
                odd.append((top, "a directory where a file belongs"))
    # A linked type directory is not entered: its entries lie elsewhere.
    stack = [(type_dir, 0)] if type_dir.is_dir() and not type_dir.is_symlink() else []
    while stack:
        d, depth = stack.pop()
        with os.scandir(d) as entries:
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink() or not (entry.is_dir() or entry.is_file()):
                    odd.append((path, _what(path, entry.stat(follow_symlinks=False).st_mode)))
                elif entry.is_dir():
                    file_place = (depth == 0 and entry.name in files_only) or (
                        depth == 2
                        and (d.parent.name == PROFILES_DIR or entry.name.endswith(SUFFIXES))
                    )
                    if file_place:
                        odd.append((path, "a directory where a file belongs"))
                    else:
                        stack.append((path, depth + 1))
                elif atomic.temp_target(entry.name) is not None:
                    owner = temp_file_owner(entry.name) if depth == 2 else None
                    if owner is None:
                        stray.append(path)
                    else:
                        unfinished.setdefault((d.parent.name, d.name, owner[0]), []).append(path)
    return odd, unfinished, stray


def _what(path: Path, mode: int) -> str:
    """describe(mode), and where a link points."""
    if not stat.S_ISLNK(mode):
        return describe(mode)
    try:
        return f"a symbolic link to {os.readlink(path)}"
    except OSError:
        return "a symbolic link"


def scan_tree(root: Path, spec: CommandSpec) -> Debris:
    """Links, special files and directories where files belong are bad input; staged files
    mark unfinished triples."""
    odd, unfinished, stray = _walk(root, spec)
    if odd:
        shown = [f"{p} ({what})" for p, what in sorted(odd)[:_SHOW_ODD]]
        more = f" and {len(odd) - _SHOW_ODD} more" if len(odd) > _SHOW_ODD else ""
        raise BadInput(
            "the golden tree may hold only regular files and directories, and these are "
            f"not: {', '.join(shown)}{more}. Remove them (a link or a FIFO would take a "
            "baseline out of the tree) and run again"
        )
    return Debris({k: tuple(sorted(v)) for k, v in unfinished.items()}, tuple(sorted(stray)))


def prepare(root: Path, spec: CommandSpec) -> Debris:
    """What every writer checks before any work (bad input exits 2, nothing written): the root
    (`check_root`), the tree (`scan_tree`) and versions.json (`recorded_versions`)."""
    check_root(root)
    debris = scan_tree(root, spec)
    recorded_versions(root, spec)
    return debris


def recorded_versions(root: Path, spec: CommandSpec) -> dict[str, Any]:
    """versions.json ({} when there is none), or BadInput when it is no JSON object of version
    entries: a run updates it, never rebuilds it, so rewriting a malformed one would silently
    drop every version the run did not run."""
    path = root / spec.output_type / VERSIONS_FILE
    try:
        data = read_json(root, path, VERSIONS)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise BadInput(f"{path}: cannot be read as JSON ({exc}); {VERSIONS.fix}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise BadInput(
            f"{path}: must be a JSON object mapping each version to its provenance "
            '({"7.2.22": {"version_line": ..., "source": ..., "sha256": ...}}); a run '
            f"would drop every version it did not run; {VERSIONS.fix}"
        )
    return data


@contextlib.contextmanager
def writing(root: Path, spec: CommandSpec) -> Iterator[Debris]:
    """`prepare`, then hold `tree_lock`: how a command writes in the tree."""
    debris = prepare(root, spec)
    with tree_lock(root):
        yield debris
