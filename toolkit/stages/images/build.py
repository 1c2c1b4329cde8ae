"""Build the image corpus into the user cache, whole or not at all, deterministically.

`$XDG_CACHE_HOME/qemu-img-baselines/corpus/` holds the images at their manifest paths and
`.corpus.json` (the build's key and each file's sha256). The key covers every image's
recipe, the qemu-img build that makes it (version and sha256) and the builder revision,
so a changed images.toml or binary rebuilds; a description or tag does not change bytes
and does not rebuild. A build with the key present and every file's sha256 intact does
nothing.

A build happens in `.corpus.tmp-<pid>-<hex>` beside `corpus/` and is renamed into place
only when every image is made, patched and checked; the previous corpus is renamed aside
first and then removed. A killed build leaves only a temp directory (or, killed between
the two renames, no `corpus/` and a `.corpus.old-*` directory), which the next build
removes (its owner's pid is gone) before it builds. One build at a time: `.corpus.lock`.

Each image is made by one qemu-img: the oldest discovered build at or above its
`min_version`, so every newer version can read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.baseline.image_manifest import Built, manifest_for
from toolkit.model import safe_io
from toolkit.model.errors import BadInput, ToolkitFailure
from toolkit.model.images import BUILDER, Corpus, ImageSpec
from toolkit.model.records import QemuBinary
from toolkit.model.versions import version_key
from toolkit.qemu.process import pid_alive
from toolkit.qemu.tools import tool_command
from toolkit.stages.images.make import Tools, make_image

__all__ = ["STAMP", "BuildRequest", "BuildResult", "build_corpus", "choose_binaries", "file_sha256"]

STAMP = ".corpus.json"
STAMP_KIND = safe_io.Kind(
    "the corpus build's stamp",
    4 * safe_io.MiB,
    "remove the corpus cache directory; the next build remakes it",
)
LOCK = ".corpus.lock"
TEMP_PREFIXES = (".corpus.tmp-", ".corpus.old-")


@dataclass(frozen=True)
class BuildRequest:
    corpus: Corpus
    binaries: tuple[QemuBinary, ...]  # every discovered qemu-img, oldest first
    root: Path  # the corpus directory (user cache)
    timeout: float = 60.0


@dataclass
class BuildResult:
    root: Path
    key: str
    built: dict[str, Built]
    builders: dict[str, dict[str, str]]
    rebuilt: bool  # False: the cache held this very build
    reason: str  # why it was (re)built, or that it was current
    seconds: float = 0.0
    removed: list[str] = field(default_factory=list)  # debris of killed builds

    def manifest(self, corpus: Corpus) -> dict[str, Any]:
        return manifest_for(corpus, self.built, self.builders)


def choose_binaries(corpus: Corpus, binaries: Sequence[QemuBinary]) -> dict[str, QemuBinary]:
    """Each image's qemu-img: the oldest at or above its min_version."""
    ordered = sorted(binaries, key=lambda b: version_key(b.version))
    chosen: dict[str, QemuBinary] = {}
    problems = []
    for image in corpus.images:
        floor = version_key(image.min_version or "0")
        fit = [b for b in ordered if version_key(b.version)[: len(floor)] >= floor]
        if fit:
            chosen[image.id] = fit[0]
        else:
            problems.append(
                f"image {image.id!r} needs qemu-img {image.min_version} or newer (min_version); "
                f"found {', '.join(b.version for b in ordered) or 'none'}"
            )
    if problems:
        raise BadInput(
            "cannot build the corpus:\n  " + "\n  ".join(problems) + "\n  provision a newer "
            "qemu-img (`python -m toolkit provision`) or pass one with --qemu-img"
        )
    return chosen


def _builder_facts(b: QemuBinary) -> dict[str, str]:
    return {"version_line": b.version_line, "sha256": b.provenance_dict().get("sha256", "")}


