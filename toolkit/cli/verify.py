"""`verify`: check the golden tree offline, re-run it, or check a candidate against it.

    python -m toolkit verify [TYPE...] [--offline] [--allow-stale] [--update]
        [--candidate PATH --candidate-version V] [--report FILE.json] [--obtained DIR]
        [--expected-outputs DIR] [--curated-cases DIR] [--version V]... [--format F]...
        [--case GLOB]... [--qemu-img PATH]... [--binaries DIR] [--store DIR] [-j N] [--timeout S]

With no TYPE, every output type: the curated matrices and their findings types (a
finding fuzz saved that generate has not recorded yet is reported, not a failure).

Exit: 0 when everything passes (warnings allowed), 1 when a check fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toolkit.baseline import guard
from toolkit.baseline.cases import case_file
from toolkit.baseline.image_manifest import check_tree_manifest, manifest_path
from toolkit.baseline.images import IMAGES_FILE
from toolkit.baseline.triple import dump_json
from toolkit.cli import options, resolve
from toolkit.cli.corpus import corpus_roots
from toolkit.model import atomic
from toolkit.model.errors import EXIT_FAILED, EXIT_OK, BadInput, ToolkitFailure
from toolkit.model.outputs import output_dir
from toolkit.model.pipeline import COMMANDS, CommandSpec
from toolkit.render.progress import progress_bar
from toolkit.render.verify import reports, summaries
from toolkit.render.verify_pages import html, markdown
from toolkit.stages.verify.offline import OfflineResult
from toolkit.stages.verify.outcome import Outcome
from toolkit.stages.verify.run import VerifyRequest, verify

__all__ = ["register", "run"]

RENDERERS = {"text": summaries, "markdown": markdown, "html": html}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="check the golden tree offline, re-run it, or check a candidate against it",
        description="Offline checks of the golden tree, then (unless --offline) re-run every "
        "version that has baselines and a binary and compare under the whitelist.",
    )
    p.add_argument(
        "commands",
        nargs="*",
        type=options.type_name,
        metavar="TYPE",
        help="which output types to verify (default: every curated type with a tree, and every "
        f"findings type: {', '.join(COMMANDS)}); a findings type without findings passes",
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
    g.add_argument(
        "--report",
        type=options.output_file_path,
        metavar="FILE.json",
        help="write a JSON report",
    )
    g.add_argument(
        "--candidate",
        type=Path,
        metavar="PATH",
        help="check this qemu-img-compatible CLI against --candidate-version's baselines",
    )
    g.add_argument(
        "--candidate-version", metavar="V", help="the baselines the candidate is held to"
    )
    g.add_argument(
        "--candidate-name",
        dest="candidate_names",
        action="append",
        default=[],
        metavar="NAME",
        help="the candidate's own program name in its messages (`instar: ...`): it reads "
        "as qemu-img (repeatable)",
    )
    g.add_argument(
        "--qemu-io",
        metavar="PATH|VERSION",
        help="the qemu-io that writes the cases' data into the candidate's images (default: one "
        "beside it): a PATH, or a VERSION for that store build's",
    )
    g.add_argument(
        "--report-format",
        choices=("text", "markdown", "html"),
        default="text",
        help="how the summary is printed (--format selects image formats here)",
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
    elif args.candidate_names:
        raise BadInput("--candidate-name needs --candidate PATH")
    elif args.qemu_io is not None:
        raise BadInput(
            "--qemu-io gives a candidate its qemu-io: it needs --candidate PATH (verify runs "
            "the qemu-io beside each qemu-img)"
        )
    if args.update and args.offline:
        raise BadInput("--update needs to run qemu-img: drop --offline")
    root, obtained = args.expected_outputs.resolve(), args.obtained.resolve()
    if obtained == root or root in obtained.parents:
        raise BadInput(f"--obtained {args.obtained} is inside {args.expected_outputs}: keep it out")
    tree = guard.tree_holding(args.obtained)
    if tree is not None:  # verify writes obtained triples there, and clears them again
        raise BadInput(
            f"--obtained {args.obtained} is inside the golden tree {tree}: keep obtained "
            "triples out of every golden tree (default: ./.verify)"
        )
    if not (args.offline or args.update):  # --update writes mismatches into the tree instead
        output_dir(args.obtained, "--obtained")  # where mismatches go: checked before the runs
    if args.update:  # it writes into the tree, as generate does: the writers' checks first
        for spec in resolve.types_of(args.commands) or _present(args):
            guard.prepare(args.expected_outputs, spec)


def run(args: argparse.Namespace) -> int:
    _validate(args)
    specs = resolve.types_of(args.commands) or _present(args)
    known, chosen = resolve.select_cases(args, specs)
    mode = "candidate" if args.candidate is not None else "offline" if args.offline else "online"
    binaries = resolve.discover_binaries(args) if mode == "online" else []
    qemu_io = resolve.qemu_io_argv(args)  # () unless a candidate was given one
    # The image corpus, made sure of when the first type that reads it is run (offline checks
    # need no images; a candidate that cannot start is named before any corpus is built).
    roots: dict[str, Path] | None = None
    outs = []
    for spec in specs:
        if spec.findings_of and not known[spec]:
            outs.append(_no_findings(spec, args, mode))
            continue
        if spec not in chosen:
            continue  # the selection matches none of its cases (and some other type's)
        if roots is None and spec.corpus is not None and mode != "offline":
            roots = corpus_roots(args, [spec], write=False)
        request = VerifyRequest(
            spec=spec,
            root=args.expected_outputs,
            all_cases=tuple(known[spec]),
            cases=tuple(chosen[spec]),
            versions=tuple(args.versions),
            case_globs=tuple(args.cases),
            filtered=bool(args.versions or args.formats or args.cases),
            allow_stale=args.allow_stale,
            mode=mode,
            update=args.update,
            obtained=args.obtained / spec.name,  # types share case names
            jobs=args.jobs,
            timeout=args.timeout,
            candidate=args.candidate,
            candidate_version=args.candidate_version,
            candidate_names=tuple(args.candidate_names),
            candidate_qemu_io=qemu_io,
            binaries_from="--qemu-img"
            if args.qemu_img
            else "discovery (--binaries, the store, PATH)",
            fixes=resolve.fixes(args),
            roots=tuple((roots or {}).items()),
        )
        outs.append(verify(request, binaries, progress_bar))
    print(RENDERERS[args.report_format](outs), end="")
    corpus_code = 0 if args.commands or args.candidate else _corpus_manifest(args)
    if args.report is not None:
        try:
            atomic.write_text(args.report, dump_json(reports(outs)))
        except OSError as exc:
            raise ToolkitFailure(f"cannot write --report {args.report}: {exc}") from exc
        print(f"report: {args.report}")
    return max(corpus_code, *(o.exit_code for o in outs))


def _present(args: argparse.Namespace) -> list[CommandSpec]:
    """With no TYPE: every curated type with a tree, and every findings type (one without
    findings passes). A tree with no curated type and no image manifest is bad input."""
    trees = [s for s in COMMANDS.values() if (args.expected_outputs / s.output_type).exists()]
    corpus = manifest_path(args.expected_outputs).parent.exists()
    if not corpus and not any(not s.findings_of for s in trees):
        raise BadInput(
            f"no golden tree at {args.expected_outputs}: generate one with `nox -s "
            "generate_resize`, or point --expected-outputs at a checkout that has one"
        )
    return [s for s in COMMANDS.values() if s.findings_of or s in trees]


def _no_findings(spec: CommandSpec, args: argparse.Namespace, mode: str) -> Outcome:
    """A findings type whose case file holds no finding: nothing to check."""
    out = Outcome(spec, args.expected_outputs, mode, [], OfflineResult(), all_cases=0)
    out.empty_reason = f"{case_file(args.curated_cases, spec)} holds none; `nox -s fuzz` saves them"
    return out


def _corpus_manifest(args: argparse.Namespace) -> int:
    """The image corpus's manifest, checked offline (no TYPE given), whatever the mode: one
    line (to stderr under --report-format markdown or html), and its exit code."""
    data = args.curated_cases / IMAGES_FILE
    checked = check_tree_manifest(data, args.expected_outputs)
    if checked is None:
        return EXIT_OK
    corpus, problems = checked
    out = sys.stdout if args.report_format == "text" else sys.stderr
    if problems:
        print(f"verify images: {manifest_path(args.expected_outputs)} is not what {data} "
              "writes:", file=out)  # fmt: skip
        for p in problems:
            print(f"  {p}", file=out)
        print("  run `python -m toolkit images build` to rewrite it", file=out)
        return EXIT_FAILED
    print(
        f"verify images: manifest current ({len(corpus.images)} images, {len(corpus.pairs)} "
        "compare pairs; `python -m toolkit images build --check` checks their sha256)",
        file=out,
    )
    return EXIT_OK
