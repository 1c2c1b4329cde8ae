"""Every session is a thin line over `python -m toolkit ...`, forwarding session.posargs."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
from pathlib import Path

import nox

nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "virtualenv"  # named: never uv, whatever is installed
if shutil.which("uv") is None:
    # Listing the optional backends, nox runs `uv` anyway and logs "uv binary not found." in
    # every session. Its own hook (the values it reads before probing) says so instead.
    with contextlib.suppress(AttributeError, ImportError):
        from packaging.version import Version

        nox.virtualenv.HAS_UV, nox.virtualenv.UV = False, "uv"
        nox.virtualenv.UV_VERSION = Version("0")


PROJECT = nox.project.load_toml("pyproject.toml")["project"]


def _install(session: nox.Session, *extras: str, also: tuple[str, ...] = ()) -> None:
    """The project's dependencies, not the project: every session runs from the checkout
    (`python -m toolkit` from the repo root), and an editable install's import hook would
    cost every start of the toolkit 10-20 ms."""
    extra_deps = [d for e in extras for d in PROJECT["optional-dependencies"][e]]
    session.install(*PROJECT["dependencies"], *extra_deps, *also)


def _toolkit(session: nox.Session, *args: str) -> None:
    _install(session)
    session.run("python", "-m", "toolkit", *args, *session.posargs)


@nox.session
def provision_qemu(session: nox.Session) -> None:
    """Unpack Debian's qemu-img builds side by side (no system changes)."""
    _toolkit(session, "provision")


@nox.session
def versions(session: nox.Session) -> None:
    """List every discovered qemu-img version."""
    _toolkit(session, "versions")


# `nox -s generate_<command>`: every output type that records the command (its curated
# types, then the types of its fuzz findings). A new command adds its line here.
GENERATE = {
    "resize": ("resize", "resize-discovered"),
    "create": ("create", "create-discovered"),
    "rebase": ("rebase", "rebase-discovered"),
    # commit-overlay and commit-backing, from one run of each case; then their findings types
    "commit": ("commit", "commit-discovered"),
    "amend": ("amend",),
    "bitmap": ("bitmap",),
    "dd": ("dd",),
    # The inspection commands over the image corpus (each builds the corpus first if needed).
    "info": ("qemu-img-human", "qemu-img-json"),
    "check": ("check-human", "check-json"),
    "compare": ("compare-human",),
    "map": ("map-human", "map-json"),
    "snapshot_list": ("snapshot-list-human",),
    # measure --size (curated_cases/measure.toml) and measure of every safe corpus image.
    "measure": ("measure-human", "measure-json"),
}
# Every command with a type over the image corpus: a changed corpus re-records them all
# (measure is issue 22's command, but its source mode reads the corpus too).
INSPECT = ("info", "check", "compare", "map", "snapshot_list", "measure")


def _generate(command: str, types: tuple[str, ...]) -> None:
    def session(session: nox.Session) -> None:
        _toolkit(session, "generate", *types)

    session.__doc__ = f"Record every {command} output type ({', '.join(types)}) for every qemu-img."
    nox.session(name=f"generate_{command}")(session)


for _command, _types in GENERATE.items():
    _generate(_command, _types)


@nox.session
def generate_inspect(session: nox.Session) -> None:
    """Record every output type over the image corpus (info, check, compare, map, snapshot
    list, measure), building the corpus first when the cache does not hold it."""
    _toolkit(session, "generate", *(t for c in INSPECT for t in GENERATE[c]))


@nox.session
def generate_all(session: nox.Session) -> None:
    """Record every output type of every command."""
    _toolkit(session, "generate", *(t for types in GENERATE.values() for t in types))


@nox.session
def verify(session: nox.Session) -> None:
    """Check every golden tree (offline) and re-run it against the binaries; `-- resize`
    picks one output type."""
    _toolkit(session, "verify")


@nox.session
def drift(session: nox.Session) -> None:
    """`nox -s drift -- A B`: how behaviour changes between two versions."""
    _toolkit(session, "drift")


