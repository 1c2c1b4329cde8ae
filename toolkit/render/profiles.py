"""The version x case profile matrix as text and markdown (HTML: toolkit.render.html)."""

from __future__ import annotations

from toolkit.baseline.profiles import ProfileTable
from toolkit.render.words import plural

__all__ = ["ABSENT", "LEGEND", "headline", "render_markdown", "render_text"]

ABSENT = "-"
LEGEND = (
    "A = the oldest version's behaviour for that case; each new letter is behaviour no "
    f"earlier version showed; {ABSENT} = no baseline"
)


def _cells(table: ProfileTable) -> tuple[list[str], list[list[str]]]:
    header = ["format", "case", *table.versions]
    body = [
        [r.format, r.case, *(r.letters.get(v, ABSENT) for v in table.versions)] for r in table.rows
    ]
    return header, body


def headline(table: ProfileTable) -> str:
    changing = sum(r.profile_count > 1 for r in table.rows)
    seen = table.first_seen()
    firsts = ", ".join(f"{v} ({seen[v]})" for v in table.versions if seen[v]) or "none"
    return (
        f"{table.output_type}: {plural(len(table.rows), 'format x case row')}, "
        f"{plural(len(table.versions), 'version')}; {plural(changing, 'row')} change across "
        f"versions. New behaviour first seen in (rows): {firsts}"
    )


def render_text(table: ProfileTable) -> str:
    header, body = _cells(table)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [headline(table), ""]
    for r in [header, *body]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join([*lines, "", LEGEND, ""])


def render_markdown(table: ProfileTable) -> str:
    header, body = _cells(table)
    lines = [f"### qemu-img version profiles: `{table.output_type}`", "", headline(table), ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in body:
        lines.append("| " + " | ".join([r[0], f"`{r[1]}`", *r[2:]]) + " |")
    return "\n".join([*lines, "", LEGEND, ""])
