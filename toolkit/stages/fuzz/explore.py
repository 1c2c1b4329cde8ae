"""Running a check on hypothesis-generated examples: profiles, database, shrinking.

Hypothesis profiles: `ci` (derandomized, 10 examples, no database, no deadline; the
test suite uses it) and `fuzz` (random, 100 examples, example database under
$XDG_CACHE_HOME/qemu-img-baselines/hypothesis/examples, no deadline).

Hypothesis keeps its own files too (a charmap cache, collected constants) in a home
directory that defaults to `./.hypothesis`: it is moved to the same user cache, so a fuzz
run writes nothing in the working directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

from toolkit.qemu.store import user_cache_dir
from toolkit.stages.fuzz.strategies import FuzzExample, fuzz_examples

__all__ = ["explore", "hypothesis_home", "register_profiles"]


def hypothesis_home() -> Path:
    """Hypothesis's own home (its default is ./.hypothesis): under the toolkit's cache."""
    return user_cache_dir() / "hypothesis"


def register_profiles() -> None:
    """`ci`: derandomized, small, no database. `fuzz`: random, database in the user cache."""
    base = settings(
        deadline=None,
        verbosity=Verbosity.quiet,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("ci", base, derandomize=True, max_examples=10, database=None)
    set_hypothesis_home_dir(hypothesis_home())  # read at each use, so $XDG_CACHE_HOME counts
    database = DirectoryBasedExampleDatabase(hypothesis_home() / "examples")
    # Explicit: hypothesis's own default turns derandomize on when $CI is set.
    settings.register_profile("fuzz", base, derandomize=False, max_examples=100, database=database)


def explore(
    check: Callable[[FuzzExample], None],
    formats: tuple[str, ...],
    profile: str,
    expected: type[Exception],
    max_examples: int | None = None,
    seed: int | None = None,
    shrink: bool = True,
    one_bug: bool = False,
    command: str = "resize",
) -> None:
    """Run `check` on generated examples. Raising `expected` marks an example as failing
    (hypothesis then shrinks it); those failures are swallowed here, anything else raises.
    A seed turns the database off: replayed entries would change what runs. A
    BaseException from `check` (a budget's stop, ^C) ends the run at once."""
    register_profiles()
    base = settings.get_profile(profile)
    chosen = settings(
        base,
        max_examples=max_examples or base.max_examples,
        database=None if seed is not None else base.database,
        phases=[p for p in base.phases if shrink or p is not Phase.shrink],
        report_multiple_bugs=not one_bug,  # one bug: shrink it at once, explore no further
    )

    # One test function per command: hypothesis keys its database and, derandomized, its
    # seed on the function's source, so resize's stays as it was (same examples as before).
    @chosen
    @given(fuzz_examples(formats))
    def fuzz_resize(example: FuzzExample) -> None:
        check(example)

    @chosen
    @given(fuzz_examples(formats, "create"))
    def fuzz_create(example: FuzzExample) -> None:
        check(example)

    @chosen
    @given(fuzz_examples(formats, command))
    def fuzz_command(example: FuzzExample) -> None:
        check(example)

    # Every other kind shares this function: its command goes into the digest hypothesis
    # keys the database and the derandomized seed on (as hypothesis.stateful does for
    # its machines), so kinds neither share examples nor replay each other's.
    fuzz_command.hypothesis.inner_test._hypothesis_internal_add_digest = command.encode()  # type: ignore[attr-defined]
    body = {"create": fuzz_create, "resize": fuzz_resize}.get(command, fuzz_command)
    test = hypothesis.seed(seed)(body) if seed is not None else body
    try:
        test()
    except Exception as exc:
        if not _only(exc, (expected, hypothesis.errors.Flaky)):
            raise


def _only(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_only(e, kinds) for e in exc.exceptions)
    return isinstance(exc, kinds)
