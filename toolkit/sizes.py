"""qemu-img's size grammar, `[+-]N[.frac][suffix]`, as the real binaries parse it.

Two grammars exist in the versions we record (checked against the real
binaries; see README "Size grammar"):

* MODERN (qemu >= 6.0, util/cutils.c do_strtosz after the 64-bit precision
  rework): the integral part is parsed as a decimal integer (a leading `0x`
  switches to hex, which then takes no fraction and no suffix); an optional
  `.frac` is kept as a 64-bit binary fraction; exponents are rejected; the
  product is exact and rounded half up.
* LEGACY (qemu < 6.0): the whole number goes through C `strtod`, so `1e3`,
  hex floats and `1e` (= 1 with the E suffix) are accepted; the product is
  computed in double precision and truncated.

In both, suffixes are case-insensitive: b, k, M, G, T, P, E (powers of 1024);
no suffix means bytes; a fraction needs a suffix other than b.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

SUFFIX_POWER = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_C_SPACE = " \t\n\v\f\r"
_UINT64_LIMIT = 1 << 64
INT64_MAX = (1 << 63) - 1


class Grammar(Enum):
    MODERN = "modern"
    LEGACY = "legacy"


class SizeError(ValueError):
    """The text is not a size qemu-img would accept."""


def grammar_for(version: str) -> Grammar:
    """The grammar a qemu-img version uses (the switch happened in 6.0)."""
    try:
        major = int(version.split(".")[0])
    except ValueError:
        return Grammar.MODERN
    return Grammar.LEGACY if major < 6 else Grammar.MODERN


def _suffix_multiplier(char: str) -> int | None:
    power = SUFFIX_POWER.get(char.upper()) if char else None
    return None if power is None else 1024**power


def _final_suffix(text: str, s: str, pos: int) -> int:
    """The multiplier of an optional suffix at s[pos], which must end the string."""
    mul = _suffix_multiplier(s[pos : pos + 1])
    end = pos if mul is None else pos + 1
    if end != len(s):
        raise SizeError(f"{text!r}: unexpected {s[end:]!r} (suffixes: b k M G T P E)")
    return mul or 1


def _parse_modern(text: str) -> int:
    s = text.lstrip(_C_SPACE)
    m = re.match(r"\+?([0-9]+)", s)
    if not m:
        raise SizeError(f"{text!r}: expected a number")
    pos = m.end()
    value = int(m.group(1))
    frac = 0.0
    if value == 0 and s[pos : pos + 1] in ("x", "X"):
        h = re.match(r"\+?0[xX]([0-9a-fA-F]+)", s)
        if not h:
            raise SizeError(f"{text!r}: hex number without digits")
        value, pos = int(h.group(1), 16), h.end()
        if s[pos : pos + 1] == "." or _suffix_multiplier(s[pos : pos + 1]):
            raise SizeError(f"{text!r}: a hex size takes no fraction and no suffix")
    elif s[pos : pos + 1] == ".":
        f = re.match(r"\.[0-9]+([eE][+-]?[0-9]+)?", s[pos:])
        if f is None:
            pos += 1  # "1.k": a bare point is skipped
        elif f.group(1):
            raise SizeError(f"{text!r}: exponents are not accepted")
        else:
            frac = float(f.group(0))
            pos += f.end()
    mul = _final_suffix(text, s, pos)
    # qemu keeps the fraction as a 64-bit fixed-point number; do exactly the same.
    valf = int(frac * 2.0**64) if frac else 0
    if mul == 1:
        if valf:
            raise SizeError(f"{text!r}: a fraction needs a suffix (k, M, G, T, P or E)")
        result = value
    else:
        result = value * mul + ((valf * mul) >> 64) + (((valf * mul) >> 63) & 1)
    if result >= _UINT64_LIMIT:
        raise SizeError(f"{text!r}: too large")
    return result


_STRTOD = re.compile(
    r"[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
)


def _strtod(s: str) -> tuple[float, int]:
    if re.match(r"[+-]?(inf|nan)", s, re.IGNORECASE):
        raise SizeError(f"{s!r}: not a finite number")
    m = _STRTOD.match(s)
    if not m:
        raise SizeError(f"{s!r}: expected a number")
    body = m.group(0)
    if re.match(r"[+-]?0[xX]", body):
        sign = -1.0 if body.startswith("-") else 1.0
        digits = body.lstrip("+-")
        if not re.search(r"[pP]", digits):
            digits += "p0"
        return sign * float.fromhex(digits), m.end()
    return float(body), m.end()


def _parse_legacy(text: str) -> int:
    s = text.lstrip(_C_SPACE)
    value, pos = _strtod(s)
    mul = _final_suffix(text, s, pos)
    if mul == 1 and math.modf(value)[0] != 0:
        raise SizeError(f"{text!r}: a fraction needs a suffix (k, M, G, T, P or E)")
    product = value * mul
    if value < 0 or product > math.nextafter(2.0**64, 0):
        raise SizeError(f"{text!r}: out of range")
    return int(product)


def parse_size(text: str, grammar: Grammar = Grammar.MODERN) -> int:
    """Bytes for an unsigned size string, or SizeError."""
    if grammar is Grammar.LEGACY:
        return _parse_legacy(text)
    return _parse_modern(text)


@dataclass(frozen=True)
class EndSpec:
    """resize's positional: an absolute size, or `+N` / `-N` relative to the current size."""

    sign: str  # "", "+" or "-"
    amount: int

    def final_size(self, start: int) -> int:
        if self.sign == "+":
            return start + self.amount
        if self.sign == "-":
            return start - self.amount
        return self.amount


def parse_end_spec(spec: str, grammar: Grammar = Grammar.MODERN) -> EndSpec:
    # qemu-img strips one leading sign itself before parsing the rest as a size.
    sign = spec[:1] if spec[:1] in ("+", "-") else ""
    return EndSpec(sign, parse_size(spec[len(sign) :], grammar))


def shrink_flag(start: int, end: EndSpec, explicit: bool | None) -> bool:
    """Whether the harness passes --shrink: the case's word wins, else infer it."""
    if explicit is not None:
        return explicit
    return end.sign == "-" or end.final_size(start) < start


def format_size(n: int) -> str:
    """The shortest exact spelling with a suffix (used for names of generated cases)."""
    for suffix in "EPTGMK":
        mul = 1024 ** SUFFIX_POWER[suffix]
        if n and n % mul == 0:
            return f"{n // mul}{suffix}"
    return str(n)
