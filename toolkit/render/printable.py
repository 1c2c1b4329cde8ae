"""Untrusted text made safe to print: what qemu-img or a candidate wrote reaches a terminal
only through `printable`.

A candidate's stderr may hold escape sequences (colours, a window title, a cursor move
that overwrites the lines above, a terminal's answerback query); printed raw, they
act on the reader's terminal instead of being read. Newline and tab are kept; every
other control character (C0 with carriage return, DEL, C1) is shown as a `\\xNN` escape
(`\\x1b`, `\\x0d`, `\\x9b`), and so are the bidirectional overrides (`\\u202e`), which
reorder what a line appears to say.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character but newline and tab escaped."""
    return _CONTROL.sub(_escape, text)
