"""Run `qemu-img --version` once per binary: results are cached by (resolved path, size, mtime_ns).

The cache is a JSON file in the user cache dir, read and written through toolkit.model.safe_io
(never through a link, never a FIFO or a device, bounded) and atomically; a corrupt, unreadable
or oversized cache is treated as empty, and one that is not a regular file is neither read nor
written (`unusable` says why, and discovery warns).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from toolkit.model import safe_io
from toolkit.model.errors import ToolkitFailure
from toolkit.model.text import ECHO_LIMIT, clip, shown
from toolkit.model.versions import parse_version_line, read_version_line
from toolkit.qemu.process import run_process

__all__ = ["ProbeCache", "sha256_file"]

_PROBE_TIMEOUT = 30.0
CACHE = safe_io.Kind("the probe cache", 16 * safe_io.MiB, "remove it (it is only a cache)")
# A version line is kept in every meta and in versions.json: one longer than this is no
# qemu-img's (Debian's are under 60 characters) and is refused, never recorded.
MAX_VERSION_LINE = ECHO_LIMIT


def sha256_file(path: Path) -> str:
    import hashlib  # here, not at the top: OpenSSL's load costs every start ~10 ms

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ProbeCache:
    """`--version` first line and sha256 per resolved path, valid while size and mtime hold."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dirty = False
        self.entries: dict[str, dict[str, Any]] = {}
        self.unusable: str | None = None  # why the cache file is neither read nor written
        try:
            data = safe_io.parse_json(safe_io.read_bytes(path, CACHE))
        except (OSError, ValueError, safe_io.TooLarge):  # as if empty: rewritten whole
            pass
        except safe_io.UnsafeFile as exc:  # a link, a FIFO, a device: never touched
            self.unusable = str(exc)
        else:
            if isinstance(data, dict):
                self.entries = {k: v for k, v in data.items() if isinstance(v, dict)}

    def version_of(self, exe: Path) -> tuple[str, str]:
        """(version_line, sha256) of `exe`; raises ValueError with the reason it can't be used."""
        try:
            real = exe.resolve(strict=True)
            st = real.stat()
        except OSError as exc:
            raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
        if not real.is_file() or not os.access(real, os.X_OK):
            raise ValueError("is not an executable file")
        stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        hit = self.entries.get(str(real))
        if hit and all(hit.get(k) == v for k, v in stamp.items()):
            line, digest = hit.get("version_line"), hit.get("sha256")
            if (
                isinstance(line, str)
                and isinstance(digest, str)
                and len(line) <= MAX_VERSION_LINE
                and parse_version_line(line)
            ):
                return line, digest
        # The runner's own process call: its own group, killed whole at the deadline and
        # after it exits, so a script's leftover children never outlive the probe.
        try:
            raw = run_process([str(exe), "--version"], real.parent, _PROBE_TIMEOUT)
        except ToolkitFailure as exc:
            raise ValueError(f"failed to run `--version`: {exc}") from None
        if raw.timed_out:
            raise ValueError(f"`--version` did not finish within {_PROBE_TIMEOUT:.0f} s")
        if raw.escaped:
            raise ValueError(
                f"`--version` left processes running outside its process group "
                f"({'; '.join(raw.escaped)}; killed): a qemu-img never does"
            )
        stdout = raw.stdout.decode("utf-8", "replace")
        lines = stdout.splitlines()
        first = lines[0].strip() if lines else ""
        if raw.return_code != 0:
            stderr = raw.stderr.decode("utf-8", "replace")
            why = (stderr.strip().splitlines() or [first])[-1]
            raise ValueError(f"`--version` exited {raw.return_code}: {clip(why)}")
        if len(first) > MAX_VERSION_LINE:
            raise ValueError(
                f"`--version` printed a first line of {len(first)}"
                f"{'+' if raw.stdout_dropped else ''} characters ({shown(first)}): a "
                "qemu-img's version line is one short line"
            )
        try:
            read_version_line(first)
        except ValueError as exc:
            raise ValueError(f"`--version` printed no parsable version: {exc}") from None
        digest = sha256_file(real)
        self.entries[str(real)] = {**stamp, "version_line": first, "sha256": digest}
        self.dirty = True
        return first, digest

    def save(self) -> None:
        if not self.dirty or self.unusable:
            return
        live = {k: v for k, v in self.entries.items() if os.path.exists(k)}
        text = json.dumps(live, indent=1, sort_keys=True) + "\n"
        with contextlib.suppress(OSError, safe_io.UnsafeFile):  # a cache: never worth failing
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with safe_io.open_dir(self.path.parent, self.path.parent) as d:
                d.write_unit([(self.path.name, text.encode())], CACHE)
