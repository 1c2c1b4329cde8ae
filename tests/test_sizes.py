"""The size grammar, unit level. Real-binary agreement lives in test_generate.py / fuzz."""

from __future__ import annotations

import pytest

from toolkit.sizes import (
    EndSpec,
    Grammar,
    SizeError,
    format_size,
    grammar_for,
    parse_end_spec,
    parse_size,
    shrink_flag,
)

M = 1024 * 1024

BOTH = [
    ("0", 0),
    ("512", 512),
    ("1b", 1),
    ("1B", 1),
    ("1k", 1024),
    ("1K", 1024),
    ("1m", M),
    ("1M", M),
    ("64M", 64 * M),
    ("1G", 1 << 30),
    ("1t", 1 << 40),
    ("1P", 1 << 50),
    ("1e", 1 << 60),  # legacy: strtod stops at "e" (no digits follow), E is then the suffix
    ("1E", 1 << 60),
    ("1.5M", 3 * M // 2),
    ("0.5k", 512),
    ("1.M", M),
    ("1.0", 1),
    (" 4M", 4 * M),  # leading blanks are skipped by strtoull/strtod
    ("0x10", 16),
]


@pytest.mark.parametrize(("text", "value"), BOTH)
@pytest.mark.parametrize("grammar", list(Grammar))
def test_both_grammars_accept(text: str, value: int, grammar: Grammar) -> None:
    assert parse_size(text, grammar) == value


@pytest.mark.parametrize(
    "text", ["", "M", "1Q", "1.5", "1.5b", "-1", "1M ", "1MM", "inf", "nan", "1 M", "+"]
)
@pytest.mark.parametrize("grammar", list(Grammar))
def test_both_grammars_reject(text: str, grammar: Grammar) -> None:
    with pytest.raises(SizeError):
        parse_size(text, grammar)


@pytest.mark.parametrize(
    ("text", "legacy"),
    [("1e3", 1000), ("1e1k", 10240), ("0x1p4", 16), ("1.5e1M", 15 * M), ("0x1.8p1", 3)],
)
def test_exponents_and_hex_floats_only_in_legacy(text: str, legacy: int) -> None:
    assert parse_size(text, Grammar.LEGACY) == legacy
    with pytest.raises(SizeError):
        parse_size(text, Grammar.MODERN)


def test_modern_hex_takes_no_suffix_or_fraction() -> None:
    with pytest.raises(SizeError):
        parse_size("0x10M", Grammar.MODERN)
    with pytest.raises(SizeError):
        parse_size("0x1.8", Grammar.MODERN)
    assert parse_size("0x1b", Grammar.MODERN) == 0x1B  # b is a hex digit here, not a suffix


def test_modern_fraction_rounds_half_up_exactly() -> None:
    # 1/3 k = 341.33 -> 341; 0.0005k = 0.512 -> rounds to 1
    assert parse_size("0.3333333333333333k", Grammar.MODERN) == 341
    assert parse_size("0.0005k", Grammar.MODERN) == 1


def test_too_large() -> None:
    with pytest.raises(SizeError):
        parse_size("16E")
    assert parse_size("15E") == 15 << 60


def test_grammar_for_versions() -> None:
    assert grammar_for("5.2.0") is Grammar.LEGACY
    assert grammar_for("6.0.0") is Grammar.MODERN
    assert grammar_for("11.1.3") is Grammar.MODERN


@pytest.mark.parametrize(
    ("spec", "start", "final"),
    [("64M", M, 64 * M), ("+63M", M, 64 * M), ("-32M", 64 * M, 32 * M), ("1M", 64 * M, M)],
)
def test_end_spec_final_size(spec: str, start: int, final: int) -> None:
    assert parse_end_spec(spec).final_size(start) == final


def test_end_spec_strips_exactly_one_sign() -> None:
    assert parse_end_spec("+1M") == EndSpec("+", M)
    assert parse_end_spec("-1M") == EndSpec("-", M)
    with pytest.raises(SizeError):
        parse_end_spec("--1M")


def test_shrink_inference() -> None:
    assert shrink_flag(64 * M, parse_end_spec("-32M"), None) is True
    assert shrink_flag(M, parse_end_spec("64M"), None) is False
    assert shrink_flag(64 * M, parse_end_spec("1M"), None) is True
    assert shrink_flag(64 * M, parse_end_spec("64M"), None) is False
    assert shrink_flag(64 * M, parse_end_spec("-0"), None) is True  # subtractive always shrinks
    assert shrink_flag(64 * M, parse_end_spec("1M"), False) is False  # the case's word wins


def test_format_size() -> None:
    assert format_size(64 * M) == "64M"
    assert format_size(1536) == "1536"
    assert format_size(3 * 1024) == "3K"
