"""Fuzz findings become cases, appended to `curated_cases/discovered/<command>.toml`.

That file has the schema of curated_cases/<command>.toml and is the case file of the
command's findings type (`resize-discovered`): `nox -s generate_resize` records it in
an output type of its own, never in the curated matrix (`cases promote` moves one there).
Each case carries `# ...` lines naming the invariant or the drift and the versions, and a
`comment` ending in one `[finding: KEY]` per finding it stands for (findings that share a
case share a table). A finding is skipped when its key is already recorded, or when a case
with the same format, sizes, options, prealloc and shrink is in the matrix or the findings.
The whole new text is validated as load_cases will, then written atomically.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.case_schema import case_table, parse_case
from toolkit.baseline.cases import case_file, name_key
from toolkit.model.errors import BadInput, ToolkitFailure
from toolkit.model.pipeline import COMMANDS, CommandSpec, findings_types
from toolkit.model.records import Case
from toolkit.model.versions import version_key

__all__ = [
    "Finding",
    "case_name",
    "default_path",
    "from_drift",
    "from_failure",
    "from_note",
    "save",
    "simplicity",
]

HEADER = """\
# {Command} cases found by `python -m toolkit fuzz` (toolkit/stages/fuzz/findings.py): each
# one failed an invariant (`fuzz --help`) or showed drift between qemu-img versions. Same schema as
# ../{command}.toml. `nox -s generate_{command}` records them in their own output type
# ({findings}: never the curated matrix); `python -m toolkit cases promote NAME` moves one
# into {command}.toml. Edit freely: fuzz only appends, and skips findings already here.
"""
_KEY = re.compile(r"\[finding: ([^\]]+)\]")
NAME_PREFIX = "fz"
_UNSAFE = re.compile(r"[^A-Za-z0-9.+]+")
RESIZE = COMMANDS["resize"]


def default_path(curated_dir: Path, command: str) -> Path:
    """Where a command's findings go: its findings types' case file, e.g.
    curated_cases/discovered/create.toml."""
    return case_file(curated_dir, findings_types(command)[0])


@dataclass(frozen=True)
class Finding:
    key: str  # what makes it distinct, e.g. "I2 raw 7.2.22" or "drift raw resize.rc 5.2.0 | ..."
    case: Case
    summary: str  # one line for the `#` comment: what failed or drifted, on which versions


def case_name(
    fmt: str,
    start: str,
    end: str | None,  # None: a create case
    options: tuple[str, ...],
    prealloc: str | None,
    shrink: bool | None,
    params: tuple[tuple[str, Any], ...] = (),
) -> str:
    """A filename-safe name: a readable summary plus a digest of the whole tuple.

    The digest makes distinct tuples get distinct names (None and "off" differ, option
    order matters, as it does on qemu-img's command line). `params`, a command's own case
    data (Case.params), joins the digest and the summary only when there is any, so a
    resize or create case keeps its name.
    """
    whole: list[Any] = [fmt, start, end, list(options), prealloc, shrink]
    canon = json.dumps([*whole, [[k, v] for k, v in params]] if params else whole)
    digest = hashlib.sha256(canon.encode()).hexdigest()[:10]
    parts = [NAME_PREFIX, fmt, _slug(start)]
    if end is not None:
        amount = end[1:] if end[:1] in "+-" else end
        parts += [{"+": "plus", "-": "minus"}.get(end[:1], "to"), _slug(amount)]
    parts += [_slug(o) for o in options]
    if prealloc is not None:
        parts.append(f"prealloc-{prealloc}")
    if shrink is not None:
        parts.append("shrink" if shrink else "no-shrink")
    parts += [_slug(word) for k, v in params if (word := _readable(k, v))]
    readable = "-".join(p for p in parts if p)[:90].rstrip(".-")
    return f"{readable}-{digest}"


def _readable(key: str, value: Any) -> str:
    """A param in a name: `backing-1M`, `explicit_base`, flags as their words, a list of
    writes as its count (`base_writes-2`); nothing for an absent or false one."""
    if value is None or value is False or value is True:
        return key if value is True else ""
    if isinstance(value, list | tuple):
        words = all(isinstance(v, str) for v in value)
        return " ".join(value) if words else f"{key}-{len(value)}"
    return f"{key}-{value}"


def _slug(text: str) -> str:
    slug = _UNSAFE.sub("_", text).strip("._")
    while ".." in slug:
        slug = slug.replace("..", ".")
    return slug


def identity(case: Case) -> tuple[Any, ...]:
    """What makes two cases the same case, whatever their names."""
    return (case.format, case.start_size, case.end_spec, case.create_options, case.prealloc,
            case.shrink, case.params)  # fmt: skip


def grammar_case(text: str) -> Case | None:
    """A raw case resizing 1M by `text`, or None when the case loader cannot take it."""
    entry: dict[str, Any] = {"format": "raw", "start": "1M", "end": text}
    entry["name"] = case_name("raw", "1M", text, (), None, None)
    case, _errors = parse_case(entry, RESIZE, "<fuzz>")
    return case


def _one_line(text: str) -> str:
    return " ".join(text.split())  # a summary or key is one comment line


def render(group: Sequence[Finding]) -> str:
    """One [[case]] table for findings that share a case, each summary a `#` line above it."""
    what = "; ".join(_one_line(f.summary) for f in group)
    keys = " ".join(f"[finding: {_one_line(f.key)}]" for f in group)
    table = case_table(replace(group[0].case, comment=f"fuzz: {what} {keys}"))
    return "".join(f"# {_one_line(f.summary)}\n" for f in group) + table


def _read(path: Path, parse: bool = False) -> Any:
    """A case file's text (parsed, if `parse`), through the guard: no link, no FIFO."""
    try:
        text = guard.read_text(path.parent, path, guard.CASE_FILE)
        return tomllib.loads(text) if parse else text
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BadInput(f"{path}: cannot read it as a case file ({exc}); fix or move it") from exc


def _entries(path: Path) -> list[Any]:
    data = _read(path, parse=True)
    entries = data.get("case", [])
    return entries if isinstance(entries, list) else []


def _known(
    paths: Iterable[Path], spec: CommandSpec
) -> tuple[set[str], set[tuple[Any, ...]], set[tuple[str, str]]]:
    keys: set[str] = set()
    tuples: set[tuple[Any, ...]] = set()
    names: set[tuple[str, str]] = set()
    for path in paths:
        for entry in _entries(path):
            case, _errors = parse_case(entry, spec, str(path))
            if case is None:
                continue
            keys.update(_KEY.findall(case.comment))
            tuples.add(identity(case))
            names.add((case.format, name_key(case.name)))  # CON and con: one file on some disks
    return keys, tuples, names


def save(findings: Sequence[Finding], path: Path, curated_dir: Path,
         spec: CommandSpec = RESIZE) -> list[Finding]:  # fmt: skip
    """Append the findings not yet recorded; return those written. `spec`: a curated type
    of the command (its schema, its matrix)."""
    recorded_by = findings_types(spec.command)
    header = HEADER.format(Command=spec.command.capitalize(), command=spec.command,
                           findings=", ".join(t.output_type for t in recorded_by))  # fmt: skip
    present = path.is_symlink() or path.exists()  # a link or a FIFO: refused when read
    existing = _read(path) if present else header
    # Already recorded: in the curated matrix, among the findings, or in the file itself.
    files = {case_file(curated_dir, spec), case_file(curated_dir, recorded_by[0]), path}
    keys, tuples, names = _known(sorted(p for p in files if p.is_symlink() or p.exists()), spec)
    groups: dict[tuple[Any, ...], list[Finding]] = {}  # new findings, one case each
    for f in findings:
        ident, name = identity(f.case), (f.case.format, name_key(f.case.name))
        if f.key in keys or (ident not in groups and (ident in tuples or name in names)):
            continue
        keys.add(f.key)
        names.add(name)
        groups.setdefault(ident, []).append(f)
    if not groups:
        return []
    text = existing.rstrip("\n") + "\n\n" + "\n".join(render(g) for g in groups.values())
    _validate(text, path, spec)
    guard.write_text(path.parent, path, text, guard.CASE_FILE)  # never through a link
    return [f for g in groups.values() for f in g]


def _validate(text: str, path: Path, spec: CommandSpec) -> None:
    """The file must load exactly as `load_cases` will load it; never write it otherwise."""
    try:
        entries = tomllib.loads(text).get("case", [])
    except tomllib.TOMLDecodeError as exc:
        raise ToolkitFailure(f"refusing to write {path}: rendered TOML is invalid: {exc}") from exc
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries, start=1):
        case, errors = parse_case(entry, spec, str(path), index)
        if case is None or (case.format, name_key(case.name)) in seen:
            why = "; ".join(errors) or f"duplicate name {entry.get('name')!r}"
            raise ToolkitFailure(f"refusing to write {path}: {why}")
        seen.add((case.format, name_key(case.name)))


