"""compare-human: `qemu-img compare [-s] A B` on every compare pair of the corpus (instar's
run_qemu_img_compare). Exit 1 (the images differ) is compare's answer.

There is no compare-json: `qemu-img compare` has no `--output` on any version (5.2.0 to
11.1.3 refuse `--output=json` as an unrecognized option, exit 1). The consumer's
`compare --output json` is instar's own document (`identical`, `first-mismatch-offset`,
`total-bytes-compared`, `size-mismatch`), checked by its own tests on live images, never
against a baseline (README: Inspection outputs).
"""

from __future__ import annotations

from toolkit.model.commands.corpus import PAIRS, corpus_type, on_pair

__all__ = ["COMPARE_HUMAN"]

COMPARE_HUMAN = corpus_type("compare-human", "compare", on_pair("compare"), "text", PAIRS, (1,))
