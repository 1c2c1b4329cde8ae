"""`provision`: install Debian's qemu-img builds side by side in the store."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from toolkit.model.errors import EXIT_FAILED, EXIT_OK
from toolkit.model.outputs import output_dir
from toolkit.qemu.provision.install import provision

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "provision",
        help="install Debian's qemu-img builds side by side in the store",
        description="Fetch each suite's qemu-utils with its library closure into the store. "
        "Suites already present are skipped without network access.",
    )
    p.add_argument(
        "--suite",
        dest="suites",
        action="append",
        default=[],
        metavar="S",
        help="only this suite (repeatable; default: every suite in suites.toml)",
    )
    p.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help="the store (default: $QEMU_IMG_STORE or $XDG_CACHE_HOME/qemu-img-baselines/qemu-img)",
    )
    p.add_argument(
        "--mirror",
        default=None,
        metavar="URL",
        help="Debian archive URL (default: $QEMU_IMG_MIRROR, else the host's apt sources)",
    )
    p.add_argument(
        "--security-mirror",
        default=None,
        metavar="URL",
        help="Debian security archive URL, for *-security suites (default: "
        "$QEMU_IMG_SECURITY_MIRROR, else the host's apt sources, else beside --mirror)",
    )
    p.set_defaults(func=run)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so the build dir is removed on SIGTERM too


def run(args: argparse.Namespace) -> int:
    if args.store is not None:
        output_dir(args.store, "--store")
    signal.signal(signal.SIGTERM, _terminate)
    report = provision(
        args.suites or None,
        args.store,
        args.mirror,
        log=print,
        security_mirror=args.security_mirror,
    )
    if report.failed:
        names = ", ".join(o.suite for o in report.failed)
        print(f"error: {len(report.failed)} suite(s) failed: {names} (see above)", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED
