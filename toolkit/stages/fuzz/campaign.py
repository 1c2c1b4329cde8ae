"""A long differential campaign under HypoFuzz: the same properties as `fuzz --candidate`.

HypoFuzz (`hypothesis fuzz`, an optional dependency of `nox -s fuzz_campaign` only)
runs pytest-collected hypothesis tests on every core, for as long as it is left running.
`tests/campaign/test_campaign.py` holds one such test, built here from the environment the
nox session sets (QEMU_IMG_CAMPAIGN_CANDIDATE, _AGAINST, _DATABASE, _SAVE_CASES,
_FORMATS). Each example runs through the same Session as `fuzz --candidate`: the
candidate and real qemu-img side by side, I1-I6 on the candidate and D1-D3 between
them. Every worker shares one example database, a directory (several machines can
share it too, e.g. over NFS).

A failure raises (so HypoFuzz records and shrinks it) after it is simplified in domain
terms (simplify.py) and saved as a curated case to the campaign's case file; workers
take a lock around the save, so none loses another's finding.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

from toolkit.model import safe_io
from toolkit.model.versions import select_versions
from toolkit.qemu.candidate import candidate_binary
from toolkit.qemu.discovery import discover
from toolkit.qemu.runner import RUN_DIR_PREFIX
from toolkit.qemu.store import user_cache_dir
from toolkit.stages.fuzz import findings
from toolkit.stages.fuzz.differential import DIFFERENTIAL
from toolkit.stages.fuzz.explore import hypothesis_home
from toolkit.stages.fuzz.kinds import KINDS
from toolkit.stages.fuzz.session import CHECKS, InvariantViolation, Session
from toolkit.stages.fuzz.simplify import simplify_all
from toolkit.stages.fuzz.strategies import FuzzExample, fuzz_examples

__all__ = ["ENV", "campaign_test", "default_database"]

ENV = "QEMU_IMG_CAMPAIGN_"
SIMPLIFY_S = 30.0  # per finding, before HypoFuzz's own shrink
DATABASE_KEY = b"qemu-img-baselines fuzz --candidate"  # stable: the source may change


def default_database() -> Path:
    return user_cache_dir() / "hypothesis" / "campaign"


def campaign_test() -> Callable[..., None]:
    """The hypothesis test HypoFuzz runs, configured from QEMU_IMG_CAMPAIGN_* variables."""
    env = {k[len(ENV) :].lower(): v for k, v in os.environ.items() if k.startswith(ENV)}
    if "candidate" not in env or "against" not in env:
        raise RuntimeError(f"set {ENV}CANDIDATE and {ENV}AGAINST (nox -s fuzz_campaign does)")
    found = discover([], None, None)
    (version,) = select_versions([b.version for b in found], [env["against"]])
    reference = next(b for b in found if b.version == version)
    candidate = candidate_binary(Path(env["candidate"]), version, 60.0)
    database = Path(env.get("database") or default_database())
    save_to = Path(env.get("save_cases") or database / "findings.toml")
    formats = tuple(env.get("formats", "raw,qcow2,vhd,vhdx,vmdk").split(","))
    # a local scratch directory per worker (the database may be on a shared disk); a
    # later run sweeps it once this worker's pid is gone
    run_dir = Path(tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{os.getpid()}-"))
    checks = [*KINDS["resize"].invariants, *DIFFERENTIAL]
    session = Session([candidate], checks, 4, 60.0, run_dir, reference)
    session.collecting = False  # raise, so that HypoFuzz sees and shrinks each failure

    saved: set[str] = set()  # checks this worker has saved: shrink steps fail them again

    def check(example: FuzzExample) -> None:
        try:
            session.check(example)
        except InvariantViolation:
            for inv in set(session.failing) & saved:
                del session.failing[inv]
            if session.failing:
                saved.update(session.failing)
                _save(session, save_to)
            raise

    # HypoFuzz fuzzes only tests whose database is hypothesis's default one (others are
    # "not collected: differing_database"), so the campaign's database becomes the
    # default; hypothesis's own files follow the toolkit's cache, as in `fuzz`.
    set_hypothesis_home_dir(hypothesis_home())
    settings.register_profile(
        "qemu-img-campaign",
        database=DirectoryBasedExampleDatabase(database),
        deadline=None,
        # slow calls are the point; never nested_given (HypoFuzz skips such tests)
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    settings.load_profile("qemu-img-campaign")

    # _MAX_EXAMPLES bounds a plain pytest run of the campaign (a smoke test); HypoFuzz
    # ignores it and runs until stopped
    @settings(max_examples=int(env.get("max_examples", "100")))
    @given(fuzz_examples(formats))
    def test_candidate_against_qemu_img(example: FuzzExample) -> None:
        check(example)

    test_candidate_against_qemu_img._hypothesis_internal_database_key = DATABASE_KEY  # type: ignore[attr-defined]
    return test_candidate_against_qemu_img


def _save(session: Session, save_to: Path) -> None:
    """Simplify what failed, then append it to the case file under a lock."""
    simplify_all(session.failing, lambda ex: session.judge(ex)[0], time.monotonic() + SIMPLIFY_S)
    found = []
    for inv in sorted(session.failing):
        ex, failed = session.failing[inv]
        who = "the candidate against qemu-img "
        f = findings.from_failure(inv, CHECKS[inv], ex.case, ex.size_text, failed, who)
        if f is not None:
            found.append(f)
    save_to.parent.mkdir(parents=True, exist_ok=True)
    lock_kind = safe_io.Kind("the case file's lock", 0, "remove it and run again")
    # Never through a link, never a FIFO (the guard's rule for every file the toolkit opens).
    lock = safe_io.open_regular(save_to.with_name(save_to.name + ".lock"), lock_kind,
                                os.O_RDWR | os.O_CREAT)  # fmt: skip
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        findings.save(found, save_to, save_to.parent)
    finally:
        os.close(lock)
    session.failing.clear()
