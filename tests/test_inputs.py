"""Files → domain objects (optimizer/inputs.py): every bad input names file, row and column."""

import math

import pytest

from optimizer.domain import PERILS
from optimizer.inputs import (
    InputError, load_incidents, load_profiles, load_quotes, load_regime, regime_from_text, select_profile,
)
from conftest import DATA, PROFILE_HEADER, QUOTE_HEADER

GOOD_PROFILE = "A,1e9,0.05,1e12,0.1"
GOOD_QUOTE = "Q1,insurance,Ins,AA,0,1e9,0.02"


def profile_error(write, header, *rows):
    path = write("profiles.csv", "\n".join([header, *rows]) + "\n")
    with pytest.raises(InputError) as info:
        load_profiles(path)
    return str(info.value)


def quote_error(write, header, *rows):
    path = write("quotes.csv", "\n".join([header, *rows]) + "\n")
    with pytest.raises(InputError) as info:
        load_quotes(path)
    return str(info.value)


def regime_error(text):
    with pytest.raises(InputError) as info:
        regime_from_text(text, "regime.toml")
    return str(info.value)


# ------------------------------------------------------------------ happy paths

def test_bundled_files_load():
    assert len(load_profiles(DATA / "profiles.csv")) >= 12
    assert len(load_quotes(DATA / "quotes.csv")) >= 10
    assert len(load_incidents(DATA / "incidents.csv")) >= 6
    for path in sorted((DATA / "regimes").glob("*.toml")):
        assert load_regime(path).name


def test_optional_profile_columns_take_their_defaults(write):
    [p] = load_profiles(write("p.csv", f"{PROFILE_HEADER}\n{GOOD_PROFILE}\n"))
    assert p.reserve_yield == 0 and math.isinf(p.liquid_capital_jpy) and p.premium_multiplier == 1 and p.name == ""


def test_optional_quote_columns_take_their_defaults(write):
    [q] = load_quotes(write("q.csv", f"{QUOTE_HEADER}\n{GOOD_QUOTE}\n"))
    assert (q.layer_basis, q.max_share, q.min_share, q.fixed_fee_jpy) == ("jpy", 1.0, 0.0, 0.0)
    assert q.perils == frozenset(PERILS) and q.collateralized is False and q.exchange_id is None


def test_column_order_does_not_matter_and_bom_is_accepted(write):
    path = write("p.csv", "\ufeffcost_of_capital,exchange_id,annual_trading_volume_jpy,hot_wallet_share,"
                 "customer_assets_jpy\n0.1,A,1e12,0.05,1e9\n")
    [p] = load_profiles(path)
    assert p.exchange_id == "A" and p.cost_of_capital == 0.1


def test_perils_booleans_and_exchange_id_are_parsed(write):
    text = (f"{QUOTE_HEADER},perils,collateralized,exchange_id,layer_basis\n"
            "Q1,insurance,Ins,AA,0,0.5,0.02,external_hack; insider_theft,TRUE,EX1,requirement\n")
    [q] = load_quotes(write("q.csv", text))
    assert q.perils == {"external_hack", "insider_theft"} and q.collateralized and q.exchange_id == "EX1"
    assert q.layer_basis == "requirement"


def test_header_only_quotes_file_means_no_quotes(write):
    assert load_quotes(write("q.csv", QUOTE_HEADER + "\n")) == []


# ------------------------------------------------------------------ one test per bad-input rule

def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nowhere.csv.*file not found"):
        load_profiles(tmp_path / "nowhere.csv")


def test_empty_file(write):
    with pytest.raises(InputError, match="p.csv.*empty"):
        load_profiles(write("p.csv", ""))


def test_header_without_rows_is_not_a_profiles_file(write):
    with pytest.raises(InputError, match="no rows"):
        load_profiles(write("p.csv", PROFILE_HEADER + "\n"))


def test_missing_required_column(write):
    msg = profile_error(write, "exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy",
                        "A,1e9,0.05,1e12")
    assert "profiles.csv" in msg and "'cost_of_capital'" in msg and "missing" in msg


def test_unknown_column_is_an_error(write):
    msg = quote_error(write, QUOTE_HEADER + ",rate_online", GOOD_QUOTE + ",0.1")
    assert "'rate_online'" in msg and "unknown column" in msg


def test_text_in_a_number(write):
    msg = profile_error(write, PROFILE_HEADER, GOOD_PROFILE, "B,1e9,0.05,a lot,0.1")
    assert "row 2" in msg and "'annual_trading_volume_jpy'" in msg and "expected a number" in msg and "B" in msg


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_nan_and_inf_are_rejected(write, bad):
    msg = profile_error(write, PROFILE_HEADER, f"A,{bad},0.05,1e12,0.1")
    assert "row 1" in msg and "'customer_assets_jpy'" in msg and "finite" in msg


def test_negative_amount(write):
    msg = quote_error(write, QUOTE_HEADER, "Q1,insurance,Ins,AA,-5,1e9,0.02")
    assert "row 1" in msg and "'attachment'" in msg and "≥ 0" in msg


@pytest.mark.parametrize("column,value", [("hot_wallet_share", "1.5"), ("cost_of_capital", "-0.1")])
def test_fraction_outside_0_1(write, column, value):
    row = dict(zip(PROFILE_HEADER.split(","), GOOD_PROFILE.split(",")))
    row[column] = value
    msg = profile_error(write, PROFILE_HEADER, ",".join(row.values()))
    assert f"'{column}'" in msg and "between 0 and 1" in msg


