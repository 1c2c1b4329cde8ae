"""`generate <command>`: curated cases x discovered versions -> the golden tree."""

from __future__ import annotations

import argparse
import fcntl
import fnmatch
import os
import subprocess
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from toolkit import artefacts, atomic, options
from toolkit.cases import load_cases
from toolkit.commands import COMMANDS, CommandSpec
from toolkit.discovery import discover, select_versions
from toolkit.errors import BadInput, ToolkitFailure
from toolkit.formats import FORMATS
from toolkit.matrix import run_many
from toolkit.model import Case, CaseResult, QemuBinary


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("generate", help="run curated cases on every qemu-img; write baselines")
    p.add_argument("command", choices=sorted(COMMANDS), help="which command's cases to record")
    options.add_tree_options(p)
    options.add_filter_options(p)
    options.add_discovery_options(p)
    options.add_jobs_option(p)
    options.add_timeout_option(p)
    p.add_argument("--commit", action="store_true", help="git add + commit the regenerated tree")
    p.set_defaults(func=run)


def filter_cases(cases: Sequence[Case], formats: list[str], globs: list[str]) -> list[Case]:
    """Apply --format / --case; a filter that matches nothing is bad input."""
    for f in formats:
        if f not in FORMATS:
            raise BadInput(f"unknown format {f!r} in --format; known: {', '.join(sorted(FORMATS))}")
    present = sorted({c.format for c in cases})
    for f in formats:
        if f not in present:
            raise BadInput(f"--format {f} matches no curated case; formats with cases: {present}")
    out = [c for c in cases if not formats or c.format in formats]
    for g in globs:
        if not any(fnmatch.fnmatchcase(c.name, g) for c in out):
            names = ", ".join(sorted({c.name for c in out}))
            raise BadInput(f"--case {g!r} matches no case; available: {names}")
    if globs:
        out = [c for c in out if any(fnmatch.fnmatchcase(c.name, g) for g in globs)]
    return out


def binaries_for(args: argparse.Namespace, allow_provision: bool = True) -> list[QemuBinary]:
    """Discovered binaries, filtered by --version; provisions first on a fresh machine."""
    found = discover(args.qemu_img, args.binaries, args.store)
    if not found and not args.qemu_img and allow_provision:
        from toolkit import provision

        if provision.can_provision():
            print("no qemu-img found: provisioning Debian's builds first (nox -s provision_qemu)")
            provision.provision(None, args.store, None)
            found = discover(args.qemu_img, args.binaries, args.store)
    if not found:
        raise BadInput(
            "no qemu-img found. Run `nox -s provision_qemu` on a Debian/Ubuntu host, or pass "
            "--qemu-img PATH (repeatable) or --binaries DIR"
        )
    return select_versions(found, args.versions) if args.versions else found


@contextmanager
def tree_lock(root: Path) -> Iterator[None]:
    """One writer per tree: a second generator fails at once with a clear message."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / ".generate.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise ToolkitFailure(
                f"{root} is locked by a running generate ({holder}, lock file {path}); "
                f"wait for it to finish and run again"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def confined(root: Path, target: Path) -> Path:
    """Refuse any output path that resolves outside the expected-outputs root."""
    r, t = root.resolve(), target.resolve()
    if t != r and r not in t.parents:
        raise BadInput(f"refusing to write {target}: it resolves outside {root}")
    return target


def write_versions_file(root: Path, spec: CommandSpec, binaries: Sequence[QemuBinary]) -> None:
    """versions.json: each version directory present -> version line, source, sha256."""
    type_dir = root / spec.output_type
    path = type_dir / artefacts.VERSIONS_FILE
    current = artefacts.load_json_or_empty(path)
    for b in binaries:
        prov = b.provenance_dict()
        source = (
            {"suite": prov["suite"], "package_version": prov["package_version"]}
            if "suite" in prov
            else {"path": str(b.path)}
        )
        current[b.version] = {
            "version_line": b.version_line,
            "source": source,
            "sha256": prov.get("sha256", ""),
        }
    present = artefacts.version_dirs(type_dir)
    atomic.write_text(path, artefacts.dump_json({v: current[v] for v in present if v in current}))


def run(args: argparse.Namespace) -> int:
    spec = COMMANDS[args.command]
    cases = filter_cases(load_cases(args.curated_cases, spec), args.formats, args.cases)
    binaries = binaries_for(args)
    root: Path = args.expected_outputs
    jobs = [(b, c) for b in binaries for c in cases]
    written = unchanged = 0
    rc_counts: Counter[str] = Counter()

    checked: set[Path] = set()  # directories already confined: resolve() is not free

    def record(result: CaseResult) -> None:
        nonlocal written, unchanged
        d = artefacts.case_dir(root, spec, result.case.format, result.binary.version)
        if d not in checked:
            checked.add(confined(root, d))
        try:
            changed = artefacts.write_baseline(
                d, result.case.name, artefacts.to_baseline(result, spec)
            )
        except OSError as exc:
            raise ToolkitFailure(
                f"cannot write the baseline of {result.case.format}/{result.case.name} "
                f"in {d}: {exc.strerror or exc}. No file was left half-written; fix the "
                f"cause and run again"
            ) from exc
        written += changed
        unchanged += 3 - changed
        for step in result.steps:
            if step.ran and step.return_code != 0:
                rc_counts[step.name] += 1

    with tree_lock(root):
        atomic.sweep_temp_files(root / spec.output_type)
        run_many(jobs, spec, args.jobs, args.timeout, record, label=f"generate {spec.name}")
        write_versions_file(root, spec, binaries)
        _refresh_profiles(root, spec)
    versions = ", ".join(b.version for b in binaries)
    nonzero = ", ".join(f"{n} {rc_counts[n]}" for n in spec.step_names()) or "none"
    print(
        f"generate {spec.name}: {len(binaries)} versions ({versions}), {len(cases)} cases, "
        f"{len(jobs)} runs; non-zero exits per step: {nonzero}; "
        f"files written {written}, unchanged {unchanged}"
    )
    tree = root / spec.output_type
    if args.commit:
        _commit(tree, versions)
    else:
        print(f"To commit: git add {tree} && git commit -m 'baselines: {spec.name} ({versions})'")
    return 0


def _refresh_profiles(root: Path, spec: CommandSpec) -> None:
    from toolkit import profiles  # imported late: plain generate runs don't need it earlier

    profiles.write_version_map(root, spec)


def _commit(tree: Path, versions: str) -> None:
    try:
        subprocess.run(["git", "add", "--", str(tree)], check=True)
        staged = subprocess.run(["git", "diff", "--cached", "--quiet", "--", str(tree)])
        if staged.returncode == 0:
            print("nothing to commit: the tree is unchanged")
            return
        msg = f"baselines: {tree.name} for qemu-img {versions}"
        subprocess.run(["git", "commit", "-m", msg, "--", str(tree)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ToolkitFailure(f"--commit failed: {exc}") from exc
