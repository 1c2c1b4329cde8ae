"""map-human and map-json: `qemu-img map [--output=json] IMAGE` on every safe image of the
corpus (instar tests/test_map.py: the manifest's `safety == 'safe'` entries). The JSON is
an array, one object per extent."""

from __future__ import annotations

from toolkit.model.commands.corpus import SAFE_IMAGES, corpus_type, on_image

__all__ = ["MAP_HUMAN", "MAP_JSON"]

MAP_HUMAN = corpus_type("map-human", "map", on_image("map"), "text", SAFE_IMAGES)
MAP_JSON = corpus_type("map-json", "map", on_image("map", "--output=json"), "array", SAFE_IMAGES)
