"""The requirement R and credit factors κ (optimizer/regime.py)."""

import math

import pytest

from optimizer.domain import Eligibility, ExchangeProfile, Quote, Regime, RequirementRule, rating_bucket, rating_rank
from optimizer.regime import credit_factor, rating_credit, requirement, with_parameter
from builders import profile as make_profile

PROFILE = make_profile(annual_trading_volume_jpy=1e12)


def _regime(**rule):
    return Regime("r", RequirementRule(**rule), Eligibility(min_rating="BBB-", derivative_credit_factor=0.7),
                  rating_credit={"AA": 1.0, "A": 0.95, "BBB": 0.85, "A-": 0.9})


def _quote(rating, kind="insurance", collateralized=False):
    return Quote("Q", kind, "C", rating, 0, 1e9, 0.02, collateralized=collateralized)


@pytest.mark.parametrize("rule,expected", [
    (dict(volume_rate=0.002), 2e9),                                   # 0.2% of ¥1tn volume
    (dict(hot_wallet_rate=1.0, cold_wallet_rate=0.02), 5e9 + 0.02 * 9.5e10),  # hot ¥5bn in full + 2% of cold
    (dict(volume_rate=0.002, floor_jpy=3e9), 3e9),                   # the floor lifts it
    (dict(volume_rate=0.002, cap_jpy=1e9), 1e9),                     # the cap bounds it
    (dict(volume_rate=0.002, hot_wallet_rate=1.0), 5e9),             # the larger of the two bases
])
def test_requirement_formula(rule, expected):
    assert requirement(PROFILE, _regime(**rule)) == pytest.approx(expected)


def test_cap_applies_after_floor():
    assert requirement(PROFILE, _regime(floor_jpy=5e9, cap_jpy=4e9)) == 4e9


def test_rating_order_and_buckets():
    assert rating_rank("AAA") < rating_rank("AA+") < rating_rank("AA-") < rating_rank("A+") < rating_rank("BBB-")
    assert rating_rank("CCC-") < rating_rank("NR")
    assert rating_bucket("A-") == "A" and rating_bucket("BBB+") == "BBB" and rating_bucket("NR") == "NR"


@pytest.mark.parametrize("rating,expected", [
    ("AAA", 1.0),   # unlisted bucket at or above the minimum: 1
    ("AA-", 1.0),   # AA bucket
    ("A+", 0.95),   # A bucket
    ("A-", 0.9),    # a notched key takes precedence over its bucket
    ("BBB-", 0.85), # at the minimum: still credit
    ("BB+", 0.0),   # below the minimum
    ("NR", 0.0),    # not rated is the lowest
])
def test_rating_credit(rating, expected):
    assert rating_credit(rating, _regime()) == expected


def test_credit_factor_by_kind():
    r = _regime()
    assert credit_factor(_quote("A"), r) == 0.95
    assert credit_factor(_quote("A", "derivative"), r) == pytest.approx(0.95 * 0.7)
    assert credit_factor(_quote("NR", "derivative", collateralized=True), r) == 0.7  # rating does not matter
    assert credit_factor(_quote("BB", "derivative"), r) == 0.0


def test_with_parameter_replaces_one_number():
    r = with_parameter(_regime(volume_rate=0.002), "max_insurance_share", 0.5)
    assert r.eligibility.max_insurance_share == 0.5 and r.requirement.volume_rate == 0.002
    r = with_parameter(r, "volume_rate", 0.004)
    assert requirement(PROFILE, r) == pytest.approx(4e9)
    with pytest.raises(KeyError):
        with_parameter(r, "nope", 1.0)


# ------------------------------------------------------------------ round 2: share cap on R, licensing, exclusions

from hypothesis import given, strategies as st  # noqa: E402

from optimizer.inputs import InputError  # noqa: E402


def test_share_of_customer_assets_caps_a_floor():
    small = ExchangeProfile("S", customer_assets_jpy=2e7, hot_wallet_share=0.05, annual_trading_volume_jpy=5e7,
                            cost_of_capital=0.12)
    assert requirement(small, _regime(floor_jpy=2e9)) == 2e9                      # 100× its customer assets
    assert requirement(small, _regime(floor_jpy=2e9, max_share_of_customer_assets=0.5)) == pytest.approx(1e7)


