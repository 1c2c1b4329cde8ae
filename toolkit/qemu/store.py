"""Where builds live: the user cache, the provision store, a version's provenance.json.

Both discovery (which reads the store) and provisioning (which fills it) use these.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "APP_DIR",
    "PROVENANCE",
    "PROVENANCE_KEYS",
    "default_store",
    "read_provenance",
    "user_cache_dir",
]

APP_DIR = "qemu-img-baselines"
PROVENANCE = "provenance.json"
PROVENANCE_KEYS = ("suite", "package_version", "sha256")


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/qemu-img-baselines (~/.cache when unset)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / APP_DIR


def default_store() -> Path:
    """$QEMU_IMG_STORE, else $XDG_CACHE_HOME/qemu-img-baselines/qemu-img (~/.cache if unset)."""
    env = os.environ.get("QEMU_IMG_STORE")
    return Path(env) if env else user_cache_dir() / "qemu-img"


def read_provenance(version_dir: Path) -> dict[str, Any] | None:
    """A version directory's provenance.json, if it is whole (suite, package_version, sha256)."""
    try:
        data = json.loads((version_dir / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and all(isinstance(data.get(k), str) for k in PROVENANCE_KEYS)
    return data if ok else None
