"""Record what real qemu-img does, version by version."""

from pathlib import Path

__all__ = ["__version__", "data_text"]
__version__ = "0.1.0"

# Package data sits beside the modules (see pyproject's package-data). A plain path,
# not importlib.resources: that import alone costs every command ~10 ms at start.
_DATA = Path(__file__).parent / "data"


def data_text(name: str) -> str:
    """The text of toolkit/data/<name>."""
    return (_DATA / name).read_text(encoding="utf-8")
