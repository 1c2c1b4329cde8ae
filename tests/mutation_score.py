"""The score of `nox -s mutants`: reads `mutmut results --all true` and the list of
equivalent mutants (tests/equivalent_mutants.toml), prints the score per module and
every survivor, and exits 1 below the target or with a survivor nobody explained.

Not a test module (no test_ prefix): nox runs it after mutmut.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import tomllib
from pathlib import Path

TARGET = 0.90
EQUIVALENT = Path(__file__).with_name("equivalent_mutants.toml")
LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")
KILLED = {"killed", "caught by type check", "timeout", "segfault"}


def module_of(mutant: str) -> str:
    """toolkit.model.sizes.x__strtod__mutmut_3 -> toolkit.model.sizes"""
    return mutant.split(".x", 1)[0] if ".x" in mutant else mutant.rsplit(".", 1)[0]


def main() -> int:
    out = subprocess.run(
        ["mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    status = {m["name"]: m["status"].strip() for m in map(LINE.match, out.splitlines()) if m}
    if not status:
        print("no mutation results: run `mutmut run` first", file=sys.stderr)
        return 2
    equivalent: dict[str, str] = tomllib.loads(EQUIVALENT.read_text())["equivalent"]
    per_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for name, s in status.items():
        kind = "killed" if s in KILLED else ("equivalent" if name in equivalent else s)
        per_module[module_of(name)][kind] += 1
    print(f"{'module':44} {'mutants':>7} {'killed':>7} {'equiv.':>6} {'other':>5}  score")
    totals: collections.Counter[str] = collections.Counter()
    for module, c in sorted(per_module.items()):
        n = sum(c.values())
        other = n - c["killed"] - c["equivalent"]
        score = (c["killed"] + c["equivalent"]) / n
        print(f"{module:44} {n:7} {c['killed']:7} {c['equivalent']:6} {other:5}  {score:6.1%}")
        totals.update(c)
    n = sum(totals.values())
    killed, equiv = totals["killed"], totals["equivalent"]
    score = (killed + equiv) / n
    by_types = sum(1 for s in status.values() if s == "caught by type check")
    print(
        f"\nmutation score: {score:.1%} ({killed} killed, {by_types} of them by mypy; "
        f"{equiv} equivalent; of {n} mutants; target {TARGET:.0%})"
    )
    unexplained = sorted(n for n, s in status.items() if s not in KILLED and n not in equivalent)
    if unexplained:
        print(f"\n{len(unexplained)} mutants not killed (`mutmut show NAME` shows each):")
        for name in unexplained:
            print(f"  {name}: {status[name]}")
    stale = sorted(set(equivalent) - {n for n, s in status.items() if s not in KILLED})
    if stale:
        print(f"\n{len(stale)} entries of {EQUIVALENT.name} no longer survive: remove them")
        for name in stale:
            print(f"  {name}")
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
