"""`bench`: speed as ratios against a bare shell loop of the same qemu-img calls."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from toolkit.baseline.triple import dump_json
from toolkit.cli import options, resolve
from toolkit.model import atomic
from toolkit.model.records import QemuBinary
from toolkit.qemu.discovery import select_binaries
from toolkit.stages.bench import BenchRequest, bench

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmark the toolkit against a bare shell loop")
    options.add_discovery_options(p)
    options.add_tree_options(p)
    p.add_argument("--version", default="latest", help="qemu-img version to time (default latest)")
    p.add_argument("--runs", type=options.positive_int, default=5, help="paired runs (default 5)")
    p.add_argument("--output", type=Path, default=Path("benchmarks/latest.json"))
    p.add_argument("--skip-fuzz", action="store_true", help="don't time fuzz examples/s")
    p.set_defaults(func=run)


def _selection(args: argparse.Namespace, binary: QemuBinary) -> list[str]:
    """Discovery arguments that pick `binary` the way the user's own runs pick it."""
    if args.qemu_img:
        return ["--qemu-img", str(binary.path)]
    sel = ["--version", binary.version]
    for flag, value in (("--store", args.store), ("--binaries", args.binaries)):
        if value is not None:
            sel += [flag, str(value)]
    return sel


def run(args: argparse.Namespace) -> int:
    found = resolve.discover_binaries(args)
    binary = select_binaries(found, [args.version])[0]
    results = bench(
        BenchRequest(
            binary=binary,
            selection=tuple(_selection(args, binary)),
            curated_cases=args.curated_cases,
            expected_outputs=args.expected_outputs,
            runs=args.runs,
            skip_fuzz=args.skip_fuzz,
            store=args.store,
        )
    )
    print(json.dumps(results, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.output, dump_json(results))
    return 0
