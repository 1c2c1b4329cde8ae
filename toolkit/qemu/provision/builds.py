"""Builds in the provision store, on disk: `<store>/<version>/{qemu-img, root/, provenance.json}`.

Only complete, smoke-tested builds are ever renamed to a version name. Work in progress lives
in dot-named `.build-<suite>-<pid>-<hex>` dirs beside them (discovery ignores dot names), and
apt's private state in `<tmp>/qemu-img-apt-<pid>-*`; both are swept once their pid is gone.
The launcher starts root/usr/bin/qemu-img through root's own dynamic loader.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit.model import atomic
from toolkit.qemu.process import pid_alive
from toolkit.qemu.provision.debian import SuiteFailed
from toolkit.qemu.store import PROVENANCE, read_provenance
from toolkit.qemu.version_probe import sha256_file

__all__ = [
    "APT_PREFIX",
    "build_dir_name",
    "place",
    "present_suites",
    "run_checked",
    "sweep_leftovers",
    "unpack",
]

LOADER = "ld-linux-x86-64.so.2"
_LOADER_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "usr/lib64")
_LAUNCHER = """#!/bin/sh
# qemu-img from Debian's {package}, unpacked with its own libraries (libc6 too) in ./root and
# started through root's own dynamic loader, so it runs on hosts with an older glibc.
# Relocatable: paths are relative to this script (symlinks to it are followed).
self=$0
case $self in */*) ;; *) self=./$self ;; esac
if [ -L "$self" ]; then self=$(readlink -f -- "$self") || exit 127; fi
root=${{self%/*}}/root
exec "$root/{loader}"{argv0} \\
    --library-path "$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu" \\
    "$root/usr/bin/qemu-img" "$@"
"""
BUILD_PREFIX = ".build-"
APT_PREFIX = "qemu-img-apt-"
_LEFTOVER = re.compile(r"^(?:\.build-.+|qemu-img-apt)-(\d+)-[0-9a-z_]+$")


def build_dir_name(suite: str) -> str:
    return f"{BUILD_PREFIX}{suite}-{os.getpid()}-{os.urandom(4).hex()}"


def sweep_leftovers(store: Path, log: Callable[[str], None]) -> list[Path]:
    """Remove build dirs and apt dirs of provision runs whose process is gone."""
    tmp = Path(tempfile.gettempdir())
    dirs = [p for p in store.iterdir() if p.name.startswith(BUILD_PREFIX)]
    dirs += [p for p in tmp.iterdir() if p.name.startswith(APT_PREFIX)]
    removed = []
    for p in dirs:
        m = _LEFTOVER.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            log(f"removed leftovers of an interrupted run: {p}")
            removed.append(p)
    return removed


def valid_version_dir(version_dir: Path) -> dict[str, Any] | None:
    """Its provenance if the dir is a complete provisioned version whose ELF is unchanged."""
    prov = read_provenance(version_dir)
    elf = version_dir / "root/usr/bin/qemu-img"
    if prov is None or prov.get("version") != version_dir.name:
        return None
    if not (version_dir / "qemu-img").is_file() or not elf.is_file():
        return None
    return prov if sha256_file(elf) == prov["sha256"] else None


def suites_of(prov: dict[str, Any]) -> list[str]:
    suites = prov.get("suites")
    return [str(s) for s in suites] if isinstance(suites, list) else [str(prov["suite"])]


def present_suites(store: Path) -> dict[str, str]:
    """suite -> version for every valid version dir in the store: no network needed."""
    found: dict[str, str] = {}
    for d in sorted(store.iterdir()) if store.is_dir() else []:
        if not d.name.startswith(".") and d.is_dir() and (prov := valid_version_dir(d)):
            for suite in suites_of(prov):
                found.setdefault(suite, d.name)
    return found


def place(stage: Path, target: Path, suite: str, log: Callable[[str], None]) -> None:
    """Rename a smoke-tested stage dir to its version name.

    If a valid build of that version is already there (another suite serves it), keep it and
    record `suite` in its provenance, so the next run knows the suite is present.
    """
    existing = valid_version_dir(target) if target.exists() else None
    if existing is not None:
        new = read_provenance(stage) or {}
        if existing["package_version"] != new.get("package_version"):
            log(
                f"{suite}: kept {target.name} from {existing['package_version']} "
                f"(this suite serves {new.get('package_version')})"
            )
        suites = suites_of(existing)
        existing["suites"] = [*suites, suite] if suite not in suites else suites
        atomic.write_text(target / PROVENANCE, json.dumps(existing, indent=2) + "\n")
        return
    if target.exists():  # an invalid dir under a version name: move it out of the way first
        aside = target.with_name(build_dir_name("old"))
        os.rename(target, aside)
        shutil.rmtree(aside, ignore_errors=True)
    os.rename(stage, target)


def run_checked(
    cmd: list[str], what: str, cwd: Path | None = None, ok_codes: tuple[int, ...] = (0,)
) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    if proc.returncode not in ok_codes:
        raise SuiteFailed(f"{what} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def _find_loader(root: Path) -> str | None:
    """The loader's path inside root. lib64/ld-linux-x86-64.so.2 is an absolute symlink (to the
    host's loader!) and bullseye's is a relative one to ld-2.31.so: only links within root count.
    """
    real_root = root.resolve()
    for d in _LOADER_DIRS:
        p = (root / d / LOADER).resolve()
        if p.is_file() and p.is_relative_to(real_root):
            return p.relative_to(real_root).as_posix()
    return None


def unpack(debs: list[Path], stage: Path, package: str) -> tuple[str, list[str], list[str]]:
    """dpkg-deb -x every .deb into stage/root; write the launcher.

    -> (package version, packages, exec template): the template is the launcher's own
    command with `{dir}` for the version directory, so the toolkit can start qemu-img
    without a shell per call.
    """
    root = stage / "root"
    root.mkdir(parents=True)
    packages, own_version = [], ""
    for deb in debs:
        fields = ["dpkg-deb", "--show", "--showformat=${Package}=${Version}", str(deb)]
        name, _, version = run_checked(fields, "dpkg-deb --show").partition("=")
        packages.append(f"{name}={version}")
        own_version = version if name == package else own_version
        run_checked(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}")
    loader = _find_loader(root)
    if loader is None or not own_version or not (root / "usr/bin/qemu-img").is_file():
        raise SuiteFailed(f"unpacked closure lacks {LOADER}, {package} or usr/bin/qemu-img")
    launcher = stage / "qemu-img"
    # qemu >= 10 prints argv[0] verbatim ("Try '<argv0> --help'"): make it read "qemu-img".
    # glibc's loader has --argv0 since 2.33; bullseye's 2.31 lacks it, but its qemu-img (5.2)
    # only ever prints the basename.
    helptext = run_checked([str(root / loader), "--help"], "ld.so --help", ok_codes=(0, 1, 127))
    argv0 = " --argv0 qemu-img" if "--argv0" in helptext else ""
    launcher.write_text(_LAUNCHER.format(package=package, loader=loader, argv0=argv0))
    launcher.chmod(0o755)
    libs = "{dir}/root/lib/x86_64-linux-gnu:{dir}/root/usr/lib/x86_64-linux-gnu"
    template = [f"{{dir}}/root/{loader}", *argv0.split(), "--library-path", libs]
    return own_version, packages, [*template, "{dir}/root/usr/bin/qemu-img"]
