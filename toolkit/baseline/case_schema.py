"""One `[[case]]` table: the schema of a case file entry (see cases.py), both ways.

`parse_case` validates a table and collects every problem (name, format, sizes,
options, caps), so a file with several mistakes is reported once, in full, before
anything runs. `case_table` writes a Case back as the table `parse_case` reads.
"""

from __future__ import annotations

import re
from typing import Any

from toolkit.baseline.caps import check_caps, check_options
from toolkit.baseline.command_schemas import SCHEMAS
from toolkit.baseline.layout import SUFFIXES
from toolkit.model import atomic
from toolkit.model.formats import FORMATS, PREALLOC_MODES
from toolkit.model.pipeline import CommandSpec
from toolkit.model.records import Case
from toolkit.model.rounding import created_size
from toolkit.model.sizes import SizeError, parse_end_spec, parse_size

__all__ = ["KNOWN_KEYS", "NAME_RE", "case_table", "parse_case", "toml_string", "toml_value"]

NAME_RE = re.compile(r"[A-Za-z0-9._+-]+")
# A case's longest file name, temp name included, must fit in one file name.
MAX_FILE_NAME = atomic.NAME_MAX - atomic.TEMP_NAME_EXTRA
KNOWN_KEYS = {"format", "name", "start", "end", "options", "prealloc", "shrink", "comment"}


def _common(entry: dict[str, Any], keys: set[str], formats: Any, bad: Any, room: int = 0) -> None:
    """What every case table is checked for: its keys, its name (a file name), its format."""
    name, fmt = entry.get("name"), entry.get("format")
    for key in sorted(set(entry) - keys):
        bad(f"unknown key {key!r} (known: {', '.join(sorted(keys))})")
    longest_suffix = max(SUFFIXES, key=len)
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name or name[0] in ".-":
        bad(
            "name must be non-empty, use only [A-Za-z0-9._+-], contain no '..' and not start "
            "with '.' or '-' (it becomes a file name)"
        )
    elif len(longest := f"{name}{longest_suffix}".encode()) + room > MAX_FILE_NAME:
        bad(
            f"name is {len(name.encode())} bytes: its files (e.g. {longest[:20].decode()}..., "
            f"{len(longest)} bytes, and the temp names used while writing) need file names "
            f"of at most {atomic.NAME_MAX} bytes; keep the name to "
            f"{MAX_FILE_NAME - room - len(longest_suffix)} bytes"
        )
    if fmt not in formats:
        bad(f"unknown format {fmt!r}; known formats: {', '.join(sorted(formats))}")


def _frozen(value: Any) -> Any:
    """Lists as tuples, all the way down: a Case's params stay hashable."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


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

    schema = SCHEMAS.get(spec.command)
    if schema is not None:
        _common(entry, {"format", "name", "comment", *schema.keys}, schema.formats, bad,
                schema.name_room)  # fmt: skip
        fields = schema.build(entry, bad)
        if not isinstance(entry.get("comment", ""), str):
            bad("comment must be a string")
        if errs:
            return None, errs
        params = fields.pop("params", {})
        case = Case(command=spec.command, format=str(fmt), name=str(name),
                    start_size=fields.pop("start_size", ""), source=source,
                    comment=entry.get("comment", ""), **fields,
                    params=tuple(sorted((k, _frozen(v)) for k, v in params.items())))  # fmt: skip
        return case, []
    _common(entry, KNOWN_KEYS, FORMATS, bad)
    start_text, start = _size_field(entry, "start", bad)
    end_text = entry.get("end")
    final: int | None = None
    if spec.needs_end_spec:
        if not isinstance(end_text, str) or not end_text:
            bad('`end` is required: the resize target, e.g. "64M", "+63M" or "-32M"')
        elif start is not None:
            try:
                current = created_size(str(fmt), _strings(entry.get("options")), start)
                final = parse_end_spec(end_text).final_size(current)  # as pipeline.plan_for
            except SizeError as exc:
                bad(f"end {end_text!r} does not parse: {exc}")
    elif end_text is not None:
        bad(f"`end` makes no sense for the {spec.command!r} command; remove it")
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
            f"prealloc is resize's --preallocation flag; the {spec.command!r} command has no "
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
            command=spec.command,
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


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


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


def toml_string(text: str) -> str:
    """A TOML basic string of any text (control characters escaped)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A case's value as TOML: a string, a boolean, an integer, or a list of those."""
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise ValueError(f"{value!r} has no TOML spelling in a case file")


def case_table(c: Case) -> str:
    """The `[[case]]` table of a case, keys in the order the curated files use.

    A command with a Schema (command_schemas) is written generically: its size under the
    schema's `size_key`, then each of Case.params under its own key (the params' keys
    are the table's keys; None is a key left out), so what `parse_case` builds from a
    table is written back as that table."""
    lines = ["[[case]]", f"format = {toml_string(c.format)}", f"name = {toml_string(c.name)}"]
    schema = SCHEMAS.get(c.command)
    if schema is not None:
        if schema.size_key is not None:
            lines.append(f"{schema.size_key} = {toml_string(c.start_size)}")
        lines += [f"{k} = {toml_value(v)}" for k, v in c.params if v is not None]
    else:
        lines += _resize_keys(c)
    if c.comment:
        lines.append(f"comment = {toml_string(c.comment)}")
    return "\n".join(lines) + "\n"


def _resize_keys(c: Case) -> list[str]:
    """resize's and create's own keys (their schema is this module's)."""
    lines = [f"start = {toml_string(c.start_size)}"]
    if c.end_spec is not None:
        lines.append(f"end = {toml_string(c.end_spec)}")
    if c.create_options:
        lines.append(f"options = [{', '.join(toml_string(o) for o in c.create_options)}]")
    if c.prealloc is not None:
        lines.append(f"prealloc = {toml_string(c.prealloc)}")
    if c.shrink is not None:
        lines.append(f"shrink = {'true' if c.shrink else 'false'}")
    return lines
