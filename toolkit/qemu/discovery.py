"""Find every runnable qemu-img, keyed by the upstream version it reports.

Precedence per version (the first source wins, later duplicates get a warning):
  a. --qemu-img PATH (repeatable): when given, nothing else is looked at;
  b. --binaries DIR or $QEMU_IMG_BINARIES: DIR/<version>/qemu-img or DIR/<version>/bin/qemu-img;
  c. the provision store (see toolkit.qemu.store.default_store);
  d. `qemu-img` on PATH.
`--version` results are cached (see toolkit.qemu.version_probe), so repeated discovery
does not re-exec.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolkit.model.errors import BadInput
from toolkit.model.records import QemuBinary
from toolkit.model.versions import parse_version_line, select_versions, version_key
from toolkit.qemu.store import (
    PROVENANCE,
    PROVENANCE_KEYS,
    default_store,
    read_provenance,
    user_cache_dir,
)
from toolkit.qemu.version_probe import ProbeCache

__all__ = ["Warn", "discover", "select_binaries", "store_builds"]

Warn = Callable[[str], None]


def _ignore(message: str) -> None:
    """The default for callers that show no warnings (the CLI passes its own)."""


def _as_given(path: Path) -> Path:
    """Absolute, symlinks and wrappers kept; a bare name that isn't a local file is looked up."""
    if "/" not in str(path) and not path.exists():
        found = shutil.which(str(path))
        if found:
            return Path(found)
    return Path(os.path.abspath(path))


def _farm(binaries: Path | None, warn: Warn, verbose: bool = False) -> list[Path]:
    root = binaries
    if root is None:
        env = os.environ.get("QEMU_IMG_BINARIES")
        if not env:
            return []
        root = Path(env)
        if not root.is_dir():
            warn(f"$QEMU_IMG_BINARIES={env} is not a directory; ignored")
            return []
    elif not root.is_dir():
        raise BadInput(f"--binaries {root}: not a directory (expected DIR/<version>/qemu-img)")
    found, empty = [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        exe = next((c for c in (d / "qemu-img", d / "bin" / "qemu-img") if c.is_file()), None)
        if exe is None:
            empty.append(d)
        else:
            found.append(_as_given(exe))
    if verbose:
        for d in empty:
            warn(f"{d}: neither {d.name}/qemu-img nor {d.name}/bin/qemu-img exists; skipped")
    elif empty:
        # One line, not one per directory: pointed at the wrong tree (/etc), that is dozens.
        names = ", ".join(d.name for d in empty[:3]) + (", ..." if len(empty) > 3 else "")
        warn(
            f"{root}: skipped {len(empty)} directories with no <version>/qemu-img or "
            f"<version>/bin/qemu-img ({names}); -v lists them"
        )
    return found


def _store_entries(store: Path, warn: Warn) -> list[tuple[Path, dict[str, Any]]]:
    if not store.is_dir():
        return []
    found = []
    for d in sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")):
        prov = read_provenance(d)
        if prov is None or not (d / "qemu-img").is_file():
            warn(f"{d}: not a provisioned version (no launcher or valid {PROVENANCE}); skipped")
        else:
            found.append((d / "qemu-img", prov))
    return found


def store_builds(store: Path) -> int:
    """How many provisioned versions `store` holds (0 when it is no store at all)."""
    return len(_store_entries(store, _ignore))


def discover(
    qemu_img: Sequence[Path],
    binaries: Path | None,
    store: Path | None,
    warn: Warn = _ignore,
    cache_file: Path | None = None,
    verbose: bool = False,
) -> list[QemuBinary]:
    """Every usable qemu-img, one per version, sorted by version (oldest first).

    A --qemu-img PATH that can't be used is bad input (the user named it); a farm or
    store entry that can't be used is skipped with a warning.
    """
    candidates: list[tuple[str, Path, dict[str, Any] | None]] = []
    if qemu_img:
        candidates += [("qemu-img", _as_given(p), None) for p in qemu_img]
    else:
        candidates += [("binaries", p, None) for p in _farm(binaries, warn, verbose)]
        store_dir = store if store is not None else default_store()
        candidates += [("store", p, prov) for p, prov in _store_entries(store_dir, warn)]
        on_path = shutil.which("qemu-img")
        if on_path:
            candidates.append(("PATH", Path(on_path), None))
    cache = ProbeCache(cache_file or user_cache_dir() / "probe-cache.json")
    if cache.unusable:
        warn(f"probe cache not used: {cache.unusable}")
    chosen: dict[str, QemuBinary] = {}
    for source, path, prov in candidates:
        try:
            line, digest = cache.version_of(path)
        except ValueError as exc:
            if source == "qemu-img":
                raise BadInput(
                    f"--qemu-img {path}: {exc}; pass a qemu-img binary (or a script that "
                    "runs one and prints its `--version`)"
                ) from None
            warn(f"{path} ({source}) skipped: {exc}")
            continue
        version = parse_version_line(line) or ""
        if version in chosen:
            first = chosen[version]
            with contextlib.suppress(OSError):
                if os.path.samefile(first.path, path):
                    continue  # the same file reached twice: nothing to warn about
            warn(
                f"{path} ({source}) also reports qemu-img {version}; "
                f"using {first.path} ({first.source})"
            )
            continue
        # A store launcher reached by --qemu-img or a farm keeps its provenance (but is
        # still exec'ed exactly as given: only store entries get the loader command).
        known = prov or (read_provenance(path.parent) if path.name == "qemu-img" else None)
        info = {k: str(known[k]) for k in PROVENANCE_KEYS} if known else {"sha256": digest}
        prefix = _exec_prefix(path.parent, prov) if prov else ()
        chosen[version] = QemuBinary(
            version, path, source, line, tuple(sorted(info.items())), prefix
        )
    cache.save()
    return sorted(chosen.values(), key=lambda b: version_key(b.version))


def _exec_prefix(version_dir: Path, prov: dict[str, Any]) -> tuple[str, ...]:
    """A store build's loader command (provenance "exec"), if recorded and still in place."""
    template = prov.get("exec")
    if not isinstance(template, list) or not all(isinstance(t, str) for t in template):
        return ()  # provisioned before "exec" was recorded: the launcher still works
    argv = tuple(t.replace("{dir}", str(version_dir)) for t in template)
    return argv if argv and all(Path(a).is_file() for a in (argv[0], argv[-1])) else ()


def select_binaries(binaries: Sequence[QemuBinary], requested: Sequence[str]) -> list[QemuBinary]:
    """The binaries that --version requests select (see model.versions.select_versions)."""
    by_version = {b.version: b for b in binaries}
    chosen = select_versions(list(by_version), requested, MISSING_BUILD)
    return [by_version[v] for v in chosen]


# How to make a version that discovery did not find available to every command.
MISSING_BUILD = (
    "; to add a build, pass --qemu-img PATH (repeatable), --binaries DIR (a farm laid out "
    "DIR/<version>/qemu-img) or QEMU_IMG_BINARIES, or provision Debian's with "
    "`nox -s provision_qemu`"
)
