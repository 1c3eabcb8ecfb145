"""The nouns and their arithmetic (optimizer/domain.py): reserve assets' money, written once."""

import doctest
import math

import pytest

from optimizer import domain
from optimizer.domain import ReserveAsset
from builders import profile

P = profile(annual_trading_volume_jpy=1e12, cost_of_capital=0.08, reserve_yield=0.005)


def test_the_worked_examples_in_the_docstrings_hold():
    assert doctest.testmod(domain).failed == 0


def test_a_jgb_with_a_5_percent_haircut_needs_1_over_0_95_yen_per_yen_of_credit():
    jgb = ReserveAsset("J", "jgb", haircut=0.05, yield_rate=0.016)
    per_yen = jgb.credit_per_yen(1.0)
    assert per_yen == pytest.approx(0.95)
    assert 1e9 / per_yen == pytest.approx(1.0526315789e9)          # ¥1bn of credit: ¥1.0526bn of JGBs held


def test_a_guarantee_is_credited_at_its_banks_kappa_less_its_haircut():
    g = ReserveAsset("G", "bank_guarantee", "Bank", "A", haircut=0.1, fee_rate=0.004)
    assert g.credit_per_yen(0.95) == pytest.approx(0.95 * 0.9)


def test_held_assets_cost_the_capital_they_tie_up_less_their_yield_and_promises_cost_their_fee():
    # cash costs 8% − 0.5% = 7.5% a year; a 10-year JGB at 2.125% costs 5.875%; a guarantee its 0.4% fee alone
    assert P.carry == pytest.approx(0.075)
    assert ReserveAsset("J10", "jgb", yield_rate=0.02125).annual_cost_per_yen(P) == pytest.approx(0.05875)
    assert ReserveAsset("D", "deposit", "Bank", "A", yield_rate=0.004).annual_cost_per_yen(P) == pytest.approx(0.076)
    for kind in ("bank_guarantee", "credit_line", "parent_guarantee"):
        asset = ReserveAsset("U", kind, "Bank", "A", fee_rate=0.004)
        assert not asset.funded and asset.annual_cost_per_yen(P) == pytest.approx(0.004)
    # per yen of credit a JGB at 2% haircut: 5.875% / 0.98 ≈ 5.995% a year, below cash's 7.5%
    j = ReserveAsset("J10", "jgb", haircut=0.02, yield_rate=0.02125)
    assert j.annual_cost_per_yen(P) / j.credit_per_yen(1.0) == pytest.approx(0.05875 / 0.98)


def test_which_kinds_are_held_and_who_is_offered_an_asset():
    assert [ReserveAsset("A", k, "B", "A").funded for k in domain.ASSET_KINDS] == [True, True, False, False, False]
    mine = ReserveAsset("L", "credit_line", "Group", "A", exchange_id="coincheck")
    assert mine.offered_to("coincheck") and not mine.offered_to("bitflyer")
    assert ReserveAsset("J", "jgb").offered_to("anyone") and math.isinf(ReserveAsset("J", "jgb").max_amount_jpy)
