"""Hypothesis strategies for amend and measure examples (amend_checks.py, measure_checks.py:
the checks they feed).

As for every kind, a case is built as a case table and validated by `case_schema.parse_case`
with the command's own schema, so an example is exactly a case `generate` records.

amend: a small qcow2 image (64k..3M) made with some of compat, lazy_refcounts,
refcount_bits and cluster_size, now and then data written into it (qemu-io), and an
amend that is a no-op (each option to the value the image has: A1) about a third of the
time, a change (compat up or down, lazy refcounts on or off, other refcount bits) most
of the rest, and now and then one qemu refuses (cluster_size, extended_l2 or
preallocation, which only create takes; lazy refcounts on a v2 image: A3).

measure: size mode only (`--size SIZE -O TARGET [-o OPT]...`, measure's case schema:
targets raw and qcow2), the options create takes for the target, at a size the checking
`create` may make (toolkit.baseline.caps: falloc/full write every byte).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from toolkit.baseline.caps import cap_for
from toolkit.baseline.case_schema import parse_case
from toolkit.model.commands.measure import SIZE_GROUP, TARGETS
from toolkit.model.formats import split_option_string
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case
from toolkit.stages.fuzz.amend_checks import NOOP_KEYS
from toolkit.stages.fuzz.findings import case_name, simplicity
from toolkit.stages.fuzz.size_strings import sizes
from toolkit.stages.fuzz.strategies_chain import image_size, image_writes, spell_bytes

__all__ = [
    "amend_case",
    "amend_cases",
    "amend_variants",
    "measure_case",
    "measure_cases",
    "measure_variants",
]

_ONLY_CREATE = ("cluster_size=64k", "cluster_size=4k", "extended_l2=on", "extended_l2=off",
                "preallocation=metadata", "compression_type=zlib")  # fmt: skip


def amend_case(start: str, options: list[str], amend: list[str], writes: Any = None) -> Case | None:
    """The amend case {start, options, amend, writes} (named from them), or None when the
    schema refuses it."""
    entry: dict[str, Any] = {"format": "qcow2", "start": start, "options": options}
    entry["amend"] = amend
    if writes:
        entry["writes"] = writes
    params = (("amend", tuple(amend)), ("writes", _freeze(writes)))
    entry["name"] = case_name("qcow2", start, None, tuple(options), None, None, params)
    case, _errors = parse_case(entry, COMMANDS["amend"], "<fuzz>")
    return case


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list | tuple) else value


@st.composite
def _created(draw: st.DrawFn) -> dict[str, str]:
    """create's options: a v2 image about a quarter of the time (16-bit refcounts only)."""
    opts: dict[str, str] = {}
    v2 = draw(st.integers(0, 3)) == 0
    if v2 or draw(st.booleans()):
        opts["compat"] = draw(st.sampled_from(("0.10", "v2") if v2 else ("1.1", "v3")))
    if not v2 and draw(st.booleans()):
        opts["lazy_refcounts"] = draw(st.sampled_from(("on", "off")))
    if not v2 and draw(st.integers(0, 2)) == 0:
        opts["refcount_bits"] = str(1 << draw(st.integers(0, 6)))
    if draw(st.integers(0, 3)) == 0:
        opts["cluster_size"] = draw(st.sampled_from(("4k", "64k", "512k")))
    return opts


@st.composite
def _amended(draw: st.DrawFn, have: dict[str, str]) -> dict[str, str]:
    """amend's options for an image with `have` (its options and create's defaults)."""
    v2 = have["compat"] in ("0.10", "v2")
    mode = draw(st.integers(0, 5))
    # Changing refcount_bits rewrites every refcount block (about 1 s a run, whatever the
    # image's size): drawn less often than the header-only changes.
    often = ("compat", "lazy_refcounts") * 3 + ("refcount_bits",)
    keys = draw(st.lists(st.sampled_from(often), min_size=1, max_size=2, unique=True))
    if mode <= 1:  # a no-op: each option to the value the image has (compat in either spelling)
        same = {"0.10": ("0.10", "v2"), "v2": ("0.10", "v2"), "1.1": ("1.1", "v3"),
                "v3": ("1.1", "v3")}  # fmt: skip
        return {k: draw(st.sampled_from(same[have[k]])) if k == "compat" else have[k] for k in keys}
    if mode == 5:  # refused by every version, whatever the image
        return dict(split_option_string(draw(st.sampled_from(_ONLY_CREATE))))
    out: dict[str, str] = {}
    for k in keys:
        if k == "compat":
            out[k] = draw(st.sampled_from(("1.1", "v3") if v2 else ("0.10", "v2")))
        elif k == "lazy_refcounts":
            out[k] = "off" if have[k] == "on" else "on"  # on a v2 image: refused
        else:
            out[k] = str(1 << draw(st.integers(0, 6)))
    return out


