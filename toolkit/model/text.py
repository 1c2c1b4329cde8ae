"""Untrusted text kept short: what a child printed, or a user typed, echoed in a message.

A qemu-img (or a candidate, or a wrapper) may print megabytes where one line was expected;
a message or a report line that repeats it whole floods the terminal. `clip` keeps the
start and says how much was left out.
"""

from __future__ import annotations

__all__ = ["ECHO_LIMIT", "LINE_LIMIT", "clip", "clip_lines", "shown"]

ECHO_LIMIT = 200  # characters of a version line, a query or a message kept when echoed
LINE_LIMIT = 400  # characters of one line of a diff or a report kept


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` when it has at most `limit` characters; else its start, an ellipsis and a note
    of how many characters were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters not shown)"


def shown(text: str, limit: int = ECHO_LIMIT) -> str:
    """`repr(text)` for a message, bounded like `clip` (the repr of the kept start)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text) - limit} more characters not shown)"


def clip_lines(lines: list[str], limit: int, line_limit: int = LINE_LIMIT) -> list[str]:
    """The first `limit` lines, each clipped to `line_limit` characters, and a last line
    saying how many more there were."""
    kept = [clip(line, line_limit) for line in lines[:limit]]
    if len(lines) > limit:
        kept.append(f"… {len(lines) - limit} more lines not shown")
    return kept
