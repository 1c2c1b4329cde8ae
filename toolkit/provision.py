"""`python -m toolkit provision`: Debian's qemu-img builds, side by side, in the store.

Each version directory `<store>/<version>/` holds `root/` (qemu-utils plus its whole library
closure, libc6 included, unpacked with dpkg-deb -x), a relocatable launcher `qemu-img` that
starts the binary through root's own dynamic loader, and `provenance.json`.
A suite is built in `<store>/.build-*` (discovery ignores dot names), smoke-tested, then renamed
into place; leftovers of killed runs are removed by the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from toolkit import atomic
from toolkit.debian import Suite, SuiteFailed, SuiteList, fetch_closure, find_mirror, load_suites
from toolkit.discovery import PROVENANCE, default_store, parse_version, read_provenance, sha256_file
from toolkit.errors import EXIT_FAILED, EXIT_OK, BadInput

Log = Callable[[str], None]
LOADER = "ld-linux-x86-64.so.2"
_LOADER_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "usr/lib64")
_LEFTOVER = re.compile(r"^(?:\.build-.+|qemu-img-apt)-(\d+)-[0-9a-z_]+$")
_LAUNCHER = """#!/bin/sh
# qemu-img from Debian's {package}, unpacked with its own libraries (libc6 too) in ./root and
# started through root's own dynamic loader, so it runs on hosts with an older glibc.
# Relocatable: paths are relative to this script (symlinks to it are followed).
self=$(readlink -f -- "$0") || exit 127
root=${{self%/*}}/root
exec "$root/{loader}" --library-path "$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu" \\
    "$root/usr/bin/qemu-img" "$@"
"""


@dataclass
class SuiteOutcome:
    suite: str
    status: str  # "present", "provisioned" or "failed"
    version: str | None = None
    detail: str = ""
    seconds: float = 0.0
    download_bytes: int = 0
    root_bytes: int = 0


@dataclass
class ProvisionReport:
    store: Path
    outcomes: list[SuiteOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[SuiteOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed


def can_provision() -> bool:
    return shutil.which("apt-get") is not None and shutil.which("dpkg-deb") is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_leftovers(store: Path, log: Log) -> None:
    """Remove build and apt dirs of provision runs that no longer exist."""
    tmp = Path(tempfile.gettempdir())
    dirs = [p for p in store.iterdir() if p.name.startswith(".build-")]
    dirs += [p for p in tmp.iterdir() if p.name.startswith("qemu-img-apt-")]
    for p in dirs:
        m = _LEFTOVER.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            log(f"removed leftovers of an interrupted run: {p}")


def _valid(version_dir: Path) -> dict[str, Any] | None:
    prov = read_provenance(version_dir)
    elf = version_dir / "root/usr/bin/qemu-img"
    if prov is None or prov.get("version") != version_dir.name:
        return None
    if not (version_dir / "qemu-img").is_file() or not elf.is_file():
        return None
    return prov if sha256_file(elf) == prov["sha256"] else None


def present_suites(store: Path) -> dict[str, str]:
    """suite -> version for every valid version dir in the store: no network needed."""
    found: dict[str, str] = {}
    for d in sorted(store.iterdir()) if store.is_dir() else []:
        if not d.name.startswith(".") and d.is_dir() and (prov := _valid(d)) is not None:
            for suite in prov.get("suites") or [prov["suite"]]:
                found.setdefault(str(suite), d.name)
    return found


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise SuiteFailed(f"{what} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return proc.stdout


def _smoke_test(launcher: Path) -> str:
    """`--version`, then a 1M qcow2 create + info. Returns the first line of --version."""
    line = (_run([str(launcher), "--version"], "qemu-img --version").splitlines() or [""])[0]
    if parse_version(line) is None:
        raise SuiteFailed(f"qemu-img --version printed no parsable version: {line!r}")
    with tempfile.TemporaryDirectory(prefix="qemu-img-smoke-") as tmp:
        _run([str(launcher), "create", "-f", "qcow2", "smoke.qcow2", "1M"], "create", Path(tmp))
        info = _run([str(launcher), "info", "--output=json", "smoke.qcow2"], "info", Path(tmp))
    data = json.loads(info)
    if data.get("format") != "qcow2" or data.get("virtual-size") != 1 << 20:
        raise SuiteFailed(f"smoke test: unexpected info output {info.strip()!r}")
    return line.strip()


def _tree_bytes(root: Path) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(root) for f in files)


def _unpack(debs: list[Path], stage: Path, package: str) -> tuple[str, list[str]]:
    """dpkg-deb -x every .deb into stage/root; write the launcher. -> (package version, pkgs)."""
    root = stage / "root"
    root.mkdir(parents=True)
    packages, own_version = [], ""
    for deb in debs:
        fmt = "--showformat=${Package}=${Version}"
        name, _, version = _run(["dpkg-deb", "--show", fmt, str(deb)], "dpkg-deb").partition("=")
        packages.append(f"{name}={version}")
        own_version = version if name == package else own_version
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}")
    # lib64/ld-linux-x86-64.so.2 is an absolute symlink (to the host's loader): use the real file.
    loader = next((f"{d}/{LOADER}" for d in _LOADER_DIRS if _is_real(root / d / LOADER)), None)
    if loader is None or not own_version or not (root / "usr/bin/qemu-img").is_file():
        raise SuiteFailed(f"unpacked closure lacks {LOADER}, {package} or usr/bin/qemu-img")
    launcher = stage / "qemu-img"
    launcher.write_text(_LAUNCHER.format(package=package, loader=loader))
    launcher.chmod(0o755)
    return own_version, packages


def _is_real(p: Path) -> bool:
    return p.is_file() and not p.is_symlink()


def _place(stage: Path, target: Path, suite: str, prov: dict[str, Any], log: Log) -> None:
    """Rename stage into place; if the version is already there, record the suite on it."""
    existing = _valid(target) if target.exists() else None
    if existing is not None:
        if existing["package_version"] != prov["package_version"]:
            log(f"{suite}: {target.name} already in the store from {existing['package_version']}")
        suites = [*(existing.get("suites") or [existing["suite"]]), suite]
        existing["suites"] = sorted(set(suites), key=suites.index)
        atomic.write_text(target / PROVENANCE, json.dumps(existing, indent=2) + "\n")
        return
    if target.exists():  # an invalid leftover under a version name: move it aside first
        aside = target.with_name(f".build-old-{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(target, aside)
        shutil.rmtree(aside, ignore_errors=True)
    os.rename(stage, target)


def _provision_one(spec: Suite, lst: SuiteList, store: Path, mirror: str, log: Log) -> SuiteOutcome:
    t0 = time.monotonic()
    build = store / f".build-{spec.name}-{os.getpid()}-{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix=f"qemu-img-apt-{os.getpid()}-"))
    try:
        build.mkdir()
        work.chmod(0o755)  # apt's download sandbox user must reach its partial dirs
        log(f"{spec.name}: resolving {lst.package} and its dependencies")
        debs = fetch_closure(spec, lst, mirror, work)
        download = sum(d.stat().st_size for d in debs)
        stage = build / "stage"
        package_version, packages = _unpack(debs, stage, lst.package)
        shutil.rmtree(work, ignore_errors=True)
        line = _smoke_test(stage / "qemu-img")
        version = parse_version(line) or ""
        prov = {
            "suite": spec.name,
            "suites": [spec.name],
            "package": lst.package,
            "package_version": package_version,
            "version": version,
            "version_line": line,
            "sha256": sha256_file(stage / "root/usr/bin/qemu-img"),
            "mirror": mirror,
            "packages": packages,
            "provisioned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic.write_text(stage / PROVENANCE, json.dumps(prov, indent=2) + "\n")
        _place(stage, store / version, spec.name, prov, log)
        size = _tree_bytes(store / version / "root")
        return SuiteOutcome(spec.name, "provisioned", version, package_version,
                            time.monotonic() - t0, download, size)  # fmt: skip
    finally:
        shutil.rmtree(build, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def provision(
    suites: list[str] | None = None,
    store: Path | None = None,
    mirror: str | None = None,
    log: Log = print,
) -> ProvisionReport:
    """Make every requested suite's qemu-img present in the store (default: all suites)."""
    lst = load_suites()
    unknown = sorted(set(suites or []) - set(lst.names()))
    if unknown:
        raise BadInput(f"unknown suite(s) {', '.join(unknown)}: known are {', '.join(lst.names())}")
    chosen = [s for s in lst.suites if not suites or s.name in suites]
    store = store if store is not None else default_store()
    store.mkdir(parents=True, exist_ok=True)
    report = ProvisionReport(store)
    _sweep_leftovers(store, log)
    present = present_suites(store)
    todo = [s for s in chosen if s.name not in present]
    uri = ""
    if todo:
        if not can_provision():
            raise BadInput(
                "provisioning needs Debian's apt-get and dpkg-deb, which are not on PATH; "
                "on other hosts point the toolkit at your own builds instead: "
                "--qemu-img PATH (repeatable) or --binaries DIR (DIR/<version>/qemu-img)"
            )
        uri, origin = find_mirror(mirror, {d for s in lst.suites for d in s.dists})
        log(f"store {store}; mirror {uri} (from {origin})")
    for spec in chosen:
        if spec.name in present:
            report.outcomes.append(SuiteOutcome(spec.name, "present", present[spec.name]))
            log(f"{spec.name}: {present[spec.name]} already present")
            continue
        try:
            outcome = _provision_one(spec, lst, store, uri, log)
        except (SuiteFailed, OSError, ValueError, subprocess.SubprocessError) as exc:
            outcome = SuiteOutcome(spec.name, "failed", detail=str(exc))
            log(f"{spec.name}: FAILED: {exc}")
        else:
            log(
                f"{spec.name}: {outcome.version} ({outcome.detail}) in {outcome.seconds:.1f} s, "
                f"{outcome.download_bytes / 1e6:.1f} MB downloaded, root {outcome.root_bytes / 1e6:.0f} MB"
            )
        report.outcomes.append(outcome)
    return report


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "provision",
        help="install Debian's qemu-img builds side by side in the store",
        description="Fetch each suite's qemu-utils with its library closure into the store. "
        "Suites already present are skipped without network access.",
    )
    p.add_argument("--suite", dest="suites", action="append", default=[], metavar="S",
                   help="only this suite (repeatable; default: every suite in suites.toml)")  # fmt: skip
    p.add_argument("--store", type=Path, default=None, metavar="DIR",
                   help="the store (default: $QEMU_IMG_STORE or "
                   "$XDG_CACHE_HOME/qemu-img-baselines/qemu-img)")  # fmt: skip
    p.add_argument("--mirror", default=None, metavar="URL",
                   help="Debian archive URL (default: $QEMU_IMG_MIRROR, else the host's apt "
                   "sources)")  # fmt: skip
    p.set_defaults(func=run)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so the build dir is removed on SIGTERM too


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    report = provision(args.suites or None, args.store, args.mirror)
    for o in report.failed:
        print(f"failed: {o.suite}: {o.detail}")
    return EXIT_OK if report.ok else EXIT_FAILED
