"""dd's `[[case]]` table: `format` is the output format (vhd writes `-O vpc`), `input` and
`start` the format and size of the input create makes, `operands` dd's window.

    [[case]]
    format = "vhd"
    name = "1M-raw-bs1000-count3-vhd"
    input = "raw"
    start = "1M"
    operands = ["bs=1000", "count=3"]

An operand is `bs=SIZE`, `count=N` or `skip=N`; `if=` and `of=` are the pipeline's.
dd writes every byte of its window (no zero detection: a 1M raw output allocates 1M), so
the input is capped at CAP_MATERIALISED, and so is `bs` (qemu-img allocates a buffer of
that size).
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.caps import CAP_MATERIALISED
from toolkit.baseline.schema_fields import Bad, Schema, choice, created_image, words
from toolkit.model.formats import FORMATS
from toolkit.model.scratch import MIB
from toolkit.model.sizes import SizeError, parse_size

__all__ = ["SCHEMA"]

OPERANDS = ("bs", "count", "skip")
CAP = f"{CAP_MATERIALISED // MIB}M"


def _operand(text: str, bad: Bad) -> None:
    key, eq, value = text.partition("=")
    if not eq or key not in OPERANDS:
        bad(
            f"operand {text!r}: use {', '.join(k + '=' for k in OPERANDS)} "
            "(if= and of= are the pipeline's)"
        )
    elif key == "bs":
        try:
            bs = parse_size(value)
        except SizeError as exc:
            bad(f"operand {text!r}: not a size qemu-img accepts: {exc}")
            return
        if bs > CAP_MATERIALISED:
            bad(f"operand {text!r}: bs is a buffer qemu-img allocates; keep it to {CAP}")
    elif not (value.isascii() and value.isdigit()):
        bad(f"operand {text!r}: {key} is a whole number of blocks")


def build(entry: dict[str, Any], bad: Bad) -> dict[str, Any]:
    input_format = choice(entry, "input", tuple(sorted(FORMATS)), bad)
    start, _ = created_image(entry, input_format or "raw", bad)
    if start:
        try:
            if parse_size(start) > CAP_MATERIALISED:
                bad(f"start {start!r}: dd writes every byte it copies; keep the input to {CAP}")
        except SizeError:
            pass  # reported by created_image
    operands = words(entry, "operands", bad)
    for text in operands:
        _operand(text, bad)
    return {
        "start_size": start,
        "params": {"input_format": input_format, "operands": operands},
    }


SCHEMA = Schema(frozenset({"start", "input", "operands"}), frozenset(FORMATS), build)
