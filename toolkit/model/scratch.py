"""What a run may allocate in its scratch directory (the plan's 100 MiB peak).

Every case is held to CASE_BUDGET by its schema's caps (toolkit/baseline/caps.py), so a
run's peak is CASE_BUDGET per job. A case that needs more says so (CommandSpec.scratch:
dd of an empty window into vhdx makes a zero-size vhdx, which writes whole blocks), and
the worker pool never starts a case while the cases running and it would need more
than RUN_BUDGET together (toolkit/qemu/pool.py): above -j 6, or beside such a case,
workers wait their turn instead.
"""

from __future__ import annotations

__all__ = ["CASE_BUDGET", "MIB", "RUN_BUDGET"]

MIB = 1024 * 1024
CASE_BUDGET = 16 * MIB  # what one case may allocate in the scratch directory
RUN_BUDGET = 96 * MIB  # what the cases running at once may allocate together
