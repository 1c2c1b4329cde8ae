"""curated_cases/images.toml's loader: every bad input is exit 2 with the file, the image and
the fix, and nothing is built or written. In process (no qemu-img is reached: the data is
validated before discovery)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from helpers import REPO, in_process

from toolkit.baseline.images import load_corpus, parse_corpus
from toolkit.model.errors import BadInput
from toolkit.model.images import ComparePair, ImageSpec, Step

GOOD = """
[[image]]
id = "base"
format = "qcow2"
size = "1M"
steps = ["write -P 0x11 0 64k"]
tags = ["qcow2"]
description = "a base"
"""


def image(**fields: object) -> str:
    """One [[image]] table after GOOD (its keys in TOML, a None value left out)."""
    base: dict[str, object] = {
        "id": "x", "format": "qcow2", "size": "1M", "tags": ["qcow2"], "description": "d",
    }  # fmt: skip
    base.update(fields)
    lines = ["[[image]]"]
    for k, v in base.items():
        if v is None:
            continue
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, list):
            lines.append(f"{k} = [{', '.join(_q(i) for i in v)}]")
        else:
            lines.append(f"{k} = {_q(v)}")
    return "\n".join(lines) + "\n"


def _q(v: object) -> str:
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


# (label, the file's text, a fragment of the message; every message names the file)
ROWS = [
    ("bad TOML", "[[image]\nid=", "not valid TOML"),
    ("no image", "", "holds no [[image]] table"),
    ("unknown top-level key", GOOD + "[[case]]\nname = 'x'\n", "unknown top-level keys ['case']"),
    ("unknown key", GOOD + image(colour="red"), "image 'x': unknown key 'colour'"),
    ("id with a slash", GOOD + image(id="a/b"), "id must be non-empty, use only"),
    ("id climbing out", GOOD + image(id="..x"), "it becomes a file name"),
    ("hidden id", GOOD + image(id=".x"), "it becomes a file name"),
    ("id too long", GOOD + image(id="a" * 251), "be at most 250 bytes"),
    ("duplicate id", GOOD + image(id="BASE"), "image 'BASE': duplicate id (image #1 is 'base')"),
    ("vhd for vpc", GOOD + image(format="vhd"), "unknown format 'vhd'; formats are qemu's driver"),
    ("host-reaching option", GOOD + image(options=["backing_file=/etc/passwd"]),
     "option 'backing_file' reaches a host file"),
    ("option off the list", GOOD + image(options=["colour=red"]), "option 'colour' is not allowed"),
    ("no size", GOOD + image(size=None), "size must be a whole number"),
    ("bad size", GOOD + image(size="1.5M"), "size must be a whole number"),
    ("size over the cap", GOOD + image(size="2G"), "size 2G exceeds the 1024M cap"),
    ("fixed vhd over its cap", GOOD + image(format="vpc", size="32M",
     options=["subformat=fixed"]), "exceeds the 16M cap (a fixed vhd is a file of the full size)"),
    ("unknown backing", GOOD + image(backing="nope", tags=["backing"]),
     "backing 'nope' is no image of the corpus; known: base"),
    ("backing declared later", image(id="y", backing="base", tags=["backing"]) + GOOD,
     "backing 'base' is declared later in the file: images are made in file order"),
    ("backing on itself", GOOD + image(backing="x", tags=["backing"]),
     "backing 'x' is the image itself: a cycle"),
    ("source on itself", GOOD + image(source="x", size=None), "source 'x' is the image itself"),
    ("raw overlay", GOOD + image(format="raw", backing="base", tags=["backing"]),
     "backing is supported for qcow2 images only"),
    ("source and backing", GOOD + image(source="base", size=None, backing="base",
     tags=["backing"]), "give `source` (convert) or `backing`"),
    ("size with source", GOOD + image(source="base"), "size comes from `source`"),
    ("compress without source", GOOD + image(compress=True, tags=["compressed"]),
     "compress = true needs `source`"),
    ("step without pattern", GOOD + image(steps=["write 0 64k"]),
     "step 'write 0 64k': a write step is `write -P 0xNN OFFSET LENGTH`"),
    ("pattern too wide", GOOD + image(steps=["write -P 0x1ff 0 64k"]), "a write step is"),
    ("unaligned offset", GOOD + image(steps=["write -P 0x11 100 64k"]), "multiples of 512"),
    ("past the end", GOOD + image(steps=["write -z 1M 64k"]), "reaches byte 1114112, past"),
    ("a qemu-io command off the grammar", GOOD + image(steps=["open /etc/passwd"]),
     "unknown step 'open'"),
    ("snapshot name with a slash", GOOD + image(steps=["snapshot -c a/b"], tags=["snapshots"]),
     "a snapshot name uses only"),
    ("snapshot of a raw image", GOOD + image(format="raw", steps=["snapshot -c s"],
     tags=["snapshots"]), "snapshots are qcow2's; use format qcow2"),
    ("bitmap on v2", GOOD + image(options=["compat=0.10"], steps=["bitmap --add b"],
     tags=["bitmaps"]), "bitmaps need qcow2 v3"),
    ("bitmap granularity", GOOD + image(steps=["bitmap --add -g 1000 b"], tags=["bitmaps"]),
     "a power of two of at least 512"),
    ("steps on streamOptimized", GOOD + image(format="vmdk", options=[
     "subformat=streamOptimized"], steps=["write -P 0x11 0 64k"]), "written once, in order"),
    ("over the write cap", GOOD + image(size="8M", steps=["write -P 0x11 0 5M"]),
     "steps write 5242880 bytes; the cap is 4M per image"),
    ("unknown patch", GOOD + image(patches=["fuzz"]), "unknown patch 'fuzz'; patches: leak"),
    ("patch on vmdk", GOOD + image(format="vmdk", patches=["leak"], tags=["corrupt"]),
     "patches apply to qcow2 images only"),
    ("creator on qcow2", GOOD + image(patches=["creator"]),
     "the creator patch applies to vpc images only"),
    ("creator on a converted vpc", GOOD + image(format="vpc", size=None, source="base",
     patches=["creator"], tags=["vpc"]), "the creator patch writes the size the data asks for"),
    ("refcount without data", GOOD + image(patches=["refcount"], tags=["corrupt"]),
     "the refcount patch needs a data cluster"),
    ("vmstate without snapshot", GOOD + image(patches=["vmstate"]),
     "the vmstate patch needs a snapshot"),
    ("leak and refcount", GOOD + image(patches=["leak", "refcount"], tags=["corrupt"],
     steps=["write -P 0x11 0 64k"]), "leak and refcount do not go together"),
    ("leak with 1-bit refcounts", GOOD + image(patches=["leak"], tags=["corrupt"],
     options=["refcount_bits=1"]), "need refcount_bits of 8, 16, 32 or 64"),
    ("bad min_version", GOOD + image(min_version="seven"), "min_version must be a version"),
    ("missing feature tag", GOOD + image(steps=["snapshot -c s"], tags=["qcow2"]),
     "add tag 'snapshots': it has snapshot steps"),
    ("no description", GOOD + image(description=None), "description must be a non-empty string"),
    ("bad safety", GOOD + image(safety="fine"), "safety 'fine' is not one of safe, malformed"),
    ("repeated tag", GOOD + image(tags=["a", "a"]), "tags must not repeat"),
    ("pair of an unknown image", GOOD + "[[compare]]\na = 'base'\nb = 'nope'\n",
     "compare #1: b 'nope' is no image id of this file"),
    ("strict not a bool", GOOD + "[[compare]]\na = 'base'\nb = 'base'\nstrict = 'yes'\n",
     "strict must be true or false"),
    ("duplicate pair", GOOD + "[[compare]]\na = 'base'\nb = 'base'\n" * 2,
     "compare #2: duplicate pair 'base__base'"),
    ("corpus over its cap", "".join(image(id=f"f{i}", format="vpc", size="16M",
     options=["subformat=fixed"], tags=[]) for i in range(5)), "the corpus cap is 64M"),
    ("too many images", "".join(image(id=f"i{i}") for i in range(101)), "101 images; the cap"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "text", "fragment"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_data_is_exit_2_naming_file_image_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, label: str, text: str, fragment: str
) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "images.toml").write_text(text)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tree = tmp_path / "eo"
    proc = in_process(
        "images", "build", "--curated-cases", str(cases), "--expected-outputs", str(tree)
    )
    assert proc.returncode == 2, (label, proc.stdout, proc.stderr)
    assert fragment in proc.stderr, (label, proc.stderr)
    assert str(cases / "images.toml") in proc.stderr and "Traceback" not in proc.stderr
    assert not tree.exists() and not (tmp_path / "cache").exists()  # nothing written
    assert in_process("images", "list", "--curated-cases", str(cases)).returncode == 2


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = GOOD + image(format="vhd") + image(id="y", steps=["write -P 0x11 1 1"], colour=1)
    (tmp_path / "images.toml").write_text(text)
    with pytest.raises(BadInput) as exc:
        load_corpus(tmp_path / "images.toml")
    lines = str(exc.value).splitlines()
    assert lines[0] == "invalid image corpus (nothing was built or written):"
    assert len(lines) == 4, lines
    assert [line.split(": ")[1] for line in lines[1:]] == ["image 'x'", "image 'y'", "image 'y'"]


def test_a_missing_data_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"no image corpus data at .*images.toml: create it"):
        load_corpus(tmp_path / "images.toml")


def test_the_parsed_records() -> None:
    text = GOOD + image(
        id="y", source="base", size=None, compress=True,
        tags=["compressed", "snapshots", "bitmaps"],
        steps=["snapshot -c s1", "bitmap --add -g 128k --disable b1", "discard 0 64k"],
        min_version="7.2", safety="malformed",
    ) + "[[compare]]\na = 'base'\nb = 'y'\nstrict = true\n"  # fmt: skip
    corpus = parse_corpus(tomllib.loads(text), "f.toml")
    base, y = corpus.images
    assert base == ImageSpec(
        id="base", format="qcow2", size=1 << 20, tags=("qcow2",), description="a base",
        steps=(Step("write", "write -P 0x11 0 64k", offset=0, length=65536, pattern=0x11),),
    )  # fmt: skip
    assert y.size is None and y.source == "base" and y.compress and y.min_version == "7.2"
    assert y.path == "qcow2/y.qcow2" and y.safety == "malformed"
    assert [s.kind for s in y.steps] == ["snapshot", "bitmap", "discard"]
    assert y.steps[1].bitmap_args() == ["--add", "-g", "131072", "--disable"]
    assert y.steps[2].qemu_io_command() == "discard 0 65536"
    assert base.steps[0].qemu_io_command() == "write -P 0x11 0 65536"
    assert corpus.pairs == (ComparePair("base", "y", True),)
    assert corpus.pairs[0].id == "base__y__strict"


def test_the_curated_corpus_holds_what_the_consumer_names() -> None:
    corpus = load_corpus(REPO / "curated_cases" / "images.toml")
    ids = [i.id for i in corpus.images]
    snapshots = {i.id for i in corpus.images if "snapshots" in i.tags}
    consumer = {
        f"snap-qcow2-{s}" for s in (
            "v3-one", "v3-two", "v3-sixteen", "v2", "extl2", "512", "backing-base", "backing",
            "dupname", "namecollision", "longname", "vmstate",
        )
    }  # fmt: skip
    assert snapshots == consumer
    assert {"qcow2-min-cluster", "raw-sparse-empty"} <= set(ids)
    assert 30 <= len(ids) <= 45 and len({i.lower() for i in ids}) == len(ids)
    assert {i.format for i in corpus.images} == {"raw", "qcow2", "vmdk", "vpc", "vhdx"}
    tags = {t for i in corpus.images for t in i.tags}
    assert {"snapshots", "bitmaps", "backing", "compressed", "corrupt"} <= tags
    assert all(i.safety == "safe" for i in corpus.images)
    assert len(corpus.pairs) >= 5 and any(p.strict for p in corpus.pairs)
    assert all(os.sep not in i.id for i in corpus.images)
