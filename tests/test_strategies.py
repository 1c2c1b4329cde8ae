"""Pure property tests of the fuzzer's strategies and of the size grammar (no qemu-img)."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.baseline.caps import CAP_DEFAULT, CAP_MATERIALISED
from toolkit.baseline.case_schema import NAME_RE, parse_case, toml_string
from toolkit.model.formats import FORMATS
from toolkit.model.pipeline import COMMANDS, plan_for
from toolkit.model.records import Case
from toolkit.model.rounding import created_size
from toolkit.model.sizes import (
    GRAMMARS,
    SUFFIX_POWER,
    EndSpec,
    Grammar,
    parse_end_spec,
    parse_size,
    shrink_flag,
)
from toolkit.stages.fuzz.explore import register_profiles
from toolkit.stages.fuzz.findings import case_name
from toolkit.stages.fuzz.size_strings import SUFFIXES, size_strings, spell
from toolkit.stages.fuzz.strategies import PREALLOCS, resize_cases

register_profiles()


def exact_spelling(n: int) -> str:
    """The shortest exact spelling of n with a suffix: `64M`, `3K`, `1536`."""
    suffix = next((s for s in "EPTGMK" if n and n % 1024 ** SUFFIX_POWER[s] == 0), "")
    return spell(n, suffix)


CI = settings.get_profile("ci")
MANY = settings(CI, max_examples=300)
RESIZE = COMMANDS["resize"]


@MANY
@given(st.integers(0, 1 << 62), st.sampled_from(GRAMMARS))
def test_exact_spelling_round_trips(n: int, grammar: Grammar) -> None:
    parsed = parse_size(exact_spelling(n), grammar)
    if grammar.fixed_point or n < 1 << 53:
        assert parsed == n
    else:  # LEGACY goes through a double: exact only up to 2^53, as strtod in qemu < 6.0
        assert abs(parsed - n) <= n >> 52


@MANY
@given(st.integers(0, 1 << 50), st.sampled_from(["", *SUFFIXES]), st.sampled_from(GRAMMARS))
def test_exact_spellings_round_trip(value: int, suffix: str, grammar: Grammar) -> None:
    mul = 1024 ** SUFFIX_POWER[suffix.upper()] if suffix else 1
    value -= value % mul
    assert parse_size(spell(value, suffix), grammar) == value


@MANY
@given(
    st.integers(0, 1 << 40),
    st.sampled_from(SUFFIXES[2:]),
    st.integers(3, 15),
    st.sampled_from(GRAMMARS),
)
def test_decimal_spellings_parse_close_to_the_value(
    value: int, suffix: str, digits: int, grammar: Grammar
) -> None:
    text = spell(value, suffix, digits)
    assert "e" not in text[:-1].lower() and "x" not in text.lower()  # era-agnostic spelling
    # `digits` significant digits: relative error below 10^(1-digits), plus rounding
    assert abs(parse_size(text, grammar) - value) <= value * 10.0 ** (1 - digits) + 1


@MANY
@given(st.sampled_from(["", "+", "-"]), st.integers(0, 1 << 50), st.integers(0, 1 << 40))
def test_end_spec_round_trips_and_final_size(sign: str, amount: int, start: int) -> None:
    end = parse_end_spec(sign + exact_spelling(amount))
    assert end == EndSpec(sign, amount)
    absolute = parse_end_spec(exact_spelling(amount))
    if sign == "":  # an absolute size ignores where the image starts
        assert end.final_size(start) == end.final_size(0) == amount
    else:  # a relative one moves the image by exactly the amount, in the sign's direction
        moved = end.final_size(start) - start
        assert abs(moved) == absolute.final_size(start) and (moved < 0) == (
            sign == "-" and amount > 0
        )


@MANY
@given(
    st.integers(0, 1 << 40),
    st.sampled_from(["", "+", "-"]),
    st.integers(0, 1 << 40),
    st.sampled_from([None, True, False]),
)
def test_shrink_inference(start: int, sign: str, amount: int, explicit: bool | None) -> None:
    end = EndSpec(sign, amount)
    flag = shrink_flag(start, end, explicit)
    if explicit is not None:
        assert flag is explicit  # the case's word always wins
    elif sign == "-":
        assert flag  # subtractive always shrinks, even by 0
    elif sign == "+":
        assert not flag  # additive never shrinks
    else:  # the plan's rule: --shrink whenever the requested size is below the start
        assert flag is (amount < start)


_TUPLES = st.tuples(
    st.sampled_from(sorted(FORMATS)),
    st.text(min_size=1, max_size=8),
    st.text(min_size=1, max_size=8),
    st.lists(st.text(max_size=12), max_size=3).map(tuple),
    st.sampled_from(PREALLOCS),
    st.sampled_from([None, True, False]),
)


@MANY
@given(_TUPLES)
def test_case_names_are_filename_safe(t: tuple[str, str, str, tuple[str, ...], str, bool]) -> None:
    name = case_name(*t)
    assert NAME_RE.fullmatch(name) and ".." not in name and name[0] not in ".-"
    assert len(name) <= 120


@MANY
@given(_TUPLES, _TUPLES)
def test_distinct_tuples_get_distinct_names(
    a: tuple[str, str, str, tuple[str, ...], str, bool],
    b: tuple[str, str, str, tuple[str, ...], str, bool],
) -> None:
    assert (case_name(*a) == case_name(*b)) == (a == b)


def test_no_prealloc_and_off_get_distinct_names() -> None:
    assert case_name("raw", "1M", "4M", (), None, None) != case_name(
        "raw", "1M", "4M", (), "off", None
    )


def _table(case: Case) -> dict[str, object]:
    entry: dict[str, object] = {"format": case.format, "name": case.name, "start": case.start_size}
    entry |= {"end": case.end_spec, "options": list(case.create_options)}
    entry |= {
        k: v for k, v in (("prealloc", case.prealloc), ("shrink", case.shrink)) if v is not None
    }
    return entry


@settings(CI, max_examples=200)
@given(resize_cases())
def test_generated_cases_pass_the_loader_and_its_caps(case: Case) -> None:
    again, errors = parse_case(_table(case), RESIZE, case.source)
    assert errors == [] and again == case
    assert case.name == case_name(
        case.format, case.start_size, case.end_spec or "", case.create_options, case.prealloc,
        case.shrink,
    )  # fmt: skip
    plan = plan_for(case)
    start = parse_size(case.start_size)
    materialised = case.prealloc in ("falloc", "full") or "subformat=fixed" in case.create_options
    cap = CAP_MATERIALISED if materialised else CAP_DEFAULT
    assert start <= cap
    final = plan.expected_final_size
    # a shrink from the size create made may start above the cap by vhd's CHS rounding
    created = created_size(case.format, case.create_options, start)
    assert final is not None and final <= max(cap, created)
    if case.format == "vhdx":
        assert min(parse_size(case.start_size, g) for g in GRAMMARS) > 0  # no 8-block vhdx


@settings(CI, max_examples=200)
@given(size_strings())
def test_size_strings_can_be_passed_as_arguments_and_saved(text: str) -> None:
    assert "\x00" not in text
    assert tomllib.loads(f"s = {toml_string(text)}")["s"] == text


@settings(CI, max_examples=300)
@given(st.text())
def test_toml_strings_round_trip(text: str) -> None:
    assert tomllib.loads(f"s = {toml_string(text)}")["s"] == text


def test_profiles() -> None:
    ci, fuzz = settings.get_profile("ci"), settings.get_profile("fuzz")
    assert ci.derandomize and ci.database is None and ci.deadline is None
    assert ci.max_examples <= 20
    assert not fuzz.derandomize and fuzz.database is not None and fuzz.deadline is None


@pytest.mark.parametrize(
    ("value", "suffix", "text"),
    [
        (64 << 20, "M", "64M"),
        (1536, "k", "1.5k"),
        (1000, "", "1000"),
        (3 << 20, "G", "0.0029296875G"),
    ],
)
def test_spell_examples(value: int, suffix: str, text: str) -> None:
    assert spell(value, suffix) == text
