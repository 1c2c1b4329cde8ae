"""Text, markdown and JSON renderings of a drift Report (HTML: toolkit.render.html).

Both lead with the summary, then the patterns (changes sharing artefact, kind and
path, counted per format), then per-case detail. Markdown is meant for a
pull-request comment: it stays under MARKDOWN_LIMIT characters whatever the drift,
cutting the detail (never the summary) and saying so.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from toolkit.baseline.diff import Change
from toolkit.baseline.triple import dump_json
from toolkit.model.errors import ToolkitFailure
from toolkit.model.resources import data_text
from toolkit.stages.drift import Pattern, Report

__all__ = [
    "MARKDOWN_LIMIT",
    "by_format",
    "kind_words",
    "mode_line",
    "pattern_line",
    "render_json",
    "render_markdown",
    "render_text",
    "report_schema",
    "summary_line",
    "title",
    "value_text",
]

MARKDOWN_LIMIT = 65_000  # GitHub refuses comments over 65,536 characters
MAX_PATTERN_ROWS = 40
MAX_CHANGES_PER_CASE = 20
MAX_NAMES = 100  # one-sided cases listed by name
VALUE_WIDTH = 100
NONE = "∅"
TIMES = "\u00d7"  # the multiplication sign, as in "qcow2 \u00d718"
_KIND_WORDS = {"return_code": "return code changed"}
_STATUS_WORDS = {"only_in_from": "only in {a}", "only_in_to": "only in {b}"}


def value_text(value: Any, width: int | None = VALUE_WIDTH) -> str:
    """A value as compact JSON (∅ for none), shortened to `width` characters with '…'."""
    text = NONE if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if width is not None and len(text) > width:
        return text[: width - 1] + "…"
    return text


def kind_words(kind: str) -> str:
    return _KIND_WORDS.get(kind, kind)


def by_format(p: Pattern) -> str:
    return ", ".join(f"{fmt} {TIMES}{n}" for fmt, n in p.per_format())


def pattern_line(p: Pattern) -> str:
    """e.g. "stdout `root['children']` added — 25 cases: qcow2 x18, raw x7" (with TIMES)."""
    n = len(p.cases)
    return (
        f"{p.artefact} `{p.path}` {kind_words(p.kind)} — {n} case{'s' if n != 1 else ''}: "
        f"{by_format(p)}"
    )


def change_line(c: Change) -> str:
    tag = f"  [whitelisted: {c.whitelisted}]" if c.whitelisted else ""
    return (
        f"{c.artefact} {kind_words(c.kind)} {c.path}: "
        f"{value_text(c.before)} → {value_text(c.after)}{tag}"
    )


def summary_line(report: Report) -> str:
    s = report.summary()
    return (
        f"{s['changed']} changed, {s['unchanged']} unchanged, {s['only_in_from']} only in "
        f"{report.from_version}, {s['only_in_to']} only in {report.to_version}"
    )


def mode_line(report: Report) -> str:
    if report.show_all:
        return "everything shown (--all): whitelisted noise included"
    return "whitelisted noise and derived byte counts hidden; --all shows them"


def title(report: Report) -> str:
    return f"qemu-img drift {report.from_version} → {report.to_version} ({report.spec.output_type})"


def _only_in(report: Report) -> list[tuple[str, list[str]]]:
    out = []
    for status, template in _STATUS_WORDS.items():
        names = [f"{c.format}/{c.case}" for c in report.cases if c.status == status]
        if names:
            out.append((template.format(a=report.from_version, b=report.to_version), names))
    return out


def render_text(report: Report) -> str:
    lines = [title(report), f"summary: {summary_line(report)}", f"({mode_line(report)})"]
    patterns = report.patterns()
    if patterns:
        lines += ["", f"patterns ({len(patterns)}):"]
        for p in patterns:
            e = p.example
            lines.append(f"  {pattern_line(p)}")
            lines.append(f"      e.g. {value_text(e.before, 60)} → {value_text(e.after, 60)}")
    for label, names in _only_in(report):
        lines += ["", f"{label} ({len(names)}): {', '.join(names)}"]
    changed = [c for c in report.cases if c.status == "changed"]
    if changed:
        lines += ["", "changed cases:"]
        for cd in changed:
            lines.append(f"  {cd.format}/{cd.case}")
            note = report.notes.get((cd.format, cd.case))
            lines += [f"    found by fuzz: {note}"] if note else []
            lines += [f"    {change_line(c)}" for c in cd.changes]
    return "\n".join([*lines, ""])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def render_markdown(report: Report) -> str:
    a, b = report.from_version, report.to_version
    s = report.summary()
    head = [
        f"### qemu-img drift `{a}` → `{b}` ({report.spec.output_type})",
        "",
        f"| changed | unchanged | only in `{a}` | only in `{b}` |",
        "|---:|---:|---:|---:|",
        f"| {s['changed']} | {s['unchanged']} | {s['only_in_from']} | {s['only_in_to']} |",
        "",
        f"_{mode_line(report)}_",
    ]
    patterns = report.patterns()
    if patterns:
        head += ["", "#### Patterns", ""]
        head += ["| artefact | change | path | cases | by format | example |"]
        head += ["|---|---|---|---:|---|---|"]
        for p in patterns[:MAX_PATTERN_ROWS]:
            e = f"{value_text(p.example.before, 40)} → {value_text(p.example.after, 40)}"
            cells = [p.artefact, kind_words(p.kind), _code(p.path), str(len(p.cases))]
            cells += [by_format(p), _code(e)]
            head.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if len(patterns) > MAX_PATTERN_ROWS:
            head.append(f"\n…and {len(patterns) - MAX_PATTERN_ROWS} more patterns.")
    for label, names in _only_in(report):
        more = f", …and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
        listed = ", ".join(_code(n) for n in names[:MAX_NAMES])
        head += ["", f"**{label}** ({len(names)}): {listed}{more}"]
    tail = ["", "</details>", ""]
    changed = [c for c in report.cases if c.status == "changed"]
    if not changed:
        return "\n".join([*head, ""])
    body = ["", f"<details><summary>Per-case detail: {len(changed)} changed cases</summary>"]
    used = sum(len(x) + 1 for x in [*head, *body, *tail]) + 200
    for i, cd in enumerate(changed):
        block = ["", f"**{cd.format}/{cd.case}**", ""]
        block += [f"- {_code(change_line(c))}" for c in cd.changes[:MAX_CHANGES_PER_CASE]]
        if len(cd.changes) > MAX_CHANGES_PER_CASE:
            block.append(f"- …and {len(cd.changes) - MAX_CHANGES_PER_CASE} more changes")
        size = sum(len(x) + 1 for x in block)
        if used + size > MARKDOWN_LIMIT - 300:
            body += ["", f"…and {len(changed) - i} more cases: run `drift {a} {b} --format html`."]
            break
        body += block
        used += size
    return "\n".join([*head, *body, *tail])


@cache
def report_schema() -> Any:
    """The JSON contract (toolkit/data/drift.schema.json) that other tools read."""
    return json.loads(data_text("drift.schema.json"))


def render_json(report: Report) -> str:
    """The report as JSON, checked against its contract before anyone sees it."""
    import jsonschema  # only the json rendering needs it

    data = report.to_json()
    try:
        jsonschema.validate(data, report_schema())
    except jsonschema.ValidationError as exc:
        raise ToolkitFailure(f"drift JSON breaks its contract: {exc.message}") from exc
    return dump_json(data)
