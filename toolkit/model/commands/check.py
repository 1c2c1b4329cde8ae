"""check-human and check-json: `qemu-img check --output=human|json IMAGE` on every image of
the corpus (instar's run_qemu_img_check passes `--output=<format>` either way; no suite of
the consumer reads these trees, so no image is left out). Exit 2 (corruptions) and 3
(leaks) are check's answers, not failures; 63 (the format has no check) is a refusal."""

from __future__ import annotations

from toolkit.model.commands.corpus import IMAGES, corpus_type, on_image

__all__ = ["CHECK_HUMAN", "CHECK_JSON"]

CHECK_ANSWERS = (2, 3)

CHECK_HUMAN = corpus_type(
    "check-human", "check", on_image("check", "--output=human"), "text", IMAGES, CHECK_ANSWERS
)
CHECK_JSON = corpus_type(
    "check-json", "check", on_image("check", "--output=json"), "object", IMAGES, CHECK_ANSWERS
)
