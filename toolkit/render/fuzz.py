"""The fuzz run's summary: rates, each invariant's tally, drift, notes and failures."""

from __future__ import annotations

from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING

from toolkit.render.printable import printable
from toolkit.render.words import plural
from toolkit.stages.fuzz.run import FuzzResult
from toolkit.stages.fuzz.session import CHECKS

if TYPE_CHECKING:  # strategies imports hypothesis: only when fuzzing
    from toolkit.stages.fuzz.strategies import FuzzExample

__all__ = ["example_text", "summary"]


def example_text(ex: FuzzExample) -> str:
    """An example in one line; a create case has only a format, a size and options, another
    command's case its size (if it has one) and its own data (Case.params: its table's keys,
    options too where the table has them)."""
    c = ex.case
    text = f"{c.format} start={c.start_size!r}"
    own = "".join(f" {k}={list(v) if isinstance(v, tuple) else v!r}" for k, v in c.params)
    if c.params:
        return f"{c.format}{f' start={c.start_size!r}' if c.start_size else ''}{own}"
    if c.end_spec is None:
        return f"{text} options={list(c.create_options)}{own}"
    return (f"{text} end={c.end_spec!r} options={list(c.create_options)} prealloc={c.prealloc}"
            f" shrink={c.shrink} size-string={ex.size_text!r}")  # fmt: skip


def summary(result: FuzzResult) -> str:
    """Examples and rates, each invariant's tally, drift and grammar notes, each failure."""
    session, elapsed, found, saved = result.session, result.elapsed, result.found, result.saved
    save_to = result.save_to
    lines: list[str] = []
    add = lines.append
    n, versions = session.examples, [b.version for b in session.binaries]
    rate = n / elapsed if elapsed else 0.0
    ref = session.reference
    if ref is not None:
        add(f"fuzz {session.spec.command}: candidate {session.binaries[0].path} against "
            f"qemu-img {ref.version}: "
            f"{n} examples in {elapsed:.1f} s: {rate:.1f} examples/s")  # fmt: skip
    else:
        on = plural(len(versions), "version")
        add(f"fuzz {session.spec.command}: {plural(n, 'example')} on {on} "
            f"({', '.join(versions)}) in {elapsed:.1f} s: {rate:.1f} examples/s, "
            f"{rate * len(versions):.1f} version-examples/s")  # fmt: skip
    if session.stopped:
        add(f"  stopped: {session.stopped}; findings so far are reported and saved")
    for inv, name in CHECKS.items():
        if inv in session.selected:
            t = {w: session.tally[inv, w] for w in ("passed", "failed", "n/a")}
            first = session.first_failure.get(inv)
            when = f" (first at example {first})" if first else ""
            add(
                f"  {inv} {name:<24} {t['passed']:>5} passed {t['failed']:>5} failed{when}"
                f" {t['n/a']:>5} n/a"
            )
    for key in sorted(session.notes):
        add(f"  grammar note ({session.notes[key].text!r}): {key}")
    for key in sorted(session.drift):
        add(f"  {key}")
    where = f" to {save_to}" if save_to else " (--no-save)"
    skipped = f", {len(found) - len(saved)} already recorded" if save_to else ""
    lost = session.unsaveable
    unsaved = f", {lost} not saveable (the case loader rejects the size)" if lost else ""
    # Findings of one case (drift in two of its steps) are saved as that one case.
    n_cases = len({(f.case.format, f.case.name) for f in saved})
    held = f" ({plural(len(saved), 'finding')})" if n_cases != len(saved) else ""
    add(
        f"findings: {len(session.failing)} invariant failures, {len(session.drift)} drift, "
        f"{len(session.notes)} grammar notes; cases saved: {n_cases}{held}{where}{skipped}{unsaved}"
    )
    for line in result.unrecordable:
        add(f"  not saved (generate could not record it): {line}")
    if saved and result.findings_type:
        command = session.spec.command
        cases = result.curated_cases
        where = "" if cases == Path("curated_cases") else f" --curated-cases {quote(str(cases))}"
        record = f"nox -s generate_{command}" if not where else \
            f"python -m toolkit generate {command}-discovered{where}"  # fmt: skip
        add(f"  next: `{record}` records them in {result.findings_type} (the curated "
            f"{command} matrix is unchanged); `python -m toolkit cases promote NAME{where}` "
            "moves one into it")  # fmt: skip
        if ref is not None:
            cand = quote(str(session.binaries[0].path))
            add(f"  then `python -m toolkit verify {command}-discovered{where} --candidate "
                f"{cand} --candidate-version {ref.version}` replays them")  # fmt: skip
    who = "the candidate against qemu-img " if ref is not None else ""
    for inv in sorted(session.failing):
        ex, failed = session.failing[inv]
        add(
            f"FAILED {inv} {CHECKS[inv]} on {who}{failed[0].version}: {failed[0].detail}\n"
            f"  example: {example_text(ex)}"
        )
    return printable("\n".join(lines) + "\n")  # details quote what a candidate printed
