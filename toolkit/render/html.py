"""Self-contained HTML: the drift report and the version x case profile grid.

One page, inline CSS only: no scripts, no links, no images, nothing fetched, so
the file can be attached to CI runs or opened offline. Every datum is escaped.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from toolkit.baseline.diff import Change
from toolkit.baseline.profiles import ProfileTable
from toolkit.render.drift import NONE, by_format, kind_words, mode_line, summary_line, title
from toolkit.render.profiles import ABSENT, LEGEND, headline
from toolkit.stages.drift import Report

__all__ = ["grid", "render_matrix_page", "render_report"]

# Profile letters cycle through these backgrounds; A (the oldest behaviour) is neutral.
PALETTE = ("#e8eef4", "#ffd8a8", "#b2f2bb", "#a5d8ff", "#eebefa", "#ffec99", "#ffc9c9", "#c5f6fa")

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2329; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #c9d1d9; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.num { text-align: right; }
pre { margin: 0; white-space: pre-wrap; max-width: 60em; font-size: 12px; }
code { font-size: 12px; }
.grid td.p { text-align: center; font-weight: 600; font-family: monospace; min-width: 3em; }
.grid th.sel, .grid td.sel { outline: 2px solid #1d2329; outline-offset: -2px; }
.grid td.absent { color: #8a949e; }
.wl { color: #8a949e; font-size: 12px; }
details { margin: .3em 0; } summary { cursor: pointer; }
""" + "".join(f".p{i} {{ background: {c}; }}\n" for i, c in enumerate(PALETTE))


def _page(heading: str, sections: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(heading)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(heading)}</h1>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    """`rows` hold ready HTML cells (already escaped, with their <td>)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(r)}</tr>\n" for r in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _td(text: str, cls: str = "") -> str:
    return f'<td class="{cls}">{escape(text)}</td>' if cls else f"<td>{escape(text)}</td>"


def _value(v: Any) -> str:
    if v is None:
        return f"<td>{NONE}</td>"
    return f"<td><pre>{escape(json.dumps(v, indent=2, ensure_ascii=False))}</pre></td>"


def _change_row(c: Change) -> list[str]:
    wl = f' <span class="wl">[whitelisted: {escape(c.whitelisted)}]</span>' if c.whitelisted else ""
    path = f"<td><code>{escape(c.path)}</code>{wl}</td>"
    return [_td(c.artefact), _td(kind_words(c.kind)), path, _value(c.before), _value(c.after)]


def grid(table: ProfileTable, selected: tuple[str, ...] = ()) -> str:
    """Rows: format x case; columns: versions; a cell's colour is its profile."""

    def cls(v: str) -> str:
        return " sel" if v in selected else ""

    header = "".join(
        f'<th class="sel">{escape(v)}</th>' if v in selected else f"<th>{escape(v)}</th>"
        for v in table.versions
    )
    rows = []
    for r in table.rows:
        cells = []
        for v in table.versions:
            p = r.letters.get(v)
            if p is None:
                cells.append(f'<td class="p absent{cls(v)}">{ABSENT}</td>')
                continue
            idx = sum((ord(ch) - 64) * 26**i for i, ch in enumerate(reversed(p))) - 1
            cells.append(f'<td class="p p{idx % len(PALETTE)}{cls(v)}">{escape(p)}</td>')
        rows.append(
            f"<tr>{_td(r.format)}<td><code>{escape(r.case)}</code></td>{''.join(cells)}</tr>"
        )
    return (
        f'<p>{escape(headline(table))}</p>\n<table class="grid">\n<thead><tr><th>format</th>'
        f"<th>case</th>{header}</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
        f"<p>{escape(LEGEND)}</p>"
    )


def render_matrix_page(table: ProfileTable) -> str:
    return _page(f"qemu-img version profiles ({table.output_type})", [grid(table)])


def render_report(report: Report, table: ProfileTable) -> str:
    s = report.summary()
    a, b = report.from_version, report.to_version
    sections = [
        f"<p>{escape(summary_line(report))}. <em>{escape(mode_line(report))}</em>.</p>",
        "<h2>Summary</h2>",
        _table(
            ["changed", "unchanged", f"only in {a}", f"only in {b}"],
            [
                [
                    _td(str(s[k]), "num")
                    for k in ("changed", "unchanged", "only_in_from", "only_in_to")
                ]
            ],
        ),
    ]
    patterns = report.patterns()
    sections.append(f"<h2>Patterns ({len(patterns)})</h2>")
    if patterns:
        rows = [
            [
                _td(p.artefact),
                _td(kind_words(p.kind)),
                f"<td><code>{escape(p.path)}</code></td>",
                _td(str(len(p.cases)), "num"),
                _td(by_format(p)),
                _value(p.example.before),
                _value(p.example.after),
            ]
            for p in patterns
        ]
        header = ["artefact", "change", "path", "cases", "by format", "e.g. from", "to"]
        sections.append(_table(header, rows))
    else:
        sections.append("<p>No drift.</p>")
    for status, label in (("only_in_from", f"Only in {a}"), ("only_in_to", f"Only in {b}")):
        names = [f"{c.format}/{c.case}" for c in report.cases if c.status == status]
        if names:
            items = "".join(f"<li><code>{escape(n)}</code></li>" for n in names)
            sections.append(f"<h2>{escape(label)} ({len(names)})</h2>\n<ul>{items}</ul>")
    changed = [c for c in report.cases if c.status == "changed"]
    sections.append(f"<h2>Per-case detail ({len(changed)} changed)</h2>")
    for cd in changed:
        rows = [_change_row(c) for c in cd.changes]
        n = len(cd.changes)
        note = report.notes.get((cd.format, cd.case))
        found = f'\n<p class="wl">found by fuzz: {escape(note)}</p>' if note else ""
        sections.append(
            f"<details><summary><code>{escape(cd.format)}/{escape(cd.case)}</code> "
            f"({n} change{'s' if n != 1 else ''})</summary>{found}\n"
            + _table(["artefact", "change", "path", "from", "to"], rows)
            + "\n</details>"
        )
    if report.notes:
        rows = [
            [f"<td><code>{escape(f)}/{escape(c)}</code></td>", _td(why)]
            for (f, c), why in sorted(report.notes.items())
        ]
        sections.append(f"<h2>Findings ({len(rows)}): why fuzz saved each case</h2>")
        sections.append(_table(["case", "found by fuzz"], rows))
    sections.append(f"<h2>Version profiles ({escape(a)} and {escape(b)} outlined)</h2>")
    sections.append(grid(table, (a, b)))
    return _page(title(report), sections)
