"""verify's Outcome as a terminal summary and as the --report JSON."""

from __future__ import annotations

from collections import Counter
from typing import Any

from toolkit.model.errors import EXIT_OK
from toolkit.render.printable import printable
from toolkit.render.words import plural
from toolkit.stages.verify.candidate_report import pattern
from toolkit.stages.verify.outcome import CaseOutcome, Outcome

__all__ = ["overall", "report", "reports", "summaries", "summary", "unrecorded_line"]

SHOW_PER_CHECK = 20  # offline problems printed per check; --report has them all
SHOW_DIFF_LINES = 60  # difference lines printed per case or pattern; --report has more


def shown_differences(differences: list[str]) -> list[str]:
    """A case's difference lines as the terminal shows them: the first SHOW_DIFF_LINES."""
    more = len(differences) - SHOW_DIFF_LINES
    if more <= 0:
        return differences
    return [*differences[:SHOW_DIFF_LINES], f"... and {more} more lines (see --report)"]


def summary(out: Outcome) -> str:
    """The terminal summary: offline problems, the run, each difference, the verdict."""
    lines: list[str] = []
    add = lines.append
    off = out.offline
    versions = (
        f"{plural(len(out.versions), 'version')}: {', '.join(out.versions)}"
        if out.versions
        else "nothing recorded yet"
    )
    add(f"verify {out.spec.name}: {out.root} ({versions})")
    add(
        f"offline: {plural(off.triples, 'triple')} checked: {plural(len(off.errors), 'error')}, "
        f"{plural(len(off.warnings), 'warning')}; version-map: {off.version_map}"
    )
    if off.unrecorded:
        add(unrecorded_line(out))
    shown: Counter[str] = Counter()
    for p in off.problems:
        shown[p.check] += 1
        if shown[p.check] <= SHOW_PER_CHECK:
            add(f"  {'warning' if p.warning else 'error'} [{p.check}] {p.where}: {p.message}")
    for check, n in sorted(shown.items()):
        if n > SHOW_PER_CHECK:
            add(f"  ... and {n - SHOW_PER_CHECK} more [{check}] (see --report)")
    if out.mode != "offline":
        tally = ", ".join(f"{n} {s}" for s, n in out.counts.items() if n or s == "pass")
        add(
            f"{out.mode}: {plural(len(out.ran), 'version')}, {plural(len(out.cases), 'case')} "
            f"in {out.seconds or 0:.1f} s: {tally}"
        )
    if out.candidate:
        add(f"  candidate: {out.candidate['path']}, held to {out.candidate['version']}")
    for v, why in out.not_run.items():
        add(f"  not run: {v}: {why}")
    for b in out.without_baselines:
        add(f"  binary without baselines: {b.version} ({b.path})")
    for note in out.notes:
        add(f"  note: {note}")
    for c in out.cases:
        if c.status in ("skip", "gap"):
            add(f"  {c.status} {c.label}: {c.reason}")
    if out.candidate:
        lines += candidate_patterns(out)
    for c in out.cases if not out.candidate else []:
        if c.status != "diff":
            continue
        where = "rewritten in the tree" if c.updated else f"obtained: {c.obtained}.*"
        add(f"diff {c.label}: {c.reason} ({where})")
        for line in shown_differences(c.differences):
            add(f"    {line}")
    updated = sum(c.updated for c in out.cases)
    if updated:
        add(f"--update: rewrote {plural(updated, 'baseline')} from what was obtained")
    verdict = "OK" if out.exit_code == EXIT_OK else "FAILED"
    add(
        f"{verdict}: {plural(len(off.errors), 'offline error')}, "
        f"{plural(len(out.failures), 'case')} differing"
    )
    # What a candidate or qemu-img printed is quoted here: never raw escape sequences.
    return printable("\n".join(lines) + "\n")


SHOW_CASES = 8  # case names listed per pattern; --report has them all