def _key(corpus: Corpus, chosen: dict[str, QemuBinary]) -> str:
    recipes = [
        {**i.recipe(), "qemu_img": chosen[i.id].version, "binary": _builder_facts(chosen[i.id])}
        for i in corpus.images
    ]
    text = json.dumps({"builder": BUILDER, "images": recipes}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _current(root: Path, key: str) -> tuple[dict[str, Built] | None, str]:
    """The cached build's images if it is this key's and every file is intact."""
    try:
        stamp = safe_io.parse_json(safe_io.read_bytes(root / STAMP, STAMP_KIND))
    except FileNotFoundError:
        return None, "no corpus built yet" if not root.exists() else f"{root} holds no {STAMP}"
    except (OSError, ValueError, safe_io.UnsafeFile):
        return None, f"{root / STAMP} is unreadable"
    if not isinstance(stamp, dict) or stamp.get("key") != key:
        return None, "the data, a qemu-img build or the builder changed since the last build"
    built: dict[str, Built] = {}
    try:
        for image_id, rec in stamp["images"].items():
            path = root / rec["path"]
            if not path.is_file() or path.stat().st_size != rec["bytes"]:
                return None, f"{rec['path']} is missing or changed in size"
            if file_sha256(path) != rec["sha256"]:
                return None, f"{rec['path']} was changed since it was built"
            built[image_id] = Built(rec["sha256"], rec["bytes"], rec["qemu_img"])
    except (KeyError, TypeError, AttributeError):
        return None, f"{root / STAMP} is not what a build writes"
    return built, "current"


@contextlib.contextmanager
def _locked(parent: Path) -> Iterator[None]:
    with open(parent / LOCK, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ToolkitFailure(
                f"another `images build` is running on {parent} (lock {parent / LOCK}); "
                "wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sweep(parent: Path) -> list[str]:
    """Remove what killed builds left beside the corpus (their pid is gone)."""
    removed = []
    for p in sorted(parent.iterdir()):
        prefix = next((t for t in TEMP_PREFIXES if p.name.startswith(t)), None)
        pid = p.name[len(prefix) :].split("-")[0] if prefix else ""
        if prefix and pid.isdigit() and not pid_alive(int(pid)) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)  # a killed build's qemu-img may just be ending
            if not p.exists():
                removed.append(p.name)
    return removed


def build_corpus(req: BuildRequest) -> BuildResult:
    """The corpus in req.root: reused when current, else built whole and swapped in."""
    start = time.monotonic()
    chosen = choose_binaries(req.corpus, req.binaries)
    key = _key(req.corpus, chosen)
    builders = {b.version: _builder_facts(b) for b in chosen.values()}
    root = req.root
    if root.exists() and not root.is_dir():
        raise BadInput(f"{root}: is not a directory; remove it (the corpus goes there)")
    if root.is_dir() and any(root.iterdir()) and not (root / STAMP).is_file():
        raise BadInput(
            f"{root}: holds files but no {STAMP}, so it is no corpus build; move them away"
        )
    built, reason = _current(root, key) if root.is_dir() else (None, "no corpus built yet")
    if built is not None:
        return BuildResult(root, key, built, builders, False, reason, time.monotonic() - start)
    tools = _tools(req.corpus, chosen)  # a missing qemu-io is bad input, before any work
    root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root.parent):
        removed = _sweep(root.parent)
        tag = f"{os.getpid()}-{os.urandom(4).hex()}"
        temp = root.parent / f"{TEMP_PREFIXES[0]}{tag}"
        temp.mkdir()
        try:
            built = _make_all(req, temp, chosen, tools)
            stamp = {
                "key": key,
                "images": {
                    i.id: {"path": i.path, **built[i.id].as_dict()} for i in req.corpus.images
                },
            }
            (temp / STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
            _swap(temp, root, root.parent / f"{TEMP_PREFIXES[1]}{tag}")
        finally:
            if temp.exists():
                shutil.rmtree(temp, ignore_errors=True)
    result = BuildResult(root, key, built, builders, True, reason, time.monotonic() - start)
    result.removed = removed
    return result


def _tools(corpus: Corpus, chosen: dict[str, QemuBinary]) -> dict[str, Tools]:
    tools: dict[str, Tools] = {}
    for image in corpus.images:
        b = chosen[image.id]
        if b.version not in tools:
            needs_io = any(s.is_io for i in corpus.images if chosen[i.id] is b for s in i.steps)
            qemu_io = tuple(tool_command(b, "qemu-io")) if needs_io else ()
            tools[b.version] = Tools(b.version, tuple(b.command()), qemu_io)
    return tools


def _make_all(
    req: BuildRequest, temp: Path, chosen: dict[str, QemuBinary], tools: dict[str, Tools]
) -> dict[str, Built]:
    specs: dict[str, ImageSpec] = {i.id: i for i in req.corpus.images}
    built = {}
    for image in req.corpus.images:
        make_image(temp, image, specs, tools[chosen[image.id].version], req.timeout)
    for image in req.corpus.images:
        path = temp / image.path
        built[image.id] = Built(file_sha256(path), path.stat().st_size, chosen[image.id].version)
    return built


def _swap(temp: Path, root: Path, old: Path) -> None:
    """temp becomes root; the previous root (if any) goes aside first, then away."""
    if root.exists():
        os.rename(root, old)
    os.rename(temp, root)
    shutil.rmtree(old, ignore_errors=True)
