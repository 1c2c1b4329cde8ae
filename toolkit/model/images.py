"""The image corpus as records: each image's recipe, the compare pairs, and where files go.

`curated_cases/images.toml` declares them (validated by toolkit.baseline.images); the
images stage builds them into the user cache; the manifest in the tree records what was
built. Formats are qemu's driver names, as a compatible tool's manifest spells them
(`vpc` for a vhd).
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.model.records import Case

__all__ = [
    "BITMAP_ACTIONS",
    "BUILDER",
    "IMAGES_FILE",
    "IMAGE_FORMATS",
    "IO_KINDS",
    "MANIFEST_DIR",
    "PATCHES",
    "QCOW2_PATCHES",
    "SAFETY",
    "ComparePair",
    "Corpus",
    "CorpusCases",
    "ImageFormat",
    "ImageSpec",
    "Step",
    "corpus_cases",
]

# curated_cases/<IMAGES_FILE>: the corpus's data, and the case file of every type over it.
IMAGES_FILE = "images.toml"


@dataclass(frozen=True)
class ImageFormat:
    driver: str  # qemu's -f name, the manifest's `format`
    format_name: str  # toolkit.model.formats key (the -o allow-list): "vhd" for vpc
    extension: str  # file name suffix; the directory is `format_name`


IMAGE_FORMATS: dict[str, ImageFormat] = {
    f.driver: f
    for f in (
        ImageFormat("raw", "raw", "raw"),
        ImageFormat("qcow2", "qcow2", "qcow2"),
        ImageFormat("vmdk", "vmdk", "vmdk"),
        ImageFormat("vpc", "vhd", "vhd"),
        ImageFormat("vhdx", "vhdx", "vhdx"),
    )
}

# The builder's revision: raised whenever a command or a patch changes what an image
# holds. Part of the corpus cache key and of the manifest.
BUILDER = 1

# expected-outputs/<MANIFEST_DIR>/manifest.json: the corpus manifest in the golden tree.
MANIFEST_DIR = "images"

# A consumer's manifest knows these three (tests/helpers/types.py).
SAFETY = ("safe", "malformed", "malicious")

# qemu-io commands a step may run (each range in bytes).
IO_KINDS = ("write", "zero", "discard")
# `qemu-img bitmap` actions a step may run.
BITMAP_ACTIONS = ("add", "remove", "clear", "enable", "disable")

# Documented byte patches an image may ask for after it is made (README: Image corpus).
PATCHES = {
    "leak": "a cluster past the end with refcount 1 and no reference (check: leak, exit 3)",
    "refcount": "the first data cluster's refcount set to 0 (check: corruption, exit 2)",
    "vmstate": "the first snapshot's VM state size and VM clock set in the snapshot table",
    "creator": "a vpc footer naming an application qemu does not know, with the size asked "
    "for (qemu-img before 10.0 reads the CHS geometry's size, 10.0 and later this one)",
}
QCOW2_PATCHES = ("leak", "refcount", "vmstate")


@dataclass(frozen=True)
class Step:
    """One thing done to an image after it is made, in the data's order.

    kind "write" (qemu-io `write -P pattern offset length`), "zero" (`write -z`),
    "discard" (`discard`), "snapshot" (`qemu-img snapshot -c name`) or "bitmap"
    (`qemu-img bitmap --<action> [-g granularity] [--disable] name`).
    """

    kind: str
    text: str  # as the data wrote it, for messages
    offset: int = 0
    length: int = 0
    pattern: int = 0
    name: str = ""  # snapshot or bitmap name
    action: str = ""  # bitmap action
    granularity: int | None = None  # bitmap --add -g
    disabled: bool = False  # bitmap --add --disable

    @property
    def is_io(self) -> bool:
        return self.kind in IO_KINDS

    def qemu_io_command(self) -> str:
        """The qemu-io `-c` text of an io step (bytes, no suffixes)."""
        if self.kind == "write":
            return f"write -P 0x{self.pattern:02x} {self.offset} {self.length}"
        if self.kind == "zero":
            return f"write -z {self.offset} {self.length}"
        return f"discard {self.offset} {self.length}"

    def bitmap_args(self) -> list[str]:
        """`qemu-img bitmap` arguments before the image: the action and its flags."""
        args = [f"--{self.action}"]
        if self.granularity is not None:
            args += ["-g", str(self.granularity)]
        if self.disabled:
            args.append("--disable")
        return args


@dataclass(frozen=True)
class ImageSpec:
    """One image of the corpus: how it is made, and what the manifest says of it."""

    id: str
    format: str  # qemu driver name
    size: int | None  # virtual size in bytes; None when made by converting `source`
    options: tuple[str, ...] = ()  # -o KEY=VALUE strings
    backing: str | None = None  # id of an earlier image: -b <relative path> -F <its format>
    source: str | None = None  # id of an earlier image: made by `qemu-img convert`
    compress: bool = False  # convert -c
    steps: tuple[Step, ...] = ()
    patches: tuple[str, ...] = ()
    min_version: str | None = None  # the oldest qemu-img that can make it
    tags: tuple[str, ...] = ()
    description: str = ""
    safety: str = "safe"

    @property
    def path(self) -> str:
        """Relative to the corpus root: `<format dir>/<id>.<extension>`."""
        f = IMAGE_FORMATS[self.format]
        return f"{f.format_name}/{self.id}.{f.extension}"

    def snapshots(self) -> list[str]:
        return [s.name for s in self.steps if s.kind == "snapshot"]

    def recipe(self) -> dict[str, object]:
        """Everything that decides the image's bytes (not its tags or description)."""
        return {
            "id": self.id,
            "format": self.format,
            "size": self.size,
            "options": list(self.options),
            "backing": self.backing,
            "source": self.source,
            "compress": self.compress,
            "steps": [s.text for s in self.steps],
            "patches": list(self.patches),
            "min_version": self.min_version,
        }


