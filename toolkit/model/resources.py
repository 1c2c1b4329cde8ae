"""The files shipped in toolkit/data/ (suites, schemas, the whitelist).

A plain path, not importlib.resources: that import alone costs every command ~10 ms
at start. pyproject's package-data ships the directory beside the modules.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_text"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_text(name: str) -> str:
    """The text of toolkit/data/<name>."""
    return (DATA_DIR / name).read_text(encoding="utf-8")
