"""Provisioning: Debian's qemu-img builds, side by side, in the store.

Each version directory `<store>/<version>/` holds `root/` (qemu-utils plus its whole library
closure, libc6 included, unpacked with dpkg-deb -x), a relocatable launcher `qemu-img` that
starts the binary through root's own dynamic loader, and `provenance.json`.
A suite is built in `<store>/.build-*` (discovery ignores dot names), smoke-tested, then renamed
into place; leftovers of killed runs are removed by the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.model import atomic
from toolkit.model.errors import BadInput
from toolkit.model.versions import parse_version_line
from toolkit.qemu.provision.builds import (
    APT_PREFIX,
    build_dir_name,
    place,
    present_suites,
    run_checked,
    sweep_leftovers,
    unpack,
)
from toolkit.qemu.provision.debian import (
    Suite,
    SuiteFailed,
    SuiteList,
    fetch_closure,
    load_suites,
)
from toolkit.qemu.provision.mirrors import find_mirror, find_security_mirror
from toolkit.qemu.store import PROVENANCE, default_store
from toolkit.qemu.version_probe import sha256_file

__all__ = ["ProvisionReport", "SuiteOutcome", "can_provision", "provision"]

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default log: the CLI passes one that prints."""


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


def _smoke_test(launcher: Path) -> str:
    """`--version`, then a 1M qcow2 create + info. Returns the first line of --version."""
    line = (run_checked([str(launcher), "--version"], "qemu-img --version").splitlines() or [""])[0]
    if parse_version_line(line) is None:
        raise SuiteFailed(f"qemu-img --version printed no parsable version: {line!r}")
    with tempfile.TemporaryDirectory(prefix="qemu-img-smoke-") as tmp:
        run_checked(
            [str(launcher), "create", "-f", "qcow2", "smoke.qcow2", "1M"], "create", Path(tmp)
        )
        info = run_checked(
            [str(launcher), "info", "--output=json", "smoke.qcow2"], "info", Path(tmp)
        )
    data = json.loads(info)
    if data.get("format") != "qcow2" or data.get("virtual-size") != 1 << 20:
        raise SuiteFailed(f"smoke test: unexpected info output {info.strip()!r}")
    return line.strip()


def _tree_bytes(root: Path) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(root) for f in files)


def _provision_one(
    spec: Suite, lst: SuiteList, store: Path, mirrors: dict[str, str], log: Log
) -> SuiteOutcome:
    t0 = time.monotonic()
    build = store / build_dir_name(spec.name)
    work = Path(tempfile.mkdtemp(prefix=f"{APT_PREFIX}{os.getpid()}-"))
    try:
        build.mkdir()
        work.chmod(0o755)  # apt's download sandbox user must reach its partial dirs
        log(f"{spec.name}: resolving {lst.package} and its dependencies")
        mirror = mirrors["debian"]
        debs = fetch_closure(spec, lst, mirror, work, mirrors.get("debian-security", ""))
        download = sum(d.stat().st_size for d in debs)
        stage = build / "stage"
        package_version, packages, exec_template = unpack(debs, stage, lst.package)
        shutil.rmtree(work, ignore_errors=True)
        line = _smoke_test(stage / "qemu-img")
        version = parse_version_line(line) or ""
        prov = {
            "suite": spec.name,
            "suites": [spec.name],
            "package": lst.package,
            "package_version": package_version,
            "version": version,
            "version_line": line,
            "sha256": sha256_file(stage / "root/usr/bin/qemu-img"),
            "mirror": mirror,
            **({"security_mirror": mirrors["debian-security"]} if spec.archive != "debian" else {}),
            "packages": packages,
            "exec": exec_template,
            "provisioned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic.write_text(stage / PROVENANCE, json.dumps(prov, indent=2) + "\n")
        place(stage, store / version, spec.name, log)
        size = _tree_bytes(store / version / "root")
        took = time.monotonic() - t0
        return SuiteOutcome(
            spec.name, "provisioned", version, package_version, took, download, size
        )
    finally:
        shutil.rmtree(build, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def provision(
    suites: list[str] | None = None,
    store: Path | None = None,
    mirror: str | None = None,
    log: Log = _quiet,
    security_mirror: str | None = None,
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
    log(f"store {store}")
    sweep_leftovers(store, log)
    present = present_suites(store)
    todo = [s for s in chosen if s.name not in present]
    mirrors: dict[str, str] = {}
    if todo:
        if not can_provision():
            raise BadInput(
                "provisioning needs Debian's apt-get and dpkg-deb, which are not on PATH; "
                "on other hosts point the toolkit at your own builds instead: "
                "--qemu-img PATH (repeatable) or --binaries DIR (DIR/<version>/qemu-img)"
            )
        uri, origin = find_mirror(mirror, {d for s in lst.suites for d in s.dists})
        log(f"mirror {uri} (from {origin})")
        mirrors["debian"] = uri
        if any(s.archive == "debian-security" for s in todo):
            sec, origin = find_security_mirror(security_mirror, uri)
            log(f"security mirror {sec} (from {origin})")
            mirrors["debian-security"] = sec
    for spec in chosen:
        if spec.name in present:
            report.outcomes.append(SuiteOutcome(spec.name, "present", present[spec.name]))
            log(f"{spec.name}: {present[spec.name]} already present")
            continue
        try:
            outcome = _provision_one(spec, lst, store, mirrors, log)
        except (SuiteFailed, OSError, ValueError, subprocess.SubprocessError) as exc:
            outcome = SuiteOutcome(spec.name, "failed", detail=str(exc))
            log(f"{spec.name}: FAILED: {exc}")
        else:
            log(
                f"{spec.name}: {outcome.version} ({outcome.detail}) in {outcome.seconds:.1f} s, "
                f"{outcome.download_bytes / 1e6:.1f} MB downloaded, "
                f"root {outcome.root_bytes / 1e6:.0f} MB"
            )
        report.outcomes.append(outcome)
    return report