@pytest.mark.parametrize("assets,rule", [
    (1e-320, dict(hot_wallet_rate=1.0, cold_wallet_rate=0.02)),   # subnormal: R would be ~1e-322
    (0.0, dict(cold_wallet_rate=0.02)),                             # nothing the rule measures: R = 0
    (1e9, dict(floor_jpy=2e9, max_share_of_customer_assets=1e-12)),  # R = 0.001 yen
])
def test_a_requirement_below_one_yen_is_an_input_error_naming_the_exchange(assets, rule):
    p = ExchangeProfile("TINY", customer_assets_jpy=assets, hot_wallet_share=0.05, annual_trading_volume_jpy=0.0,
                        cost_of_capital=0.1)
    with pytest.raises(InputError) as info:
        requirement(p, _regime(**rule))
    assert "exchange 'TINY'" in str(info.value) and "'customer_assets_jpy'" in str(info.value)


def test_a_requirement_above_1e15_is_an_input_error_naming_the_volume():
    p = ExchangeProfile("BIG", customer_assets_jpy=1e9, hot_wallet_share=0.05, annual_trading_volume_jpy=1e17,
                        cost_of_capital=0.1)
    with pytest.raises(InputError, match="'annual_trading_volume_jpy'"):
        requirement(p, _regime(volume_rate=0.5))


def _elig(**kw):
    return Regime("r", RequirementRule(floor_jpy=1e9), Eligibility(**kw), rating_credit={"A": 0.95})


def test_unlicensed_quote_earns_credit_only_when_fronted_under_require_licensed():
    bare = Quote("U", "insurance", "Bermuda", "A", 0, 0.5, 0.01, layer_basis="requirement", licensed_in_japan=False)
    fronted = Quote("F", "insurance", "Bermuda", "A", 0, 0.5, 0.01, layer_basis="requirement",
                    licensed_in_japan=False, fronting_fee_rate=0.1)
    assert credit_factor(bare, _elig(require_licensed=True)) == 0.0
    assert credit_factor(fronted, _elig(require_licensed=True)) == 0.95
    assert fronted.premium_rate == pytest.approx(0.011)                     # premium × (1 + fronting fee)
    assert credit_factor(bare, _elig(require_licensed=False)) == 0.95       # old regimes: no licensing rule


@pytest.mark.parametrize("factor", [1.0, 0.24, 0.0])
def test_state_backed_exclusion_lowers_kappa_by_the_factor(factor):
    plain = Quote("P", "insurance", "Lloyd's", "A", 0, 1e9, 0.01)
    excl = Quote("E", "insurance", "Lloyd's", "A", 0, 1e9, 0.01, exclusions=frozenset({"state_backed"}))
    r = _elig(state_backed_exclusion_factor=factor)
    assert credit_factor(plain, r) == 0.95
    assert credit_factor(excl, r) == pytest.approx(0.95 * factor)


@given(assets=st.floats(1e3, 1e13), hot=st.floats(0, 1), volume=st.floats(0, 1e14),
       rates=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)), floor=st.floats(1, 4e10),
       share=st.floats(1e-3, 1))
def test_requirement_never_exceeds_its_share_of_customer_assets(assets, hot, volume, rates, floor, share):
    p = ExchangeProfile("X", assets, hot, volume, 0.1)
    r = _regime(volume_rate=rates[0], hot_wallet_rate=rates[1], cold_wallet_rate=rates[2], floor_jpy=floor,
                max_share_of_customer_assets=share)
    R = requirement(p, r)
    assert math.isfinite(R) and 1 <= R <= share * assets * (1 + 1e-12)


def test_batch_turns_an_implausible_requirement_into_an_error_row(tmp_path):
    import csv

    from conftest import ROOT, run_cli

    profiles = tmp_path / "p.csv"
    profiles.write_text("exchange_id,customer_assets_jpy,hot_wallet_share,annual_trading_volume_jpy,cost_of_capital\n"
                        "A,1e10,0.05,1e12,0.1\nTINY,1e-320,0.05,1e12,0.1\nB,2e10,0.05,1e12,0.1\n")
    out = run_cli("batch", profiles, "--regime", "asset-based", "--out", tmp_path / "r.csv", "--workers", "1",
                  cwd=ROOT)
    assert out.returncode == 0, out.stderr
    rows = {r["exchange_id"]: r for r in csv.DictReader(open(tmp_path / "r.csv", encoding="utf-8"))}
    assert rows["A"]["status"] == rows["B"]["status"] == "optimal"
    assert rows["TINY"]["status"] == "error" and "customer_assets_jpy" in rows["TINY"]["error"]


# ------------------------------------------------------------------ issue 21: days to pay, reserve assets

def test_a_quote_that_pays_after_max_days_to_pay_has_kappa_0_and_one_on_the_limit_keeps_its_kappa():
    quote = lambda days: Quote("Q", "insurance", "C", "A", 0, 1e9, 0.01, days_to_pay=days)  # noqa: E731
    assert credit_factor(quote(31), _elig(max_days_to_pay=30)) == 0.0
    assert credit_factor(quote(30), _elig(max_days_to_pay=30)) == 0.95
    assert credit_factor(quote(3650), _elig()) == 0.95                  # no limit by default


