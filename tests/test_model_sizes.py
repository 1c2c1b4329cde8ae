"""The size grammar, exactly: real qemu-img answers per version, and every message pinned.

tests/data/size_answers.json holds what the real 5.2.0, 7.2.22, 10.0.2 and 11.1.3 builds
make of each text (recorded with `create -o size=`, provenance in the file); the model
must give the same bytes, or refuse where they refuse, and the qemu test re-asks them.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from toolkit.model.records import QemuBinary
from toolkit.model.sizes import (
    GRAMMARS,
    LEGACY,
    MODERN,
    RULE_SINCE,
    SUFFIX_POWER,
    EndSpec,
    Grammar,
    SizeError,
    grammar_for,
    parse_end_spec,
    parse_size,
    shrink_flag,
)

ANSWERS = json.loads((Path(__file__).parent / "data" / "size_answers.json").read_text())
VERSIONS: list[str] = ANSWERS["versions"]
# Rules that moved between 6.0 and 10.0: each row the answers of VERSIONS, as the real builds
# give them to the same probe as the file's rows (test_recorded_answers_... re-asks them).
ERAS: dict[str, list[int | None]] = {
    "0x10M": [16 << 20, 16 << 20, None, None],  # hex with suffix: refused from 8.0
    ".5k": [512, None, 512, 512],  # no integer digits: refused 6.0-8.0
    "+.5k": [512, None, 512, 512],
    "0.9999999999999999999999k": [1024, 0, 1024, 1024],  # the carry is lost 6.0-8.0
    "1.9999999999999999999k": [2048, 1024, 2048, 2048],
    # 17+ nines round to 1.0, a whole byte: accepted with no suffix or b (fuzz found it).
    "0.99999999999999999": [1, 0, 1, 1],
    "0.9999999999999999999999B": [1, 0, 1, 1],
    "5.99999999999999999999b": [6, 5, 6, 6],
    "0.9999999999999999B": [None, None, None, None],  # 16 nines stay below 1.0
    ".k": [None, None, None, None],
}
assert not ERAS.keys() & ANSWERS["rows"].keys(), "a text is both in ERAS and the file"
ROWS: dict[str, list[int | None]] = {**ANSWERS["rows"], **ERAS}


def answer(text: str, grammar: Grammar) -> int | None:
    try:
        return parse_size(text, grammar)
    except SizeError:
        return None


@pytest.mark.parametrize("text", sorted(ROWS))
def test_model_gives_the_real_answer_of_each_version(text: str) -> None:
    got = [answer(text, grammar_for(v)) for v in VERSIONS]
    assert got == ROWS[text]


@pytest.mark.qemu
def test_recorded_answers_are_what_the_real_binaries_say(
    qemu_binaries: list[QemuBinary], tmp_path: Path
) -> None:
    by_version = {b.version: b for b in qemu_binaries}
    target = tmp_path / "missing" / "x.raw"  # never created: create prints the size first
    for text, expected in ROWS.items():
        for version, want in zip(VERSIONS, expected, strict=True):
            argv = [*by_version[version].command(), "create", "-f", "raw"]
            argv += ["-o", f"size={text}", str(target)]
            proc = subprocess.run(argv, capture_output=True, text=True)
            m = re.search(r" size=(-?[0-9]+)", proc.stdout)
            got = int(m.group(1)) % (1 << 64) if m else None
            assert got == want, (text, version, proc.stdout + proc.stderr)


# Every refusal, with the message users read. (text, grammar, message)
MESSAGES = [
    ("1Q", MODERN, "'1Q': unexpected 'Q' (suffixes: b k M G T P E)"),
    ("1Q", LEGACY, "'1Q': unexpected 'Q' (suffixes: b k M G T P E)"),
    (" 1k ", MODERN, "' 1k ': unexpected ' ' (suffixes: b k M G T P E)"),
    ("1MM", MODERN, "'1MM': unexpected 'M' (suffixes: b k M G T P E)"),
    ("0x1kk", MODERN, "'0x1kk': a hex size takes no suffix"),
    ("M", MODERN, "'M': expected a number"),
    ("M", LEGACY, "'M': expected a number"),
    ("0x", MODERN, "'0x': hex number without digits"),
    ("0x1.8", MODERN, "'0x1.8': a hex size takes no fraction"),
    ("0x10M", MODERN, "'0x10M': a hex size takes no suffix"),
    ("1.5e3k", MODERN, "'1.5e3k': exponents are not accepted"),
    ("1.5E+3k", MODERN, "'1.5E+3k': exponents are not accepted"),
    ("1.5", MODERN, "'1.5': a fraction needs a suffix (k, M, G, T, P or E)"),
    ("1.5", LEGACY, "'1.5': a fraction needs a suffix (k, M, G, T, P or E)"),
    ("16E", MODERN, "'16E': too large"),
    ("16E", LEGACY, "'16E': out of range"),
    ("-1k", LEGACY, "'-1k': out of range"),
    ("INF", LEGACY, "'INF': not a finite number"),
    (" nan", LEGACY, "'nan': not a finite number"),  # strtod's view: blanks skipped
]


@pytest.mark.parametrize(("text", "grammar", "message"), MESSAGES)
def test_each_refusal_says_why(text: str, grammar: Grammar, message: str) -> None:
    with pytest.raises(SizeError) as info:
        parse_size(text, grammar)
    assert str(info.value) == message


def test_dash_option_message() -> None:
    with pytest.raises(SizeError) as info:
        parse_end_spec("-.5M", MODERN)
    assert str(info.value) == "'-.5M': qemu-img reads it as an option (no digit after '-')"


def test_grammar_names_and_rule_releases() -> None:
    assert RULE_SINCE == {
        "fixed_point": (6, 0),
        "hex_suffix_refused": (8, 0),
        "bare_fraction": (8, 1),
        "fraction_carry": (8, 1),
        "resize_dash_needs_digit": (10, 0),
    }
    assert [g.name for g in GRAMMARS] == [
        "strtod",
        "fixed_point",
        "fixed_point+hex_suffix_refused",
        "fixed_point+hex_suffix_refused+bare_fraction+fraction_carry",
        "fixed_point+hex_suffix_refused+bare_fraction+fraction_carry+resize_dash_needs_digit",
    ]
    assert GRAMMARS[-1] == MODERN and GRAMMARS[0] == LEGACY
    assert SUFFIX_POWER == {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


@pytest.mark.parametrize(
    ("version", "era"),
    [("0.15.1", 0), ("5.2.0", 0), ("6.0", 1), ("7.2.22", 1), ("8.0.0", 2), ("8.0.5", 2),
     ("8.1.0", 3), ("9.2.4", 3), ("10.0.2", 4), ("11.1.3", 4), ("git", 4), ("x.1", 4)],
)  # fmt: skip
def test_grammar_for_each_release(version: str, era: int) -> None:
    # a version that does not parse gets the newest rules
    assert grammar_for(version) == GRAMMARS[era]


@pytest.mark.parametrize(
    ("spec", "grammar", "expected"),
    [
        ("-1M", MODERN, EndSpec("-", 1 << 20)),
        ("+.5k", MODERN, EndSpec("+", 512)),
        ("-.5k", LEGACY, EndSpec("-", 512)),
        ("-0", MODERN, EndSpec("-", 0)),
        (".5k", MODERN, EndSpec("", 512)),
    ],
)
def test_end_spec_sign_and_amount(spec: str, grammar: Grammar, expected: EndSpec) -> None:
    assert parse_end_spec(spec, grammar) == expected


def test_end_spec_parses_with_the_given_grammar() -> None:
    assert parse_end_spec("+1e3", LEGACY) == EndSpec("+", 1000)
    with pytest.raises(SizeError):
        parse_end_spec("+1e3")  # the default is the newest grammar: no exponents


@pytest.mark.parametrize(
    ("start", "spec", "explicit", "flag"),
    [
        (1024, "1024", None, False),  # same size: not a shrink
        (1024, "1023", None, True),
        (1024, "+0", None, False),
        (1024, "-0", None, True),
        (1024, "-1", False, False),  # the case's word wins both ways
        (1024, "+1", True, True),
    ],
)
def test_shrink_flag(start: int, spec: str, explicit: bool | None, flag: bool) -> None:
    assert shrink_flag(start, parse_end_spec(spec), explicit) is flag


def test_final_size_of_each_sign() -> None:
    assert EndSpec("+", 3).final_size(10) == 13
    assert EndSpec("-", 3).final_size(10) == 7
    assert EndSpec("", 3).final_size(10) == 3
