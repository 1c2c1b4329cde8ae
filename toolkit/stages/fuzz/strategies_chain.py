"""Hypothesis strategies for rebase and commit examples: a backing chain, its sizes, the
command's flags, and data written into its images (kinds.py: the checks they feed).

Every case is built as a case table and validated by `case_schema.parse_case` with the
command's own schema, so an example is exactly a case `generate` can record (and a
finding is saved as is). Sizes are small (64k..3M, whole sectors) and spelled in bytes or
whole k, as every version parses them the same way; writes are sector-aligned runs of one
byte, a few per image, often overlapping across the chain so that what a rebase copies or
a commit moves is data, not zeros.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from toolkit.baseline.case_schema import parse_case
from toolkit.model.formats import driver_for
from toolkit.model.pipeline import COMMANDS
from toolkit.model.records import Case
from toolkit.stages.fuzz.findings import case_name, simplicity

__all__ = [
    "chain_case",
    "chain_variants",
    "commit_cases",
    "image_size",
    "image_writes",
    "rebase_cases",
    "spell_bytes",
]

SECTOR = 512
KIB64 = 65536


def spell_bytes(size: int) -> str:
    """`1024k` style when whole k, else plain bytes."""
    return f"{size // 1024}k" if size % 1024 == 0 else str(size)


def chain_case(command: str, fmt: str, size: str, params: dict[str, Any]) -> Case | None:
    """The case the table {format, size, params...} is (its name from its inputs), or None
    when the schema refuses it."""
    spec = COMMANDS["rebase" if command == "rebase" else "commit-overlay"]
    frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
    entry: dict[str, Any] = {"format": fmt, "size": size}
    entry.update({k: _thaw(v) for k, v in params.items() if v is not None})
    entry["name"] = case_name(fmt, size, None, (), None, None, frozen)
    case, _errors = parse_case(entry, spec, "<fuzz>")
    return case


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list | tuple) else value


def _thaw(value: Any) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, list | tuple) else value


def image_size(least: int = KIB64) -> st.SearchStrategy[int]:
    """A size in whole sectors: mostly 64k steps (a qcow2 cluster), now and then odd."""
    clusters = st.integers(least // KIB64, 48).map(lambda n: n * KIB64)
    sectors = st.integers(max(1, least // SECTOR), 6144).map(lambda n: n * SECTOR)
    return st.one_of(clusters, clusters, sectors)


@st.composite
def image_writes(draw: st.DrawFn, size: int) -> list[list[int]] | None:
    """None (no data) or 1-3 writes inside `size`, sector-aligned, up to 128k each."""
    if draw(st.integers(0, 2)) == 0:
        return None
    out = []
    for _ in range(draw(st.integers(1, 3))):
        sectors = size // SECTOR
        clusters = st.integers(0, (size - 1) // KIB64).map(lambda c: c * (KIB64 // SECTOR))
        start = min(draw(st.one_of(st.integers(0, sectors - 1), clusters)), sectors - 1)
        length = draw(st.one_of(st.integers(1, 256), st.just(128)))
        length = min(length, sectors - start)
        out.append([draw(st.integers(0, 255)), start * SECTOR, length * SECTOR])
    return out


@st.composite
def rebase_cases(draw: st.DrawFn, formats: tuple[str, ...] = ("qcow2", "vmdk")) -> Case:
    fmt = draw(st.sampled_from([f for f in formats for _ in range(4 if f == "qcow2" else 1)]))
    size = draw(image_size())
    detach = draw(st.integers(0, 4)) == 4  # hypothesis favours small draws: 0 is the usual
    backing = None if detach else draw(st.one_of(st.just(size), image_size()))
    flags: list[str] = []
    if draw(st.booleans()):
        flags.append("-u")
    if not detach:  # -F: the new backing file's format; now and then absent or another
        driver = driver_for(fmt)
        choice = {8: None, 9: "raw"}.get(draw(st.integers(0, 9)), driver)
        flags += ["-F", choice] if choice else []
    if draw(st.integers(0, 5)) == 5:
        flags.append(draw(st.sampled_from(("-q", "-c"))))
    if draw(st.integers(0, 7)) == 7:
        flags[:0] = ["-f", driver_for(fmt)]
    params: dict[str, Any] = {"backing": None if backing is None else spell_bytes(backing)}
    params["flags"] = flags
    params["base_writes"] = draw(image_writes(size))
    params["next_writes"] = None if backing is None else draw(image_writes(backing))
    params["overlay_writes"] = draw(image_writes(size))
    case = chain_case("rebase", fmt, spell_bytes(size), params)
    if case is None:
        raise AssertionError(f"strategy built an invalid rebase case: {fmt} {size} {params}")
    return case


@st.composite
def commit_cases(draw: st.DrawFn, formats: tuple[str, ...] = ("qcow2", "vmdk")) -> Case:
    fmt = draw(st.sampled_from([f for f in formats for _ in range(3 if f == "qcow2" else 1)]))
    size = draw(image_size())
    seeds = [s for s, n in (("512", 512), ("4k", 4096), ("64k", KIB64)) if n <= size]
    seed = draw(st.one_of(st.none(), st.sampled_from(seeds)))
    params: dict[str, Any] = {"explicit_base": draw(st.booleans()), "seed": seed}
    params["base_writes"] = draw(image_writes(size))
    params["overlay_writes"] = draw(image_writes(size))
    case = chain_case("commit", fmt, spell_bytes(size), params)
    if case is None:
        raise AssertionError(f"strategy built an invalid commit case: {fmt} {size} {params}")
    return case


def chain_variants(case: Case) -> Iterator[Case]:
    """Simpler rebase or commit cases than `case` (simplify.py): without an image's writes,
    one write, a flag (-F and -f with their format), the seed, -b; at a rounder size."""
    params = {k: _thaw(v) for k, v in case.params}
    tries: list[tuple[str, dict[str, Any]]] = []
    for key in ("base_writes", "next_writes", "overlay_writes"):
        found = params.get(key)
        if found:
            tries.append((case.start_size, {**params, key: None}))
            tries += [(case.start_size, {**params, key: found[:i] + found[i + 1 :]})
                      for i in range(len(found)) if len(found) > 1]  # fmt: skip
    flags, takes = params.get("flags") or [], ("-F", "-f")  # each takes a format after it
    units = [[f, *(flags[i + 1 : i + 2] if f in takes else [])]
             for i, f in enumerate(flags) if i == 0 or flags[i - 1] not in takes]  # fmt: skip
    for i in range(len(units)):
        rest = [w for j, u in enumerate(units) if j != i for w in u]
        tries.append((case.start_size, {**params, "flags": rest}))
    if params.get("seed") is not None:
        tries.append((case.start_size, {**params, "seed": None}))
    if params.get("explicit_base"):
        tries.append((case.start_size, {**params, "explicit_base": False}))
    for size in ("64k", "1M"):
        tries.append((size, params))
        if params.get("backing") is not None:
            tries.append((size, {**params, "backing": size}))
    command = "rebase" if case.command == "rebase" else "commit"
    for size, p in tries:
        simpler = chain_case(command, case.format, size, p)
        if simpler is not None and simplicity(simpler) < simplicity(case):
            yield simpler
