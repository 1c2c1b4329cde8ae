"""One `[[image]]` table of `curated_cases/images.toml`: validated, every problem collected.

An image may name only images declared before it (its `backing` or `source`): the file
is the build order, so a reference to a later image, to itself or to an unknown id is
refused, and no chain can form a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from toolkit.baseline.caps import cap_for, check_options
from toolkit.baseline.image_steps import (
    NAME_RE,
    check_feature_tags,
    check_patches,
    check_steps,
    parse_size_text,
)
from toolkit.model import atomic
from toolkit.model.formats import split_option_string
from toolkit.model.images import IMAGE_FORMATS, SAFETY, ImageSpec
from toolkit.model.scratch import MIB
from toolkit.model.versions import is_version_name

__all__ = ["IMAGE_KEYS", "MAX_ID", "parse_image"]

IMAGE_KEYS = {
    "id", "format", "size", "options", "backing", "source", "compress", "steps", "patches",
    "min_version", "tags", "description", "safety", "comment",
}  # fmt: skip
# `<id>.<extension>` is a file name; the longest extension is 5 bytes (".vhdx").
MAX_ID = atomic.NAME_MAX - len(".vhdx")

Bad = Callable[[str], None]


def parse_image(
    entry: Any, source: str, index: int, earlier: Mapping[str, ImageSpec], later: set[str]
) -> tuple[ImageSpec | None, list[str]]:
    """Validate one image table. `earlier`: the images before it, by id; `later`: the ids
    after it (a reference to one of those is out of order, not unknown)."""
    if not isinstance(entry, dict):
        return None, [f"{source}: image #{index}: must be a table ([[image]])"]
    image_id = entry.get("id")
    label = (
        f"{source}: image {image_id!r}"
        if isinstance(image_id, str)
        else f"{source}: image #{index}"
    )
    errs: list[str] = []

    def bad(reason: str) -> None:
        errs.append(f"{label}: {reason}")

    for key in sorted(set(entry) - IMAGE_KEYS):
        bad(f"unknown key {key!r} (known: {', '.join(sorted(IMAGE_KEYS))})")
    if not _safe_id(image_id):
        bad(
            "id must be non-empty, use only [A-Za-z0-9._+-], contain no '..', not start with "
            f"'.' or '-' and be at most {MAX_ID} bytes (it becomes a file name)"
        )
    fmt = entry.get("format")
    if fmt not in IMAGE_FORMATS:
        bad(f"unknown format {fmt!r}; formats are qemu's driver names: {', '.join(IMAGE_FORMATS)}")
        fmt = None
    options = _strings(entry, "options", bad)
    opts = {k: v for text in options for k, v in split_option_string(text)}
    if fmt is not None:
        check_options(IMAGE_FORMATS[fmt].format_name, options, bad)
    backing = _reference(entry, "backing", earlier, later, image_id, bad)
    src = _reference(entry, "source", earlier, later, image_id, bad)
    compress = entry.get("compress", False)
    if not isinstance(compress, bool):
        bad("compress must be true or false")
        compress = False
    size = _size(entry, fmt, opts, src, earlier, bad)
    if backing is not None and fmt != "qcow2":
        bad("backing is supported for qcow2 images only; make the overlay a qcow2")
    if src is not None and backing is not None:
        bad("give `source` (convert) or `backing` (an overlay), not both")
    if compress and (src is None or fmt != "qcow2"):
        bad("compress = true needs `source` and format qcow2 (qemu-img convert -c -O qcow2)")
    steps = check_steps(_strings(entry, "steps", bad), fmt, opts, size, bad)
    patches = check_patches(_strings(entry, "patches", bad), fmt, opts, steps, bad)
    if "creator" in patches and src is not None:
        bad("the creator patch writes the size the data asks for: give `size`, not `source`")
    min_version = entry.get("min_version")
    if min_version is not None and not (
        isinstance(min_version, str) and is_version_name(min_version)
    ):
        bad(f'min_version must be a version such as "7.2" or "10.0.2" (got {min_version!r})')
    tags = _strings(entry, "tags", bad)
    for tag in tags:
        if not NAME_RE.fullmatch(tag):
            bad(f"tag {tag!r} must use only [A-Za-z0-9._+-]")
    if len(set(tags)) != len(tags):
        bad("tags must not repeat")
    check_feature_tags(tags, backing, compress, steps, patches, bad)
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        bad("description must be a non-empty string (the manifest carries it)")
    safety = entry.get("safety", "safe")
    if safety not in SAFETY:
        bad(f"safety {safety!r} is not one of {', '.join(SAFETY)}")
    if not isinstance(entry.get("comment", ""), str):
        bad("comment must be a string")
    if errs:
        return None, errs
    assert isinstance(image_id, str) and isinstance(fmt, str)
    return ImageSpec(
        id=image_id, format=fmt, size=size if src is None else None, options=tuple(options),
        backing=backing, source=src, compress=compress, steps=tuple(steps),
        patches=tuple(patches), min_version=min_version, tags=tuple(tags),
        description=str(description), safety=str(safety),
    ), []  # fmt: skip


def _safe_id(image_id: object) -> bool:
    return (
        isinstance(image_id, str)
        and NAME_RE.fullmatch(image_id) is not None
        and ".." not in image_id
        and image_id[0] not in ".-"
        and len(image_id.encode()) <= MAX_ID
    )


def _strings(entry: dict[str, Any], key: str, bad: Bad) -> list[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad(f"{key} must be a list of strings")
        return []
    return list(value)


def _reference(
    entry: dict[str, Any],
    key: str,
    earlier: Mapping[str, ImageSpec],
    later: set[str],
    own: object,
    bad: Bad,
) -> str | None:
    ref = entry.get(key)
    if ref is None:
        return None
    if not isinstance(ref, str):
        bad(f"{key} must be the id of an image declared above")
    elif ref == own:
        bad(f"{key} {ref!r} is the image itself: a cycle; name an image declared above")
    elif ref in later:
        bad(
            f"{key} {ref!r} is declared later in the file: images are made in file order, "
            f"so move {ref!r} above this image"
        )
    elif ref not in earlier:
        bad(f"{key} {ref!r} is no image of the corpus; known: {', '.join(earlier) or 'none'}")
    else:
        return ref
    return None


def _size(
    entry: dict[str, Any],
    fmt: str | None,
    opts: dict[str, str],
    src: str | None,
    earlier: Mapping[str, ImageSpec],
    bad: Bad,
) -> int | None:
    """The virtual size: declared, or (converted) the source's."""
    text = entry.get("size")
    if src is not None:
        if text is not None:
            bad("size comes from `source` (convert keeps it); remove size")
        return _effective_size(earlier, src)
    if "source" in entry:
        return None  # a bad source is already reported
    if not isinstance(text, str) or (size := parse_size_text(text)) is None or size == 0:
        bad('size must be a whole number with an optional k, M or G suffix, above 0 ("4M")')
        return None
    if fmt is not None:
        cap, why = cap_for(IMAGE_FORMATS[fmt].format_name, opts, None)
        if size > cap:
            bad(f"size {text} exceeds the {cap // MIB}M cap ({why}); use a smaller size")
    return size


def _effective_size(earlier: Mapping[str, ImageSpec], image_id: str) -> int | None:
    image = earlier[image_id]
    while image.source is not None:
        image = earlier[image.source]
    return image.size
