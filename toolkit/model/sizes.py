"""qemu-img's size grammar, `[+-]N[.frac][suffix]`, as the real binaries parse it.

The grammar moved over time (util/cutils.c do_strtosz and qemu-img.c's resize;
each rule below was checked against the real 5.2.0 ... 11.1.3 binaries, see
README "Size grammar"). A Grammar is the set of rules one version follows;
`grammar_for(version)` derives it from the version each rule appeared in.

* < 6.0: the number goes through C `strtod`, so `1e3`, hex floats, `.5k` and
  `1e` (1 with the E suffix) are accepted; the product is a double, truncated.
* >= 6.0: a decimal integer, then an optional `.frac` kept as a 64-bit binary
  fraction (exponents refused), the product exact and rounded half up; a
  leading `0x` switches to hex, which takes no fraction.
  - hex with a suffix (`0x10M`) is still accepted (deprecated) before 8.0;
  - a fraction without integer digits (`.5k`) is refused before 8.1;
  - a fraction that strtod rounds to 1.0 (17 or more nines) carries into the
    integer from 8.1 (`0.99999999999999999k` is 1024, and with no suffix or `b`
    it is a whole 1 byte, accepted); before 8.1 the carry is lost (0 here).
* resize, >= 10.0 (upstream 10.1; Debian's 10.0 builds have it): a size
  argument starting with `-` is only a size when a digit follows; `-.5M` or
  `-+1M` reach getopt and fail as unknown options.

Always: suffixes b, k, M, G, T, P, E in either case (powers of 1024); no
suffix means bytes; a fraction needs a suffix other than b; leading blanks are
skipped, trailing ones are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import cache

from toolkit.model.versions import version_key

__all__ = [
    "GRAMMARS",
    "LEGACY",
    "MODERN",
    "RULE_SINCE",
    "SUFFIX_POWER",
    "EndSpec",
    "Grammar",
    "SizeError",
    "grammar_for",
    "parse_end_spec",
    "parse_size",
    "shrink_flag",
]

SUFFIX_POWER = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_C_SPACE = " \t\n\v\f\r"
_UINT64_LIMIT = 1 << 64


@dataclass(frozen=True)
class Grammar:
    """The size rules of one qemu-img version (True = the version follows that rule)."""

    fixed_point: bool  # 6.0: exact 64.64 fixed point instead of strtod
    hex_suffix_refused: bool  # 8.0: `0x10M` refused
    bare_fraction: bool  # 8.1: `.5k` accepted again
    fraction_carry: bool  # 8.1: a fraction rounding to 1.0 carries into the integer
    resize_dash_needs_digit: bool  # 10.0: resize's `-x` is an option unless x is a digit

    @property
    def name(self) -> str:
        on = [f.name for f in fields(self) if getattr(self, f.name)]
        return "+".join(on) or "strtod"


# The version each rule appeared in; grammar_for applies every rule at or below.
RULE_SINCE: dict[str, tuple[int, ...]] = {
    "fixed_point": (6, 0),
    "hex_suffix_refused": (8, 0),
    "bare_fraction": (8, 1),
    "fraction_carry": (8, 1),
    "resize_dash_needs_digit": (10, 0),
}


@cache
def grammar_for(version: str) -> Grammar:
    """The rules qemu-img `version` follows (an unparsable version gets the newest)."""
    v = version_key(version)
    return Grammar(**{rule: v >= since or v[0] < 0 for rule, since in RULE_SINCE.items()})


LEGACY = grammar_for("5.2")
MODERN = grammar_for("999")
# One grammar per era, oldest first: for tests and strategies that try them all.
GRAMMARS = tuple(
    dict.fromkeys(grammar_for(".".join(map(str, v))) for v in [(5, 2), *RULE_SINCE.values()])
)


class SizeError(ValueError):
    """The text is not a size qemu-img would accept."""


def _suffix_multiplier(char: str) -> int | None:
    power = SUFFIX_POWER.get(char.upper())
    return None if power is None else 1024**power


def _final_suffix(text: str, s: str, pos: int) -> int:
    """The multiplier of an optional suffix at s[pos], which must end the string."""
    mul = _suffix_multiplier(s[pos : pos + 1])
    end = pos if mul is None else pos + 1
    if end != len(s):
        raise SizeError(f"{text!r}: unexpected {s[end:]!r} (suffixes: b k M G T P E)")
    return mul or 1


def _parse_fixed_point(text: str, g: Grammar) -> int:
    s = text.lstrip(_C_SPACE)
    m = re.match(r"\+?([0-9]+)", s)
    if not m and g.bare_fraction:
        m = re.match(r"\+?()(?=\.[0-9])", s)
    if not m:
        raise SizeError(f"{text!r}: expected a number")
    pos = m.end()
    value = int(m.group(1) or "0")
    frac = 0.0
    if value == 0 and s[pos : pos + 1] in ("x", "X"):
        h = re.match(r"\+?0[xX]([0-9a-fA-F]+)", s)
        if not h:
            raise SizeError(f"{text!r}: hex number without digits")
        value, pos = int(h.group(1), 16), h.end()
        if s[pos : pos + 1] == ".":
            raise SizeError(f"{text!r}: a hex size takes no fraction")
        if g.hex_suffix_refused and _suffix_multiplier(s[pos : pos + 1]):
            raise SizeError(f"{text!r}: a hex size takes no suffix")
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
    valf = int(frac * 2.0**64)
    if frac == 1.0:  # 17+ nines: strtod rounded the fraction up to 1.0
        valf = 0  # before 8.1 the (uint64_t) cast of 2**64 gave 0: the carry was lost
        value += g.fraction_carry  # from 8.1 it carries: even `0.99999999999999999` is 1
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
    # float.fromhex reads a C hex float as strtod does: sign, and `p` exponent optional
    return (float.fromhex if re.match(r"[+-]?0[xX]", body) else float)(body), m.end()


def _parse_legacy(text: str) -> int:
    s = text.lstrip(_C_SPACE)
    value, pos = _strtod(s)
    mul = _final_suffix(text, s, pos)
    if mul == 1 and not value.is_integer():
        raise SizeError(f"{text!r}: a fraction needs a suffix (k, M, G, T, P or E)")
    product = value * mul
    # qemu refuses a product above nextafter(2**64, 0); no double lies in between
    if value < 0 or product >= 2.0**64:
        raise SizeError(f"{text!r}: out of range")
    return int(product)


def parse_size(text: str, grammar: Grammar = MODERN) -> int:
    """Bytes for an unsigned size string, or SizeError."""
    if grammar.fixed_point:
        return _parse_fixed_point(text, grammar)
    return _parse_legacy(text)


@dataclass(frozen=True)
class EndSpec:
    """resize's positional: an absolute size, or `+N` / `-N` relative to the current size."""

    sign: str  # "", "+" or "-"
    amount: int

    def final_size(self, current: int) -> int:
        """The size asked for, given the size the image has now (see pipeline.plan_for)."""
        if self.sign == "+":
            return current + self.amount
        if self.sign == "-":
            return current - self.amount
        return self.amount


def parse_end_spec(spec: str, grammar: Grammar = MODERN) -> EndSpec:
    """resize's size argument; qemu-img strips one leading sign before parsing the rest."""
    if grammar.resize_dash_needs_digit and spec[:1] == "-" and not spec[1:2].isdigit():
        raise SizeError(f"{spec!r}: qemu-img reads it as an option (no digit after '-')")
    sign = spec[:1] if spec[:1] in ("+", "-") else ""
    return EndSpec(sign, parse_size(spec[len(sign) :], grammar))


def shrink_flag(current: int, end: EndSpec, explicit: bool | None) -> bool:
    """Whether the harness passes --shrink: the case's word wins, else infer it from the
    size the image has now."""
    if explicit is not None:
        return explicit
    return end.sign == "-" or end.final_size(current) < current
