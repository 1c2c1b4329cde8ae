"""Where verify puts the obtained triples of mismatches (--obtained DIR, default ./.verify), and
the only files verify ever deletes: those it wrote there itself.

A triple is written below DIR through the guard (no link among its parents, none in its
place) and its place (`<dir below DIR>/<case>`) is listed in DIR/.verify-obtained.json
before its files are. When the case passes on a later run, its obtained triple is removed
only if that list names it: a file verify did not write is never deleted, wherever --obtained
points (and it may not point into a golden tree: the CLI refuses that first).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from toolkit.baseline import guard
from toolkit.baseline.layout import triple_paths
from toolkit.baseline.triple import dump_json, write_baseline
from toolkit.model.errors import ToolkitFailure
from toolkit.model.records import Baseline

__all__ = ["MANIFEST", "ObtainedDir"]

MANIFEST = ".verify-obtained.json"
_LIST = guard.Kind(f"verify's list of obtained triples ({MANIFEST})", 16 << 20, "remove it")


class ObtainedDir:
    """The --obtained directory of one run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._written: set[str] | None = None

    def _listed(self) -> set[str]:
        if self._written is None:
            try:
                data = guard.read_json(self.root, self.root / MANIFEST, _LIST)
            except (OSError, ValueError, guard.UnsafeFile):  # none or unusable: lists nothing
                data = []
            listed = data if isinstance(data, list) else []
            self._written = {p for p in listed if isinstance(p, str)}
        return self._written

    def _save(self) -> None:
        text = dump_json(sorted(self._listed()))
        guard.write_text(self.root, self.root / MANIFEST, text, _LIST)

    def _place(self, directory: Path, name: str) -> str:
        return (directory / name).relative_to(self.root).as_posix()

    def write(self, directory: Path, name: str, baseline: Baseline) -> str:
        """Write the obtained triple of `name` in `directory` (below the root); its stem."""
        listed = self._listed()
        place = self._place(directory, name)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if place not in listed:  # listed first: whatever of it lands here is verify's
                listed.add(place)
                self._save()
            write_baseline(self.root, directory, name, baseline)
        except (OSError, ToolkitFailure) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ToolkitFailure(
                f"cannot write the obtained triple of {name} to {directory}: {why}; "
                "choose another place with --obtained DIR"
            ) from exc
        return str(directory / name)

    def clear(self, directory: Path, name: str) -> None:
        """A case that passes now leaves no obtained triple of an earlier run behind: the
        triple verify wrote, and nothing else."""
        place = self._place(directory, name)
        listed = self._listed()
        if place not in listed:
            return
        for p in triple_paths(directory, name):
            with contextlib.suppress(FileNotFoundError):
                guard.remove(self.root, p)
        listed.discard(place)
        self._save()