@st.composite
def amend_cases(draw: st.DrawFn, formats: tuple[str, ...] = ("qcow2",)) -> Case:
    size = draw(image_size())
    created = draw(_created())
    amend = draw(_amended({**NOOP_KEYS, **created}))
    options = [f"{k}={v}" for k, v in created.items()]
    pairs = [f"{k}={v}" for k, v in amend.items()]
    joined = draw(st.booleans())  # one "a=1,b=2" word or one word each: amend joins them
    writes = draw(image_writes(size))
    case = amend_case(spell_bytes(size), options, [",".join(pairs)] if joined else pairs, writes)
    if case is None:
        raise AssertionError(f"strategy built an invalid amend case: {size} {created} {amend}")
    return case


def _spell(size: int) -> str:
    """`64M`, `1536k` or plain bytes: one spelling every version parses alike."""
    return f"{size >> 20}M" if size and size % (1 << 20) == 0 else spell_bytes(size)


def measure_case(size: str, target: str, options: list[str]) -> Case | None:
    """The size-mode measure case (named from its inputs), or None when the schema refuses it."""
    entry: dict[str, Any] = {"format": SIZE_GROUP, "size": size, "target": target}
    if options:
        entry["options"] = options
    params = (("target", target),)
    entry["name"] = case_name(SIZE_GROUP, size, None, tuple(options), None, None, params)
    case, _errors = parse_case(entry, COMMANDS["measure-json"], "<fuzz>")
    return case


@st.composite
def _measure_options(draw: st.DrawFn, target: str) -> list[str]:
    prealloc = draw(st.sampled_from((None, "off", "metadata", "falloc", "full")))
    if target == "raw":
        return [] if prealloc in (None, "metadata") else [f"preallocation={prealloc}"]
    opts: dict[str, str] = {}
    if draw(st.booleans()):
        opts["cluster_size"] = _spell(1 << draw(st.integers(9, 21)))
    if prealloc is not None:
        opts["preallocation"] = prealloc
    if draw(st.integers(0, 3)) == 0:
        opts["refcount_bits"] = str(1 << draw(st.integers(0, 6)))
    if draw(st.integers(0, 3)) == 0:
        opts["compat"] = draw(st.sampled_from(("0.10", "1.1")))
    if draw(st.integers(0, 4)) == 0:
        opts["extended_l2"] = draw(st.sampled_from(("on", "off")))
    if draw(st.integers(0, 5)) == 0:
        opts["lazy_refcounts"] = "on"
    return [f"{k}={v}" for k, v in opts.items()]


@st.composite
def measure_cases(draw: st.DrawFn, formats: tuple[str, ...] = (SIZE_GROUP,)) -> Case:
    target = draw(st.sampled_from(TARGETS))
    options = draw(_measure_options(target))
    opts = {k: v for o in options for k, v in split_option_string(o)}
    cap, _why = cap_for(target, opts, None)
    size = draw(sizes(cap))
    case = measure_case(_spell(size), target, options)
    if case is None:
        raise AssertionError(f"strategy built an invalid measure case: {size} {target} {options}")
    return case


def _simpler(case: Case, tries: list[Case | None]) -> Iterator[Case]:
    yield from (c for c in tries if c is not None and simplicity(c) < simplicity(case))


def amend_variants(case: Case) -> Iterator[Case]:
    """Simpler amend cases than `case` (simplify.py): without its writes or one of them,
    without a create option or an amend word, at a round size."""
    options, amend = list(case.create_options), list(case.param("amend", ()))
    writes = [list(w) for w in case.param("writes") or ()]
    tries = [amend_case(case.start_size, options, amend, None)] if writes else []
    tries += [amend_case(case.start_size, options, amend, writes[:i] + writes[i + 1 :])
              for i in range(len(writes)) if len(writes) > 1]  # fmt: skip
    tries += [amend_case(case.start_size, options[:i] + options[i + 1 :], amend, writes or None)
              for i in range(len(options))]  # fmt: skip
    tries += [amend_case(case.start_size, options, amend[:i] + amend[i + 1 :], writes or None)
              for i in range(len(amend)) if len(amend) > 1]  # fmt: skip
    tries += [amend_case(size, options, amend, writes or None) for size in ("64k", "1M")]
    yield from _simpler(case, tries)


def measure_variants(case: Case) -> Iterator[Case]:
    """Simpler measure cases than `case`: without one of its options, at a round size."""
    options, target = list(case.param("options", ())), case.param("target")
    tries = [measure_case(case.param("size"), target, options[:i] + options[i + 1 :])
             for i in range(len(options))]  # fmt: skip
    tries += [measure_case(size, target, options) for size in ("0", "64k", "1M")]
    yield from _simpler(case, tries)
