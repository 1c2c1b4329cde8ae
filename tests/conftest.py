"""Shared fixtures. Tests run real qemu-img binaries: provision them first."""

from __future__ import annotations

import pytest

from toolkit.model.records import QemuBinary
from toolkit.qemu.discovery import discover


@pytest.fixture(scope="session")
def qemu_binaries() -> list[QemuBinary]:
    """Every qemu-img discovery finds (store, $QEMU_IMG_BINARIES, PATH), oldest first."""
    found = discover([], None, None)
    if not found:
        pytest.fail(
            "no qemu-img binaries found: run `nox -s provision_qemu` "
            "(or `python -m toolkit provision`), or set QEMU_IMG_BINARIES",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def latest(qemu_binaries: list[QemuBinary]) -> QemuBinary:
    """The newest qemu-img found."""
    return qemu_binaries[-1]
