"""The steps of `curated_cases/images.toml`: their grammar, and what each image may ask.

Each step is one string, in the spelling of the tool that runs it, and nothing else is
accepted (qemu-io has commands that open other files; a step never reaches one):

    write -P 0xNN OFFSET LENGTH      qemu-io: LENGTH bytes of the pattern byte at OFFSET
    write -z OFFSET LENGTH           qemu-io: zeroes (qcow2 v3: zero clusters)
    discard OFFSET LENGTH            qemu-io (opened with --discard=unmap)
    snapshot -c NAME                 qemu-img snapshot -c NAME
    bitmap --add [-g BYTES] [--disable] NAME   qemu-img bitmap (also --remove, --clear,
                                               --enable, --disable NAME)

OFFSET, LENGTH and BYTES are whole numbers with an optional k, M or G (powers of 1024).
Offsets and lengths are multiples of 512; names use [A-Za-z0-9._+-].
"""

from __future__ import annotations

import re
from collections.abc import Callable

from toolkit.baseline.caps import CAP_MATERIALISED
from toolkit.model.images import PATCHES, QCOW2_PATCHES, Step
from toolkit.model.scratch import MIB

__all__ = [
    "MAX_NAME",
    "NAME_RE",
    "check_feature_tags",
    "check_patches",
    "check_steps",
    "parse_size_text",
    "parse_step",
]

NAME_RE = re.compile(r"[A-Za-z0-9._+-]+")
MAX_NAME = 255  # bytes of a snapshot or bitmap name (qcow2 allows more; 255 is plenty)
_SIZE = re.compile(r"(\d+)([kKmMgG]?)")
_POWER = {"": 0, "k": 1, "m": 2, "g": 3}
_PATTERN = re.compile(r"0x([0-9a-fA-F]{1,2})")
SECTOR = 512
Bad = Callable[[str], None]
# tag an image must carry when it has the feature (a consumer's suite selects by tag)
FEATURE_TAGS = {
    "snapshots": "it has snapshot steps",
    "bitmaps": "it has bitmap steps",
    "backing": "it has a backing image",
    "compressed": "it is converted with compress = true",
    "corrupt": "a patch corrupts it (leak or refcount)",
}


def parse_size_text(text: str) -> int | None:
    """`64k` -> 65536; None when it is not a whole number with an optional k/M/G."""
    m = _SIZE.fullmatch(text)
    if m is None:
        return None
    return int(m.group(1)) * (1 << (10 * _POWER[m.group(2).lower()]))


def parse_step(text: str) -> tuple[Step | None, str]:
    """A step, or None and what is wrong with it (with the grammar's spelling)."""
    words = text.split()
    if not words:
        return None, "an empty step"
    verb = words[0]
    if verb in ("write", "discard"):
        return _io(text, words)
    if verb == "snapshot":
        if len(words) != 3 or words[1] != "-c":
            return None, "a snapshot step is `snapshot -c NAME`"
        problem = _name_problem(words[2], "snapshot")
        return (None, problem) if problem else (Step("snapshot", text, name=words[2]), "")
    if verb == "bitmap":
        return _bitmap(text, words[1:])
    return None, (
        f"unknown step {verb!r}: steps are `write -P 0xNN OFFSET LENGTH`, `write -z OFFSET "
        "LENGTH`, `discard OFFSET LENGTH`, `snapshot -c NAME` and `bitmap --add NAME` (also "
        "--remove, --clear, --enable, --disable)"
    )


def _io(text: str, words: list[str]) -> tuple[Step | None, str]:
    if words[0] == "discard":
        kind, rest, pattern = "discard", words[1:], 0
    elif words[1:2] == ["-z"]:
        kind, rest, pattern = "zero", words[2:], 0
    elif words[1:2] == ["-P"] and len(words) > 2 and (m := _PATTERN.fullmatch(words[2])):
        kind, rest, pattern = "write", words[3:], int(m.group(1), 16)
    else:
        return None, "a write step is `write -P 0xNN OFFSET LENGTH` or `write -z OFFSET LENGTH`"
    if len(rest) != 2:
        return None, f"{kind} needs exactly OFFSET and LENGTH (e.g. `... 64k 64k`)"
    offset, length = (parse_size_text(w) for w in rest)
    if offset is None or length is None:
        return None, "OFFSET and LENGTH are whole numbers with an optional k, M or G suffix"
    if length == 0 or offset % SECTOR or length % SECTOR:
        return None, f"OFFSET and LENGTH must be multiples of {SECTOR} and LENGTH above 0"
    return Step(kind, text, offset=offset, length=length, pattern=pattern), ""


