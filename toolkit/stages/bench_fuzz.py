"""Bench figures of fuzz (part of `bench`): examples/s on the real qemu-img, and
differential fuzzing of a slow candidate.

The candidate is a stand-in written into the bench's scratch directory: the real
qemu-img behind a shell wrapper that sleeps SLOW_CALL_S per call (a candidate that
costs about 30 ms a call, or more) and plants two defects: resize shrinks without
--shrink (D1) and info omits the `children` block (D2, from qemu 10.0). Measured:
the time from start to the first failure printed, and the whole run with --max-time
60; both defects must be found.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from toolkit.model.records import QemuBinary

__all__ = ["TARGETS", "fuzz_candidate_figures", "fuzz_rate", "standin_script"]

# Targets are ceilings: a run that misses a planted defect misses its target too.
TARGETS = {
    "fuzz_candidate_first_failure_s": 15.0,
    "fuzz_candidate_run_s": 75.0,
    "fuzz_candidate_defects_missed": 0,
}
PLANTED = ("D1", "D2")
SLOW_CALL_S = 0.03
MAX_TIME = 60


def standin_script(real: QemuBinary) -> str:
    """A planted-defect stand-in candidate around `real` (named so where it is written)."""
    exe = " ".join(f"'{a}'" for a in real.command())
    return f"""#!/bin/sh
# STAND-IN CANDIDATE for the bench: the real qemu-img, {SLOW_CALL_S} s slower per call,
# with two planted defects: resize shrinks without --shrink; info omits `children`.
sleep {SLOW_CALL_S}
case "$1" in
    resize) shift; exec {exe} resize --shrink "$@" ;;
    info) out=$({exe} "$@") || {{ rc=$?; printf '%s\\n' "$out"; exit $rc; }}
          printf '%s\\n' "$out" | sed '/^    "children": \\[/,/^    \\],$/d' ;;
    *) exec {exe} "$@" ;;
esac
"""


def fuzz_candidate_figures(
    real: QemuBinary, selection: list[str], scratch: Path, env: dict[str, str]
) -> dict[str, Any]:
    """Seconds to the first FAILED line, seconds for the whole run, the defects found."""
    cand = scratch / "standin-candidate-slow-planted-defects"
    cand.write_text(standin_script(real))
    cand.chmod(0o755)
    # --against picks the version; --version belongs to plain fuzz runs
    i = selection.index("--version") if "--version" in selection else -1
    selection = selection[:i] + selection[i + 2 :] if i >= 0 else selection
    argv = [sys.executable, "-m", "toolkit", "fuzz", "--candidate", str(cand), "--against",
            real.version, *selection, "--max-time", str(MAX_TIME), "--seed", "1",
            "--curated-cases", str(scratch)]  # fmt: skip
    started = time.monotonic()
    first: float | None = None
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)  # fmt: skip
    assert proc.stdout is not None
    out = []
    for line in proc.stdout:
        if first is None and line.startswith("FAILED "):
            first = time.monotonic() - started
        out.append(line)
    proc.wait()
    whole = time.monotonic() - started
    text = "".join(out)
    found = sorted(c for c in PLANTED if f"\nFAILED {c} " in "\n" + text)
    return {
        "fuzz_candidate_call_s": SLOW_CALL_S,
        "fuzz_candidate_first_failure_s": None if first is None else round(first, 2),
        "fuzz_candidate_run_s": round(whole, 2),
        "fuzz_candidate_defects_found": f"{len(found)}/{len(PLANTED)} ({', '.join(found)})",
        "fuzz_candidate_defects_missed": len(PLANTED) - len(found),
    }


def fuzz_rate(selection: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Examples/s of a plain fuzz run of 100 examples on the selected versions."""
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit", "fuzz", *selection, "--max-examples", "100",
         "--seed", "0"],
        capture_output=True,
        text=True,
        env=env,
    )  # fmt: skip
    m = re.search(r"([0-9.]+) examples/s", proc.stdout + proc.stderr)
    return {"fuzz_examples_per_s": float(m.group(1))} if m else {"fuzz_examples_per_s": None}
