"""Small wording helpers every renderer shares."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, word: str) -> str:
    """`1 version`, `7 versions`: a count with its noun."""
    return f"{n} {word}" + ("" if n == 1 else "s")
