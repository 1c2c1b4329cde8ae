"""The one runner: a case's steps against one qemu-img, in a private temp dir.

Generation, verification and fuzzing all call `run_case`. qemu-img's own
failures are data (recorded return codes); only the toolkit's failures raise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from toolkit.model.errors import ToolkitFailure
from toolkit.model.pipeline import IMAGE, QEMU_IMG, CommandSpec, Plan
from toolkit.model.records import Case, CaseResult, QemuBinary, StepResult
from toolkit.model.sizes import grammar_for
from toolkit.qemu.normalise import PathContext, assert_no_leak, normalise
from toolkit.qemu.process import RawOutcome, WorkingDirectoryGone, pid_alive, run_process
from toolkit.qemu.tools import tool_command

__all__ = ["RUN_DIR_PREFIX", "run_case", "run_directory"]

RUN_DIR_PREFIX = "qemu-img-baselines-run-"


def sweep_stale_run_dirs(parent: Path) -> int:
    """Remove run directories a SIGKILLed run left behind (their owner pid is gone)."""
    removed = 0
    for d in parent.glob(f"{RUN_DIR_PREFIX}*"):
        pid = d.name[len(RUN_DIR_PREFIX) :].split("-")[0]
        if d.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed


@contextlib.contextmanager
def run_directory(parent: Path | None = None) -> Iterator[Path]:
    """A per-run scratch directory, never inside the repo, removed however the run ends."""
    base = Path(parent or tempfile.gettempdir())
    sweep_stale_run_dirs(base)
    path = Path(tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{os.getpid()}-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# Output that says the host, not qemu-img, failed: never a baseline.
HOST_FAILURES = (b"No space left on device", b"Disk quota exceeded")


def _refuse_host_failure(raw: RawOutcome, run_dir: Path) -> None:
    for needle in HOST_FAILURES:
        if needle in raw.stderr or needle in raw.stdout:
            raise ToolkitFailure(
                f"the scratch directory {run_dir.parent} ran out of space "
                f"({needle.decode()}); nothing was recorded for this case. Free some space "
                f"or point TMPDIR at a bigger file system, then run again"
            )


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


_SCRATCH = threading.local()


def _case_dir(run_dir: Path) -> Path:
    """This thread's scratch directory under run_dir, made once, emptied after each case.

    A thread runs one case at a time, so the directory is private to that case; reusing
    it saves a mkdir and an rmdir per case and keeps normalise's path cache warm.
    """
    dirs: dict[Path, Path] = _SCRATCH.__dict__.setdefault("dirs", {})
    d = dirs.get(run_dir)
    if d is None or not d.is_dir():  # first case here, or a new run dir at the same path
        try:
            d = dirs[run_dir] = Path(tempfile.mkdtemp(prefix="case-", dir=run_dir))
        except FileNotFoundError:
            raise ToolkitFailure(
                f"the run directory {run_dir} was removed while the run went on: a qemu-img "
                "(or candidate) of an earlier case deleted it; a program under test must not "
                "delete directories it did not make. Nothing more was run"
            ) from None
    return d


def _empty(directory: Path, run_dir: Path) -> None:
    """Remove whatever the case left (the image, extents, anything qemu-img made).

    Whatever can't be removed must not meet the next case: the directory is then
    dropped, and the thread's next case gets a fresh one.
    """
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as entries:
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):  # checked below
                    os.unlink(e.path)
    try:
        with os.scandir(directory) as left:
            if next(left, None) is None:
                return
    except OSError:
        pass
    _SCRATCH.dirs.pop(run_dir, None)
    shutil.rmtree(directory, ignore_errors=True)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def image_paths(spec: CommandSpec, case: Case, case_dir: Path) -> dict[str, Path]:
    """Each placeholder of the command's images -> its file in the case's scratch directory."""
    return {token: case_dir / spec.image_name(token, case) for token, _ in spec.images}


def substitute(arg: str, paths: Mapping[str, Path]) -> str:
    """An argv template word with every placeholder replaced by its path (`if=$INPUT` too),
    the longest placeholder first."""
    for token in sorted(paths, key=len, reverse=True):
        if token in arg:
            arg = arg.replace(token, str(paths[token]))
    return arg


def run_case(
    case: Case,
    binary: QemuBinary,
    spec: CommandSpec,
    run_dir: Path,
    timeout: float = 60.0,
    plan: Plan | None = None,
    roots: Mapping[str, Path] | None = None,
    reference: QemuBinary | None = None,
) -> CaseResult:
    """Run every step of `case` that its predecessors allow. Never raises for qemu-img's sake.

    `roots`: placeholders of directories outside the scratch directory the steps read
    (`$TESTDATA_ROOT`: the image corpus), replaced like the images' own. `reference`: the
    real qemu-img that runs the checking steps (StepSpec.checking) of a candidate's run.
    """
    plan = plan or spec.plan(case, grammar_for(binary.version))
    case_dir = _case_dir(run_dir)
    paths = {**image_paths(spec, case, case_dir), **(roots or {})}
    image = paths.get(IMAGE, case_dir / f"img.{case.format}")
    others = tuple((t, p) for t, p in paths.items() if t != IMAGE)
    hosts = (*binary.host_paths(), *(reference.host_paths() if reference else ()))
    ctx = PathContext(image=image, case_dir=case_dir, run_dir=run_dir, binaries=hosts,
                      names=binary.program_names, others=others)  # fmt: skip
    ok: dict[str, bool] = {}
    results: list[StepResult] = []
    try:
        for step, needs in spec.schedule(case):
            template = step.argv(case, plan)
            if not all(ok.get(n) for n in needs):
                results.append(StepResult(step.name, (step.program, *template), None))
                ok[step.name] = False
                continue
            real = [substitute(a, paths) for a in template]
            runner = reference if step.checking and reference is not None else binary
            program = runner.command() if step.program == QEMU_IMG else \
                tool_command(runner, step.program)  # fmt: skip
            try:
                raw = run_process([*program, *real], case_dir, timeout, dict(step.env))
            except WorkingDirectoryGone:
                last = next((r.name for r in reversed(results) if r.ran), None)
                before = f" after `{last}`" if last else ""
                raise ToolkitFailure(
                    f"{case.format}/{case.name}: the working directory {case_dir} was removed "
                    f"before `{step.name}` could run{before}: {binary.path} deleted the "
                    "directory it runs in (a qemu-img or candidate must leave it in place). "
                    "Nothing more was run"
                ) from None
            _refuse_host_failure(raw, run_dir)
            stdout = normalise(_decode(raw.stdout), ctx)
            stderr = normalise(_decode(raw.stderr), ctx)
            for what, text in (("stdout", stdout), ("stderr", stderr)):
                assert_no_leak(text, ctx, f"{step.name} {what} of {case.format}/{case.name}")
            results.append(
                StepResult(
                    name=step.name,
                    argv=(step.program, *template),
                    return_code=raw.return_code,
                    stdout=stdout,
                    stderr=stderr,
                    stdout_bytes=len(stdout.encode()),
                    stderr_bytes=len(stderr.encode()),
                    timed_out=raw.timed_out,
                    image_bytes=_size(image),
                    stdout_dropped=raw.stdout_dropped,
                    stderr_dropped=raw.stderr_dropped,
                    escaped=raw.escaped,
                    by_reference=runner is not binary,
                )
            )
            ok[step.name] = raw.return_code == 0 and not raw.timed_out
    finally:
        _empty(case_dir, run_dir)
    return CaseResult(
        case=case,
        binary=binary,
        steps=tuple(results),
        applied_shrink_flag=plan.applied_shrink_flag,
        expected_final_size=plan.expected_final_size,
        reference=reference,
    )
