"""generate's summary: what ran, what was written, and what a non-zero exit means."""

from __future__ import annotations

from toolkit.model.advice import shell
from toolkit.render.words import plural
from toolkit.stages.generate import GenerateSummary

__all__ = ["commit_hint", "summary"]


def summary(s: GenerateSummary) -> str:
    """The run in a few lines; the commit hint when files changed."""
    lines = [
        f"generate {s.spec.name}: {plural(len(s.binaries), 'version')} ({s.versions}), "
        f"{plural(s.cases, 'case')}, {plural(s.runs, 'run')} into {s.tree}; "
        f"files written {s.written}, unchanged {s.unchanged}"
    ]
    for step, reasons in s.reasons.items():
        why = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        lines.append(
            f"  {step} was rejected by qemu-img in {s.nonzero[step]} of {s.runs} runs ({why}): "
            "recorded as baselines, since a rejection is qemu-img's answer, not a failure"
        )
    for step, codes in s.answered.items():
        exits = ", ".join(f"exit {rc} in {plural(n, 'run')}" for rc, n in codes.items())
        lines.append(f"  {step} answered {exits} of {s.runs}: the command's answer (not a "
                     "rejection), recorded as baselines")  # fmt: skip
    if s.repaired or s.swept:
        lines.append(
            f"a killed run had left unfinished triples ({', '.join(s.repaired) or 'none'}): "
            f"{len(s.repaired)} rewritten; and {plural(s.swept, 'stray temp file')}: removed"
        )
    return "\n".join(lines) + "\n"


def commit_hint(trees: list[tuple[str, str]], versions: str) -> str:
    """`To commit: ...` for every tree that changed, shell-quoted to run as pasted."""
    names = ", ".join(name for _, name in trees)
    add = shell("git", "add", "--", *(t for t, _ in trees))
    commit = shell("git", "commit", "-m", f"baselines: {names} ({versions})")
    return f"To commit: {add} && {commit}\n"
