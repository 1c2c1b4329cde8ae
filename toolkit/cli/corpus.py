"""The image corpus a run of a corpus type needs (generate, verify online and --candidate):
current in the user cache, the one the tree's manifest records, and its root handed to the
runner as `$TESTDATA_ROOT`.

The cache is current when the tree's manifest is what curated_cases/images.toml writes and
every image in the cache has the sha256 the manifest records: then nothing runs (no
qemu-img is needed, so a candidate's developer with the corpus needs no old builds).
Otherwise the corpus is built (`images build`: each image by the oldest discovered
qemu-img that can make it, whatever --version selects for the runs). generate then writes
the manifest of what it built, as `images build` does; verify refuses a corpus the tree's
baselines were not recorded on (bad input: every run would differ), naming the difference.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.baseline.image_diff import manifest_diff
from toolkit.baseline.image_manifest import (
    check_manifest,
    manifest_path,
    read_manifest,
    write_manifest,
)
from toolkit.baseline.images import load_corpus
from toolkit.cli import resolve
from toolkit.cli.images import build_summary, corpus_root
from toolkit.model.errors import BadInput
from toolkit.model.images import IMAGES_FILE, Corpus
from toolkit.model.pipeline import TESTDATA_ROOT, CommandSpec
from toolkit.stages.images.build import BuildRequest, build_corpus, file_sha256

__all__ = ["corpus_roots"]


def corpus_roots(
    args: argparse.Namespace, specs: Sequence[CommandSpec], write: bool
) -> dict[str, Path]:
    """{"$TESTDATA_ROOT": the corpus root} when a type in `specs` reads the corpus (else
    {}), after making sure the cache holds the corpus the tree records. `write`: write the
    manifest of a corpus that had to be built (generate); else refuse one that differs."""
    if not any(s.corpus is not None for s in specs):
        return {}
    data = args.curated_cases / IMAGES_FILE
    corpus = load_corpus(data)
    tree = read_manifest(args.expected_outputs)  # the tree's guard: no link, no FIFO
    root = corpus_root()
    if tree and not check_manifest(corpus, tree) and _holds(root, tree):
        return {TESTDATA_ROOT: root}  # the usual case: nothing to say
    built = _build(args, corpus, root)
    if tree == built:
        return {TESTDATA_ROOT: root}
    where = manifest_path(args.expected_outputs)
    if write:
        write_manifest(args.expected_outputs, built)
        why = "the tree had none" if tree is None else "the corpus changed: record every " \
            "version of the types over it on the new one"  # fmt: skip
        print(f"images: {where} written ({why})")
        return {TESTDATA_ROOT: root}
    diff = manifest_diff(built, tree) if tree else [f"no manifest at {where}"]
    raise BadInput(
        f"the corpus this machine builds is not the one {where} records, which the baselines "
        "were recorded on:\n  " + "\n  ".join(diff[:10]) + "\n  build it with the qemu-img "
        "versions the manifest names (corpus.built_with), or, if the data changed, run "
        "`python -m toolkit images build` and regenerate the types over the corpus"
    )


def _holds(root: Path, manifest: Mapping[str, Any]) -> bool:
    """Every image the manifest records is in the cache with its sha256 (the manifest is
    checked against the data first, so its paths are the data's own)."""
    for entry in manifest.get("images", []):
        path = root / entry["path"]
        if not path.is_file() or path.stat().st_size != entry["bytes"]:
            return False
        if file_sha256(path) != entry["sha256"]:
            return False
    return True


def _build(args: argparse.Namespace, corpus: Corpus, root: Path) -> dict[str, Any]:
    every = copy.copy(args)
    every.versions = []  # the oldest that can make each image, whatever the runs select
    binaries = resolve.find_binaries(every)
    result = build_corpus(BuildRequest(corpus, tuple(binaries), root, timeout=args.timeout))
    print(build_summary(result, corpus))
    return result.manifest(corpus)
