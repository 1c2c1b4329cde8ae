"""A domain-aware shrink for differential runs: few runs, readable cases.

Hypothesis shrinks by trying hundreds of byte-level variants; against a candidate that
costs seconds a call that is minutes per finding. After the exploration, each failing
check's example is simplified greedily instead: drop create options, the prealloc and
shrink flags, then respell the sizes (plain bytes, a whole k/M, small round values),
keeping each change only while the same check still fails (rebase and commit: drop
writes, flags, the seed and -b, round the sizes: strategies_chain.chain_variants; amend
and measure: writes, options, round sizes: strategies_single).
Every try is one example run; the whole pass stops at its deadline with the simplest
failing example so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, MutableMapping

from toolkit.model.records import Case
from toolkit.model.sizes import MODERN, SizeError, parse_size
from toolkit.stages.fuzz.findings import simplicity
from toolkit.stages.fuzz.invariants import Verdict
from toolkit.stages.fuzz.strategies import FuzzExample, _validated
from toolkit.stages.fuzz.strategies_chain import chain_variants
from toolkit.stages.fuzz.strategies_single import amend_variants, measure_variants

__all__ = ["VARIANTS", "simplify", "simplify_all", "variants"]

ROUND = ("0", "512", "64k", "1M", "2M")


def _spellings(text: str) -> list[str]:
    """Simpler spellings of a size: its value in bytes, in whole k or M, round values."""
    try:
        value = parse_size(text, MODERN)
    except SizeError:
        return list(ROUND)
    out = [str(value)]
    for unit, suffix in ((1 << 20, "M"), (1 << 10, "k")):
        if value and value % unit == 0:
            out.insert(0, f"{value // unit}{suffix}")
    return [*out, *ROUND]


def variants(case: Case) -> Iterator[Case]:
    """Simpler cases than `case`, simplest changes first (each one still a valid case)."""
    opts, fmt = list(case.create_options), case.format
    if case.end_spec is None:  # a create case: its options, then its size
        tries_c = [[], *(opts[:i] + opts[i + 1 :] for i in range(len(opts)))] if opts else []
        simpler_c = [_validated(fmt, case.start_size, None, o, None, None) for o in tries_c]
        simpler_c += [_validated(fmt, s, None, opts, None, None)
                      for s in _spellings(case.start_size)]  # fmt: skip
        yield from (c for c in simpler_c if c is not None and simplicity(c) < simplicity(case))
        return
    end = case.end_spec
    sign = end[:1] if end[:1] in "+-" else ""
    tries: list[tuple[str, str, list[str], str | None, bool | None]] = []
    if opts:
        tries.append((case.start_size, end, [], case.prealloc, case.shrink))
        tries += [(case.start_size, end, opts[:i] + opts[i + 1 :], case.prealloc, case.shrink)
                  for i in range(len(opts))]  # fmt: skip
    if case.prealloc is not None:
        tries.append((case.start_size, end, opts, None, case.shrink))
    if case.shrink is not None:
        tries.append((case.start_size, end, opts, case.prealloc, None))
    tries += [(s, end, opts, case.prealloc, case.shrink) for s in _spellings(case.start_size)]
    tries += [(case.start_size, sign + s, opts, case.prealloc, case.shrink)
              for s in _spellings(end[len(sign):])]  # fmt: skip
    for start, e, o, prealloc, shrink in tries:
        simpler = _validated(fmt, start, e, o, prealloc, shrink)
        if simpler is not None and simplicity(simpler) < simplicity(case):
            yield simpler


# Each fuzz kind's simpler cases, by command; a kind without an entry keeps what
# hypothesis found (a differential run then reports its example as first found).
VARIANTS: dict[str, Callable[[Case], Iterator[Case]]] = {
    "resize": variants,
    "create": variants,
    "rebase": chain_variants,  # strategies_chain.py
    "commit": chain_variants,
    "amend": amend_variants,  # strategies_single.py
    "measure": measure_variants,
}


def simplify(
    example: FuzzExample, still_fails: Callable[[FuzzExample], bool], deadline: float
) -> FuzzExample:
    """The simplest variant of `example` that still fails, within the deadline."""
    simpler = VARIANTS.get(example.case.command)
    best, improved = example, simpler is not None
    while simpler is not None and improved and time.monotonic() < deadline:
        improved = False
        for case in simpler(best.case):
            if time.monotonic() >= deadline:
                break
            candidate = FuzzExample(case, best.size_text)
            if still_fails(candidate):
                best, improved = candidate, True
                break
    return best


def simplify_all(
    failing: MutableMapping[str, tuple[FuzzExample, list[Verdict]]],
    judge: Callable[[FuzzExample], list[Verdict]],
    deadline: float,
) -> None:
    """Simplify each failing check's example in place (`failing`: check -> example, verdicts).

    I5 is left as hypothesis shrank it: it is about the size string, which stays."""
    for check in sorted(set(failing) - {"I5"}):

        def still_fails(ex: FuzzExample, check: str = check) -> bool:
            failed = [v for v in judge(ex) if v.invariant == check and v.ok is False]
            if failed:
                failing[check] = (ex, failed)
            return bool(failed)

        simplify(failing[check][0], still_fails, deadline)
