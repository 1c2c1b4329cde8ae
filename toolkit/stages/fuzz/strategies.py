"""Hypothesis strategies for the fuzzer: resize and create cases, raw size strings, and
EXAMPLES, each fuzz kind's strategy by command (a kind of another command keeps its own
strategies in a module of its own and adds its line here).

Every case is built as a curated-case table and validated by `case_schema.parse_case`, so
a generated case obeys the same schema, option allow-list and disk-economy caps as the
curated matrix (and can be saved to a case file as is). Sizes in cases are spelled so
that every qemu-img era parses them the same way apart from the modelled LEGACY/MODERN
rounding: a leading digit, no hex, no exponent, at most 15 significant digits. The odd
spellings (hex, `.5k`, exponents, junk) live in size_strings.py, which feeds the I5 probe.

How examples are explored (profiles, database, shrinking): explore.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

from toolkit.baseline.caps import CAP_DEFAULT, CAP_MATERIALISED, cap_for
from toolkit.baseline.case_schema import parse_case
from toolkit.model.formats import FORMATS, PREALLOC_MODES, split_option_string
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case
from toolkit.model.rounding import created_size
from toolkit.model.sizes import GRAMMARS, parse_size
from toolkit.stages.fuzz.findings import case_name
from toolkit.stages.fuzz.size_strings import size_strings, sizes, spell, spelled
from toolkit.stages.fuzz.strategies_chain import commit_cases, rebase_cases
from toolkit.stages.fuzz.strategies_single import amend_cases, measure_cases

__all__ = [
    "EXAMPLES",
    "FuzzExample",
    "create_cases",
    "fuzz_examples",
    "resize_cases",
    "size_strings",
    "spell",
]

PREALLOCS: tuple[str | None, ...] = (None, *PREALLOC_MODES)
RESIZABLE = ("qcow2", "raw")


@dataclass(frozen=True)
class FuzzExample:
    """One hypothesis example: a resize case, and a raw size string for the grammar check."""

    case: Case
    size_text: str


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


def _resize_examples(formats: tuple[str, ...]) -> st.SearchStrategy[FuzzExample]:
    return st.builds(FuzzExample, resize_cases(formats), size_strings())


def _create_examples(formats: tuple[str, ...]) -> st.SearchStrategy[FuzzExample]:
    # no size string: I5 is resize-only (invariants.RESIZE_ONLY)
    return st.builds(FuzzExample, create_cases(formats), st.just(""))


def _chain_examples(
    cases: Callable[[tuple[str, ...]], st.SearchStrategy[Case]],
) -> Callable[[tuple[str, ...]], st.SearchStrategy[FuzzExample]]:
    return lambda formats: st.builds(FuzzExample, cases(formats), st.just(""))


# Each fuzz kind's examples (kinds.KINDS), by command: a strategy over the formats chosen.
EXAMPLES: dict[str, Callable[[tuple[str, ...]], st.SearchStrategy[FuzzExample]]] = {
    "resize": _resize_examples,
    "create": _create_examples,
    "rebase": _chain_examples(rebase_cases),  # strategies_chain.py
    "commit": _chain_examples(commit_cases),
    "amend": _chain_examples(amend_cases),  # strategies_single.py
    "measure": _chain_examples(measure_cases),
}


def fuzz_examples(
    formats: tuple[str, ...] = tuple(FORMATS), command: str = "resize"
) -> st.SearchStrategy[FuzzExample]:
    return EXAMPLES[command](formats)
