"""What people type (optimizer/entry.py): hand-checked cases, then Hypothesis properties."""

import doctest
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import entry
from optimizer.entry import EntryError, check_rate_on_line, format_amount, format_percent, parse_amount, parse_percent


# ------------------------------------------------------------------ rates in percent

@pytest.mark.parametrize("typed, fraction", [
    ("4", 0.04), ("4%", 0.04), (" 4.5 % ", 0.045), ("0.5%", 0.005), ("４％", 0.04), ("0", 0.0), ("100", 1.0),
    ("25% of R", 0.25), ("+3", 0.03),
])
def test_rates_typed_in_percent(typed, fraction):
    assert parse_percent(typed) == pytest.approx(fraction, abs=1e-15)


@pytest.mark.parametrize("typed, words", [
    (".05", "ambiguous"),        # 5% or 0.05%? never silently 500% or 0.05%
    ("0.04", "ambiguous"),
    ("0,04", "commas only group thousands"),
    ("abc", "not a number"),
    ("-0.05", "negative"),
    ("-1", "negative"),
    ("−4", "negative"),          # a typographic minus
    ("", "required"),
    ("4%%x", "not a number"),
    ("nan", "not a number"),
    ("inf", "not a number"),
])
def test_rates_that_could_mislead_are_refused_with_a_reason(typed, words):
    with pytest.raises(EntryError) as err:
        parse_percent(typed)
    assert words in str(err.value)


def test_the_ambiguity_message_offers_both_readings():
    with pytest.raises(EntryError) as err:
        parse_percent(".05")
    assert "5%" in str(err.value) and ".05%" in str(err.value)


def test_shares_above_100_percent_are_refused():
    with pytest.raises(EntryError, match="above 100%"):
        parse_percent("120", high=1.0)


def test_a_free_or_very_dear_rate_on_line_asks_for_confirmation():
    assert check_rate_on_line(0.0) is not None
    assert check_rate_on_line(0.51) is not None
    assert check_rate_on_line(0.04) is None and check_rate_on_line(0.5) is None


# ------------------------------------------------------------------ amounts in yen

@pytest.mark.parametrize("typed, yen", [
    ("5bn", 5e9), ("5 bn", 5e9), ("5B", 5e9), ("2.5 billion", 2.5e9), ("500m", 5e8), ("500mn", 5e8), ("20k", 2e4),
    ("1tn", 1e12), ("5,000,000,000", 5e9), ("5000000000", 5e9), ("5e9", 5e9), ("¥5bn", 5e9), ("￥５，０００", 5000),
    ("50億", 5e9), ("50億円", 5e9), ("300百万", 3e8), ("300百万円", 3e8), ("1億5000万", 1.5e8), ("1兆", 1e12),
    ("2000万", 2e7), ("1.5億", 1.5e8), ("0", 0.0), ("1億2345万6789", 123456789),
    ("5千億", 5e11), ("1兆2千億", 1.2e12), ("3千5百万", 3.5e7), ("1千万", 1e7), ("十万", 1e5), ("1万5千", 15000),
    ("1,500万", 1.5e7), ("5億5千万", 5.5e8),
])
def test_amounts_in_the_ways_finance_people_write_them(typed, yen):
    assert parse_amount(typed) == pytest.approx(yen, rel=1e-15)


@pytest.mark.parametrize("typed, words", [
    ("-1", "negative"), ("▲5億", "negative"), ("abc", "not an amount"), ("5xyz", "not an amount"),
    ("0,04", "commas only group thousands"), ("5,00", "commas only group thousands"), ("万", "not an amount"),
    ("5万1億", "not an amount"), ("1e400", "too large"), ("", "required"), ("5億abc", "not an amount"),
    # a bare figure after a Japanese unit: 5億5 is 5億5千万 to the person who typed it, not ¥500,000,005
    ("5億5", "write the unit of its last figure"), ("1万5", "write the unit of its last figure"),
    ("1億5000", "write the unit of its last figure"), ("3千5万", "not an amount"), ("1千5", "not an amount"),
])
def test_amounts_that_could_mislead_are_refused(typed, words):
    with pytest.raises(EntryError) as err:
        parse_amount(typed)
    assert words in str(err.value)