def simplicity(case: Case) -> tuple[int, int, str]:
    """Smaller is easier to read in review: fewer options and flags, then fewer characters."""
    flags = len(case.create_options) + (case.prealloc is not None) + (case.shrink is not None)
    own = len(json.dumps(case.params)) if case.params else 0  # another command's case data
    size = len(case.start_size + (case.end_spec or "")) + own
    return flags, size, case.name


def from_failure(invariant: str, name: str, case: Case, size_text: str,
                 failed: Sequence[Any], who: str = "") -> Finding | None:  # fmt: skip
    """An invariant failure: the example's case (for I5, a raw case resizing by the string)."""
    versions = ",".join(sorted({v.version for v in failed}, key=version_key))
    detail = failed[0].detail if failed else ""
    if invariant == "I5":  # resize's grammar probe: the finding is the size string
        grammar = grammar_case(size_text)
        if grammar is None:
            return None
        case = grammar
    return Finding(f"{invariant} {case.format} {versions}", case,
                   f"{invariant} {name} failed on {who}{versions}: {detail}")  # fmt: skip


def from_drift(case: Case, key: str) -> Finding:
    return Finding(key, case, key.replace("drift ", "drift between versions: ", 1))


def from_note(text: str, key: str) -> Finding | None:
    case = grammar_case(text)
    return None if case is None else Finding(key, case, f"size {text!r}: {key}")
