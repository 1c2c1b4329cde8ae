"""Case files: TOML, validated in full before anything runs.

Each output type reads exactly one file (CommandSpec.case_file): the curated matrix in
`curated_cases/<command>.toml` (`resize.toml`), and the fuzzer's findings in
`curated_cases/discovered/<command>.toml`, recorded in an output type of their own. A
curated type never reads anything else, so findings can never change the matrix a
harness checks. A type over the image corpus (CommandSpec.corpus) reads
`curated_cases/images.toml`: each image it selects (or each compare pair) is one case,
named by its id, grouped by its manifest format (toolkit.model.images.corpus_cases); there
is no `[[case]]` list to keep in step with the corpus. A corpus type may also read its
command's `[[case]]` file (CommandSpec.with_case_file: measure's `--size` cases): its cases
are both, and a name in the file that a corpus case has is refused. Every other file holds
`[[case]]` tables:

    [[case]]
    format = "qcow2"
    name = "1M-to-64M-cs-512"
    start = "1M"
    end = "64M"               # resize only
    options = ["cluster_size=512"]
    prealloc = "full"         # optional; absent means no --preallocation flag
    shrink = false            # optional; absent means inferred
    comment = "why this case exists"   # optional
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.baseline import guard
from toolkit.baseline.case_schema import parse_case
from toolkit.baseline.images import load_corpus
from toolkit.model.errors import BadInput
from toolkit.model.formats import FORMATS
from toolkit.model.images import IMAGES_FILE, corpus_cases
from toolkit.model.pipeline import COMMANDS, FINDINGS_SUFFIX, FUZZED, CommandSpec
from toolkit.model.records import Case

__all__ = [
    "Picked",
    "case_file",
    "filter_cases",
    "legacy_files",
    "load_cases",
    "name_key",
    "select",
]

SHOW_NAMES = 20  # names listed when --case matches none


def case_file(curated_dir: Path, spec: CommandSpec) -> Path:
    """The one case file an output type reads."""
    return curated_dir / spec.case_file


def legacy_files(curated_dir: Path, spec: CommandSpec) -> list[Path]:
    """`<command>-*.toml` beside a curated file: findings an older toolkit saved there.
    They are never read (they would have joined the curated matrix); the CLI says where
    they belong."""
    if spec.findings_of or spec.command not in FUZZED:
        return []  # only a command fuzz explores ever had findings saved there
    found = curated_dir.glob(f"{spec.name}-*.toml")
    return sorted(p for p in found if p.is_symlink() or (p.exists() and not p.is_dir()))


def filter_cases(cases: Sequence[Case], formats: list[str], globs: list[str]) -> list[Case]:
    """Apply --format / --case; a filter that matches nothing is bad input. A format is a
    directory name: one of FORMATS, or a group the cases have (an image's manifest format,
    `vpc`)."""
    present = sorted({c.format for c in cases})
    known = sorted(set(FORMATS) | set(present))
    for f in formats:
        if f not in known:
            raise BadInput(f"unknown format {f!r} in --format; known: {', '.join(known)}")
    for f in formats:
        if f not in present:
            raise BadInput(f"--format {f} matches no curated case; formats with cases: {present}")
    out = [c for c in cases if not formats or c.format in formats]
    for g in globs:
        if not any(fnmatch.fnmatchcase(c.name, g) for c in out):
            names = sorted({c.name for c in out})
            more = f" … and {len(names) - SHOW_NAMES} more" if len(names) > SHOW_NAMES else ""
            raise BadInput(
                f"--case {g!r} matches no case; available: {', '.join(names[:SHOW_NAMES])}{more}"
            )
    if globs:
        out = [c for c in out if any(fnmatch.fnmatchcase(c.name, g) for g in globs)]
    return out


def load_cases(curated_dir: Path, spec: CommandSpec) -> list[Case]:
    """Every case of an output type, or BadInput listing every problem found.

    A findings type without findings (no file, or no [[case]] in it) has no cases. A type
    over the image corpus has the corpus's images (or pairs) it selects; one that also reads
    a `[[case]]` file has that file's cases first, then the corpus's.
    """
    path = case_file(curated_dir, spec)
    corpus: list[Case] = []
    if spec.corpus is not None:
        corpus = corpus_cases(load_corpus(curated_dir / IMAGES_FILE), spec.corpus, spec.command)
        if not spec.with_case_file:
            return corpus
    present = path.is_symlink() or path.exists()  # a link or a FIFO: refused when read
    if spec.findings_of and (not present or not _has_cases(curated_dir, path)):
        return []
    if not present:
        raise BadInput(
            f"no case file for command {spec.name!r}: expected {path} "
            f"(pass --curated-cases DIR if the cases live elsewhere)"
        )
    cases: list[Case] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], tuple[str, str]] = {}  # (format, folded name) -> (name, file)
    for c in corpus:  # the corpus's names are taken (its data checks them among themselves)
        seen[(c.format if spec.profile_names == "format-case" else "", name_key(c.name))] = (
            c.name,
            f"{c.source} (an image of the corpus)",
        )
    for case, errs in _load_file(curated_dir, path, spec):
        problems.extend(errs)
        if case is None:
            continue
        # profiles/ names a type's files by case alone where it says so: unique across formats
        key = (case.format if spec.profile_names == "format-case" else "", name_key(case.name))
        if key in seen:
            other, where = seen[key]
            same = (
                f"{where}; names must be unique per format"
                if key[0]
                else (
                    f"{where}; names must be unique in {path.name} ({_readers(spec)} "
                    "after the case alone)"
                )
            )
            if other != case.name:  # their files collide on a case-insensitive file system
                same = f"{where} as {other!r}; {other!r} and {case.name!r} differ only in "
                same += "letter case, and would share files on a case-insensitive file system"
            problems.append(
                f"{path}: case {case.name!r} ({case.format}): duplicate name, already "
                f"defined in {same}"
            )
            continue
        seen[key] = (case.name, str(path))
        cases.append(case)
    if problems:
        raise BadInput(
            "invalid curated cases (nothing was run or written):\n  " + "\n  ".join(problems)
        )
    return cases + corpus


def name_key(name: str) -> str:
    """Equal for names whose files collide on a case-insensitive file system (ASCII names)."""
    return name.lower()


def _has_cases(curated_dir: Path, path: Path) -> bool:
    """Whether a findings file holds any [[case]] (an emptied one means no findings)."""
    try:
        return bool(tomllib.loads(guard.read_text(curated_dir, path, guard.CASE_FILE)).get("case"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, guard.UnsafeFile):
        return True  # unreadable: load it, so the problem is reported with its fix


def _load_file(
    curated_dir: Path, path: Path, spec: CommandSpec
) -> list[tuple[Case | None, list[str]]]:
    try:
        data = tomllib.loads(guard.read_text(curated_dir, path, guard.CASE_FILE))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return [(None, [f"{path}: not valid TOML: {exc}. Fix the syntax and re-run."])]
    except RecursionError:  # tomllib recurses once per nested array or table
        return [(None, [f"{path}: not valid TOML: nested too deeply. Fix it and re-run."])]
    except guard.UnsafeFile as exc:
        return [(None, [str(exc)])]
    except OSError as exc:
        return [(None, [f"{path}: cannot be read ({exc.strerror or exc}); fix its permissions"])]
    if not data.get("case"):
        return [(None, [f"{path}: holds no [[case]] table; add cases or remove the file"])]
    unknown_top = set(data) - {"case"}
    out: list[tuple[Case | None, list[str]]] = []
    if unknown_top:
        out.append(
            (
                None,
                [
                    f"{path}: unknown top-level keys {sorted(unknown_top)}; "
                    f"cases go in [[case]] tables"
                ],
            )
        )
    entries = data["case"]
    if not isinstance(entries, list):
        return [*out, (None, [f"{path}: `case` must be an array of tables ([[case]])"])]
    for index, entry in enumerate(entries, start=1):
        out.append(parse_case(entry, spec, f"{path}", index))
    return out


@dataclass(frozen=True)
class Picked:
    """What several output types' case files hold, and the selection of each."""

    known: dict[CommandSpec, list[Case]]  # every case of each type (a findings type may have 0)
    chosen: dict[CommandSpec, list[Case]]  # each type with cases the filters select
    legacy: list[tuple[Path, Path]] = field(default_factory=list)  # (old findings file, home)


