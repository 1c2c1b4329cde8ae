"""snapshot-list-human: `qemu-img snapshot -l IMAGE` with TZ=UTC on every image tagged
`snapshots` (instar tests/test_snapshot.py selects them by that tag, and runs both sides
with TZ=UTC: the DATE column is local time)."""

from __future__ import annotations

from toolkit.model.commands.corpus import corpus_type, on_image
from toolkit.model.images import CorpusCases

__all__ = ["SNAPSHOT_LIST_HUMAN"]

SNAPSHOT_LIST_HUMAN = corpus_type(
    "snapshot-list-human",
    "snapshot",
    on_image("snapshot", "-l"),
    "text",
    CorpusCases("image", tags=("snapshots",)),
    env=(("TZ", "UTC"),),
)
