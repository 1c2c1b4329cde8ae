"""Where provisioning downloads from: the main Debian archive and the security archive.

Read from the host's apt configuration (one-line `.list` and deb822 `.sources` files),
unless --mirror / $QEMU_IMG_MIRROR (and --security-mirror / $QEMU_IMG_SECURITY_MIRROR)
name them. The host's apt files are only read, never changed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from toolkit.model.errors import BadInput

__all__ = ["APT_ETC", "find_mirror", "find_security_mirror", "host_sources"]

APT_ETC = Path("/etc/apt")
_ALIASES = {"stable", "oldstable", "oldoldstable", "testing", "unstable", "experimental"}


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, last = {}, ""
        elif raw[0] in " \t" and last:
            current[last] += " " + raw.strip()
        elif ":" in raw:
            key, _, value = raw.partition(":")
            last = key.strip().lower()
            current[last] = value.strip()
    return stanzas


def host_sources(apt_etc: Path = APT_ETC) -> list[tuple[str, list[str], str, Path]]:
    """(uri, suites, signed-by, file) of every enabled `deb` source in the host's apt config."""
    found: list[tuple[str, list[str], str, Path]] = []
    d = apt_etc / "sources.list.d"
    parts = sorted(d.iterdir()) if d.is_dir() else []
    for f in [apt_etc / "sources.list", *(p for p in parts if p.name.endswith(".list"))]:
        try:
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            m = re.match(r"\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)", line.split("#", 1)[0])
            if m:
                opts = dict(o.partition("=")[::2] for o in (m.group(1) or "").split())
                found.append((m.group(2), [m.group(3)], opts.get("signed-by", ""), f))
    for f in (p for p in parts if p.name.endswith(".sources")):
        try:
            stanzas = _deb822_stanzas(f.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        for st in stanzas:
            enabled = st.get("enabled", "yes").lower() not in ("no", "false", "0")
            if enabled and "deb" in st.get("types", "").split() and st.get("uris"):
                uri = st["uris"].split()[0]
                found.append((uri, st.get("suites", "").split(), st.get("signed-by", ""), f))
    return found


def _looks_like_main_archive(suites: list[str], signed_by: str, known: set[str]) -> bool:
    if not suites or any("security" in s for s in suites):
        return False
    bases = {s.split("-", 1)[0] for s in suites}
    return bool(bases & (known | _ALIASES)) or "debian-archive" in signed_by


def find_mirror(
    explicit: str | None, known_dists: set[str], apt_etc: Path = APT_ETC
) -> tuple[str, str]:
    """(mirror URI, where it came from): --mirror, else $QEMU_IMG_MIRROR, else the host's apt."""
    for uri, origin in (
        (explicit, "--mirror"),
        (os.environ.get("QEMU_IMG_MIRROR"), "$QEMU_IMG_MIRROR"),
    ):
        if uri:
            if not re.match(r"^[a-z][a-z0-9+.-]*:", uri):
                raise BadInput(f"mirror {uri!r} ({origin}) is not a URL such as http://HOST/debian")
            return uri.rstrip("/"), origin
    known = {d.split("-", 1)[0] for d in known_dists}
    for uri, suites, signed_by, f in host_sources(apt_etc):
        if not uri.startswith("cdrom:") and _looks_like_main_archive(suites, signed_by, known):
            return uri.rstrip("/"), str(f)
    raise BadInput(
        "found no Debian archive mirror in the host's apt configuration "
        f"({apt_etc}/sources.list, {apt_etc}/sources.list.d/*.sources): "
        "pass --mirror URL (a Debian archive, the URI a sources.list `deb` line would name) "
        "or set QEMU_IMG_MIRROR"
    )


def find_security_mirror(
    explicit: str | None, main: str, apt_etc: Path = APT_ETC
) -> tuple[str, str]:
    """(security archive URI, origin): --security-mirror, $QEMU_IMG_SECURITY_MIRROR, the host's
    apt source for a *-security suite, else the main mirror's sibling `.../debian-security`
    (the layout of deb.debian.org and of Debian's mirrors)."""
    for uri, origin in (
        (explicit, "--security-mirror"),
        (os.environ.get("QEMU_IMG_SECURITY_MIRROR"), "$QEMU_IMG_SECURITY_MIRROR"),
    ):
        if uri:
            if not re.match(r"^[a-z][a-z0-9+.-]*:", uri):
                raise BadInput(
                    f"security mirror {uri!r} ({origin}) is not a URL such as "
                    "http://HOST/debian-security"
                )
            return uri.rstrip("/"), origin
    for uri, suites, _signed_by, f in host_sources(apt_etc):
        if not uri.startswith("cdrom:") and suites and all("-security" in s for s in suites):
            return uri.rstrip("/"), str(f)
    if main.endswith("/debian"):
        return main + "-security", f"beside the main mirror {main}"
    raise BadInput(
        "found no Debian security archive in the host's apt configuration and cannot derive "
        f"one from the mirror {main}: pass --security-mirror URL (the URI a sources.list "
        "`deb ... bookworm-security main` line would name) or set QEMU_IMG_SECURITY_MIRROR"
    )
