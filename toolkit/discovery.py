"""Find every runnable qemu-img, keyed by the upstream version it reports.

Precedence per version (the first source wins, later duplicates get a warning):
  a. --qemu-img PATH (repeatable): when given, nothing else is looked at;
  b. --binaries DIR or $QEMU_IMG_BINARIES: DIR/<version>/qemu-img or DIR/<version>/bin/qemu-img;
  c. the provision store (see `default_store`);
  d. `qemu-img` on PATH.
`--version` results are cached (see toolkit.probe), so repeated discovery does not re-exec.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import BadInput
from toolkit.model import QemuBinary, version_key
from toolkit.options import add_discovery_options
from toolkit.probe import ProbeCache
from toolkit.probe import parse_version as parse_version  # re-exported for callers

APP_DIR = "qemu-img-baselines"
PROVENANCE = "provenance.json"
PROVENANCE_KEYS = ("suite", "package_version", "sha256")

Warn = Callable[[str], None]


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def user_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / APP_DIR


def default_store() -> Path:
    """$QEMU_IMG_STORE, else $XDG_CACHE_HOME/qemu-img-baselines/qemu-img (~/.cache if unset)."""
    env = os.environ.get("QEMU_IMG_STORE")
    return Path(env) if env else user_cache_dir() / "qemu-img"


def read_provenance(version_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((version_dir / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and all(isinstance(data.get(k), str) for k in PROVENANCE_KEYS)
    return data if ok else None


def _as_given(path: Path) -> Path:
    """Absolute, symlinks and wrappers kept; a bare name that isn't a local file is looked up."""
    if "/" not in str(path) and not path.exists():
        found = shutil.which(str(path))
        if found:
            return Path(found)
    return Path(os.path.abspath(path))


def _farm(binaries: Path | None, warn: Warn) -> list[Path]:
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
    found = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        exe = next((c for c in (d / "qemu-img", d / "bin" / "qemu-img") if c.is_file()), None)
        if exe is None:
            warn(f"{d}: neither {d.name}/qemu-img nor {d.name}/bin/qemu-img exists; skipped")
        else:
            found.append(_as_given(exe))
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


def discover(
    qemu_img: Sequence[Path],
    binaries: Path | None,
    store: Path | None,
    warn: Warn = warn_stderr,
    cache_file: Path | None = None,
) -> list[QemuBinary]:
    """Every usable qemu-img, one per version, sorted by version (oldest first)."""
    candidates: list[tuple[str, Path, dict[str, Any] | None]] = []
    if qemu_img:
        candidates += [("qemu-img", _as_given(p), None) for p in qemu_img]
    else:
        candidates += [("binaries", p, None) for p in _farm(binaries, warn)]
        store_dir = store if store is not None else default_store()
        candidates += [("store", p, prov) for p, prov in _store_entries(store_dir, warn)]
        on_path = shutil.which("qemu-img")
        if on_path:
            candidates.append(("PATH", Path(on_path), None))
    cache = ProbeCache(cache_file or user_cache_dir() / "probe-cache.json")
    chosen: dict[str, QemuBinary] = {}
    for source, path, prov in candidates:
        try:
            line, digest = cache.probe(path)
        except ValueError as exc:
            warn(f"{path} ({source}) skipped: {exc}")
            continue
        version = parse_version(line) or ""
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


def _resolve_one(ordered: list[QemuBinary], request: str) -> QemuBinary:
    req = request.strip().lower()
    if req == "oldest":
        return ordered[0]
    if req == "latest":
        return ordered[-1]
    for b in ordered:
        if b.version == req:
            return b
    if re.fullmatch(r"\d+(\.\d+)*", req):
        want = version_key(req)
        matches = [b for b in ordered if version_key(b.version)[: len(want)] == want]
        if matches:
            return matches[-1]
    available = ", ".join(b.version for b in ordered)
    raise BadInput(
        f"unknown qemu-img version {request!r}: available are {available} "
        "(give an exact version, a prefix such as 10.0, 'oldest' or 'latest')"
    )


def select_versions(binaries: Sequence[QemuBinary], requested: Sequence[str]) -> list[QemuBinary]:
    """Resolve --version requests (exact, dotted prefix -> highest match, oldest, latest).

    No request selects everything. The result is sorted by version, without duplicates.
    """
    ordered = sorted(binaries, key=lambda b: version_key(b.version))
    if not requested:
        return ordered
    if not ordered:
        raise BadInput(
            "no qemu-img binaries were found; run `python -m toolkit provision` "
            "or pass --qemu-img PATH / --binaries DIR"
        )
    picked = {b.version: b for b in (_resolve_one(ordered, r) for r in requested)}
    return sorted(picked.values(), key=lambda b: version_key(b.version))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "versions",
        help="list the qemu-img binaries that discovery finds",
        description="List every qemu-img version found, with where it came from.",
    )
    add_discovery_options(p)
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    found = discover(args.qemu_img, args.binaries, args.store)
    if args.json:
        rows = [
            {
                "version": b.version,
                "path": str(b.path),
                "source": b.source,
                "version_line": b.version_line,
                "provenance": b.provenance_dict(),
            }
            for b in found
        ]
        print(json.dumps(rows, indent=2))
    elif found:
        table = [("VERSION", "SOURCE", "PATH", "VERSION LINE")]
        table += [(b.version, b.source, str(b.path), b.version_line) for b in found]
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row[:3], widths, strict=True)]
            print("  ".join([*cells, row[3]]))
    if not found:
        print(
            "no qemu-img found: run `python -m toolkit provision` (Debian hosts) "
            "or pass --qemu-img PATH / --binaries DIR",
            file=sys.stderr,
        )
        return 1
    return 0