def _bitmap(text: str, words: list[str]) -> tuple[Step | None, str]:
    usage = (
        "a bitmap step is `bitmap --add [-g BYTES] [--disable] NAME` or "
        "`bitmap --remove|--clear|--enable|--disable NAME`"
    )
    if not words or not words[0].startswith("--") or words[0][2:] not in (
        "add", "remove", "clear", "enable", "disable",
    ):  # fmt: skip
        return None, usage
    action, flags, name = words[0][2:], words[1:-1], words[-1] if len(words) > 1 else ""
    granularity: int | None = None
    disabled = False
    while flags and action == "add":
        if flags[0] == "-g" and len(flags) > 1 and granularity is None:
            granularity = parse_size_text(flags[1])
            if granularity is None or granularity < SECTOR or granularity & (granularity - 1):
                return None, "a bitmap granularity is a power of two of at least 512 bytes"
            flags = flags[2:]
        elif flags[0] == "--disable" and not disabled:
            disabled, flags = True, flags[1:]
        else:
            break
    if flags or not name:
        return None, usage
    problem = _name_problem(name, "bitmap")
    if problem:
        return None, problem
    return Step(
        "bitmap", text, name=name, action=action, granularity=granularity, disabled=disabled
    ), ""


def _name_problem(name: str, what: str) -> str:
    if not NAME_RE.fullmatch(name) or len(name.encode()) > MAX_NAME:
        return f"a {what} name uses only [A-Za-z0-9._+-], at most {MAX_NAME} bytes (got {name!r})"
    return ""


def check_steps(
    texts: list[str], fmt: str | None, opts: dict[str, str], size: int | None, bad: Bad
) -> list[Step]:
    steps = []
    for text in texts:
        step, problem = parse_step(text)
        if step is None:
            bad(f"step {text!r}: {problem}")
            continue
        steps.append(step)
        if step.is_io and size is not None and step.offset + step.length > size:
            bad(f"step {text!r} reaches byte {step.offset + step.length}, past the size {size}")
        if step.kind in ("snapshot", "bitmap") and fmt != "qcow2":
            bad(f"step {text!r}: {step.kind}s are qcow2's; use format qcow2")
        if step.kind == "bitmap" and opts.get("compat") == "0.10":
            bad(f"step {text!r}: bitmaps need qcow2 v3; remove compat=0.10")
    if steps and fmt == "vmdk" and opts.get("subformat") == "streamOptimized":
        bad(
            "a streamOptimized vmdk is written once, in order: make it from a written image "
            "with `source` (convert) and no steps"
        )
    written = sum(s.length for s in steps if s.kind == "write")
    if written > CAP_MATERIALISED:
        bad(f"steps write {written} bytes; the cap is {CAP_MATERIALISED // MIB}M per image")
    return steps


def check_patches(
    patches: list[str], fmt: str | None, opts: dict[str, str], steps: list[Step], bad: Bad
) -> list[str]:
    for name in patches:
        if name not in PATCHES:
            bad(f"unknown patch {name!r}; patches: {', '.join(PATCHES)}")
    if set(patches) & set(QCOW2_PATCHES) and fmt != "qcow2":
        bad(f"the {', '.join(QCOW2_PATCHES)} patches apply to qcow2 images only")
    if "creator" in patches and fmt != "vpc":
        bad("the creator patch applies to vpc images only")
    if len(set(patches)) != len(patches) or {"leak", "refcount"} <= set(patches):
        bad("patches must not repeat, and leak and refcount do not go together")
    if {"leak", "refcount"} & set(patches) and opts.get("refcount_bits", "16") not in (
        "8", "16", "32", "64",
    ):  # fmt: skip
        bad("the leak and refcount patches need refcount_bits of 8, 16, 32 or 64")
    if "refcount" in patches and not any(s.kind == "write" for s in steps):
        bad("the refcount patch needs a data cluster: add a `write -P` step")
    if "vmstate" in patches and not any(s.kind == "snapshot" for s in steps):
        bad("the vmstate patch needs a snapshot: add a `snapshot -c NAME` step")
    return patches


def check_feature_tags(
    tags: list[str],
    backing: str | None,
    compress: bool,
    steps: list[Step],
    patches: list[str],
    bad: Bad,
) -> None:
    has = {
        "snapshots": any(s.kind == "snapshot" for s in steps),
        "bitmaps": any(s.kind == "bitmap" for s in steps),
        "backing": backing is not None,
        "compressed": compress,
        "corrupt": bool({"leak", "refcount"} & set(patches)),
    }
    for tag, why in FEATURE_TAGS.items():
        if has[tag] and tag not in tags:
            bad(f"add tag {tag!r}: {why} (a consumer's suites select images by tag)")
