"""Every command's case schema beyond resize and create (their schema is case_schema's own):
one Schema per command, from its module in toolkit/baseline/schemas/."""

from __future__ import annotations

from toolkit.baseline.schema_fields import Schema
from toolkit.baseline.schemas import amend, bitmap, commit, dd, measure, rebase

__all__ = ["SCHEMAS"]

SCHEMAS: dict[str, Schema] = {
    "rebase": rebase.SCHEMA,
    "commit": commit.SCHEMA,
    "amend": amend.SCHEMA,
    "bitmap": bitmap.SCHEMA,
    "dd": dd.SCHEMA,
    "measure": measure.SCHEMA,
}
