"""verify's Outcome as markdown (for a pull request) and as one self-contained HTML page.

Both show the counts, then (candidate mode) each difference pattern with its case count,
its differences, its cases and the commands that reproduce the first case, then other
diffs and the offline problems. The text summary (render/verify.py) stays the terminal's.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from toolkit.render import html as page
from toolkit.render.printable import printable
from toolkit.render.verify import overall, unrecorded_line
from toolkit.render.words import plural
from toolkit.stages.verify.candidate_report import pattern
from toolkit.stages.verify.outcome import CaseOutcome, Outcome

__all__ = ["html", "markdown"]


def _title(out: Outcome) -> str:
    if out.candidate:
        return f"verify {out.spec.name}: candidate {out.candidate['path']} against " \
            f"qemu-img {out.candidate['version']}"  # fmt: skip
    return f"verify {out.spec.name} ({out.mode}): {', '.join(out.versions)}"


def _groups(out: Outcome) -> list[list[CaseOutcome]]:
    groups: dict[tuple[Any, ...], list[CaseOutcome]] = {}
    for c in out.cases:
        if c.status == "diff":
            key = pattern(c.records) if out.candidate else (c.label,)
            groups.setdefault(key or (c.reason,), []).append(c)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0].label))


def _formats(group: list[CaseOutcome]) -> str:
    return ", ".join(f"{f} x{n}" for f, n in sorted(Counter(c.format for c in group).items()))


def markdown(outs: list[Outcome]) -> str:
    """Each output type as a section, then the overall verdict of several."""
    text = "\n".join(_markdown(o) for o in outs)
    return text + (f"\n{overall(outs)}" if len(outs) > 1 else "")


def _markdown(out: Outcome) -> str:
    if not out.all_cases:
        return f"## verify {out.spec.name}: no findings\n\n{out.empty_reason}\n"
    lines = [f"## {_title(out)}", "", "| status | cases |", "|---|---|"]
    lines += [f"| {s} | {n} |" for s, n in out.counts.items()]
    lines += ["", f"offline: {plural(len(out.offline.errors), 'error')}, "
              f"{plural(len(out.offline.warnings), 'warning')}", ""]  # fmt: skip
    if out.offline.unrecorded:
        lines += [unrecorded_line(out), ""]
    for n, group in enumerate(_groups(out), start=1):
        first = group[0]
        lines += [f"### pattern {n}: {plural(len(group), 'case')} ({_formats(group)})", ""]
        lines += [first.reason, "", "```diff", *first.differences, "```", ""]
        lines += ["cases: " + ", ".join(f"`{c.case}`" for c in group), ""]
        lines += [f"reproduce `{first.label}`:", "", "```sh", *first.reproduce, "```", ""]
    for p in out.offline.problems:
        lines.append(f"- {'warning' if p.warning else 'error'} [{p.check}] {p.where}: {p.message}")
    verdict = "OK" if not out.failures and not out.offline.errors else "FAILED"
    lines += ["", f"**{verdict}**: {plural(len(out.failures), 'case')} differing", ""]
    return printable("\n".join(lines))


def html(outs: list[Outcome]) -> str:
    """One self-contained page: a section per output type."""
    if len(outs) == 1:
        return printable(page._page(_title(outs[0]), _sections(outs[0], "h2")))
    sections = [f"<p>{escape(overall(outs))}</p>"]
    for out in outs:
        sections.append(f"<h2>{escape(_title(out))}</h2>")
        sections += _sections(out, "h3")
    return printable(page._page("verify: " + ", ".join(o.spec.name for o in outs), sections))


def _sections(out: Outcome, h: str) -> list[str]:
    """The page's parts for one output type, headed at level `h`."""
    if not out.all_cases:
        return [f"<p>no findings: {escape(out.empty_reason)}</p>"]
    rows = [[page._td(s), page._td(str(n), "num")] for s, n in out.counts.items()]
    sections = [page._table(["status", "cases"], rows)]
    if out.offline.unrecorded:
        sections.append(f"<p>{escape(unrecorded_line(out))}</p>")
    for n, group in enumerate(_groups(out), start=1):
        first = group[0]
        sections.append(
            f"<{h}>pattern {n}: {escape(plural(len(group), 'case'))} ({escape(_formats(group))})"
            f"</{h}>\n<p>{escape(first.reason)}</p>\n"
            f"<pre>{escape(chr(10).join(first.differences))}</pre>\n"
            f"<p>cases: {escape(', '.join(c.case for c in group))}</p>\n"
            f"<p>reproduce {escape(first.label)}:</p>\n"
            f"<pre>{escape(chr(10).join(first.reproduce))}</pre>"
        )
    problems = [f"<li>{escape(p.where)}: {escape(p.message)}</li>" for p in out.offline.problems]
    if problems:
        sections.append(f"<{h}>offline problems</{h}>\n<ul>" + "".join(problems) + "</ul>")
    return sections
