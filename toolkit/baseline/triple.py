"""CaseResult <-> the triple of one case: `<case>.stdout.txt`, `.stderr.txt`, `.meta.json`.

Where triples live is the tree's business (toolkit.baseline.tree). A triple is read and
written through the guard (toolkit.baseline.guard), and written as one unit (see
write_baseline): a staged file left beside it marks it unfinished.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.baseline import guard
from toolkit.baseline.layout import SUFFIXES, temp_file_owner, triple_paths
from toolkit.baseline.recordable import size_disagreement
from toolkit.model.pipeline import CommandSpec, preallocation_mode
from toolkit.model.records import Baseline, CaseResult
from toolkit.model.resources import data_text

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = [
    "SUFFIXES",
    "build_meta",
    "combined_stderr",
    "dump_json",
    "meta_errors",
    "read_baseline",
    "temp_file_owner",
    "to_baseline",
    "triple_paths",
    "write_baseline",
]


def dump_json(data: Any) -> str:
    """The one JSON spelling of the tree: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def combined_stderr(result: CaseResult, spec: CommandSpec) -> str:
    """First step's stderr, then `marker` + stderr for each later step that ran."""
    parts: list[str] = []
    for step_spec, step in zip(spec.steps, result.steps, strict=True):
        if not step.ran:
            continue
        if step_spec.marker is not None:
            text = "".join(parts)
            if text and not text.endswith("\n"):
                parts.append("\n")  # the marker always starts its own line
            parts.append(step_spec.marker + "\n")
        parts.append(step.stderr)
    return "".join(parts)


def build_meta(result: CaseResult, spec: CommandSpec) -> dict[str, Any]:
    case = result.case
    meta: dict[str, Any] = {
        "command": spec.command,
        "case_name": case.name,
        "format": case.format,
        "qemu_version": result.binary.version,
        "qemu_version_line": result.binary.version_line,
        "start_size_str": case.start_size,
        "end_spec": case.end_spec,
        "create_options": list(case.create_options),
        "prealloc": case.prealloc,
        # The name the consuming harness reads (meta.get('preallocation')): for resize the
        # same value as prealloc, for create the `-o preallocation=` mode.
        "preallocation": preallocation_mode(case, spec),
        "shrink": case.shrink,
        "applied_shrink_flag": result.applied_shrink_flag,
        "expected_final_size": result.expected_final_size,
    }
    for step_spec, step in zip(spec.steps, result.steps, strict=True):
        n = step.name
        meta[f"{n}_argv"] = list(step.argv)
        meta[f"{n}_return_code"] = step.return_code
        meta[f"{n}_stdout_bytes"] = step.stdout_bytes
        meta[f"{n}_stderr_bytes"] = step.stderr_bytes
        meta[f"{n}_timed_out"] = step.timed_out
        if not step_spec.stdout_is_artefact:
            # e.g. create's "Formatting '$FILENAME', fmt=..." line: every version's defaults.
            meta[f"{n}_stdout"] = step.stdout if step.ran else None
    if spec.findings_of:
        # A finding records what the binary did even where the size model disagrees:
        # the disagreement is part of what was found (recordable.size_disagreement).
        meta["model_disagreement"] = size_disagreement(result, spec)
    return meta


def to_baseline(result: CaseResult, spec: CommandSpec) -> Baseline:
    info = next((s for s in result.steps if s.name == "info"), None)
    stdout = info.stdout if info is not None and info.ran else ""
    # Not schema-checked here: build_meta is the only writer of metas, and checking
    # each one would cost generate jsonschema's import (~70 ms). verify checks every
    # meta on disk against the schema, and the tests do so for every generated tree.
    meta = build_meta(result, spec)
    return Baseline(stdout=stdout, stderr=combined_stderr(result, spec), meta=meta)


@cache
def meta_schema(spec: CommandSpec) -> Any:
    """The shipped schema, with the step keys of this command filled in."""
    base = json.loads(data_text("meta.schema.json"))
    step_props: dict[str, Any] = base.pop("x-step-properties")
    if spec.findings_of:
        base["required"].append("model_disagreement")
    else:
        del base["properties"]["model_disagreement"]
    for step in spec.steps:
        for key, sub in step_props.items():
            # info's stdout is the .stdout.txt file itself, not a meta key.
            if key != "stdout" or not step.stdout_is_artefact:
                base["properties"][f"{step.name}_{key}"] = sub
                base["required"].append(f"{step.name}_{key}")
    return base


@cache
def meta_validator(spec: CommandSpec) -> Validator:
    """Built once: jsonschema.validate() would re-check the schema itself on every call.

    jsonschema is imported here, not at module level: only verify needs it.
    """
    import jsonschema

    schema = meta_schema(spec)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema)
    return validator


def meta_errors(meta: Any, spec: CommandSpec) -> list[str]:
    """Schema problems of a meta, as messages (empty when it is valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in meta_validator(spec).iter_errors(meta)
    ]


def write_baseline(root: Path, directory: Path, name: str, baseline: Baseline) -> int:
    """Write the triple in `directory` (below `root`) as one unit. Returns how many files changed.

    Every changed file is staged first (a temp file in the same directory, fsynced),
    then the staged files are renamed into place back to back, the meta last. Until
    the last rename, a staged file of this case is on disk, so a run killed anywhere
    in between leaves evidence (`unfinished_triples`) instead of a triple that mixes
    a new stdout with an old meta. A link or a special file in its place is refused.
    """
    out, err, meta = triple_paths(directory, name)
    files = [(out, baseline.stdout), (err, baseline.stderr), (meta, dump_json(baseline.meta))]
    with guard.open_dir(root, directory, create=True) as d:
        return d.write_unit([(p.name, text.encode()) for p, text in files], guard.TRIPLE)


def read_baseline(root: Path, directory: Path, name: str) -> Baseline:
    """The triple in `directory` (below `root`), read through the guard: UnsafeFile for a link
    or a special file; OSError, UnicodeDecodeError or json.JSONDecodeError for the rest."""
    out, err, meta = triple_paths(directory, name)
    with guard.open_dir(root, directory) as d:
        return Baseline(
            stdout=d.read(out.name, guard.TEXT).decode(),
            stderr=d.read(err.name, guard.TEXT).decode(),
            meta=guard.parse_json(d.read(meta.name, guard.META)),
        )
