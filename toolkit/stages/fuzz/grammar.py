"""I5: what a real qemu-img makes of a size string, against what toolkit/model/sizes.py says.

Which parser each path uses (qemu-img.c, util/qemu-option.c, util/cutils.c; checked on
the real 5.2.0 ... 11.1.3 binaries):

* `resize IMG SIZE`: an argv layer first (<= 7.2: the last argument is always the
  size; Debian's 10.0.x and upstream >= 10.1: a size starting with `-` is only taken as
  such when a digit follows, so `-+1M` or `-.5M` reach getopt and fail as options),
  then one leading `+`/`-` is stripped, then `qemu_opt_set` -> `parse_option_size` ->
  `qemu_strtosz` (any uint64 accepted; the resize then fails "New image size must be
  positive" when the int64 result is <= 0).
* `create -o size=S`: the same `parse_option_size` -> `qemu_strtosz`, no argv layer;
  `,` must be doubled; UINT64_MAX collides with "no size given"; the value shows in the
  "Formatting ..., size=N" line, printed as a signed int64 (8E prints as -9223372036854775808).
* `create IMG SIZE` and `measure --size`: `cvtnum` -> `qemu_strtosz` limited to
  0..INT64_MAX ("Invalid image size specified"); measure reports sector-rounded sizes.

The probe is therefore resize itself, the one path that matches byte for byte: one
`resize -f raw --shrink` on a sparse 1 TiB scratch file (512 bytes where the file system
cannot hold that), whose new length gives the parsed value, also for `-N`. Only when
qemu accepted the string but could not apply it (a result <= 0, or beyond what the file
system stores) does a second call, `create -o size=` into a directory that does not
exist, read the value off the Formatting line without writing anything.

A disagreement with sizes.py fails I5, unless the versions under test disagree among
themselves on that string and sizes.py's answer is one of theirs: that is a real
per-version difference, kept as a grammar note (flagged when sizes.py attributes it to
the wrong versions; e.g. 7.2.22 takes `0x10M` as 16M with a deprecation warning).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from toolkit.model.errors import ToolkitFailure
from toolkit.model.records import QemuBinary
from toolkit.model.sizes import SizeError, grammar_for, parse_end_spec
from toolkit.qemu.normalise import PathContext, normalise
from toolkit.qemu.process import run_process
from toolkit.stages.fuzz.invariants import Verdict

__all__ = ["Answer", "GrammarNote", "i5_grammar", "model_answer", "real_answer"]

SCRATCH = (1 << 40, 512)  # sparse scratch lengths, the first the file system takes
UINT64 = 1 << 64
# Messages of a resize that parsed its size but could not apply it.
_APPLY_ERRORS = ("New image size must be positive", "Could not resize", "exceeds maximum")
_FORMATTING = re.compile(r"Formatting '.*', fmt=raw size=(-?\d+)")


@dataclass(frozen=True)
class Answer:
    """Accepted or not, and the unsigned amount after resize's one-sign strip (if known)."""

    accepted: bool
    amount: int | None = None
    detail: str = ""

    def agrees(self, other: Answer) -> bool:
        if self.accepted != other.accepted:
            return False
        return self.amount is None or other.amount is None or self.amount == other.amount

    def label(self) -> str:
        if not self.accepted:
            return "rejected"
        return "accepted" if self.amount is None else str(self.amount)


@dataclass(frozen=True)
class GrammarNote:
    """Versions disagree on a string; `unmodelled` lists those sizes.py gets wrong."""

    text: str
    answers: tuple[tuple[str, str], ...]  # (version, label), in version order
    unmodelled: tuple[str, ...]

    @property
    def key(self) -> str:
        groups: dict[str, list[str]] = {}  # versions per distinct answer
        for version, label in self.answers:
            groups.setdefault(label, []).append(version)
        parts = " | ".join(
            f"{','.join(v)} {'rejected' if k == 'rejected' else 'accepted'}"
            for k, v in groups.items()
        )
        wrong = ",".join(self.unmodelled) or "none"
        return f"grammar {parts}; sizes.py wrong on {wrong}"


def model_answer(text: str, version: str) -> Answer:
    """What toolkit/model/sizes.py says resize makes of `text` on this version."""
    try:
        return Answer(True, parse_end_spec(text, grammar_for(version)).amount)
    except SizeError as exc:
        return Answer(False, None, str(exc))


def _first_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    return lines[0] if lines else ""


def real_answer(binary: QemuBinary, text: str, run_dir: Path, timeout: float) -> Answer:
    """Ask the real qemu-img (its path used as given) what it makes of `text`."""
    work = Path(tempfile.mkdtemp(prefix="probe-", dir=run_dir))
    try:
        image = work / "probe.raw"
        base = _scratch(image)
        argv = [*binary.command(), "resize", "-f", "raw", "--shrink", str(image), text]
        raw = run_process(argv, work, timeout)
        ctx = PathContext(image=image, case_dir=work, run_dir=run_dir, binaries=binary.host_paths())
        stdout = raw.stdout.decode(errors="replace")
        stderr = normalise(raw.stderr.decode(errors="replace"), ctx)
        sign = text[:1] if text[:1] in ("+", "-") else ""
        if raw.return_code == 0 and "Image resized" in stdout:
            length = image.stat().st_size
            amount = {"+": length - base, "-": base - length}.get(sign, length)
            return Answer(True, amount)
        detail = _first_error(stderr) or f"exit {raw.return_code} without resizing"
        if raw.return_code == 0 or not any(m in stderr for m in _APPLY_ERRORS):
            return Answer(False, None, detail)
        return Answer(True, _formatting_value(binary, text[len(sign) :], work, timeout), detail)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _scratch(image: Path) -> int:
    for length in SCRATCH:
        try:
            with open(image, "wb") as fh:
                fh.truncate(length)
            return length
        except OSError:
            continue
    raise ToolkitFailure(f"cannot create a scratch image in {image.parent}")


def _formatting_value(binary: QemuBinary, rest: str, work: Path, timeout: float) -> int | None:
    """The value `create -o size=` prints, without creating anything."""
    target = work / "missing" / "x.raw"
    option = "size=" + rest.replace(",", ",,")
    raw = run_process([*binary.command(), "create", "-f", "raw", "-o", option, str(target)],
                      work, timeout)  # fmt: skip
    m = _FORMATTING.search(raw.stdout.decode(errors="replace"))
    if m:
        return int(m.group(1)) % UINT64
    if b"needs a size parameter" in raw.stderr:
        return UINT64 - 1  # qemu's "size not given" sentinel
    return None


def i5_grammar(text: str, real: Mapping[str, Answer]) -> tuple[list[Verdict], GrammarNote | None]:
    """Verdicts per version, and a note when the versions themselves disagree."""
    model = {v: model_answer(text, v) for v in real}
    distinct = {(a.accepted, a.amount) for a in real.values()}
    wrong = [v for v in real if not model[v].agrees(real[v])]
    verdicts = []
    for version, answer in real.items():
        if version not in wrong:
            verdicts.append(Verdict("I5", version, True))
            continue
        elsewhere = any(model[version].agrees(a) for v, a in real.items() if v != version)
        ok = len(distinct) > 1 and elsewhere
        detail = f"{text!r}: qemu-img {answer.label()}, sizes.py {model[version].label()}"
        if answer.detail:
            detail += f" ({answer.detail})"
        verdicts.append(Verdict("I5", version, ok, "" if ok else detail))
    if len(distinct) <= 1:
        return verdicts, None
    answers = tuple((v, a.label()) for v, a in real.items())
    return verdicts, GrammarNote(text, answers, tuple(wrong))
