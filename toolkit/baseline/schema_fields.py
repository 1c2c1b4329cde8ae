"""The case schema of a command beyond resize and create: which keys its `[[case]]` tables
hold, and the small validators every such schema is made of.

A command module (toolkit/baseline/schemas/<command>.py) declares one `Schema`: its own
keys, the `format` values it takes, and `build`, which reads the table through the
validators here and returns the Case's fields. case_schema.parse_case checks what every
case has (name, format, comment, unknown keys) and reports every problem of the table at
once, as it does for resize and create.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolkit.baseline.caps import check_caps, check_options
from toolkit.model.sizes import SizeError, parse_size

__all__ = ["Bad", "Schema", "choice", "created_image", "flag", "size", "word", "words"]

# Records one problem of the table being read (the caller prefixes file and case).
Bad = Callable[[str], None]


@dataclass(frozen=True)
class Schema:
    """How a command's tables are read, and (case_schema.case_table) written back.

    The one rule that makes both ways agree: `build` puts each key of the table other
    than `size_key` into params under that very key, with the table's value (None when
    the key is absent), so a Case's params are its table (fuzz findings are saved so).
    """

    keys: frozenset[str]  # the command's own keys (besides format, name and comment)
    formats: frozenset[str]  # the `format` values a case may have
    # The table -> the Case's fields: start_size, create_options and params (a dict; lists
    # become tuples). Problems go to `bad`; the Case is not built when there is any.
    build: Callable[[dict[str, Any], Bad], dict[str, Any]]
    # Bytes the command's scratch file names add around the case name (rebase names its
    # images `<format>-<case>-overlay.<format>`), so a case's longest name still fits.
    name_room: int = 0
    size_key: str | None = "size"  # the key that is Case.start_size (None: it has none)


def size(entry: dict[str, Any], key: str, bad: Bad, required: bool = True) -> str | None:
    """A size string qemu-img accepts (`1M`), or None (absent and not required, or bad)."""
    text = entry.get(key)
    if text is None and not required:
        return None
    if not isinstance(text, str) or not text.strip():
        bad(f'`{key}` must be a non-empty size string such as "1M"')
        return None
    try:
        parse_size(text)
    except SizeError as exc:
        bad(f"{key} {text!r} is not a size qemu-img accepts: {exc}")
        return None
    return text


def word(entry: dict[str, Any], key: str, bad: Bad, required: bool = True) -> str | None:
    """A non-empty string without whitespace or '/' (it may reach argv or a file name)."""
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or any(c.isspace() for c in value) or "/" in value:
        bad(f"`{key}` must be one word (no spaces, no '/'), got {value!r}")
        return None
    return value


def words(
    entry: dict[str, Any], key: str, bad: Bad, default: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """A list of strings (argv words); absent: `default`."""
    value = entry.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad(f'`{key}` must be a list of strings, e.g. ["-u", "-F", "qcow2"]')
        return default
    return tuple(value)


def choice(
    entry: dict[str, Any], key: str, choices: tuple[str, ...], bad: Bad, required: bool = True
) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if value not in choices:
        bad(f"`{key}` must be one of {', '.join(choices)}, got {value!r}")
        return None
    return str(value)


def flag(entry: dict[str, Any], key: str, bad: Bad) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        bad(f"`{key}` must be true or false")
        return False
    return value


def created_image(
    entry: dict[str, Any], fmt: str, bad: Bad, size_key: str = "start", options_key: str = "options"
) -> tuple[str, tuple[str, ...]]:
    """The size and `-o` options of an image the command creates in `fmt` (create's
    `start` and `options`): options on the format's allow-list, reaching no host file,
    and a size within the format's cap (toolkit.baseline.caps)."""
    text = size(entry, size_key, bad)
    options = words(entry, options_key, bad)
    check_options(fmt, list(options), bad)
    if text is not None:
        check_caps(fmt, list(options), None, parse_size(text), None, bad)
    return text or "", options
