"""measure's `[[case]]` table: a size-mode case (the source-mode cases are the corpus's
images, toolkit.model.commands.measure). `format` is the consumer's directory for them,
`_size`; `size` goes to `--size`, `target` to `-O`, each of `options` to one `-o`.

    [[case]]
    format = "_size"
    name = "1G-qcow2-cs-512"
    size = "1G"
    target = "qcow2"
    options = ["cluster_size=512"]

measure writes nothing (it only computes), so no size is capped; the options are the
target's create allow-list (nothing that names a host file).
"""

from __future__ import annotations

from typing import Any

from toolkit.baseline.caps import check_options
from toolkit.baseline.schema_fields import Bad, Schema, choice, size, words
from toolkit.model.commands.measure import SIZE_GROUP, TARGETS

__all__ = ["SCHEMA"]


def build(entry: dict[str, Any], bad: Bad) -> dict[str, Any]:
    text = size(entry, "size", bad)
    target = choice(entry, "target", TARGETS, bad)
    options = words(entry, "options", bad)
    if target is not None:
        check_options(target, list(options), bad)
    return {"params": {"size": text, "target": target, "options": options}}


# `size` is a param like the others (a size case has no image of its own: no start_size)
SCHEMA = Schema(
    frozenset({"size", "target", "options"}), frozenset({SIZE_GROUP}), build, size_key=None
)