@dataclass(frozen=True)
class ComparePair:
    """Two images `qemu-img compare` is run on, with `-s` (strict) or not."""

    a: str
    b: str
    strict: bool = False
    description: str = ""

    @property
    def id(self) -> str:
        """`<a>__<b>` (`__strict` added for -s), as a consumer composes ids."""
        return f"{self.a}__{self.b}" + ("__strict" if self.strict else "")


@dataclass(frozen=True)
class Corpus:
    images: tuple[ImageSpec, ...]
    pairs: tuple[ComparePair, ...] = ()
    source: str = ""  # the data file, for messages

    def image(self, image_id: str) -> ImageSpec:
        for i in self.images:
            if i.id == image_id:
                return i
        raise KeyError(image_id)


@dataclass(frozen=True)
class CorpusCases:
    """Which units of the corpus an output type records, one case each: images (a case per
    image id, grouped by the manifest's `format`) or compare pairs (a case per pair id,
    grouped by its first image's format), selected as the consumer's suite selects its
    manifest's entries (instar: info and map take `safety == 'safe'`, snapshot-list the
    images tagged `snapshots`)."""

    unit: str = "image"  # "image" or "pair"
    safety: tuple[str, ...] = ()  # only images of these safety tiers (empty: every tier)
    tags: tuple[str, ...] = ()  # only images with one of these tags (empty: every image)
    # Images only: a case per image and target, `<id>__<target>` (the consumer's composed
    # id: measure's -O raw and -O qcow2); empty: one case per image, named by its id.
    targets: tuple[str, ...] = ()

    def takes(self, image: ImageSpec) -> bool:
        return (not self.safety or image.safety in self.safety) and (
            not self.tags or any(t in image.tags for t in self.tags)
        )


def corpus_cases(corpus: Corpus, selection: CorpusCases, command: str) -> list[Case]:
    """The cases of a type over the corpus, in the data's order (an image's targets after
    it). An image case's params hold `path` (relative to the corpus root, the manifest's)
    and, per target, `target`; a pair's `a`, `b` (the two paths) and `strict`."""
    if selection.unit == "pair":
        return [
            Case(
                command=command,
                format=corpus.image(p.a).format,
                name=p.id,
                start_size="",
                source=corpus.source,
                comment=p.description,
                params=(
                    ("a", corpus.image(p.a).path),
                    ("b", corpus.image(p.b).path),
                    ("strict", p.strict),
                ),
            )
            for p in corpus.pairs
            if selection.takes(corpus.image(p.a)) and selection.takes(corpus.image(p.b))
        ]
    return [
        Case(
            command=command,
            format=i.format,
            name=f"{i.id}__{t}" if t else i.id,
            start_size="",
            source=corpus.source,
            comment=i.description,
            params=(("path", i.path), *((("target", t),) if t else ())),
        )
        for i in corpus.images
        if selection.takes(i)
        for t in selection.targets or ("",)
    ]