def candidate_patterns(out: Outcome) -> list[str]:
    """Candidate diffs grouped by pattern, most cases first: the differences once, the
    cases, and the commands that reproduce the first of them."""
    groups: dict[tuple[Any, ...], list[CaseOutcome]] = {}
    for c in out.cases:
        if c.status == "diff":
            groups.setdefault(pattern(c.records) or (c.reason,), []).append(c)
    lines: list[str] = []
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0].label))
    for n, group in enumerate(ordered, start=1):
        first = group[0]
        by_format = Counter(c.format for c in group)
        formats = ", ".join(f"{f} x{k}" for f, k in sorted(by_format.items()))
        lines.append(f"diff pattern {n}: {plural(len(group), 'case')} ({formats}): {first.reason}")
        lines += [f"    {line}" for line in shown_differences(first.differences)]
        names = [c.case for c in group]
        more = f" and {len(names) - SHOW_CASES} more" if len(names) > SHOW_CASES else ""
        lines.append(f"  cases: {', '.join(names[:SHOW_CASES])}{more}")
        lines.append(f"  reproduce {first.label} (obtained: {first.obtained}.*):")
        lines += [f"    {cmd}" for cmd in first.reproduce]
    return lines


def unrecorded_line(out: Outcome) -> str:
    """Findings fuzz saved that generate has not recorded: one line, one command."""
    n = out.offline.unrecorded_findings
    return (
        f"{plural(n, 'finding')} not yet recorded: run `nox -s generate_{out.spec.command}` "
        "(not an error: verify checks what is recorded)"
    )


def overall(outs: list[Outcome]) -> str:
    """One line for a run over several output types: each type's verdict."""
    parts = []
    for out in outs:
        if not out.all_cases:
            parts.append(f"{out.spec.name}: no findings")
            continue
        verdict = "OK" if out.exit_code == EXIT_OK else "FAILED"
        n = out.offline.unrecorded_findings
        parts.append(f"{out.spec.name} {verdict}" + (f" ({n} not yet recorded)" if n else ""))
    verdict = "OK" if all(o.exit_code == EXIT_OK for o in outs) else "FAILED"
    return f"verify {verdict}: " + ", ".join(parts) + "\n"


def summaries(outs: list[Outcome]) -> str:
    """Each type's summary (a type without cases in one line), then the overall line."""
    text = "".join(
        summary(o) if o.all_cases else f"verify {o.spec.name}: no findings ({o.empty_reason})\n"
        for o in outs
    )
    return text + (overall(outs) if len(outs) > 1 else "")


def reports(outs: list[Outcome]) -> dict[str, Any]:
    """The --report JSON: every type verified, with its own report."""
    ok = all(o.exit_code == EXIT_OK for o in outs)
    return {
        "ok": ok,
        "exit_code": max(o.exit_code for o in outs),
        "types": [report(o) for o in outs],
    }


def report(out: Outcome) -> dict[str, Any]:
    return {
        "command": out.spec.name,
        "output_type": out.spec.output_type,
        "expected_outputs": str(out.root),
        "mode": out.mode,
        "ok": out.exit_code == EXIT_OK,
        "exit_code": out.exit_code,
        "versions": out.versions,
        "offline": {
            "triples": out.offline.triples,
            "errors": [p.as_dict() for p in out.offline.errors],
            "warnings": [p.as_dict() for p in out.offline.warnings],
            "version_map": out.offline.version_map,
            "unrecorded": [
                {"format": f, "version": v, "case": c} for f, v, c in sorted(out.offline.unrecorded)
            ],
        },
        "run": {
            "seconds": None if out.seconds is None else round(out.seconds, 3),
            "versions": out.ran,
            "not_run": out.not_run,
            "binaries_without_baselines": [
                {"version": b.version, "path": str(b.path)} for b in out.without_baselines
            ],
            "notes": out.notes,
        },
        "candidate": out.candidate,
        "counts": out.counts,
        "cases": [c.as_dict() for c in out.cases],
    }
