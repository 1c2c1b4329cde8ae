"""qemu-img-human and qemu-img-json: `qemu-img info [--output=json] IMAGE` on every safe
image of the corpus (instar tests/test_info_safe.py: the manifest's `safety == 'safe'`
entries; its docs give the argv, no `-f`, so a fixed vhd is probed as raw)."""

from __future__ import annotations

from toolkit.model.commands.corpus import SAFE_IMAGES, corpus_type, on_image

__all__ = ["QEMU_IMG_HUMAN", "QEMU_IMG_JSON"]

QEMU_IMG_HUMAN = corpus_type("qemu-img-human", "info", on_image("info"), "text", SAFE_IMAGES)
QEMU_IMG_JSON = corpus_type(
    "qemu-img-json", "info", on_image("info", "--output=json"), "object", SAFE_IMAGES
)
