"""Hypothesis strategies for the fuzzer: resize and create cases, raw size strings, and
EXAMPLES, each fuzz kind's strategy by command (a kind of another command keeps its own
strategies in a module of its own and adds its line here).

Every case is built as a curated-case table and validated by `case_schema.parse_case`, so
a generated case obeys the same schema, option allow-list and disk-economy caps as the
curated matrix (and can be saved to a case file as is). Sizes in cases are spelled so
that every qemu-img era parses them the same way apart from the modelled LEGACY/MODERN
rounding: a leading digit, no hex, no exponent, at most 15 significant digits. The odd
spellings (hex, `.5k`, exponents, junk) live in `size_strings`, which feeds the I5 probe.

How examples are explored (profiles, database, shrinking): explore.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal

from hypothesis import strategies as st

from toolkit.baseline.caps import CAP_DEFAULT, CAP_MATERIALISED, cap_for
from toolkit.baseline.case_schema import parse_case
from toolkit.model.formats import FORMATS, PREALLOC_MODES, split_option_string
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case
from toolkit.model.rounding import created_size
from toolkit.model.sizes import GRAMMARS, SUFFIX_POWER, parse_size
from toolkit.stages.fuzz.findings import case_name

__all__ = [
    "EXAMPLES",
    "FuzzExample",
    "create_cases",
    "fuzz_examples",
    "resize_cases",
    "size_strings",
    "spell",
]

SUFFIXES = "bBkKmMgGtTpPeE"
PREALLOCS: tuple[str | None, ...] = (None, *PREALLOC_MODES)
RESIZABLE = ("qcow2", "raw")


@dataclass(frozen=True)
class FuzzExample:
    """One hypothesis example: a resize case, and a raw size string for the grammar check."""

    case: Case
    size_text: str


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


_QCOW2_REJECTED = (
    ("extended_l2=on", "cluster_size=4k"),  # extended L2 needs clusters of at least 16k
    ("compat=0.10", "lazy_refcounts=on"),  # lazy refcounts need compat 1.1
    ("compat=0.10", "refcount_bits=8"),  # v2 images only have 16-bit refcounts
    ("cluster_size=3k",),  # not a power of two
    ("cluster_size=4M",),  # above the 2M maximum
    ("refcount_bits=128",),
)


@st.composite
def qcow2_options(draw: st.DrawFn) -> list[str]:
    if draw(st.integers(0, 9)) == 0:
        return list(draw(st.sampled_from(_QCOW2_REJECTED)))
    opts: dict[str, str] = {}
    v2 = draw(st.booleans()) and draw(st.booleans())
    if v2 or draw(st.booleans()):
        opts["compat"] = draw(st.sampled_from(("0.10", "v2") if v2 else ("1.1", "v3")))
    cluster = 1 << draw(st.integers(9, 21))
    if draw(st.booleans()):
        opts["cluster_size"] = draw(spelled(cluster))
    if draw(st.booleans()):
        opts["refcount_bits"] = "16" if v2 else str(1 << draw(st.integers(0, 6)))
    if not v2 and draw(st.booleans()):
        opts["lazy_refcounts"] = draw(st.sampled_from(("on", "off")))
    if not v2 and draw(st.booleans()):
        on = draw(st.booleans())
        opts["extended_l2"] = "on" if on else "off"
        if on and cluster < 16384:
            opts["cluster_size"] = draw(st.sampled_from(("16k", "64k", "1M")))
    pairs = [f"{k}={v}" for k, v in opts.items()]
    joined = draw(st.booleans())  # one -o "a=1,b=2" instead of one -o per option
    return [",".join(pairs)] if pairs and joined else pairs


@st.composite
def create_options(draw: st.DrawFn, fmt: str) -> list[str]:
    """`-o` strings valid for the format; now and then a combination qemu rejects."""
    if fmt == "qcow2":
        return draw(qcow2_options())
    if fmt == "vhd":
        opts = []
        if draw(st.booleans()):
            opts.append(f"subformat={draw(st.sampled_from(('dynamic', 'fixed', 'bogus')))}")
        if draw(st.integers(0, 3)) == 0:
            opts.append(f"force_size={draw(st.sampled_from(('on', 'off')))}")
        return opts
    if fmt == "vhdx" and draw(st.booleans()):
        valid = [f"{1 << n}M" for n in range(9)]
        return [f"block_size={draw(st.sampled_from([*valid, '0', '3M', '512k']))}"]
    return []


@st.composite
def resize_cases(draw: st.DrawFn, formats: tuple[str, ...] = tuple(FORMATS)) -> Case:
    """A valid curated resize case (parse_case-checked), named by `case_name`."""
    # Only qcow2 and raw resize at all: they get most of the examples.
    fmt = draw(st.sampled_from([f for f in formats for _ in range(3 if f in RESIZABLE else 1)]))
    options = draw(create_options(fmt))
    prealloc = draw(st.sampled_from(PREALLOCS))
    materialised = prealloc in ("falloc", "full") or "subformat=fixed" in ",".join(options)
    opts = dict(kv for o in options for kv in split_option_string(o))  # metadata: its own cap
    cap = min(CAP_MATERIALISED if materialised else CAP_DEFAULT, cap_for(fmt, opts, prealloc)[0])
    # vhdx of size 0 writes 8 whole blocks (65M by default, 2G with block_size=256M)
    start = draw(sizes(cap, least=1 if fmt == "vhdx" else 0))
    shrink = draw(st.sampled_from((None, None, None, None, False, False, True)))
    kind = draw(st.sampled_from("=+-"))
    if shrink is False and start and draw(st.integers(0, 3)):  # a rejection case (I2)
        kind = draw(st.sampled_from("=-"))
        amount = draw(sizes(start - 1) if kind == "=" else sizes(start, least=1))
    elif kind == "=":
        amount = draw(sizes(cap))
    elif kind == "+":  # from the size create made (vhd: its CHS geometry), as plan_for has it
        amount = draw(sizes(max(0, cap - created_size(fmt, options, start))))
    else:  # now and then past zero: a legitimate rejection case
        amount = draw(st.one_of(sizes(start), st.integers(start, start + 65536)))
    sign = kind.strip("=")
    start_text, end_text = draw(spelled(start)), sign + draw(spelled(amount))
    if fmt == "vhdx" and min(parse_size(start_text, g) for g in GRAMMARS) == 0:
        start_text = str(start)  # LEGACY truncates a rounded fraction to 0: keep the bytes
    case = _validated(fmt, start_text, end_text, options, prealloc, shrink)
    if case is None:  # a decimal spelling rounded past a cap: fall back to exact bytes
        case = _validated(fmt, str(start), f"{sign}{amount}", options, prealloc, shrink)
    if case is None:
        raise AssertionError(f"strategy built an invalid case: {fmt} {start} {sign}{amount}")
    return case


# create-only -o options (resize cases use resize's --preallocation flag instead);
# vmdk's flat and split subformats and vhdx's fixed one write whole extents: left out.
_CREATE_EXTRA: dict[str, tuple[tuple[str, ...], ...]] = {
    "qcow2": ((), ("preallocation=metadata",), ("preallocation=falloc",),
              ("compression_type=zstd",), ("compression_type=zlib",)),
    "raw": ((), ("preallocation=off",), ("preallocation=falloc",), ("preallocation=full",)),
    "vmdk": ((), ("subformat=streamOptimized",), ("subformat=monolithicSparse",),
             ("adapter_type=lsilogic",), ("zeroed_grain=on",)),
    "vhdx": ((), ("block_state_zero=off",)),
}  # fmt: skip


@st.composite
def create_cases(draw: st.DrawFn, formats: tuple[str, ...] = tuple(FORMATS)) -> Case:
    """A valid curated create case (parse_case-checked), within its format's cap."""
    fmt = draw(st.sampled_from(formats))
    options = [*draw(create_options(fmt)), *draw(st.sampled_from(_CREATE_EXTRA.get(fmt, ((),))))]
    cap, _why = cap_for(fmt, {k: v for o in options for k, v in split_option_string(o)}, None)
    size = draw(sizes(cap, least=1 if fmt == "vhdx" else 0))
    text = draw(spelled(size))
    if fmt == "vhdx" and min(parse_size(text, g) for g in GRAMMARS) == 0:
        text = str(size)  # LEGACY truncates a rounded fraction to 0: keep the bytes
    case = _validated(fmt, text, None, options, None, None)
    case = case or _validated(fmt, str(size), None, options, None, None)
    if case is None:
        raise AssertionError(f"strategy built an invalid create case: {fmt} {size} {options}")
    return case


