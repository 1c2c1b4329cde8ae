"""Sizes and their spellings: byte counts (mostly round), spelled with a suffix or as a
decimal, for the cases strategies.py builds; and size strings for resize's I5 grammar
probe: valid and near-valid spellings (hex, `.5k`, exponents, signs, junk) and small
mutations of them."""

from __future__ import annotations

from decimal import Context, Decimal

from hypothesis import strategies as st

from toolkit.model.sizes import SUFFIX_POWER

__all__ = ["size_strings", "sizes", "spell", "spelled"]

SUFFIXES = "bBkKmMgGtTpPeE"


def spell(value: int, suffix: str, digits: int = 15) -> str:
    """`value` bytes written with `suffix`: exact when it divides, else a decimal fraction."""
    power = SUFFIX_POWER[suffix.upper()] if suffix else 0
    mul = 1024**power
    if value % mul == 0:
        return f"{value // mul}{suffix}"
    if power == 0:  # a fraction needs a suffix other than b
        return str(value)
    q = Context(prec=digits).divide(Decimal(value), Decimal(mul))
    text = format(q, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}{suffix}"


def sizes(cap: int, least: int = 0) -> st.SearchStrategy[int]:
    """Byte counts in least..cap: round numbers mostly, odd ones sometimes."""
    common = [0, 512, 1024, 65536, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20]
    options = [st.sampled_from([c for c in common if least <= c <= cap] or [least])]
    for step in (65536, 512):
        lo, hi = -(-least // step), cap // step
        if lo <= hi:
            options.append(st.integers(lo, hi).map(step.__mul__))
    return st.one_of(*options, st.integers(least, max(least, cap)))


@st.composite
def spelled(draw: st.DrawFn, value: int) -> str:
    """`value` spelled with a suffix that divides it (mostly), or as a decimal of any suffix."""
    exact = [s for s in SUFFIXES if value % 1024 ** SUFFIX_POWER[s.upper()] == 0]
    if draw(st.booleans()):
        return spell(value, draw(st.sampled_from(["", *exact])))
    suffix = draw(st.sampled_from(("", *SUFFIXES)))
    return spell(value, suffix, draw(st.integers(3, 15)))


_NEAR = st.sampled_from(
    [".5k", "+.5k", "0x10", "0x10M", "0X1b", "0x1p4", "1e3", "1e", "1.5e", "1.5e1M", "1.k",
     "1.", ".", "1..5M", "1.5", "1.5b", "0.0005k", "0.9999999999999999999999k",
     "1.9999999999999999999k", "9223372036854775807", "9223372036854775808",
     "18446744073709551615", "18446744073709551616", "16E", "15.9999999999E", "8E",
     " 4M", "4M ", "\t1", "1 M", "1MM", "1kB", "-0", "+-1M", "-+1M", "++1M", "--1M", "- 1M",
     "-.5M", "", "+", "-", "M", "inf", "nan", "1_000", "1,5M", "012", "0012k"]
)  # fmt: skip
_ALPHABET = "0123456789.+- xXeEbBkKmMgGtTpP,_\t"


@st.composite
def size_strings(draw: st.DrawFn) -> str:
    """Valid and near-valid size strings: signed spellings, known edge cases, mutations."""
    kind = draw(st.integers(0, 4))
    if kind <= 1:
        sign = draw(st.sampled_from(("", "", "+", "-")))
        return sign + draw(spelled(draw(sizes(1 << 40))))
    if kind == 2:
        return draw(_NEAR)
    base = draw(st.one_of(_NEAR, spelled(draw(sizes(1 << 30)))))
    if kind == 3 and base:  # one small mutation of something almost right
        i = draw(st.integers(0, len(base) - 1))
        ch = draw(st.sampled_from(_ALPHABET))
        return draw(st.sampled_from((base[:i] + ch + base[i + 1 :], base[:i] + ch + base[i:])))
    return draw(st.text(alphabet=_ALPHABET, max_size=10))
