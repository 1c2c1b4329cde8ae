"""`verify`: keep the golden tree true, re-run it, and check another implementation against it.

    python -m toolkit verify [COMMAND] [--offline] [--allow-stale] [--update]
        [--candidate PATH --candidate-version V] [--report FILE.json] [--obtained DIR]
        [--expected-outputs DIR] [--curated-cases DIR] [--version V]... [--format F]...
        [--case GLOB]... [--qemu-img PATH]... [--binaries DIR] [--store DIR] [-j N] [--timeout S]

1. The offline checks (toolkit.verify_offline) always run.
2. Online, the default: each selected version with both baselines and a binary is
   re-run and compared (toolkit.verify_online). A version without a binary is "not
   run" (not a failure); a binary without baselines is listed. `--offline` skips this.
   On a mismatch the obtained triple goes to `--obtained` (./.verify)/<format>/<version>/
   and a diff is printed; `--update` writes it into the tree instead.
3. `--candidate PATH --candidate-version V` replaces 2 (toolkit.candidate).

Exit: 0 when everything passes (warnings allowed), 1 when a check fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from toolkit import artefacts, atomic, options
from toolkit.candidate import candidate_binary, run_candidate
from toolkit.cases import load_cases
from toolkit.commands import COMMANDS
from toolkit.discovery import discover, select_versions
from toolkit.errors import BadInput, ToolkitFailure
from toolkit.generate import confined, filter_cases, tree_lock, write_versions_file
from toolkit.model import Baseline, Case, QemuBinary
from toolkit.verify_offline import Scope, check_tree, is_version_name, profiles_module
from toolkit.verify_online import run_online
from toolkit.verify_report import Outcome, print_summary, report


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="check the golden tree offline, re-run it, or check a candidate against it",
        description="Offline checks of the golden tree, then (unless --offline) re-run every "
        "version that has baselines and a binary and compare under the whitelist.",
    )
    p.add_argument(
        "command",
        nargs="?",
        default="resize",
        choices=sorted(COMMANDS),
        help="whose baselines to verify (default: resize)",
    )
    options.add_tree_options(p)
    options.add_filter_options(p)
    options.add_discovery_options(p)
    options.add_jobs_option(p)
    options.add_timeout_option(p)
    g = p.add_argument_group("verify")
    g.add_argument("--offline", action="store_true", help="only the offline checks; no qemu-img")
    g.add_argument(
        "--allow-stale", action="store_true", help="a file of no curated case is a warning"
    )
    g.add_argument(
        "--update", action="store_true", help="rewrite mismatching baselines from what was obtained"
    )
    g.add_argument(
        "--obtained",
        type=Path,
        default=Path(".verify"),
        metavar="DIR",
        help="where obtained triples of mismatches go (default: ./.verify)",
    )
    g.add_argument("--report", type=Path, metavar="FILE.json", help="write a JSON report")
    g.add_argument(
        "--candidate",
        type=Path,
        metavar="PATH",
        help="check this qemu-img-compatible CLI against --candidate-version's baselines",
    )
    g.add_argument(
        "--candidate-version", metavar="V", help="the baselines the candidate is held to"
    )
    p.set_defaults(func=run)


def _validate(args: argparse.Namespace) -> None:
    if (args.candidate is None) != (args.candidate_version is None):
        raise BadInput(
            "--candidate PATH and --candidate-version V go together, e.g. "
            "`verify --candidate ./instar --candidate-version 10.0.2`"
        )
    if args.candidate is not None:
        for flag, given in (("--offline", args.offline), ("--update", args.update)):
            if given:
                raise BadInput(f"{flag} cannot be combined with --candidate")
        if args.versions:
            raise BadInput("--version does not apply to candidate mode: use --candidate-version")
    if args.update and args.offline:
        raise BadInput("--update needs to run qemu-img: drop --offline")
    root, obtained = args.expected_outputs.resolve(), args.obtained.resolve()
    if obtained == root or root in obtained.parents:
        raise BadInput(f"--obtained {args.obtained} is inside {args.expected_outputs}: keep it out")
    if args.report is not None and not args.report.parent.resolve().is_dir():
        raise BadInput(f"--report {args.report}: directory {args.report.parent} does not exist")


def _resolve(pool: set[str], requests: list[str]) -> list[str]:
    """--version requests (exact, dotted prefix, oldest, latest) over the given versions."""
    fake = [QemuBinary(v, Path(), "tree", v) for v in pool]
    return [b.version for b in select_versions(fake, requests)]


def run(args: argparse.Namespace) -> int:
    _validate(args)
    spec = COMMANDS[args.command]
    root: Path = args.expected_outputs
    all_cases = load_cases(args.curated_cases, spec)
    cases = filter_cases(all_cases, args.formats, args.cases)
    type_dir = root / spec.output_type
    in_tree = [v for v in artefacts.version_dirs(type_dir) if is_version_name(v)]
    if not in_tree:
        raise BadInput(
            f"no golden tree at {type_dir}: generate it with `python -m toolkit generate "
            f"{spec.name}`, or point --expected-outputs at a checkout that has one"
        )
    candidate: QemuBinary | None = None
    binaries: list[QemuBinary] = []
    if args.candidate is not None:
        (version,) = _resolve(set(in_tree), [args.candidate_version])
        candidate = candidate_binary(args.candidate, version, args.timeout)
        versions = [version]
    else:
        if not args.offline:
            binaries = discover(args.qemu_img, args.binaries, args.store)
        versions = _resolve(set(in_tree) | {b.version for b in binaries}, args.versions)
    mode = "candidate" if candidate else "offline" if args.offline else "online"
    scope = Scope(
        root=root,
        spec=spec,
        all_cases=tuple(all_cases),
        cases=tuple(cases),
        versions=tuple(v for v in versions if v in in_tree),
        case_globs=tuple(args.cases),
        filtered=bool(args.versions or args.formats or args.cases or candidate),
        allow_stale=args.allow_stale,
    )
    lock = tree_lock(root) if args.update else contextlib.nullcontext()
    with lock:
        out = Outcome(spec, root, mode, versions, check_tree(scope))
        if candidate is not None:
            _run_candidate(args, out, candidate, cases)
        elif not args.offline:
            obtained = _run_online(args, out, binaries, cases, in_tree)
            if args.update and obtained:
                _update(out, obtained, binaries)
                out.offline = check_tree(scope)
    print_summary(out)
    if args.report is not None:
        try:
            atomic.write_text(args.report, artefacts.dump_json(report(out)))
        except OSError as exc:
            raise ToolkitFailure(f"cannot write --report {args.report}: {exc}") from exc
        print(f"report: {args.report}")
    return out.exit_code


def _run_candidate(
    args: argparse.Namespace, out: Outcome, binary: QemuBinary, cases: list[Case]
) -> None:
    start = time.monotonic()
    out.cases = run_candidate(
        out.root,
        out.spec,
        binary,
        cases,
        out.offline.readable,
        args.jobs,
        args.timeout,
        args.obtained,
    )
    out.seconds = time.monotonic() - start
    out.ran = [binary.version]
    out.candidate = {
        "path": str(binary.path),
        "version": binary.version,
        "version_line": binary.version_line,
    }


def _run_online(
    args: argparse.Namespace,
    out: Outcome,
    binaries: list[QemuBinary],
    cases: list[Case],
    in_tree: list[str],
) -> dict[tuple[str, str, str], Baseline]:
    by_version = {b.version: b for b in binaries}
    where = "--qemu-img" if args.qemu_img else "discovery (--binaries, the store, PATH)"
    recorded = artefacts.load_json_or_empty(
        out.root / out.spec.output_type / artefacts.VERSIONS_FILE
    )
    for v in out.versions:
        b = by_version.get(v)
        if v not in in_tree and b is not None:
            out.without_baselines.append(b)
        elif b is None:
            out.not_run[v] = f"no qemu-img {v} found by {where}"
        else:
            out.ran.append(v)
            sha = b.provenance_dict().get("sha256")
            was = recorded.get(v, {}).get("sha256") if isinstance(recorded.get(v), dict) else None
            if sha and was and sha != was:
                out.notes.append(
                    f"{v}: {b.path} is not the build that recorded the baselines "
                    f"(sha256 {sha[:12]}… vs versions.json {was[:12]}…)"
                )
    jobs = [
        (by_version[v], c)
        for v in out.ran
        for c in cases
        if (c.format, v, c.name) in out.offline.readable
    ]
    start = time.monotonic()
    target = None if args.update else args.obtained
    out.cases, obtained = run_online(out.root, out.spec, jobs, args.jobs, args.timeout, target)
    out.seconds = time.monotonic() - start
    return obtained


def _update(
    out: Outcome, obtained: dict[tuple[str, str, str], Baseline], binaries: list[QemuBinary]
) -> None:
    """--update: the obtained triples replace the mismatching baselines (caller holds the lock)."""
    for c in out.cases:
        if c.status != "diff":
            continue
        d = confined(out.root, artefacts.case_dir(out.root, out.spec, c.format, c.version))
        try:
            artefacts.write_baseline(d, c.case, obtained[c.format, c.version, c.case])
        except OSError as exc:
            raise ToolkitFailure(
                f"--update cannot write {d / c.case}.*: {exc.strerror or exc}; no file was left "
                "half-written; fix the cause and run again"
            ) from exc
        c.updated = True
    touched = {c.version for c in out.cases if c.updated}
    write_versions_file(out.root, out.spec, [b for b in binaries if b.version in touched])
    profiles = profiles_module()
    if profiles is not None and hasattr(profiles, "write_version_map"):
        profiles.write_version_map(out.root, out.spec)
