"""The consumer's rules for a profile tree (instar-testdata's `validate_profiles()`, which
refuses to commit a tree that breaks them; consumer.md section 12):

  * every `profiles/<profile>/<stem>.stdout.txt` is as long as its `.meta.json` says
    (`stdout_bytes`);
  * no two profiles of one output type hold identical stdout: the same stems, each
    `.stdout.txt` byte for byte the same.

They are checked on the profile directories as they are on disk (a copied or hand-made
profile directory included), by `profiles --check` and `verify --offline` (check
`profile-rules`). Every read goes through the guard; a link or a special file is left to
the `file-type` check and skipped here.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from toolkit.baseline import guard
from toolkit.baseline.profile_files import ProfileProblem, profiles_dir
from toolkit.model.advice import Fixes
from toolkit.model.pipeline import CommandSpec

__all__ = ["RULES_FIX", "rule_problems"]

STDOUT, META = ".stdout.txt", ".meta.json"
CHECK = "profile-rules"
RULES_FIX = (
    "the consumer's validate_profiles() refuses such a tree; refresh profiles/ with "
    "`{refresh}` (a hand-made or copied profile directory is removed), or regenerate the type"
)


def _regular_files(d: Path) -> dict[str, Path]:
    """name -> path of each regular file in `d` (links and special files: file-type's)."""
    out: dict[str, Path] = {}
    with os.scandir(d) as entries:
        for e in entries:
            if stat.S_ISREG(e.stat(follow_symlinks=False).st_mode):
                out[e.name] = Path(e.path)
    return out


def _profile_dirs(root: Path, spec: CommandSpec) -> list[Path]:
    top = profiles_dir(root, spec)
    try:
        if not stat.S_ISDIR(top.lstat().st_mode):
            return []
    except FileNotFoundError:
        return []
    with os.scandir(top) as entries:
        return sorted(
            Path(e.path) for e in entries if stat.S_ISDIR(e.stat(follow_symlinks=False).st_mode)
        )


def _read(root: Path, path: Path, kind: guard.Kind) -> bytes | None:
    try:
        return guard.read_bytes(root, path, kind)
    except (OSError, guard.UnsafeFile):  # gone, unreadable, a link: other checks say so
        return None


def rule_problems(root: Path, spec: CommandSpec, refresh: str = "") -> list[ProfileProblem]:
    """Every break of the two rules, each naming its files. `refresh`: the command the fix
    names (default: `python -m toolkit profiles` for this type)."""
    fix = RULES_FIX.format(refresh=refresh or Fixes().profiles(spec.name))
    found: list[ProfileProblem] = []
    sets: dict[Path, dict[str, bytes]] = {}
    for d in _profile_dirs(root, spec):
        files = _regular_files(d)
        outputs: dict[str, bytes] = {}
        for name in sorted(files):
            if not name.endswith(STDOUT) or len(name) == len(STDOUT):
                continue
            stem = name[: -len(STDOUT)]
            data = _read(root, files[name], guard.PROFILE_COPY)
            if data is None:
                continue
            outputs[stem] = data
            meta_path = d / f"{stem}{META}"
            raw = _read(root, meta_path, guard.PROFILE_COPY) if stem + META in files else None
            try:
                meta = guard.parse_json(raw) if raw is not None else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                meta = None  # the profiles check names a copy that is no longer its source
            said = meta.get("stdout_bytes") if isinstance(meta, dict) else None
            if said is not None and said != len(data):
                found.append(ProfileProblem(
                    files[name],
                    f"is {len(data)} bytes but {meta_path.name} says stdout_bytes {said}; {fix}",
                    CHECK,
                ))  # fmt: skip
        sets[d] = outputs
    same: dict[tuple[tuple[str, bytes], ...], list[Path]] = {}
    for d, outputs in sets.items():
        if outputs:
            same.setdefault(tuple(sorted(outputs.items())), []).append(d)
    for dirs in same.values():
        if len(dirs) > 1:
            names = ", ".join(p.name for p in dirs)
            found.append(ProfileProblem(
                dirs[-1],
                f"holds the same stdout as {names.rsplit(', ', 1)[0]} ({len(sets[dirs[0]])} "
                f"files, byte for byte): no two profiles of {spec.output_type} may be "
                f"identical ({names}); {fix}",
                CHECK,
            ))  # fmt: skip
    return found
