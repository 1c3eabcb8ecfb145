"""Files → domain objects (optimizer/inputs.py): every bad input names file, row and column."""

import math

import pytest

from optimizer.domain import ASSET_KINDS, PERILS
from optimizer.inputs import (
    InputError, load_assets, load_incidents, load_profiles, load_quotes, load_regime, regime_from_text, select_profile,
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


# ------------------------------------------------------------------ round 2: inputs that mean nothing, new columns
# Written from the user's side: `python -m optimizer solve …` (in process: same argv, exit code and stderr).

from optimizer import cli  # noqa: E402

NEW_QUOTE_HEADER = QUOTE_HEADER + ",layer_basis"
ASSET_RULE = 'name = "a"\n[requirement]\nhot_wallet_rate = 1.0\ncold_wallet_rate = 0.02\n'


def solve_cli(capsys, write, *, profiles=f"{PROFILE_HEADER}\n{GOOD_PROFILE}\n", quotes=f"{QUOTE_HEADER}\n{GOOD_QUOTE}\n",
              regime='name = "v"\n[requirement]\nvolume_rate = 0.002\n', extra=()):
    args = ["solve", "--profiles", str(write("p.csv", profiles)), "--quotes", str(write("q.csv", quotes)),
            "--regime", str(write("r.toml", regime)), "--format", "json", *extra]
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.err


def refused(capsys, write, **files):
    code, err = solve_cli(capsys, write, **files)
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1
    return err


@pytest.mark.parametrize("regime,where,what", [
    ('name = "x"\n[requirement]\nvolume_rate = 0.002\nperils = []\n', "'requirement.perils'", "at least one"),
    ('name = "x"\n', "'requirement'", "no [requirement] table"),
    ('name = "x"\n[eligibility]\nmax_insurance_share = 0.5\n', "'requirement'", "no [requirement] table"),
    ('name = "x"\n[requirement]\nfloor_jpy = 0\n', "'requirement'", "no positive rate and no positive floor"),
    ('name = "x"\n[requirement]\nfloor_jpy = 3e9\ncap_jpy = 2e9\n', "'requirement.cap_jpy'", "below floor_jpy"),
    ('name = "x"\n[requirement]\nvolume_rate = 0.002\ncap_jpy = 0\n', "'requirement.cap_jpy'", "cap_jpy > 0"),
    ('name = "x"\n[requirement]\nvolume_rate = 2\n', "'requirement.volume_rate'", "between 0 and 1"),
    ('name = "x"\n[requirement]\nfloor_jpy = 1e16\n', "'requirement.floor_jpy'", "between 0 and 1e+15"),
    ('name = "x"\n[requirement]\nfloor_jpy = 2e9\nmax_share_of_customer_assets = 1.5\n',
     "'requirement.max_share_of_customer_assets'", "(0, 1]"),
    ('name = "x"\n[requirement]\nfloor_jpy = 2e9\nmax_share_of_customer_assets = 0\n',
     "'requirement.max_share_of_customer_assets'", "(0, 1]"),
    ('name = "x"\n[requirement]\nfloor_jpy = 2e9\n[eligibility]\nrequire_licensed = "yes"\n',
     "'eligibility.require_licensed'", "true or false"),
    ('name = "x"\n[requirement]\nfloor_jpy = 2e9\n[eligibility]\nstate_backed_exclusion_factor = 1.2\n',
     "'eligibility.state_backed_exclusion_factor'", "between 0 and 1"),
    ('name = "x"\n[requirement]\nfloor_jpy = 2e9\nperils = [["external_hack"]]\n', "nested 4 levels", "at most 3"),
    ('name = "x"\n[requirement]\nfloor_jpy = 2e9\nsecond_event_share = -0.5\n', "'requirement.second_event_share'",
     "between 0 and 10"),
    ('name = "x"\n[requirement]\nfloor_jpy = 2e9\nsecond_event_share = 11\n', "'requirement.second_event_share'",
     "between 0 and 10"),
    ('name = "x"\n[requirement]\nfloor_jpy = 2e9\nsecond_event_share = "once"\n',
     "'requirement.second_event_share'", "expected a number"),
])
def test_a_regime_that_means_nothing_is_refused(capsys, write, regime, where, what):
    err = refused(capsys, write, regime=regime)
    assert "r.toml" in err and where in err and what in err


def test_deeply_nested_or_huge_toml_is_refused(capsys, write):
    err = refused(capsys, write, regime="a = " + "[" * 5000 + "]" * 5000 + "\n")
    assert "r.toml" in err and "nested too deeply" in err
    err = refused(capsys, write, regime='[requirement.volume.rate.x]\ny = 1\n')
    assert "r.toml" in err and "nested 5 levels deep" in err
    err = refused(capsys, write, regime='name = "x"\n' + "# padding\n" * 10_000)
    assert "r.toml" in err and "larger than 64 KB" in err


def test_the_new_regime_keys_are_read():
    r = regime_from_text('[requirement]\nfloor_jpy = 2e9\nmax_share_of_customer_assets = 0.13\n'
                         '[eligibility]\nrequire_licensed = true\nstate_backed_exclusion_factor = 0.24\n', "r.toml")
    assert r.requirement.max_share_of_customer_assets == 0.13
    assert r.eligibility.require_licensed is True and r.eligibility.state_backed_exclusion_factor == 0.24
    old = regime_from_text('[requirement]\nfloor_jpy = 2e9\n', "r.toml")
    assert math.isinf(old.requirement.max_share_of_customer_assets) and old.eligibility.require_licensed is False


@pytest.mark.parametrize("row,column,what", [
    ("Q1,insurance,Ins,AA,1,0.5,0.02,requirement", "'attachment'", "0 ≤ attachment < 1"),
    ("Q1,insurance,Ins,AA,0,1.5,0.02,requirement", "'limit'", "0 < limit ≤ 1"),
    ("Q1,insurance,Ins,AA,0,1e308,0.02,requirement", "'limit'", "at most 1e+15"),
    ("Q1,insurance,Ins,AA,0,2e15,0.02,jpy", "'limit'", "at most 1e+15"),
    ("Q1,insurance,Ins,AA,0,1e9,1e300,jpy", "'rate_on_line'", "at most 10"),
])
def test_implausible_layers_are_refused(capsys, write, row, column, what):
    err = refused(capsys, write, quotes=f"{NEW_QUOTE_HEADER}\n{row}\n")
    assert "q.csv" in err and "row 1" in err and column in err and what in err


QUOTE_R2 = QUOTE_HEADER + ",layer_basis,max_limit_jpy,licensed_in_japan,fronting_fee_rate,exclusions,reinstatements"


@pytest.mark.parametrize("cells,column,what", [
    ("requirement,0,true,0,,0", "'max_limit_jpy'", "> 0"),
    ("requirement,lots,true,0,,0", "'max_limit_jpy'", "expected a number"),
    ("jpy,5e9,true,0,,0", "'max_limit_jpy'", "requirement-basis layers only"),
    ("requirement,,perhaps,0,,0", "'licensed_in_japan'", "true or false"),
    ("requirement,,false,1.5,,0", "'fronting_fee_rate'", "between 0 and 1"),
    ("requirement,,true,0.1,,0", "'fronting_fee_rate'", "unlicensed"),
    ("requirement,,true,0,war,0", "'exclusions'", "state_backed"),
    ("requirement,,true,0,,1.5", "'reinstatements'", "whole number"),
    ("requirement,,true,0,,11", "'reinstatements'", "whole number"),
])
def test_new_quote_columns_are_validated(capsys, write, cells, column, what):
    err = refused(capsys, write, quotes=f"{QUOTE_R2}\nQ1,insurance,Ins,AA,0,0.5,0.02,{cells}\n")
    assert "q.csv" in err and "row 1" in err and column in err and what in err


@pytest.mark.parametrize("cell,what", [("-0.1", "≥ 0"), ("11", "at most 10"), ("pro rata", "expected a number")])
def test_a_reinstatement_premium_that_means_nothing_is_refused(capsys, write, cell, what):
    err = refused(capsys, write, quotes=f"{QUOTE_R2},reinstatement_premium\n"
                                        f"Q1,insurance,Ins,AA,0,0.5,0.02,requirement,,true,0,,1,{cell}\n")
    assert "q.csv" in err and "row 1" in err and "'reinstatement_premium'" in err and what in err


def test_second_event_share_and_reinstatement_premium_are_read_and_default_to_nothing(write):
    [q] = load_quotes(write("q.csv", f"{QUOTE_R2},reinstatement_premium\n"
                                     "Q1,insurance,Ins,AA,0,0.5,0.02,requirement,,true,0,,1,0.8\n"))
    assert (q.reinstatements, q.reinstatement_premium) == (1, 0.8)
    [old] = load_quotes(write("q.csv", f"{QUOTE_HEADER}\n{GOOD_QUOTE}\n"))
    assert old.reinstatement_premium == 0
    r = regime_from_text('[requirement]\nfloor_jpy = 2e9\nsecond_event_share = 0.5\n', "r.toml")
    assert r.requirement.second_event_share == 0.5
    assert regime_from_text('[requirement]\nfloor_jpy = 2e9\n', "r.toml").requirement.second_event_share == 0


def test_new_quote_columns_are_read_and_old_files_keep_their_defaults(write):
    [q] = load_quotes(write("q.csv", f"{QUOTE_R2}\nQ1,insurance,Ins,AA,0,0.5,0.02,requirement,9e10,false,0.075,"
                                     "state_backed,2\n"))
    assert (q.max_limit_jpy, q.licensed_in_japan, q.fronting_fee_rate, q.reinstatements) == (9e10, False, 0.075, 2)
    assert q.exclusions == {"state_backed"}
    [old] = load_quotes(write("q.csv", f"{QUOTE_HEADER}\n{GOOD_QUOTE}\n"))
    assert math.isinf(old.max_limit_jpy) and old.licensed_in_japan and old.fronting_fee_rate == 0
    assert old.exclusions == frozenset() and old.reinstatements == 0


PROFILE_R2 = PROFILE_HEADER + ",net_assets_jpy,statement_date,source"


@pytest.mark.parametrize("cells,column,what", [
    ("ten,2025-12-31,x", "'net_assets_jpy'", "expected a number"),
    ("2e15,2025-12-31,x", "'net_assets_jpy'", "between"),
    ("1e9,31/12/2025,x", "'statement_date'", "YYYY-MM-DD"),
    ("1e9,2025-02-30,x", "'statement_date'", "YYYY-MM-DD"),
])
def test_new_profile_columns_are_validated(capsys, write, cells, column, what):
    err = refused(capsys, write, profiles=f"{PROFILE_R2}\n{GOOD_PROFILE},{cells}\n")
    assert "p.csv" in err and "row 1" in err and column in err and what in err


def test_new_profile_columns_are_read(write):
    [p] = load_profiles(write("p.csv", f'{PROFILE_R2}\n{GOOD_PROFILE},-5e8,2025-03-31,"statement, p. 3"\n'))
    assert (p.net_assets_jpy, p.statement_date, p.source) == (-5e8, "2025-03-31", "statement, p. 3")
    [old] = load_profiles(write("p.csv", f"{PROFILE_HEADER}\n{GOOD_PROFILE}\n"))
    assert old.net_assets_jpy is None and old.statement_date == "" and old.source == ""


@pytest.mark.parametrize("column,value", [("customer_assets_jpy", "2e15"), ("liquid_capital_jpy", "1e300"),
                                          ("annual_trading_volume_jpy", "1e18"), ("premium_multiplier", "50")])
def test_amounts_beyond_any_real_exchange_are_refused(capsys, write, column, value):
    header = PROFILE_HEADER + ",liquid_capital_jpy,premium_multiplier"
    row = dict(zip(header.split(","), (GOOD_PROFILE + ",,1").split(",")))
    row[column] = value
    err = refused(capsys, write, profiles=f"{header}\n{','.join(row.values())}\n")
    assert "p.csv" in err and f"'{column}'" in err and "at most" in err


def test_an_oversized_cell_is_refused_naming_row_and_column(capsys, write):
    err = refused(capsys, write, profiles=f"{PROFILE_HEADER},name\n{GOOD_PROFILE},{'x' * 5000}\n")
    assert "p.csv" in err and "row 1" in err and "'name'" in err and "at most 4,096" in err


@pytest.mark.parametrize("which", ["profiles", "quotes"])
def test_a_cell_beyond_the_csv_modules_own_128KB_limit_is_refused_naming_row_and_column(capsys, write, which):
    # the csv module refuses such a field itself ("field larger than field limit"), naming neither row nor column
    big = "x" * 140_000
    if which == "profiles":
        files = {"profiles": f"{PROFILE_HEADER},name\n{GOOD_PROFILE},ok\nB,1e9,0.05,1e12,0.1,{big}\n"}
    else:
        files = {"quotes": f"{QUOTE_HEADER}\n{GOOD_QUOTE}\nQ2,insurance,{big},AA,0,1e9,0.02\n"}
    err = refused(capsys, write, **files)
    column = "'name'" if which == "profiles" else "'counterparty'"
    assert "row 2" in err and column in err and "140,000 characters" in err and "at most 4,096" in err
    assert "field limit" not in err


@pytest.mark.parametrize("assets", ["1e-320", "0"])
def test_a_requirement_that_is_not_a_finite_positive_amount_is_refused(capsys, write, assets):
    err = refused(capsys, write, profiles=f"{PROFILE_HEADER}\nTINY,{assets},0.05,1e12,0.1\n", regime=ASSET_RULE)
    assert "exchange 'TINY'" in err and "'customer_assets_jpy'" in err and "between 1 and 1e+15" in err


def test_a_bad_incident_attribution_is_refused(write):
    header = "incident_id,date,exchange,peril,loss_jpy,loss_share_of_assets,state_backed"
    with pytest.raises(InputError) as info:
        load_incidents(write("i.csv", f"{header}\nX,2024-05-31,DMM,vendor_compromise,4.8e10,0.4,maybe\n"))
    assert "'state_backed'" in str(info.value) and "true, false or unknown" in str(info.value)
    [i] = load_incidents(write("i.csv", f"{header}\nX,2024-05-31,DMM,vendor_compromise,4.8e10,0.4,TRUE\n"))
    assert i.state_backed == "true"


def test_capacity_file_is_validated(write):
    from optimizer.inputs import load_capacity
    assert load_capacity(write("c.csv", "counterparty,capacity_jpy\nA,9e10\n")) == {"A": 9e10}
    with pytest.raises(InputError, match="row 2.*duplicate"):
        load_capacity(write("c.csv", "counterparty,capacity_jpy\nA,9e10\nA,1e9\n"))
    with pytest.raises(InputError, match="'capacity_jpy'.*≥ 0"):
        load_capacity(write("c.csv", "counterparty,capacity_jpy,source\nA,-1,x\n"))


def test_an_input_error_crosses_processes_as_the_same_error():
    """A batch worker's error (a checkpoint it could not write) reaches the command line as the same message."""
    import pickle

    from optimizer.batch_store import OutputError

    for error in (InputError("p.csv", "expected a number", 7, "cost_of_capital", "EX07"),
                  OutputError("/tmp/r.csv", "No space left on device")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)
        assert (again.source, again.message, again.row, again.column, again.row_id) == \
            (error.source, error.message, error.row, error.column, error.row_id)


def test_an_error_names_the_line_the_row_is_on_after_blank_lines_and_line_breaks(tmp_path):
    # row 2 starts on line 5: two blank lines, then a quoted name with a line break in it (row 3 is on line 7)
    text = (PROFILE_HEADER + ",name\nEX01,1e10,0.05,1e12,0.1,a\n\n\nEX09,abc,0.05,1.5e12,0.10,\"n\nx\"\n"
            "EX10,1e10,0.05,1e12,zz,b\n")
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_profiles(path)
    assert "row 2 (line 5, EX09)" in str(err.value) and err.value.column == "customer_assets_jpy"
    path.write_text(text.replace("EX09,abc", "EX09,1e10"))
    with pytest.raises(InputError, match=r"row 3 \(line 7, EX10\)"):
        load_profiles(path)


def test_the_batch_names_the_same_line(tmp_path):
    from optimizer import batch

    text = PROFILE_HEADER + "\nEX01,1e10,0.05,1e12,0.1\n\n\nEX09,abc,0.05,1.5e12,0.10\n"
    (tmp_path / "p.csv").write_text(text)
    result = batch.run(tmp_path / "p.csv", load_quotes(DATA / "quotes.csv"),
                       load_regime(DATA / "regimes" / "securities-style.toml"), None, workers=1)
    error = result.results.set_index("exchange_id").loc["EX09", "error"]
    assert "row 2 (line 5, EX09)" in error


def test_an_incident_date_must_be_a_date(tmp_path):
    lines = (DATA / "incidents.csv").read_text(encoding="utf-8").splitlines()
    header, first = lines[0], lines[1].split(",")
    first[header.split(",").index("date")] = "notadate"
    (tmp_path / "i.csv").write_text("\n".join([header, ",".join(first)]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_incidents(tmp_path / "i.csv")
    assert err.value.column == "date" and "YYYY-MM-DD" in str(err.value)


# ------------------------------------------------------------------ issue 21: days to pay, reserve assets

def test_a_quote_pays_on_the_day_unless_its_days_to_pay_say_otherwise(write):
    [q] = load_quotes(write("q.csv", f"{QUOTE_HEADER}\n{GOOD_QUOTE}\n"))
    assert q.days_to_pay == 0
    [q] = load_quotes(write("q.csv", f"{QUOTE_HEADER},days_to_pay\n{GOOD_QUOTE},180\n"))
    assert q.days_to_pay == 180


@pytest.mark.parametrize("cell, what", [("-1", "≥ 0"), ("soon", "expected a number"), ("3651", "at most 3650")])
def test_a_bad_days_to_pay_is_refused_naming_row_and_column(capsys, write, cell, what):
    err = refused(capsys, write, quotes=f"{QUOTE_HEADER},days_to_pay\n{GOOD_QUOTE},{cell}\n")
    assert "q.csv, row 1 (line 2, Q1), column 'days_to_pay'" in err and what in err


def test_max_days_to_pay_defaults_to_no_limit_and_is_read():
    base = 'name = "x"\n[requirement]\nfloor_jpy = 2e9\n'
    assert math.isinf(regime_from_text(base).eligibility.max_days_to_pay)
    assert regime_from_text(base + "[eligibility]\nmax_days_to_pay = 30\n").eligibility.max_days_to_pay == 30
    assert math.isinf(regime_from_text(base + "[eligibility]\nmax_days_to_pay = inf\n").eligibility.max_days_to_pay)


def test_asset_shares_default_to_the_held_kinds_only_and_are_read():
    base = 'name = "x"\n[requirement]\nfloor_jpy = 2e9\n'
    elig = regime_from_text(base).eligibility
    assert [elig.max_asset_share(k) for k in ASSET_KINDS] == [1.0, 1.0, 0.0, 0.0, 0.0]
    elig = regime_from_text(base + "[eligibility.assets]\nmax_share.bank_guarantee = 0.5\nmax_share.jgb = 0.8\n"
                            ).eligibility
    assert [elig.max_asset_share(k) for k in ASSET_KINDS] == [1.0, 0.8, 0.5, 0.0, 0.0]
    both = regime_from_text(base + "[eligibility]\nmax_insurance_share = 0.5\n[eligibility.assets]\n"
                            "max_share.credit_line = 0.25\n").eligibility
    assert both.max_insurance_share == 0.5 and both.max_asset_share("credit_line") == 0.25


_BASE = 'name = "x"\n[requirement]\nfloor_jpy = 2e9\n'


@pytest.mark.parametrize("regime, where, what", [
    (_BASE + "[eligibility]\nmax_days_to_pay = -1\n", "'eligibility.max_days_to_pay'", "between 0 and 3650"),
    (_BASE + "[eligibility]\nmax_days_to_pay = 4000\n", "'eligibility.max_days_to_pay'", "between 0 and 3650"),
    (_BASE + '[eligibility]\nmax_days_to_pay = "a month"\n', "'eligibility.max_days_to_pay'", "expected a number"),
    (_BASE + "[eligibility.assets]\nmax_share.bank_guarantee = 1.5\n",
     "'eligibility.assets.max_share.bank_guarantee'", "between 0 and 1"),
    (_BASE + "[eligibility.assets]\nmax_share.bond = 0.5\n", "'eligibility.assets.max_share.bond'",
     "unknown kind of reserve asset 'bond'"),
    (_BASE + "[eligibility.assets]\nmin_share.jgb = 0.5\n", "'eligibility.assets.min_share'", "max_share.<kind>"),
    (_BASE + "[eligibility.assets]\nmax_share = 0.5\n", "'eligibility.assets.max_share'", "max_share.<kind>"),
    (_BASE + "[eligibility]\nassets = 1\n", "'eligibility.assets'", "expected a table"),
    (_BASE + "[eligibility.assets]\nmax_share.jgb = [[0.5]]\n", "'eligibility.assets.max_share.jgb'",
     "expected a number"),
])
def test_a_bad_asset_or_days_key_is_refused_naming_the_key(capsys, write, regime, where, what):
    err = refused(capsys, write, regime=regime)
    assert "r.toml" in err and where in err and what in err


ASSET_HEADER = "asset_id,kind,counterparty,rating,haircut,yield,fee_rate,max_amount_jpy,days_to_pay,exchange_id"


def asset_error(write, *rows, header=ASSET_HEADER):
    with pytest.raises(InputError) as info:
        load_assets(write("assets.csv", "\n".join([header, *rows]) + "\n"))
    return str(info.value)


def test_assets_load_with_their_defaults(write):
    text = "asset_id,kind,counterparty,rating\nJ,jgb,,\nG,bank_guarantee,Bank A,a+\n"
    jgb, guarantee = load_assets(write("assets.csv", text))
    assert (jgb.kind, jgb.counterparty, jgb.rating, jgb.haircut, jgb.yield_rate) == ("jgb", "", "", 0.0, 0.0)
    assert math.isinf(jgb.max_amount_jpy) and jgb.days_to_pay == 0 and jgb.exchange_id is None and jgb.funded
    assert (guarantee.counterparty, guarantee.rating, guarantee.funded) == ("Bank A", "A+", False)
    assert load_assets(write("a.csv", ASSET_HEADER + "\n")) == []   # a header alone: no assets


@pytest.mark.parametrize("row, where, what", [
    ("D,deposit,Bank,A,0,0.004,0.001,,,", "column 'fee_rate'", "is held, not promised"),
    ("J,jgb,,,0,0.01,0.002,,,", "column 'fee_rate'", "is held, not promised"),
    ("G,bank_guarantee,Bank,A,0,0.01,0.004,,,", "column 'yield'", "is promised, not held"),
    ("L,credit_line,Bank,A,0,0.001,0,,,", "column 'yield'", "is promised, not held"),
    ("J,jgb,,,1,0.01,0,,,", "column 'haircut'", "up to but not including 1"),
    ("J,jgb,,,-0.01,0.01,0,,,", "column 'haircut'", "up to but not including 1"),
    ("J,jgb,,AA,0,0.01,0,,,", "column 'rating'", "a JGB's credit factor is 1"),
    ("J,jgb,Ministry of Finance,,0,0.01,0,,,", "column 'counterparty'", "owed by the state"),
    ("G,bank_guarantee,,A,0,0,0.004,,,", "column 'counterparty'", "a bank_guarantee needs who holds or promises"),
    ("P,parent_guarantee,Parent,,0,0,0.004,,,", "column 'rating'", "a parent_guarantee needs that counterparty's"),
    ("D,deposit,Bank,,0,0.004,0,,,", "column 'rating'", "only a jgb may leave it blank"),
    ("B,bond,Bank,A,0,0.01,0,,,", "column 'kind'", "expected one of deposit, jgb, bank_guarantee, credit_line"),
    ("J,jgb,,,0,0.01,0,-5,,", "column 'max_amount_jpy'", "≥ 0"),
    ("J,jgb,,,0,0.01,0,,5000,", "column 'days_to_pay'", "at most 3650"),
    ("G,bank_guarantee,Bank,ZZ,0,0,0.004,,,", "column 'rating'", "expected a rating"),
    ("J,jgb,,,0,2,0,,,", "column 'yield'", "between 0 and 1"),
])
def test_each_bad_asset_row_is_refused_with_why(write, row, where, what):
    err = asset_error(write, row)
    assert f"assets.csv, row 1 (line 2, {row.split(',')[0]}), {where}: " in err and what in err


def test_a_duplicate_asset_id_or_an_unknown_column_is_refused(write):
    err = asset_error(write, "J,jgb,,,0,0.01,0,,,", "J,jgb,,,0.02,0.02,0,,,")
    assert "row 2" in err and "duplicate asset_id 'J' (first seen in row 1)" in err
    err = asset_error(write, "J,jgb,,,0,0.01,0", header="asset_id,kind,counterparty,rating,haircut,yeild,fee_rate")
    assert "column 'yeild'" in err and "unknown column" in err
    err = asset_error(write, "jgb,,", header="kind,counterparty,rating")
    assert "column 'asset_id'" in err and "required column is missing" in err


def test_a_held_asset_yielding_more_than_the_cost_of_capital_is_refused_for_that_exchange():
    from optimizer.domain import ExchangeProfile, ReserveAsset
    from optimizer.inputs import check_asset_yields

    cheap_capital = ExchangeProfile("LOW", 1e11, 0.05, 1e12, cost_of_capital=0.015)
    assets = [ReserveAsset("J2", "jgb", yield_rate=0.012),
              ReserveAsset("J10", "jgb", yield_rate=0.02125),
              ReserveAsset("MINE", "jgb", yield_rate=0.03, exchange_id="OTHER")]   # not offered to LOW
    with pytest.raises(InputError) as info:
        check_asset_yields(cheap_capital, assets, "assets.csv")
    assert str(info.value).startswith("assets.csv, row 2 (line 3, J10), column 'yield': yield 0.02125 exceeds")
    check_asset_yields(cheap_capital, assets[:1] + assets[2:], "assets.csv")   # the others are fine
