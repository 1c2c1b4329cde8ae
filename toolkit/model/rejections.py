"""Why qemu-img rejected a step, in a few stable classes read off its first error line.

Messages change wording between versions, but each kind keeps a key phrase: resize's
shrink guard names `--shrink`, preallocation errors say `prealloc`, an unsupported driver
says `does not support`, a bad size names the size. fuzz's D3 compares a candidate's
reason with qemu-img's by class, and generate's summary counts recorded rejections by
class, so a user sees that a non-zero exit is qemu-img's answer, not a failure.
"""

from __future__ import annotations

import re

__all__ = ["reason_class"]

# First match wins: "Use the --shrink option" must not count as a size message.
_UNSUPPORTED = r"does not support|unknown (file )?format|not supported|unknown driver"
_REASONS = (
    ("shrink", re.compile(r"--shrink|shrink operation", re.I)),
    ("preallocation", re.compile(r"prealloc", re.I)),
    ("unsupported format", re.compile(_UNSUPPORTED, re.I)),
    ("size syntax", re.compile(r"invalid image size|parameter 'size'|size must be", re.I)),
    ("option", re.compile(r"invalid parameter|parameter '[\w-]+' expects|invalid option", re.I)),
)


def reason_class(stderr: str) -> str | None:
    """The reason class of a rejection's first error line, when it has a known phrase."""
    for line in stderr.splitlines():
        if not line.strip() or line.startswith("---") or "warning:" in line:
            continue
        return next((name for name, rx in _REASONS if rx.search(line)), None)
    return None