def select(
    curated_dir: Path, specs: Sequence[CommandSpec], formats: list[str], globs: list[str]
) -> Picked:
    """Every type's cases (all validated first) and the selection: --format and --case apply
    to each type; a filter is bad input only when it matches nothing in any of them."""
    known = {spec: load_cases(curated_dir, spec) for spec in specs}
    legacy = [
        (old, case_file(curated_dir, COMMANDS[spec.name + FINDINGS_SUFFIX]))
        for spec in specs
        for old in legacy_files(curated_dir, spec)
    ]
    chosen: dict[CommandSpec, list[Case]] = {}
    errors: list[BadInput] = []
    for spec, cases in known.items():
        if not cases:
            continue
        try:
            chosen[spec] = filter_cases(cases, formats, globs)
        except BadInput as exc:
            errors.append(exc)
    if errors and not chosen:
        raise errors[0]
    return Picked(known, chosen, legacy)


def _readers(spec: CommandSpec) -> str:
    """`measure-human and measure-json name their profile files`: every type this case file
    feeds (a command's types read one file: its curated one, or its findings one)."""
    found = bool(spec.findings_of)
    names = [s.name for s in COMMANDS.values()
             if s.command == spec.command and bool(s.findings_of) == found]  # fmt: skip
    names = names if spec.name in names else [spec.name]  # a type not registered (tests)
    if len(names) == 1:
        return f"{names[0]} names its profile files"
    return f"{', '.join(names[:-1])} and {names[-1]} name their profile files"
