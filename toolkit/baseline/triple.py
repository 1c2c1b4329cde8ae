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
from toolkit.model.pipeline import CommandSpec, Plan, StepSpec
from toolkit.model.records import Baseline, Case, CaseResult, StepResult
from toolkit.model.resources import data_text

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = [
    "SUFFIXES",
    "artefact_text",
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


def _steps(result: CaseResult, spec: CommandSpec) -> list[tuple[StepSpec, StepResult]]:
    """Each step of the run with its definition; ValueError unless the run has exactly the
    steps its case runs (a result is never recorded with a step missing or extra)."""
    specs = spec.steps_for(result.case)
    if [s.name for s in specs] != [r.name for r in result.steps]:
        raise ValueError(
            f"{result.case.name}: the run has steps {[r.name for r in result.steps]}, "
            f"its case runs {[s.name for s in specs]}"
        )
    return list(zip(specs, result.steps, strict=True))


def combined_stderr(result: CaseResult, spec: CommandSpec) -> str:
    """First step's stderr, then `marker` + stderr for each later step that ran."""
    parts: list[str] = []
    for step_spec, step in _steps(result, spec):
        if not step.ran:
            continue
        marker = step_spec.marker
        if marker is not None:
            text = "".join(parts)
            if text and not text.endswith("\n"):
                parts.append("\n")  # the marker always starts its own line
            parts.append(marker + "\n")
        parts.append(step.stderr)
    return "".join(parts)


def artefact_text(result: CaseResult, spec: CommandSpec) -> str:
    """What `<case>.stdout.txt` holds: the artefact step's stdout ("" when it did not run)."""
    step = next((s for s in result.steps if s.name == spec.artefact), None)
    return step.stdout if step is not None and step.ran else ""


def build_meta(result: CaseResult, spec: CommandSpec) -> dict[str, Any]:
    """The meta contract: common keys, the command's inputs, each step's keys, what is
    derived from the run (toolkit/data/meta.schema.json)."""
    case = result.case
    meta: dict[str, Any] = {
        "command": spec.command,
        "case_name": case.name,
        "format": case.format,
        "qemu_version": result.binary.version,
        "qemu_version_line": result.binary.version_line,
        "stdout_bytes": len(artefact_text(result, spec).encode()),
    }
    if spec.inputs is not None:
        meta.update(spec.inputs(case, Plan(result.applied_shrink_flag, result.expected_final_size)))
    for _, step in _steps(result, spec):
        n = step.name
        meta[f"{n}_argv"] = list(step.argv)
        meta[f"{n}_return_code"] = step.return_code
        meta[f"{n}_stderr_bytes"] = step.stderr_bytes
        meta[f"{n}_timed_out"] = step.timed_out
        kept = spec.stdout_keys(n)
        if kept:
            meta[f"{n}_stdout_bytes"] = step.stdout_bytes
        if "stdout" in kept:
            # e.g. create's "Formatting '$FILENAME', fmt=..." line: every version's defaults.
            meta[f"{n}_stdout"] = step.stdout if step.ran else None
    if spec.return_code_of is not None:
        own = next((s for s in result.steps if s.name == spec.return_code_of), None)
        meta["return_code"] = None if own is None else own.return_code
    if spec.derived is not None:
        meta.update(spec.derived(result))
    if spec.findings_of:
        # A finding records what the binary did even where the size model disagrees:
        # the disagreement is part of what was found (recordable.size_disagreement).
        meta["model_disagreement"] = size_disagreement(result, spec)
    return meta


def to_baseline(result: CaseResult, spec: CommandSpec) -> Baseline:
    # Not schema-checked here: build_meta is the only writer of metas, and checking
    # each one would cost generate jsonschema's import (~70 ms). verify checks every
    # meta on disk against the schema, and the tests do so for every generated tree.
    meta = build_meta(result, spec)
    return Baseline(artefact_text(result, spec), combined_stderr(result, spec), meta)


@cache
def meta_schema(spec: CommandSpec, steps: tuple[str, ...]) -> Any:
    """The shipped schema with this command's keys filled in, for a case that ran `steps`."""
    base = json.loads(data_text("meta.schema.json"))
    inputs: dict[str, Any] = base.pop("x-inputs")
    derived: dict[str, Any] = base.pop("x-derived")
    step_props: dict[str, Any] = base.pop("x-step-properties")
    own = inputs.get(spec.command, {})
    own = inputs[own] if isinstance(own, str) else own  # create's inputs are resize's
    keys = [*spec.derived_keys, *(["return_code"] if spec.return_code_of else [])]
    keys += ["model_disagreement"] if spec.findings_of else []
    for key, sub in [*own.items(), *((k, derived[k]) for k in keys)]:
        base["properties"][key] = sub
        base["required"].append(key)
    for name in steps:
        for key, sub in step_props.items():
            # the artefact's stdout is the .stdout.txt file itself, not a meta key; a
            # stdout another type of the pipeline records is not repeated either.
            if not key.startswith("stdout") or key in spec.stdout_keys(name):
                if key == "argv":  # argv[0] is the step's own program
                    sub = {**sub, "prefixItems": [{"const": spec.step(name).program}]}
                base["properties"][f"{name}_{key}"] = sub
                base["required"].append(f"{name}_{key}")
    return base


@cache
def meta_validator(spec: CommandSpec, steps: tuple[str, ...]) -> Validator:
    """Built once: jsonschema.validate() would re-check the schema itself on every call.

    jsonschema is imported here, not at module level: only verify needs it.
    """
    import jsonschema

    schema = meta_schema(spec, steps)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema)
    return validator


def meta_errors(meta: Any, spec: CommandSpec, case: Case) -> list[str]:
    """Schema problems of a meta of `case`, as messages (empty when it is valid)."""
    steps = tuple(s.name for s in spec.steps_for(case))
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in meta_validator(spec, steps).iter_errors(meta)
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
