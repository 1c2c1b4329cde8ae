"""The size grammar at unit level (per-version answers and the real builds: test_model_sizes)."""

from __future__ import annotations

import pytest

from toolkit.model.sizes import (
    GRAMMARS,
    LEGACY,
    MODERN,
    EndSpec,
    Grammar,
    SizeError,
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
@pytest.mark.parametrize("grammar", GRAMMARS)
def test_both_grammars_accept(text: str, value: int, grammar: Grammar) -> None:
    assert parse_size(text, grammar) == value


@pytest.mark.parametrize(
    "text", ["", "M", "1Q", "1.5", "1.5b", "-1", "1M ", "1MM", "inf", "nan", "1 M", "+"]
)
@pytest.mark.parametrize("grammar", GRAMMARS)
def test_both_grammars_reject(text: str, grammar: Grammar) -> None:
    with pytest.raises(SizeError):
        parse_size(text, grammar)


@pytest.mark.parametrize(
    ("text", "legacy"),
    [("1e3", 1000), ("1e1k", 10240), ("0x1p4", 16), ("1.5e1M", 15 * M), ("0x1.8p1", 3)],
)
def test_exponents_and_hex_floats_only_in_legacy(text: str, legacy: int) -> None:
    assert parse_size(text, LEGACY) == legacy
    with pytest.raises(SizeError):
        parse_size(text, MODERN)


def test_modern_hex_takes_no_suffix_or_fraction() -> None:
    with pytest.raises(SizeError):
        parse_size("0x10M", MODERN)
    with pytest.raises(SizeError):
        parse_size("0x1.8", MODERN)
    assert parse_size("0x1b", MODERN) == 0x1B  # b is a hex digit here, not a suffix


def test_modern_fraction_rounds_half_up_exactly() -> None:
    # 1/3 k = 341.33 -> 341; 0.0005k = 0.512 -> rounds to 1
    assert parse_size("0.3333333333333333k", MODERN) == 341
    assert parse_size("0.0005k", MODERN) == 1


def test_too_large() -> None:
    with pytest.raises(SizeError):
        parse_size("16E")
    assert parse_size("15E") == 15 << 60


def test_grammar_for_versions() -> None:
    assert grammar_for("5.2.0") == LEGACY and not LEGACY.fixed_point
    assert grammar_for("11.1.3") == MODERN
    assert grammar_for("6.0.0").fixed_point and not grammar_for("6.0.0").bare_fraction
    assert grammar_for("7.2.22") == grammar_for("6.0.0")
    assert grammar_for("10.0.2").resize_dash_needs_digit
    assert not grammar_for("9.2.0").resize_dash_needs_digit
    assert len(GRAMMARS) == 5


# Each rule's first release, from upstream qemu's history (util/cutils.c, qemu-img.c): the
# last release before it parses the old way, the first one the new way. No build of the
# 6.x-9.x releases is installed, so these boundaries are only stated here.
BOUNDARIES = [
    # (text, last release without the rule, its answer, first release with it, its answer)
    ("1e3", "5.2.0", 1000, "6.0.0", None),  # fixed point: exponents refused
    ("0x10M", "7.2.0", 16 << 20, "8.0.0", None),  # hex with a suffix refused
    (".5k", "8.0.5", None, "8.1.0", 512),  # a bare fraction accepted again
    ("0.9999999999999999999999k", "8.0.5", 0, "8.1.0", 1024),  # the carry kept
    ("-.5M", "9.2.0", 512 << 10, "10.0.0", None),  # resize: `-x` an option unless x is a digit
]


@pytest.mark.parametrize(("text", "before", "old", "since", "new"), BOUNDARIES)
def test_each_rule_starts_at_its_release(
    text: str, before: str, old: int | None, since: str, new: int | None
) -> None:
    for version, expected in ((before, old), (since, new)):
        try:
            got: int | None = parse_end_spec(text, grammar_for(version)).amount
        except SizeError:
            got = None
        assert got == expected, (text, version)


@pytest.mark.parametrize("spec", ["-.5M", "-+1M", "- 1M"])
def test_resize_dash_without_digit_is_an_option_from_10_0(spec: str) -> None:
    assert parse_end_spec(spec, grammar_for("5.2.0")).sign == "-"
    with pytest.raises(SizeError, match="reads it as an option"):
        parse_end_spec(spec, grammar_for("10.0.2"))


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