def _validated(
    fmt: str,
    start: str,
    end: str | None,  # None: a create case
    options: list[str],
    prealloc: str | None,
    shrink: bool | None,
) -> Case | None:
    entry: dict[str, object] = {"format": fmt, "start": start, "options": options}
    entry["name"] = case_name(fmt, start, end, tuple(options), prealloc, shrink)
    if end is not None:
        entry["end"] = end
    if prealloc is not None:
        entry["prealloc"] = prealloc
    if shrink is not None:
        entry["shrink"] = shrink
    case, _errors = parse_case(entry, COMMANDS["create" if end is None else "resize"], "<fuzz>")
    return case


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


def _resize_examples(formats: tuple[str, ...]) -> st.SearchStrategy[FuzzExample]:
    return st.builds(FuzzExample, resize_cases(formats), size_strings())


def _create_examples(formats: tuple[str, ...]) -> st.SearchStrategy[FuzzExample]:
    # no size string: I5 is resize-only (invariants.RESIZE_ONLY)
    return st.builds(FuzzExample, create_cases(formats), st.just(""))


# Each fuzz kind's examples (kinds.KINDS), by command: a strategy over the formats chosen.
EXAMPLES: dict[str, Callable[[tuple[str, ...]], st.SearchStrategy[FuzzExample]]] = {
    "resize": _resize_examples,
    "create": _create_examples,
}


def fuzz_examples(
    formats: tuple[str, ...] = tuple(FORMATS), command: str = "resize"
) -> st.SearchStrategy[FuzzExample]:
    return EXAMPLES[command](formats)
