"""Shared fixtures. Tests run real qemu-img binaries: provision them first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.model.records import QemuBinary
from toolkit.model.versions import version_key
from toolkit.qemu.discovery import discover

TREE = Path(__file__).resolve().parent.parent / "expected-outputs"


def recorded_versions() -> list[str]:
    """Every version the committed tree was recorded with: the builds the tests expect."""
    found = {v for p in TREE.glob("*/versions.json") for v in json.loads(p.read_text())}
    return sorted(found, key=version_key)


@pytest.fixture(scope="session")
def qemu_binaries() -> list[QemuBinary]:
    """Every qemu-img discovery finds (store, $QEMU_IMG_BINARIES, PATH), oldest first.

    Each version the committed tree records must be among them: a test that quietly ran on
    fewer builds would check less than it says.
    """
    found = discover([], None, None)
    missing = sorted(set(recorded_versions()) - {b.version for b in found}, key=version_key)
    if not found or missing:
        pytest.fail(
            f"qemu-img builds missing: {', '.join(missing) or 'all'} (the committed tree "
            "records them): run `nox -s provision_qemu` (or `python -m toolkit provision`), "
            "or set QEMU_IMG_BINARIES",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def latest(qemu_binaries: list[QemuBinary]) -> QemuBinary:
    """The newest qemu-img found."""
    return qemu_binaries[-1]