def test_an_assets_kappa_is_1_for_a_jgb_the_rating_credit_for_a_bank_and_0_when_it_pays_late():
    from optimizer.domain import ReserveAsset
    from optimizer.regime import asset_credit_factor

    r = _elig(max_days_to_pay=10)
    assert asset_credit_factor(ReserveAsset("J", "jgb", haircut=0.05), r) == 1.0
    assert asset_credit_factor(ReserveAsset("G", "bank_guarantee", "Bank", "A-", fee_rate=0.004), r) == 0.95
    assert asset_credit_factor(ReserveAsset("D", "deposit", "Bank", "BB+"), r) == 0.0          # below min_rating
    assert asset_credit_factor(ReserveAsset("P", "parent_guarantee", "Parent", "AA", days_to_pay=14), r) == 0.0
    assert asset_credit_factor(ReserveAsset("J", "jgb", days_to_pay=11), r) == 0.0
    # credit per yen = κ·(1 − h): ¥1 of a JGB with a 5% haircut is ¥0.95 of credit, so ¥1/0.95 buys ¥1 of credit
    jgb = ReserveAsset("J", "jgb", haircut=0.05)
    assert jgb.credit_per_yen(asset_credit_factor(jgb, r)) * (1 / 0.95) == pytest.approx(1.0)


def test_the_asset_shares_and_days_are_regime_parameters_a_frontier_or_an_override_can_set():
    from optimizer.regime import SWEEPABLE, check_parameter, parameter_value

    r = _elig()
    for kind, default in (("deposit", 1.0), ("jgb", 1.0), ("bank_guarantee", 0.0), ("credit_line", 0.0),
                          ("parent_guarantee", 0.0)):
        name = f"max_share.{kind}"
        assert name in SWEEPABLE and parameter_value(r, name) == default
        changed = with_parameter(r, name, 0.25)
        assert changed.eligibility.max_asset_share(kind) == 0.25 and parameter_value(changed, name) == 0.25
        assert r.eligibility.max_asset_share(kind) == default               # the original is untouched
    assert with_parameter(r, "max_days_to_pay", 30).eligibility.max_days_to_pay == 30
    assert check_parameter("max_days_to_pay", math.inf) == math.inf and check_parameter("max_share.jgb", 0.5) == 0.5
    for name, bad, words in (("max_days_to_pay", -1, "days between 0 and 3650"),
                             ("max_share.bank_guarantee", 1.5, "a fraction between 0 and 1")):
        with pytest.raises(InputError, match=words):
            check_parameter(name, bad)
    assert "asset_shares" not in SWEEPABLE


def test_second_event_share_is_a_regime_parameter_held_to_its_bounds():
    from optimizer.regime import SWEEPABLE, check_parameter, parameter_value

    r = _elig()
    assert "second_event_share" in SWEEPABLE and parameter_value(r, "second_event_share") == 0
    assert with_parameter(r, "second_event_share", 1.0).requirement.second_event_share == 1.0
    assert check_parameter("second_event_share", 2.5) == 2.5
    for bad in (-0.1, 10.5, math.inf):
        with pytest.raises(InputError, match="multiple of R between 0 and 10"):
            check_parameter("second_event_share", bad)


def test_a_frontier_over_max_days_to_pay_buys_the_slow_layer_once_the_limit_reaches_it():
    from optimizer.analysis import frontier, default_values

    p = make_profile(annual_trading_volume_jpy=1e12)
    r = _elig()
    slow = Quote("S", "insurance", "C", "A", 0, 1.0, 0.01, layer_basis="requirement", days_to_pay=90)
    table = frontier(p, [slow], r, "max_days_to_pay", [30, 89, 90, math.inf])
    # R = ¥1bn floor: all cash at 10% = ¥100m until the limit reaches 90 days; then the layer (κ 0.95, 1%)
    # funds 95% of R: ¥10m premium + 5% of R in cash ¥5m = ¥15m
    assert list(table["annual_cost_jpy"]) == pytest.approx([1e8, 1e8, 1.5e7, 1.5e7])
    assert list(default_values(r, "max_days_to_pay", 3)) == [0, 182.5, 365]
    assert list(default_values(_elig(max_days_to_pay=30), "max_days_to_pay", 3)) == [0, 30, 60]
    assert list(default_values(r, "max_share.bank_guarantee", 3)) == [0, 0.5, 1]


def test_the_worked_examples_in_the_docstrings_hold():
    import doctest

    from optimizer import reasons, regime

    assert doctest.testmod(regime).failed == 0 and doctest.testmod(reasons).failed == 0
