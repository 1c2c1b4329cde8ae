"""`images`: the image corpus (README: Image corpus).

    python -m toolkit images build [--check] [--curated-cases DIR] [--expected-outputs DIR]
        [--qemu-img PATH]... [--binaries DIR] [--store DIR] [--timeout S]
    python -m toolkit images list [--json] [--curated-cases DIR]

`build` makes `curated_cases/images.toml` into `$XDG_CACHE_HOME/qemu-img-baselines/corpus/`
(nothing when that build is already there) and writes `expected-outputs/images/manifest.json`.
`build --check` writes nothing into the tree: exit 1 when the manifest is not what the data
builds (read from the cached build when it is current, else built into the cache first).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from toolkit.baseline.image_diff import manifest_diff
from toolkit.baseline.image_manifest import (
    manifest_path,
    read_manifest,
    write_manifest,
)
from toolkit.baseline.images import IMAGES_FILE, load_corpus
from toolkit.cli import options, resolve
from toolkit.model.errors import EXIT_FAILED, EXIT_OK
from toolkit.model.images import Corpus
from toolkit.qemu.store import user_cache_dir
from toolkit.stages.images.build import STAMP, BuildRequest, BuildResult, build_corpus

__all__ = ["build_summary", "corpus_root", "register", "run_build", "run_list"]


def corpus_root() -> Path:
    """$XDG_CACHE_HOME/qemu-img-baselines/corpus (~/.cache when unset)."""
    return user_cache_dir() / "corpus"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "images",
        help="build the image corpus (curated_cases/images.toml) and its manifest",
        description="The image corpus: deterministic images every qemu-img version can read.",
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    b = verbs.add_parser(
        "build",
        help="build the corpus into the user cache and write expected-outputs/images/manifest.json",
    )
    options.add_tree_options(b)
    options.add_discovery_options(b)
    options.add_timeout_option(b)
    b.add_argument(
        "--check",
        action="store_true",
        help="write nothing into the tree; exit 1 if its manifest is not what the data builds",
    )
    b.set_defaults(func=run_build, versions=[])
    ls = verbs.add_parser("list", help="list the images the data declares")
    ls.add_argument(
        "--curated-cases", type=Path, default=Path("curated_cases"), metavar="DIR",
        help="directory of case files (default: ./curated_cases)",
    )  # fmt: skip
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=run_list)


def build_summary(result: BuildResult, corpus: Corpus) -> str:
    counts: dict[str, int] = {}
    for b in result.built.values():
        counts[b.qemu_img] = counts.get(b.qemu_img, 0) + 1
    by = ", ".join(f"{v} x{n}" for v, n in counts.items())
    n = len(corpus.images)
    if not result.rebuilt:
        return (
            f"images: corpus current, nothing built: {n} images in {result.root} "
            f"(key {result.key[:12]}; made by qemu-img {by})"
        )
    removed = (
        f"; removed {', '.join(result.removed)} left by a killed build" if result.removed else ""
    )
    return (
        f"images: built {n} images in {result.seconds:.1f} s into {result.root} (made by "
        f"qemu-img {by}; {result.reason}){removed}"
    )


def run_build(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.curated_cases / IMAGES_FILE)
    tree_manifest = read_manifest(args.expected_outputs)  # the tree's guard, before any work
    binaries = resolve.find_binaries(args)
    result = build_corpus(
        BuildRequest(corpus, tuple(binaries), corpus_root(), timeout=args.timeout)
    )
    print(build_summary(result, corpus))
    manifest = result.manifest(corpus)
    where = manifest_path(args.expected_outputs)
    if args.check:
        if tree_manifest is None:
            print(f"images: no manifest at {where}: run `python -m toolkit images build`")
            return EXIT_FAILED
        diff = manifest_diff(manifest, tree_manifest)
        if diff:
            print(f"images: {where} is not what {corpus.source} builds:")
            print("".join(f"  {line}\n" for line in diff), end="")
            print("  run `python -m toolkit images build` to rewrite it")
            return EXIT_FAILED
        print(f"images: {where} matches the build ({len(corpus.images)} images, "
              f"{len(corpus.pairs)} compare pairs)")  # fmt: skip
        return EXIT_OK
    written = write_manifest(args.expected_outputs, manifest)
    print(f"images: {where} {'written' if written else 'unchanged'}")
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.curated_cases / IMAGES_FILE)
    rows = [
        {
            "id": i.id, "path": i.path, "format": i.format, "size": i.size,
            "backing": i.backing, "source": i.source, "min_version": i.min_version,
            "tags": list(i.tags), "safety": i.safety, "description": i.description,
        }
        for i in corpus.images
    ]  # fmt: skip
    if args.json:
        print(json.dumps({"images": rows, "compare_pairs": [p.id for p in corpus.pairs]}, indent=2))
        return EXIT_OK
    table = [("ID", "FORMAT", "PATH", "TAGS")]
    table += [(i.id, i.format, i.path, ",".join(i.tags)) for i in corpus.images]
    widths = [max(len(str(row[i])) for row in table) for i in range(3)]
    for row in table:
        print("  ".join([*(str(c).ljust(w) for c, w in zip(row[:3], widths, strict=True)), row[3]]))
    built = (corpus_root() / STAMP).is_file()
    state = "built" if built else "not built yet: run `python -m toolkit images build`"
    print(
        f"{len(rows)} images, {len(corpus.pairs)} compare pairs; corpus {corpus_root()} ({state})"
    )
    return EXIT_OK
