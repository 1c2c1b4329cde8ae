"""Debian's side of provisioning: the suite list, the host's mirror, and apt with private state.

apt runs with its own sources list, lists, cache, empty dpkg status (so the whole dependency
closure, libc6 included, is resolved) and no lock: the host's apt sources, dpkg database and
installed packages are never touched. Signatures are always checked (signed-by a keyring).
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from toolkit.model.errors import BadInput
from toolkit.model.resources import data_text

__all__ = [
    "Suite",
    "SuiteFailed",
    "SuiteList",
    "fetch_closure",
    "load_suites",
    "sources_list",
]

KEYRING_DIR = Path("/usr/share/keyrings")
ARCHIVES = ("debian", "debian-security")


class SuiteFailed(Exception):
    """One suite could not be provisioned; the message says why."""


@dataclass(frozen=True)
class Suite:
    name: str
    dists: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str
    target_release: str
    # Where target_release lives: "debian" (the main archive) or "debian-security" (the
    # security archive, a separate mirror path). The other dists, the base, are always main's.
    archive: str = "debian"


@dataclass(frozen=True)
class SuiteList:
    package: str
    architecture: str
    suites: tuple[Suite, ...]

    def names(self) -> list[str]:
        return [s.name for s in self.suites]


def load_suites() -> SuiteList:
    """toolkit/data/suites.toml."""
    text = data_text("suites.toml")
    data = tomllib.loads(text)
    suites = tuple(
        Suite(
            name=s["name"],
            dists=tuple(s["dists"]),
            components=tuple(s["components"]),
            signed_by=s["signed_by"],
            target_release=s.get("target_release", s["name"]),
            archive=s.get("archive", "debian"),
        )
        for s in data["suite"]
    )
    for s in suites:
        if s.archive not in ARCHIVES:
            raise BadInput(
                f"suites.toml: suite {s.name!r}: archive {s.archive!r} is not one of "
                f"{', '.join(ARCHIVES)}"
            )
    return SuiteList(data["package"], data["architecture"], suites)


def _apt_conf(work: Path, arch: str) -> str:
    etc, state, cache = work / "etc", work / "state", work / "cache"
    clears = ["APT::Architectures", "APT::Update::Pre-Invoke", "APT::Update::Post-Invoke"]
    clears += ["APT::Update::Post-Invoke-Success", "DPkg::Pre-Invoke", "DPkg::Post-Invoke"]
    clears += ["DPkg::Pre-Install-Pkgs"]
    settings = {
        "Dir::Etc::SourceList": etc / "sources.list",
        "Dir::Etc::SourceParts": etc / "sources.list.d",
        "Dir::Etc::Preferences": etc / "preferences",
        "Dir::Etc::PreferencesParts": etc / "preferences.d",
        "Dir::State": state,
        "Dir::State::lists": state / "lists",
        "Dir::State::status": state / "status",
        "Dir::Cache": cache,
        "Dir::Log": work / "log",
        "Debug::NoLocking": "true",
        "APT::Architecture": arch,
        "APT::Install-Recommends": "false",
        "APT::Update::Error-Mode": "any",
    }
    lines = [f"#clear {c};" for c in clears]
    lines += [f'{k} "{v}";' for k, v in settings.items()]
    lines.append(f'APT::Architectures {{ "{arch}"; }};')
    return "\n".join(lines) + "\n"


def _apt(cmd: list[str], what: str, timeout: float, tmp: Path) -> None:
    # apt's signature check writes apt.data.*, apt.sig.* and apt.conf.* under $TMPDIR and
    # leaves them when it is killed (^C during `update`): `tmp` lies in the work directory,
    # which goes with the run.
    env = {**os.environ, "TMPDIR": str(tmp)}
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
            env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise SuiteFailed(f"{what} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        out = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        errors = [ln.removeprefix("E: ") for ln in out if ln.startswith("E:")][:1]
        errors += [ln for ln in out if "Depends:" in ln][:3]  # why the resolver gave up
        raise SuiteFailed(f"{what} failed: " + " | ".join(errors or out[-2:]))


def sources_list(suite: Suite, keyring: Path, mirror: str, security_mirror: str = "") -> str:
    """The private sources.list: the suite's own dist from its archive, its base from main."""
    if suite.archive == "debian-security" and not security_mirror:
        raise SuiteFailed(f"{suite.name} lives in the security archive, and no mirror was found")
    comps = " ".join(suite.components)

    def uri_of(dist: str) -> str:
        own = dist == suite.target_release and suite.archive == "debian-security"
        return security_mirror if own else mirror

    return "".join(f"deb [signed-by={keyring}] {uri_of(d)} {d} {comps}\n" for d in suite.dists)


def fetch_closure(
    suite: Suite, lst: SuiteList, mirror: str, work: Path, security_mirror: str = ""
) -> list[Path]:
    """Download lst.package and its whole dependency closure from `suite` into `work`.

    The suite's own dist comes from its archive (the security mirror for "debian-security");
    its base dists always from the main mirror.
    """
    keyring = KEYRING_DIR / suite.signed_by
    if not keyring.is_file():
        raise SuiteFailed(f"keyring {keyring} is missing (install debian-archive-keyring)")
    for sub in ("etc/sources.list.d", "etc/preferences.d", "state/lists/partial", "log", "tmp"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    (work / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
    (work / "state/status").write_text("")
    (work / "etc/sources.list").write_text(sources_list(suite, keyring, mirror, security_mirror))
    conf = work / "apt.conf"
    conf.write_text(_apt_conf(work, lst.architecture))
    apt = ["apt-get", "-q", "-c", str(conf)]
    _apt([*apt, "update"], "apt-get update", 600, work / "tmp")
    install = ["install", "--download-only", "-y", "-t", suite.target_release, lst.package]
    _apt([*apt, *install], f"resolving {lst.package}", 900, work / "tmp")
    debs = sorted((work / "cache/archives").glob("*.deb"))
    if not debs:
        raise SuiteFailed("apt-get downloaded nothing")
    return debs
