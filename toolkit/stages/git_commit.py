"""generate --commit: the regenerated trees committed with git (checked before any run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from toolkit.model.errors import BadInput, ToolkitFailure

__all__ = ["check_commit", "commit_tree"]


def check_commit(tree: Path) -> None:
    """--commit needs the tree inside a git work tree: checked before any run."""
    where = tree if tree.is_dir() else next(p for p in tree.parents if p.is_dir())
    try:
        inside = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        raise BadInput(f"--commit needs git: {exc}") from None
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise BadInput(
            f"--commit: {tree} is not inside a git repository; drop --commit or point "
            "--expected-outputs into a checkout"
        )


def commit_tree(tree: Path, versions: str) -> bool:
    """git add + commit the regenerated tree. False when there was nothing to commit."""
    try:
        subprocess.run(["git", "add", "--", str(tree)], check=True)
        staged = subprocess.run(["git", "diff", "--cached", "--quiet", "--", str(tree)])
        if staged.returncode == 0:
            return False
        msg = f"baselines: {tree.name} for qemu-img {versions}"
        subprocess.run(["git", "commit", "-m", msg, "--", str(tree)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ToolkitFailure(f"--commit failed: {exc}") from exc
    return True
