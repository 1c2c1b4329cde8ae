"""Shared fixtures. Tests run real qemu-img binaries: provision them first."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Build, Spawn

from toolkit.baseline.images import load_corpus
from toolkit.model.pipeline import CURATED
from toolkit.model.records import QemuBinary
from toolkit.model.versions import version_key
from toolkit.qemu.discovery import discover
from toolkit.qemu.process import LIVE
from toolkit.stages.images.build import BuildRequest, build_corpus

TREE = Path(__file__).resolve().parent.parent / "expected-outputs"


def recorded_versions() -> list[str]:
    """Every version the committed curated types were recorded with: the builds the tests
    expect. (A user's findings type, recorded with whatever builds they had, says nothing
    about which builds the tests need.)"""
    files = [TREE / s.output_type / "versions.json" for s in CURATED]
    found = {v for p in files if p.is_file() for v in json.loads(p.read_text())}
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first: pytest-xdist hands out tests in this order, so a slow test that
    started last would leave the other worker idle at the end (about 10 s, measured)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def _sigint_as_at_a_terminal() -> None:
    """The tests that send ^C expect SIGINT's default disposition in the toolkit. A test run
    started in the background by a non-interactive shell inherits SIGINT *ignored*, and
    passes that on to every process it starts (Python leaves an inherited SIG_IGN alone,
    as it should). Catching it here resets it: a handler, unlike SIG_IGN, is not inherited
    across exec."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _no_run_left_stopping() -> Iterator[None]:
    """A run in this process that ends by killing every qemu-img group (^C, a failed worker)
    leaves LIVE stopping for good, as it must in a real `python -m toolkit`. In the test
    process that would refuse every later in-process run ("run interrupted"): the test that
    left it so fails here, by name, and the next one starts clean."""
    LIVE.stopping = False  # a run of an earlier test that stopped after it ended (a pool thread)
    yield
    if LIVE.stopping:
        LIVE.stopping = False
        pytest.fail("this test left toolkit.qemu.process.LIVE stopping", pytrace=False)


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """subprocess.Popen (text mode) for a test that signals a run midway. Whatever the test
    asserts, each child is killed when it ends: a failed test once left a fuzz run shrinking
    on its own for ten minutes, slowing every test run after it."""
    procs: list[subprocess.Popen[str]] = []

    def start(argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        proc = subprocess.Popen(argv, text=True, **kwargs)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.fixture(scope="session")
def corpus_build(
    tmp_path_factory: pytest.TempPathFactory, qemu_binaries: list[QemuBinary]
) -> Build:
    """The curated corpus, built once per session (in process) into a temp user cache."""
    corpus = load_corpus(TREE.parent / "curated_cases" / "images.toml")
    cache = tmp_path_factory.mktemp("cache")
    root = cache / "qemu-img-baselines" / "corpus"
    result = build_corpus(BuildRequest(corpus, tuple(qemu_binaries), root))
    return Build(corpus, cache, root, result, time.time())
