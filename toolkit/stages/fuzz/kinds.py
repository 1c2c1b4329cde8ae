"""What `fuzz --command X` explores: one FuzzKind per command, the registry KINDS.

A kind is the command whose findings it saves (they go to that command's findings types),
the steps each example runs (the command's own, plus any steps its checks need: resize's
info-before, rebase's and commit's checking steps, chain_spec.py), the checks that apply
to it and the function that judges one run.
What is the same for every kind lives in the session: I6 (a second run gives the same
artefacts), drift between versions, and D1-D3 against a reference in differential mode.
Each kind's hypothesis strategy is strategies.EXAMPLES[command] (hypothesis is imported
only when fuzz runs); its domain simplification, if any, simplify.VARIANTS[command].

Adding a kind: its checks in invariants.INVARIANTS (an id, a title), a judge, a strategy,
and one line in KINDS. The CLI, the session, findings and the summary take it as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from toolkit.model.commands.measure import SIZE_GROUP
from toolkit.model.formats import FORMATS
from toolkit.model.pipeline import COMMANDS, CommandSpec, family
from toolkit.model.records import CaseResult
from toolkit.stages.fuzz import invariants
from toolkit.stages.fuzz.amend_checks import AMEND_FUZZ, check_amend
from toolkit.stages.fuzz.chain_checks import check_commit, check_rebase
from toolkit.stages.fuzz.chain_spec import COMMIT_FUZZ, REBASE_FUZZ
from toolkit.stages.fuzz.invariants import Verdict
from toolkit.stages.fuzz.measure_checks import MEASURE_FUZZ, check_measure

__all__ = ["KINDS", "FuzzKind", "kind"]


@dataclass(frozen=True)
class FuzzKind:
    command: str  # the command whose findings type records what this kind finds
    spec: CommandSpec  # the steps each example runs
    checks: tuple[str, ...]  # invariants.INVARIANTS ids that apply, besides I6 (every kind's)
    judge: Callable[[CaseResult], list[Verdict]]  # the per-run checks on one result
    formats: tuple[str, ...] = tuple(FORMATS)  # what --format may select
    grammar_probe: bool = False  # I5: each example also carries a size string to probe
    # The checks of other kinds, with why they do not apply here (the CLI's message).
    not_here: tuple[tuple[str, str], ...] = ()

    @property
    def invariants(self) -> tuple[str, ...]:
        """Every check of this kind on real qemu-img, in the table's order (I6 included)."""
        return tuple(i for i in invariants.INVARIANTS if i in self.checks or i == "I6")

    @property
    def drift_steps(self) -> tuple[str, ...]:
        """The steps compared across versions: the command's own, as its baselines hold
        them (a checking step such as info-before would only repeat what they show)."""
        return family(self.command)[0].step_names()

    def why_not(self, check: str) -> str:
        why = dict(self.not_here).get(check)
        return why or f"it is not a check of `fuzz --command {self.command}`"


KINDS: dict[str, FuzzKind] = {
    "resize": FuzzKind(
        "resize",
        invariants.FUZZ_SPEC,
        ("I1", "I2", "I3", "I4", "I5"),
        invariants.check_resize,
        grammar_probe=True,
    ),
    "create": FuzzKind(
        "create",
        COMMANDS["create"],
        ("I1",),
        invariants.check_create,
        not_here=tuple(invariants.RESIZE_ONLY.items()),
    ),
    # qcow2 is the format rebase works on in every version we record (qed too, which is
    # not one of ours); vmdk overlays are made, and every version refuses to rebase them.
    "rebase": FuzzKind(
        "rebase", REBASE_FUZZ, ("R1", "R2", "R3", "R4"), check_rebase, ("qcow2", "vmdk")
    ),
    "commit": FuzzKind(
        "commit", COMMIT_FUZZ, ("C1", "C2", "C3", "C4"), check_commit, ("qcow2", "vmdk")
    ),
    "amend": FuzzKind("amend", AMEND_FUZZ, ("A1", "A2", "A3"), check_amend, ("qcow2",)),
    # size mode: measure's `format` is the consumer's directory of its size cases, `_size`
    "measure": FuzzKind("measure", MEASURE_FUZZ, ("M1", "M2", "M3"), check_measure, (SIZE_GROUP,)),
}


def kind(command: str) -> FuzzKind:
    return KINDS[command]