@pytest.mark.parametrize("typed, meant", [
    ("5億5千", "5億5千万"), ("1兆2千", "1兆2千億"), ("2億5千", "2億5千万"), ("5億5百", "5億5百万"),
    ("1兆5億2千", "1兆5億2千万"), ("3億千円", "3億千万"), ("1兆2千5百", "1兆2千5百億"),
])
def test_thousands_straight_after_oku_or_cho_are_refused_with_the_reading_people_mean(typed, meant):
    # 5億5千 is 5億5千万 (¥550,000,000) to the person who typed it, never ¥500,005,000
    with pytest.raises(EntryError) as err:
        parse_amount(typed)
    assert "ambiguous" in str(err.value) and meant in str(err.value)
    assert f"{parse_amount(meant):,.0f}" in str(err.value)


def test_thousands_after_man_stay_what_they_say():
    assert parse_amount("1万5千") == 15_000 and parse_amount("5億5千万5千") == 550_005_000


@pytest.mark.parametrize("typed", ["0.5 of R", "0.25 of R", ".5 of R", "0.5of r"])
def test_a_bare_fraction_of_r_is_ambiguous_like_a_bare_fraction(typed):
    with pytest.raises(EntryError) as err:
        parse_percent(typed)
    number = typed.lower().replace(" ", "").removesuffix("ofr")
    assert "ambiguous" in str(err.value) and f"{float(number) * 100:g}% of R" in str(err.value)
    assert f"{float(number):g}% of R" in str(err.value)


def test_fractions_of_r_typed_with_a_percent_sign_or_above_one_are_percent():
    assert parse_percent("0.5% of R") == pytest.approx(0.005) and parse_percent("25 of R") == pytest.approx(0.25)


def test_plain_numbers_for_multipliers():
    from optimizer.entry import parse_number

    assert parse_number("1.2") == 1.2 and parse_number("１，２００") == 1200
    for bad in ("-1", "x", "1,2"):
        with pytest.raises(EntryError):
            parse_number(bad)


def test_format_amount_is_short_and_exact():
    assert format_amount(5e9) == "5bn" and format_amount(5e9, "ja") == "50億"
    assert format_amount(2.5e8) == "250m" and format_amount(1.5e8, "ja") == "1億5000万"
    assert format_amount(123_456_789) == "123,456,789"
    assert format_percent(0.04) == "4" and format_percent(0.005) == "0.5%"


def test_the_error_key_is_a_template_of_its_message():
    with pytest.raises(EntryError) as err:
        parse_amount("abc")
    assert err.value.key.format(**err.value.params) == str(err.value)


def test_doctests():
    assert doctest.testmod(entry).failed == 0


# ------------------------------------------------------------------ properties

yen_amounts = st.one_of(st.integers(0, 10**14).map(float),
                        st.floats(0, 1e14, allow_nan=False).map(lambda x: round(x, 2)))


@given(yen_amounts, st.sampled_from(["en", "ja"]))
def test_formatted_amounts_parse_back_to_the_same_yen(yen, lang):
    assert parse_amount(format_amount(yen, lang)) == pytest.approx(yen, rel=1e-12, abs=1e-9)


@given(st.integers(0, 10**6).map(lambda k: k / 10**6))  # rates up to 100% in steps of 0.0001%
def test_formatted_percent_parses_back(fraction):
    assert parse_percent(format_percent(fraction)) == pytest.approx(fraction, rel=1e-12, abs=1e-15)


@given(st.text(max_size=20))
def test_anything_typed_is_either_refused_or_a_finite_non_negative_number(text):
    for parse in (parse_amount, parse_percent):
        try:
            value = parse(text)
        except EntryError:
            continue
        assert math.isfinite(value) and value >= 0


@given(st.floats(0.0001, 0.9999).map(lambda x: round(x, 4)))
def test_a_bare_fraction_is_never_taken_as_a_percent(x):
    with pytest.raises(EntryError, match="ambiguous"):
        parse_percent(repr(x))


@given(st.integers(1, 9999), st.sampled_from(["億", "兆"]), st.integers(1, 9), st.sampled_from(["千", "百", "十"]))
def test_a_small_unit_straight_after_oku_or_cho_is_never_read_literally(big, unit, small, small_unit):
    typed = f"{big}{unit}{small}{small_unit}"
    with pytest.raises(EntryError, match="ambiguous"):
        parse_amount(typed)
    meant = typed + ("万" if unit == "億" else "億")
    assert parse_amount(meant) == big * entry._JA_BIG[unit] + small * entry._JA_UNITS[small_unit] * (
        entry._JA_BIG[unit] // 10**4)
