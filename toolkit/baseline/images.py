"""`curated_cases/images.toml`: the image corpus as data, validated in full before anything runs.

    [[image]]
    id = "qcow2-v3-data"              # unique (case-insensitively): it becomes a file name
    format = "qcow2"                  # qemu's driver name: raw, qcow2, vmdk, vpc, vhdx
    size = "4M"                       # virtual size (not with `source`)
    options = ["compat=1.1"]          # -o options, on the format's allow-list
    backing = "chain-base-qcow2"      # an image above: -b <its relative path> -F <its format>
    source = "raw-data"               # or: made by `qemu-img convert` from an image above
    compress = true                   # with source: convert -c
    steps = ["write -P 0xab 0 64k", "snapshot -c one"]   # see image_steps.py
    patches = ["leak"]                # documented byte patches: leak, refcount, vmstate
    min_version = "7.2"               # the oldest qemu-img that can make it
    tags = ["qcow2", "v3"]
    description = "what it is for"   # the manifest carries it
    safety = "safe"                   # safe (default), malformed or malicious
    comment = "for readers of this file only"

    [[compare]]
    a = "raw-data"
    b = "qcow2-compressed"
    strict = false                    # qemu-img compare -s
    description = "optional"

Every problem is listed with the file, the image and the fix (BadInput, exit 2).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from toolkit.baseline import guard
from toolkit.baseline.image_schema import parse_image
from toolkit.model.errors import BadInput
from toolkit.model.formats import split_option_string
from toolkit.model.images import IMAGES_FILE, ComparePair, Corpus, ImageSpec
from toolkit.model.scratch import MIB

__all__ = ["IMAGES_FILE", "MAX_CORPUS_BYTES", "MAX_IMAGES", "load_corpus", "parse_corpus"]

MAX_IMAGES = 100
# What the corpus may write in all (data steps, what convert copies, fixed images): the
# whole corpus stays well under 100 MiB on disk.
MAX_CORPUS_BYTES = 64 * MIB
PAIR_KEYS = {"a", "b", "strict", "description"}


def load_corpus(path: Path) -> Corpus:
    """The corpus a data file declares, or BadInput listing every problem."""
    try:
        data = tomllib.loads(guard.read_text(path.parent, path, guard.CASE_FILE))
    except RecursionError:  # tomllib recurses once per nested array or table
        raise BadInput(f"{path}: not valid TOML: nested too deeply; fix it and re-run") from None
    except FileNotFoundError:
        raise BadInput(
            f"no image corpus data at {path}: create it (README: Image corpus), or pass "
            "--curated-cases DIR if it lives elsewhere"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(
            f"invalid image corpus (nothing was built or written):\n  {path}: not valid "
            f"TOML: {exc}. Fix the syntax and re-run."
        ) from None
    except OSError as exc:
        raise BadInput(
            f"{path}: cannot be read ({exc.strerror or exc}); fix its permissions"
        ) from None
    return parse_corpus(data, str(path))


def parse_corpus(data: dict[str, Any], source: str) -> Corpus:
    problems: list[str] = []
    unknown = sorted(set(data) - {"image", "compare"})
    if unknown:
        problems.append(
            f"{source}: unknown top-level keys {unknown}; images go in [[image]] tables and "
            "pairs in [[compare]] tables"
        )
    entries = data.get("image")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{source}: holds no [[image]] table; declare the images to build")
        entries = []
    if len(entries) > MAX_IMAGES:
        problems.append(f"{source}: {len(entries)} images; the cap is {MAX_IMAGES}")
    ids = [e.get("id") if isinstance(e, dict) else None for e in entries]
    images: dict[str, ImageSpec] = {}
    seen: dict[str, int] = {}  # lower-cased id -> its index
    for index, entry in enumerate(entries, start=1):
        later = {i for i in ids[index:] if isinstance(i, str)}
        image, errs = parse_image(entry, source, index, images, later)
        problems.extend(errs)
        image_id = ids[index - 1]
        if isinstance(image_id, str):
            first = seen.setdefault(image_id.lower(), index)
            if first != index:
                problems.append(
                    f"{source}: image {image_id!r}: duplicate id (image #{first} is "
                    f"{ids[first - 1]!r}); ids are file names, unique ignoring case"
                )
                continue
        if image is not None:
            images[image.id] = image
    total = sum(_materialised(images, i) for i in images.values())
    if total > MAX_CORPUS_BYTES:
        problems.append(
            f"{source}: the images write {total // MIB}M in all; the corpus cap is "
            f"{MAX_CORPUS_BYTES // MIB}M: write less data"
        )
    pairs = _pairs(data.get("compare", []), source, set(ids), problems)
    if problems:
        raise BadInput(
            "invalid image corpus (nothing was built or written):\n  " + "\n  ".join(problems)
        )
    return Corpus(tuple(images.values()), tuple(pairs), source)


def _materialised(images: dict[str, ImageSpec], image: ImageSpec) -> int:
    """Bytes an image really writes: its data steps, what convert copies, a fixed file."""
    own = sum(s.length for s in image.steps if s.kind == "write")
    if image.source is not None and image.source in images:
        own += _materialised(images, images[image.source])
    opts = {k: v for text in image.options for k, v in split_option_string(text)}
    fixed = image.format == "vpc" and opts.get("subformat") == "fixed"
    prealloc = opts.get("preallocation") in ("falloc", "full")
    if (fixed or prealloc) and image.size is not None:
        own += image.size
    return own


def _pairs(entries: Any, source: str, ids: set[Any], problems: list[str]) -> list[ComparePair]:
    if not isinstance(entries, list):
        problems.append(f"{source}: `compare` must be an array of tables ([[compare]])")
        return []
    pairs: dict[str, ComparePair] = {}
    for index, entry in enumerate(entries, start=1):
        label = f"{source}: compare #{index}"
        if not isinstance(entry, dict):
            problems.append(f"{label}: must be a table with a, b and strict")
            continue
        errs = [f"{label}: unknown key {k!r} (known: a, b, strict, description)"
                for k in sorted(set(entry) - PAIR_KEYS)]  # fmt: skip
        for side in ("a", "b"):
            ref = entry.get(side)
            if not isinstance(ref, str) or ref not in ids:
                errs.append(f"{label}: {side} {ref!r} is no image id of this file")
        strict = entry.get("strict", False)
        if not isinstance(strict, bool):
            errs.append(f"{label}: strict must be true or false (qemu-img compare -s)")
        description = entry.get("description", "")
        if not isinstance(description, str):
            errs.append(f"{label}: description must be a string")
        if errs:
            problems.extend(errs)
            continue
        pair = ComparePair(entry["a"], entry["b"], strict, description)
        if pair.id.lower() in pairs:
            problems.append(f"{label}: duplicate pair {pair.id!r}; declare each pair once")
            continue
        pairs[pair.id.lower()] = pair
    return list(pairs.values())
