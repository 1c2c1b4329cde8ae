"""`expected-outputs/images/manifest.json`: what the corpus holds, recorded in the tree.

Per image the consumer's manifest shape (`id`, `path`, `format`, `safety`, `run_in_ci`,
`tags`, `description`, `sha256`), plus `bytes` (the file's length), `qemu_img` (the
version that made it) and `backing`; the compare pairs; and `corpus`: the builder
revision, the sha256 of the data the manifest was written from, and each qemu-img that
built something (version line, sha256 of the binary). `run_in_ci` is always true: a
consumer's loader requires the key.

`check_manifest` needs no qemu-img: the manifest must be what the data would write, given
the hashes it records (`images build --check` rebuilds, or reads the cached build, to
check the hashes too).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.guard import check_root
from toolkit.baseline.image_diff import manifest_diff
from toolkit.baseline.images import load_corpus
from toolkit.baseline.triple import dump_json
from toolkit.model.images import BUILDER, MANIFEST_DIR, Corpus, ImageSpec
from toolkit.model.versions import version_key

__all__ = [
    "MANIFEST",
    "Built",
    "check_manifest",
    "check_tree_manifest",
    "data_sha256",
    "manifest_for",
    "manifest_path",
    "manifest_text",
    "read_manifest",
    "write_manifest",
]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Built:
    """What a build made of one image."""

    sha256: str
    bytes: int
    qemu_img: str  # the version that made it

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.bytes, "qemu_img": self.qemu_img}


def data_sha256(corpus: Corpus) -> str:
    """The data the manifest is written from, canonically (comments and layout aside)."""
    data = {
        "builder": BUILDER,
        "images": [
            {**i.recipe(), "tags": list(i.tags), "description": i.description, "safety": i.safety}
            for i in corpus.images
        ],
        "pairs": [[p.a, p.b, p.strict, p.description] for p in corpus.pairs],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _entry(image: ImageSpec, built: Built) -> dict[str, Any]:
    entry = {
        "id": image.id,
        "path": image.path,
        "format": image.format,
        "safety": image.safety,
        "run_in_ci": True,
        "tags": list(image.tags),
        "description": image.description,
        **built.as_dict(),
    }
    if image.backing is not None:
        entry["backing"] = image.backing
    return entry


def manifest_for(
    corpus: Corpus, built: Mapping[str, Built], builders: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """The manifest of a build: `built` per image id; `builders` per version that made one."""
    used = sorted({b.qemu_img for b in built.values()}, key=version_key)
    return {
        "corpus": {
            "builder": BUILDER,
            "data_sha256": data_sha256(corpus),
            "built_with": {v: dict(builders[v]) for v in used},
        },
        "images": [_entry(i, built[i.id]) for i in corpus.images],
        "compare_pairs": [
            {"id": p.id, "a": p.a, "b": p.b, "strict": p.strict, "description": p.description}
            for p in corpus.pairs
        ],
    }


def manifest_text(manifest: Mapping[str, Any]) -> str:
    return dump_json(manifest)


def manifest_path(root: Path) -> Path:
    """Where the manifest lives in the golden tree `root` (expected-outputs)."""
    return root / MANIFEST_DIR / MANIFEST


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The tree's manifest; None when there is none. A file that is no JSON object reads as
    {}; a link, a special file or one over the size limit is refused (guard.UnsafeFile)."""
    try:
        data = guard.read_json(root, manifest_path(root), guard.IMAGE_MANIFEST)
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_manifest(root: Path, manifest: Mapping[str, Any]) -> bool:
    """Write the manifest atomically into the tree (through the guard: never through a link
    or into a FIFO); False when it already held it."""
    check_root(root)
    return guard.write_text(
        root, manifest_path(root), manifest_text(manifest), guard.IMAGE_MANIFEST
    )


def _recorded(manifest: Mapping[str, Any]) -> tuple[dict[str, Built], dict[str, Any]]:
    """The built facts a manifest records (to rebuild what the data says around them)."""
    built: dict[str, Built] = {}
    images = manifest.get("images")
    for entry in images if isinstance(images, list) else []:
        if not isinstance(entry, dict):
            continue
        sha, size, version = entry.get("sha256"), entry.get("bytes"), entry.get("qemu_img")
        if isinstance(sha, str) and isinstance(size, int) and isinstance(version, str):
            built[str(entry.get("id"))] = Built(sha, size, version)
    corpus = manifest.get("corpus")
    with_ = corpus.get("built_with") if isinstance(corpus, dict) else None
    return built, with_ if isinstance(with_, dict) else {}


def check_manifest(corpus: Corpus, manifest: Mapping[str, Any]) -> list[str]:
    """Why the manifest is not what the data would write (empty: it is), offline."""
    if not manifest:
        return ["not a JSON object holding corpus, images and compare_pairs"]
    built, builders = _recorded(manifest)
    missing = [i.id for i in corpus.images if i.id not in built]
    if missing:
        return [f"no sha256, bytes and qemu_img recorded for {', '.join(missing)}"]
    unknown = sorted({b.qemu_img for b in built.values()} - set(builders))
    if unknown:
        return [f"corpus.built_with lacks the qemu-img that made images: {', '.join(unknown)}"]
    problems = []
    for image in corpus.images:
        if not _is_sha256(built[image.id].sha256):
            problems.append(f"image {image.id!r}: sha256 is not 64 lower-case hex digits")
        wanted = image.min_version
        made = built[image.id].qemu_img
        if wanted and version_key(made)[: len(version_key(wanted))] < version_key(wanted):
            problems.append(f"image {image.id!r}: made by {made}, below its min_version {wanted}")
    expected = manifest_for(corpus, built, builders)
    return problems + manifest_diff(expected, manifest)


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def check_tree_manifest(data: Path, root: Path) -> tuple[Corpus, list[str]] | None:
    """verify --offline: the corpus the data declares and why the tree's manifest is not
    what it writes (empty: it is); None when the tree holds no corpus directory."""
    if not manifest_path(root).parent.exists():
        return None  # a tree without the corpus: nothing recorded to hold to the data
    manifest = read_manifest(root)
    corpus = load_corpus(data)
    if manifest is None:
        return corpus, [f"no manifest at {manifest_path(root)}"]
    return corpus, check_manifest(corpus, manifest)
