"""Curated cases: TOML in curated_cases/, validated in full before anything runs.

`curated_cases/<command>.toml` and `curated_cases/<command>-*.toml` (e.g. the
fuzzer's `resize-discovered.toml`) hold `[[case]]` tables:

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
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.caps import check_caps, check_options
from toolkit.baseline.layout import SUFFIXES
from toolkit.model import atomic
from toolkit.model.errors import BadInput
from toolkit.model.formats import FORMATS, PREALLOC_MODES
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Case
from toolkit.model.sizes import SizeError, parse_end_spec, parse_size

__all__ = [
    "NAME_RE",
    "case_files",
    "filter_cases",
    "load_cases",
    "name_key",
    "parse_case",
]

NAME_RE = re.compile(r"[A-Za-z0-9._+-]+")
# A case's longest file name, temp name included, must fit in one file name.
MAX_FILE_NAME = atomic.NAME_MAX - atomic.TEMP_NAME_EXTRA
SHOW_NAMES = 20  # names listed when --case matches none
KNOWN_KEYS = {"format", "name", "start", "end", "options", "prealloc", "shrink", "comment"}


def case_files(curated_dir: Path, command: str) -> list[Path]:
    """`<command>.toml`, `<command>-*.toml` but directories (a link or a FIFO: refused on read)."""
    main = curated_dir / f"{command}.toml"
    extra = sorted(curated_dir.glob(f"{command}-*.toml"))
    return [p for p in [main, *extra] if p.is_symlink() or (p.exists() and not p.is_dir())]


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
            names = sorted({c.name for c in out})
            more = f" … and {len(names) - SHOW_NAMES} more" if len(names) > SHOW_NAMES else ""
            raise BadInput(
                f"--case {g!r} matches no case; available: {', '.join(names[:SHOW_NAMES])}{more}"
            )
    if globs:
        out = [c for c in out if any(fnmatch.fnmatchcase(c.name, g) for g in globs)]
    return out


def load_cases(curated_dir: Path, spec: CommandSpec) -> list[Case]:
    """Every case of a command, or BadInput listing every problem found."""
    files = case_files(curated_dir, spec.name)
    if not files:
        raise BadInput(
            f"no case file for command {spec.name!r}: expected {curated_dir / spec.name}.toml "
            f"(pass --curated-cases DIR if the cases live elsewhere)"
        )
    cases: list[Case] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], tuple[str, str]] = {}  # (format, folded name) -> (name, file)
    for path in files:
        for case, errs in _load_file(curated_dir, path, spec):
            problems.extend(errs)
            if case is None:
                continue
            key = (case.format, name_key(case.name))
            if key in seen:
                other, where = seen[key]
                same = f"{where}; names must be unique per format"
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
    return cases


def name_key(name: str) -> str:
    """Equal for names whose files collide on a case-insensitive file system (ASCII names)."""
    return name.lower()


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


def parse_case(
    entry: Any, spec: CommandSpec, source: str, index: int = 0
) -> tuple[Case | None, list[str]]:
    """Validate one case table. Returns (case or None, problems)."""
    if not isinstance(entry, dict):
        return None, [f"{source}: case #{index}: must be a table"]
    name = entry.get("name")
    fmt = entry.get("format")
    label = f"{source}: case {name!r} ({fmt})" if name else f"{source}: case #{index}"
    errs: list[str] = []

    def bad(reason: str) -> None:
        errs.append(f"{label}: {reason}")

    for key in sorted(set(entry) - KNOWN_KEYS):
        bad(f"unknown key {key!r} (known: {', '.join(sorted(KNOWN_KEYS))})")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name or name[0] in ".-":
        bad(
            "name must be non-empty, use only [A-Za-z0-9._+-], contain no '..' and not start "
            "with '.' or '-' (it becomes a file name)"
        )
    elif len(longest := f"{name}{max(SUFFIXES, key=len)}".encode()) > MAX_FILE_NAME:
        bad(
            f"name is {len(name.encode())} bytes: its files (e.g. {longest[:20].decode()}..., "
            f"{len(longest)} bytes, and the temp names used while writing) need file names "
            f"of at most {atomic.NAME_MAX} bytes; keep the name to "
            f"{MAX_FILE_NAME - len(max(SUFFIXES, key=len))} bytes"
        )
    if fmt not in FORMATS:
        bad(f"unknown format {fmt!r}; known formats: {', '.join(sorted(FORMATS))}")
    start_text, start = _size_field(entry, "start", bad)
    end_text = entry.get("end")
    final: int | None = None
    if spec.needs_end_spec:
        if not isinstance(end_text, str) or not end_text:
            bad('`end` is required: the resize target, e.g. "64M", "+63M" or "-32M"')
        elif start is not None:
            try:
                final = parse_end_spec(end_text).final_size(start)
            except SizeError as exc:
                bad(f"end {end_text!r} does not parse: {exc}")
    elif end_text is not None:
        bad(f"`end` makes no sense for the {spec.name!r} command; remove it")
    options = entry.get("options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        bad('options must be a list of "KEY=VALUE[,KEY=VALUE]" strings')
        options = []
    check_options(fmt, options, bad)
    prealloc = entry.get("prealloc")
    if prealloc is not None and prealloc not in PREALLOC_MODES:
        bad(f"prealloc {prealloc!r} is not one of {', '.join(PREALLOC_MODES)} (or leave it out)")
    if prealloc is not None and "resize" not in spec.step_names():
        bad(
            f"prealloc is resize's --preallocation flag; the {spec.name!r} command has no "
            f'resize step: use options = ["preallocation={prealloc}"] instead'
        )
    shrink = entry.get("shrink")
    if shrink is not None and not isinstance(shrink, bool):
        bad("shrink must be true or false (or leave it out to infer it)")
    comment = entry.get("comment", "")
    if not isinstance(comment, str):
        bad("comment must be a string")
    if start is not None and not errs:
        check_caps(fmt, options, prealloc, start, final, bad)
    if errs:
        return None, errs
    return (
        Case(
            command=spec.name,
            format=str(fmt),
            name=str(name),
            start_size=str(start_text),
            end_spec=end_text,  # None for a command without one: checked above
            create_options=tuple(options),
            prealloc=prealloc,
            shrink=shrink,
            source=source,
            comment=comment,
        ),
        [],
    )


def _size_field(entry: dict[str, Any], key: str, bad: Any) -> tuple[str | None, int | None]:
    text = entry.get(key)
    if not isinstance(text, str) or not text.strip():
        bad(f'`{key}` must be a non-empty size string such as "1M"')
        return None, None
    try:
        return text, parse_size(text)
    except SizeError as exc:
        bad(f"{key} {text!r} is not a size qemu-img accepts: {exc}")
        return None, None