def test_fraction_share_outside_0_1_in_quotes(write):
    msg = quote_error(write, QUOTE_HEADER + ",max_share", GOOD_QUOTE + ",1.2")
    assert "'max_share'" in msg and "between 0 and 1" in msg


def test_duplicate_ids(write):
    msg = profile_error(write, PROFILE_HEADER, GOOD_PROFILE, "B,1e9,0.05,1e12,0.1", GOOD_PROFILE)
    assert "row 3" in msg and "duplicate" in msg and "'exchange_id'" in msg and "row 1" in msg
    msg = quote_error(write, QUOTE_HEADER, GOOD_QUOTE, GOOD_QUOTE)
    assert "row 2" in msg and "duplicate" in msg and "'quote_id'" in msg


def test_unknown_kind(write):
    msg = quote_error(write, QUOTE_HEADER, "Q1,reinsurance,Ins,AA,0,1e9,0.02")
    assert "'kind'" in msg and "insurance, derivative" in msg


def test_unknown_peril(write):
    msg = quote_error(write, QUOTE_HEADER + ",perils", GOOD_QUOTE + ",external_hack;meteor")
    assert "'perils'" in msg and "meteor" in msg


def test_unknown_rating(write):
    msg = quote_error(write, QUOTE_HEADER, "Q1,insurance,Ins,AAA+,0,1e9,0.02")
    assert "'rating'" in msg and "AAA+" in msg


def test_unknown_layer_basis(write):
    msg = quote_error(write, QUOTE_HEADER + ",layer_basis", GOOD_QUOTE + ",percent")
    assert "'layer_basis'" in msg and "jpy, requirement" in msg


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_limit_must_be_positive(write, limit):
    msg = quote_error(write, QUOTE_HEADER, f"Q1,insurance,Ins,AA,0,{limit},0.02")
    assert "'limit'" in msg and "> 0" in msg


def test_min_share_above_max_share(write):
    msg = quote_error(write, QUOTE_HEADER + ",max_share,min_share", GOOD_QUOTE + ",0.3,0.5")
    assert "'min_share'" in msg and "max_share" in msg


def test_bad_boolean(write):
    msg = quote_error(write, QUOTE_HEADER + ",collateralized", GOOD_QUOTE + ",maybe")
    assert "'collateralized'" in msg and "true or false" in msg


def test_required_value_left_blank(write):
    msg = quote_error(write, QUOTE_HEADER, "Q1,insurance,,AA,0,1e9,0.02")
    assert "row 1" in msg and "'counterparty'" in msg and "required" in msg


def test_reserve_yield_above_cost_of_capital(write):
    msg = profile_error(write, PROFILE_HEADER + ",reserve_yield", GOOD_PROFILE + ",0.2")
    assert "'reserve_yield'" in msg


def test_row_with_too_many_cells(write):
    msg = profile_error(write, PROFILE_HEADER, GOOD_PROFILE + ",extra")
    assert "row 1" in msg and "cells" in msg


def test_exchange_id_not_in_the_file(write):
    path = write("p.csv", f"{PROFILE_HEADER}\n{GOOD_PROFILE}\n")
    profiles = load_profiles(path)
    with pytest.raises(InputError) as info:
        select_profile(profiles, "ZZ", str(path))
    assert "ZZ" in str(info.value) and "p.csv" in str(info.value) and "'exchange_id'" in str(info.value)
    assert select_profile(profiles, None, str(path)).exchange_id == "A"


# ------------------------------------------------------------------ regime TOML

def test_regime_defaults_and_values():
    r = regime_from_text('name = "x"\n[requirement]\nvolume_rate = 0.002\ncap_jpy = inf\n', "r.toml")
    assert r.requirement.volume_rate == 0.002 and math.isinf(r.requirement.cap_jpy)
    assert r.requirement.perils == PERILS and r.eligibility.min_rating == "BBB-"


@pytest.mark.parametrize("text,where", [
    ('nme = "x"\n', "'nme'"),
    ('[requirement]\nvolume_rte = 0.1\n', "'requirement.volume_rte'"),
    ('[eligibility]\nmax_insurance_shar = 0.5\n', "'eligibility.max_insurance_shar'"),
])
def test_regime_unknown_key(text, where):
    msg = regime_error(text)
    assert "regime.toml" in msg and where in msg and "unknown key" in msg


@pytest.mark.parametrize("text,where", [
    ('[eligibility]\nmax_insurance_share = 1.5\n', "'eligibility.max_insurance_share'"),
    ('[eligibility]\nmin_rating = "Z"\n', "'eligibility.min_rating'"),
    ('[requirement]\nvolume_rate = "lots"\n', "'requirement.volume_rate'"),
    ('[requirement]\nfloor_jpy = -1\n', "'requirement.floor_jpy'"),
    ('[requirement]\nfloor_jpy = nan\n', "'requirement.floor_jpy'"),
    ('[requirement]\nperils = ["meteor"]\n', "'requirement.perils'"),
    ('[rating_credit]\n"ZZ" = 1.0\n', "'rating_credit.ZZ'"),
])
def test_regime_bad_value(text, where):
    assert where in regime_error(text)


def test_regime_invalid_toml():
    assert "not valid TOML" in regime_error("name = \n")


def test_regime_file_missing_or_empty(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_regime(tmp_path / "nope.toml")
    (tmp_path / "e.toml").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_regime(tmp_path / "e.toml")