@nox.session
def profiles(session: nox.Session) -> None:
    """Group versions into profiles; write version-map.json and profiles/.

    `nox -s profiles -- --for 7.2.22 --command create`: which baseline applies to a qemu-img."""
    _toolkit(session, "profiles")


@nox.session
def fuzz(session: nox.Session) -> None:
    """Hypothesis-generated resize cases checked against invariants on real qemu-img."""
    _toolkit(session, "fuzz")


@nox.session
def fuzz_campaign(session: nox.Session) -> None:
    """HypoFuzz on every core: `-- --candidate PATH --against V [--workers N] [--database DIR]
    [--save-cases FILE] [--format F]... [--no-dashboard]`. Runs until ^C. HypoFuzz is
    installed here only; read its licence first (README: Checking your implementation)."""
    parser = argparse.ArgumentParser(prog="nox -s fuzz_campaign --")
    parser.add_argument("--candidate", required=True)
    parser.add_argument("--against", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--database", default="")
    parser.add_argument("--save-cases", default="")
    parser.add_argument("--format", dest="formats", action="append", default=[])
    parser.add_argument("--no-dashboard", action="store_true")
    args = parser.parse_args(session.posargs)
    # HypoFuzz 25.11.1 (the release on PyPI) fails on hypothesis 6.170 in its shrinker
    # ('ConjectureResult' object has no attribute 'slice_comments'); with 6.145.1 a campaign
    # ran, found a planted defect and saved it as a case.
    _install(session, also=("hypofuzz==25.11.1", "hypothesis==6.145.1"))
    env = {
        "QEMU_IMG_CAMPAIGN_CANDIDATE": os.path.abspath(args.candidate),
        "QEMU_IMG_CAMPAIGN_AGAINST": args.against,
        "QEMU_IMG_CAMPAIGN_DATABASE": args.database and os.path.abspath(args.database),
        "QEMU_IMG_CAMPAIGN_SAVE_CASES": args.save_cases and os.path.abspath(args.save_cases),
        "QEMU_IMG_CAMPAIGN_FORMATS": ",".join(args.formats),
        "PYTHONPATH": os.getcwd(),  # the toolkit runs from the checkout, as everywhere
    }
    dashboard = ["--no-dashboard"] if args.no_dashboard else []
    session.run(
        "hypothesis", "fuzz", "-n", str(args.workers), *dashboard, "--",
        "tests/campaign/test_campaign.py", "-p", "no:cacheprovider",
        env={k: v for k, v in env.items() if v},
    )  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """Speed as ratios against a bare shell loop of the same qemu-img calls."""
    _toolkit(session, "bench")


@nox.session
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut) of the pure layers, driven by their unit tests; prints the
    score and every survivor (README: Mutation testing). `-- --max-children N`."""
    _install(session, "test", "lint", also=("mutmut==3.8.1",))
    session.run("mutmut", "run", *(session.posargs or ["--max-children", "2"]))
    session.run("python", "tests/mutation_score.py")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, against the real qemu-img builds (provision them first)."""
    _install(session, "test")
    # The suite starts ~130 `python -m toolkit` processes. Where PYTHONDONTWRITEBYTECODE
    # is set (CI containers often set it), each would compile the toolkit from source, and
    # each pytest worker would rewrite every test module's asserts again: about 12 s of CPU
    # in all (measured). Compiled files go to the session's own directory, not the checkout.
    session.env["PYTHONDONTWRITEBYTECODE"] = ""  # empty is unset, for Python
    session.env["PYTHONPYCACHEPREFIX"] = str(Path(session.virtualenv.location) / "pycache")
    # Two workers by default (the machines are 2-core); `-- -n 0` runs serially. Work
    # stealing evens out the end of the run, when one worker still has a slow test to go.
    session.run("pytest", "-n", "2", "--dist", "worksteal", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint + format check), mypy --strict, and the layers of toolkit/."""
    _install(session, "lint", "test", also=("nox",))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    # Which layer may import which: pyproject's [tool.importlinter] contracts ...
    session.run("lint-imports")
    # ... and what import-linter cannot see: print(), late imports, module size, cycles.
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_layers.py")
