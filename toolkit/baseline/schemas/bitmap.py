"""bitmap's `[[case]]` table: the image create makes (`start`, `options`) and `ops`, the
`qemu-img bitmap` calls made on it in order, each its flags then the bitmap's name.

    [[case]]
    format = "qcow2"
    name = "two-bitmaps"
    start = "1M"
    options = ["compat=1.1"]
    ops = [["--add", "b0"], ["--add", "-g", "131072", "b1"]]

A flag is an action (--add, --remove, --clear, --enable, --disable) or takes a value
(-g SIZE, --merge SOURCE, a bitmap of the same image). Flags that name another file or
change how the image is opened (-b, -F, -f, --image-opts, --object) are refused: the
pipeline names the image.
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.schema_fields import Bad, Schema, created_image
from toolkit.model.commands.bitmap import MAX_OPS
from toolkit.model.sizes import SizeError, parse_size

__all__ = ["SCHEMA"]

ACTIONS = frozenset({"--add", "--remove", "--clear", "--enable", "--disable"})
VALUED = frozenset({"-g", "--granularity", "--merge"})


def _name_ok(token: str) -> bool:
    return (
        bool(token)
        and token[0] != "-"
        and not any(c.isspace() for c in token)
        and ("/" not in token)
    )


def _op(op: Any, index: int, bad: Bad) -> tuple[str, ...] | None:
    where = f"ops[{index}]"
    if not isinstance(op, list) or len(op) < 2 or not all(isinstance(t, str) for t in op):
        bad(f'{where} must be a list of strings: flags, then the bitmap name, e.g. ["--add", "b0"]')
        return None
    *flags, name = op
    ok = _name_ok(name)
    if not ok:
        bad(f"{where}: the last word is the bitmap name, one word not starting with '-': {name!r}")
    i = 0
    while i < len(flags):
        flag = flags[i]
        if flag in VALUED:
            value = flags[i + 1] if i + 1 < len(flags) else None
            if value is None or not _name_ok(value):
                bad(f"{where}: {flag} needs a value before the bitmap name")
                ok = False
            elif flag != "--merge":
                try:
                    parse_size(value)
                except SizeError:
                    bad(f"{where}: {flag} {value!r} is not a size qemu-img accepts")
                    ok = False
            i += 2
            continue
        if flag not in ACTIONS:
            bad(
                f"{where}: flag {flag!r} is not allowed; allowed: "
                f"{', '.join(sorted(ACTIONS | VALUED))} (the pipeline names the image)"
            )
            ok = False
        i += 1
    if not any(f in ACTIONS or f == "--merge" for f in flags):
        bad(f"{where} names no action ({', '.join(sorted(ACTIONS))} or --merge)")
        ok = False
    return tuple(op) if ok else None


def build(entry: dict[str, Any], bad: Bad) -> dict[str, Any]:
    start, options = created_image(entry, str(entry.get("format")), bad)
    ops = entry.get("ops")
    if not isinstance(ops, list) or not 1 <= len(ops) <= MAX_OPS:
        bad(f'`ops` must be a list of 1 to {MAX_OPS} bitmap calls, e.g. [["--add", "b0"]]')
        ops = []
    checked = [_op(op, i, bad) for i, op in enumerate(ops)]
    return {
        "start_size": start,
        "create_options": options,
        "params": {"ops": tuple(op for op in checked if op is not None)},
    }


SCHEMA = Schema(frozenset({"start", "options", "ops"}), frozenset({"qcow2"}), build)
