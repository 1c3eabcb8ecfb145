"""The requirement R and credit factors κ (optimizer/regime.py)."""

import math

import pytest

from optimizer.domain import Eligibility, ExchangeProfile, Quote, Regime, RequirementRule, rating_bucket, rating_rank
from optimizer.regime import credit_factor, rating_credit, requirement, with_parameter

PROFILE = ExchangeProfile("X", customer_assets_jpy=1e11, hot_wallet_share=0.05, annual_trading_volume_jpy=1e12,
                          cost_of_capital=0.1)


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
