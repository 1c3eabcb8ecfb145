"""Scenario years and payouts (optimizer/simulation.py): hand-built events, closed forms, reproducibility."""

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from optimizer.domain import PERILS, ExchangeProfile, Quote
from optimizer.loss_model import EventType, LossModel, load_loss_model
from optimizer.risk import var_tvar
from optimizer.simulation import Scenarios, simulate

ROOT = Path(__file__).resolve().parent.parent
JAPAN = load_loss_model(ROOT / "data" / "loss-models" / "japan.toml")
PROFILE = ExchangeProfile("T", customer_assets_jpy=1e10, hot_wallet_share=0.05, annual_trading_volume_jpy=1e11,
                          cost_of_capital=0.1)


def model(*types, rate=1.0, vol=0.0, defaults=None, basis=0.3, state_backed=0.0):
    return LossModel("t", rate, state_backed, vol, 60, tuple(types), defaults or {}, basis)


def hand_scenarios(years, losses, perils, state_backed, index=None, n_years=10, defaults=None):
    """Scenarios from explicit events (years sorted)."""
    years = np.asarray(years)
    loss_years, rows = np.unique(years, return_inverse=True)
    losses = np.asarray(losses, dtype=float)
    return Scenarios(n_years=n_years, seed=0, loss_model=model(defaults=defaults), event_year=years,
                     event_row=rows, event_loss=losses, event_peril=np.array([PERILS.index(p) for p in perils]),
                     event_state_backed=np.asarray(state_backed, dtype=bool),
                     event_index=losses if index is None else np.asarray(index, dtype=float),
                     loss_years=loss_years, annual_loss=np.bincount(rows, weights=losses))


def layer(qid="L", a=10.0, l=20.0, **kw):
    return Quote(qid, kw.pop("kind", "insurance"), kw.pop("counterparty", "C"), kw.pop("rating", "AA"), a, l, 0.01,
                 **kw)


# ---------------------------------------------------------------- hand-checked payouts

def test_layer_pays_excess_over_attachment_up_to_limit_per_event():
    # year 0: losses 5 and 25 → 0 + 15; year 3: loss 100 → 20
    sc = hand_scenarios([0, 0, 3], [5, 25, 100], ["external_hack"] * 3, [False] * 3)
    P = sc.payouts([layer(a=10, l=20)], 1.0)
    assert P[:, 0].tolist() == [15.0, 20.0]
    assert sc.annual_loss.tolist() == [30.0, 100.0]


def test_annual_aggregate_with_reinstatements():
    # three events of 100 in one year on a 10 xs 0 layer: 30 without a cap, 10 with no reinstatement, 20 with one
    sc = hand_scenarios([2, 2, 2], [100, 100, 100], ["external_hack"] * 3, [False] * 3)
    P = sc.payouts([layer("A", 0, 10), layer("B", 0, 10, reinstatements=1), layer("C", 0, 10, reinstatements=5)],
                   1.0)
    assert P[0].tolist() == [10.0, 20.0, 30.0]


def test_peril_and_state_backed_exclusion():
    sc = hand_scenarios([0, 1, 2], [50, 50, 50], ["external_hack", "vendor_compromise", "external_hack"],
                        [False, False, True])
    hack_only = layer("H", 0, 10, perils=frozenset({"external_hack"}))
    no_state = layer("S", 0, 10, exclusions=frozenset({"state_backed"}))
    P = sc.payouts([hack_only, no_state], 1.0)
    assert P[:, 0].tolist() == [10.0, 0.0, 10.0]
    assert P[:, 1].tolist() == [10.0, 10.0, 0.0]


def test_derivative_pays_on_the_index_and_requirement_basis_scales():
    sc = hand_scenarios([0], [40.0], ["external_hack"], [False], index=[60.0])
    deriv = layer("D", 0.1, 0.2, kind="derivative", layer_basis="requirement")  # 10 xs 20 for R = 100
    ins = layer("I", 0.1, 0.5, layer_basis="requirement")                      # 50 xs 10
    P = sc.payouts([deriv, ins], 100.0)
    assert P[0].tolist() == [20.0, 30.0]  # index 60 − 10 capped at 20; loss 40 − 10


def test_counterparty_default_pays_nothing_but_collateral_pays():
    sc = hand_scenarios([0, 5], [50, 50], ["external_hack"] * 2, [False] * 2, defaults={"CCC": 1.0, "AA": 0.0})
    P = sc.payouts([layer("X", 0, 10, rating="CCC-"), layer("Y", 0, 10, rating="AA"),
                    layer("Z", 0, 10, rating="CCC", kind="derivative", collateralized=True)], 1.0)
    assert P[:, 0].tolist() == [0.0, 0.0]
    assert P[:, 1].tolist() == [10.0, 10.0]
    assert P[:, 2].tolist() == [10.0, 10.0]


def test_one_default_draw_per_counterparty_year_whatever_else_is_evaluated():
    lm = replace(JAPAN, default_probability={"B": 0.3})
    sc = simulate(PROFILE, lm, 20_000, seed=5)
    a = layer("A", 0, 1e12, rating="B", counterparty="Same")
    b = layer("B", 0, 1e12, rating="B", counterparty="Same")
    alone = sc.payouts([a], 1.0)[:, 0]
    together = sc.payouts([layer("other", 0, 1e12, rating="B", counterparty="Else"), a, b], 1.0)
    assert np.array_equal(alone, together[:, 1]) and np.array_equal(together[:, 1], together[:, 2])
    paid = alone > 0
    assert 0.6 < paid.mean() < 0.8  # ≈ 1 − 0.3 of loss years


# ---------------------------------------------------------------- closed forms

def lognormal_lev(d, mu, sigma):
    """E[min(X, d)] for X lognormal(mu, sigma)."""
    return (math.exp(mu + sigma ** 2 / 2) * stats.norm.cdf((math.log(d) - mu - sigma ** 2) / sigma)
            + d * (1 - stats.norm.cdf((math.log(d) - mu) / sigma)))


def test_expected_layer_loss_matches_limited_expected_value():
    # one Poisson(0.3) type, lognormal fraction (median 0.1, p90 0.3) of ¥1e10, no price move, no cap in reach
    et = EventType("x", 1.0, "external_hack", "customer_assets", "lognormal", median=0.1, p90=0.3, cap=1e9)
    sc = simulate(PROFILE, model(et, rate=0.3), 200_000, seed=11)
    a, l = 1.0e9, 2.0e9
    paid = sc.payouts([layer("L", a, l, reinstatements=1000)], 1.0)[:, 0]
    mu, sigma = math.log(0.1e10), et.sigma
    expected = 0.3 * (lognormal_lev(a + l, mu, sigma) - lognormal_lev(a, mu, sigma))
    n = sc.n_years
    mean = paid.sum() / n
    se = math.sqrt((np.dot(paid, paid) / n - mean ** 2) / n)
    assert abs(mean - expected) <= 3 * se, (mean, expected, se)


def test_var_of_compound_poisson_with_degenerate_severity_is_the_poisson_quantile():
    et = EventType("x", 1.0, "external_hack", "customer_assets", "uniform", low=0.1, high=0.1)
    sc = simulate(PROFILE, model(et, rate=2.0), 100_000, seed=3)
    c = 0.1 * PROFILE.customer_assets_jpy
    for level in (0.9, 0.99, 0.999):
        var, tvar = var_tvar(sc.annual_loss, sc.n_years, level)
        assert var == pytest.approx(c * stats.poisson.ppf(level, 2.0), rel=1e-12)
        assert tvar >= var


def test_price_move_has_mean_one_and_types_their_probabilities():
    sc = simulate(PROFILE, replace(JAPAN, events_per_year=1.0), 50_000, seed=9)
    hot = sc.event_peril == PERILS.index("external_hack")
    p = hot.mean()
    assert abs(p - 0.4) <= 4 * math.sqrt(0.4 * 0.6 / sc.n_events)
    # hot-wallet losses are a uniform(0.2, 1) share of hot assets times a mean-one price factor: mean 0.6 × hot
    mean = sc.event_loss[hot].mean() / PROFILE.hot_assets_jpy
    assert mean == pytest.approx(0.6, rel=0.02)
    sb = sc.event_state_backed.mean()
    assert abs(sb - 0.6) <= 4 * math.sqrt(0.24 / sc.n_events)


# ---------------------------------------------------------------- properties

@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 3000))
def test_same_seed_same_scenarios(seed, n):
    a, b = simulate(PROFILE, JAPAN, n, seed), simulate(PROFILE, JAPAN, n, seed)
    for field in ("event_year", "event_loss", "event_peril", "event_state_backed", "event_index", "annual_loss"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    q = [layer("A", 0, 1e9, rating="BBB"), layer("B", 1e8, 5e9, kind="derivative", rating="A")]
    assert np.array_equal(a.payouts(q, 1.0), b.payouts(q, 1.0))


def test_bad_scenario_count():
    with pytest.raises(ValueError):
        simulate(PROFILE, JAPAN, 0)


def test_a_price_move_the_simulation_cannot_average_is_refused_even_when_built_in_code():
    from optimizer.inputs import InputError

    wild = replace(JAPAN, price_volatility=3.0, payout_lag_days=730)  # log-sd 4.24: E[loss] a third of the truth
    with pytest.raises(InputError, match="expected at most 2") as err:
        simulate(PROFILE, wild, 1000)
    assert err.value.column == "payout_lag_days"
    with pytest.raises(InputError) as err:
        simulate(PROFILE, replace(JAPAN, basis_volatility=2.5), 1000)
    assert err.value.column == "basis_volatility"


# ---------------------------------------------------------------- the pareto severity against its closed form

def test_pareto_severity_has_its_closed_form_quantiles_mean_and_cap():
    # one type at a rate of one event a year, no price move: each event's loss is fraction × ¥1e10 exactly
    median, alpha, cap = 0.05, 1.5, 0.6
    et = EventType("x", 1.0, "vendor_compromise", "customer_assets", "pareto", median=median, alpha=alpha, cap=cap)
    sc = simulate(PROFILE, model(et, rate=1.0), 200_000, seed=5)
    x = sc.event_loss / PROFILE.customer_assets_jpy
    n = x.size
    xmin = median * 2 ** (-1 / alpha)                   # 0.031498
    assert xmin == pytest.approx(0.031498026247, rel=1e-10)
    assert x.min() >= xmin * (1 - 1e-12)
    # quantiles: q(p) = xmin·(1 − p)^(−1/α); the share of draws below q(p) is p within 4 binomial standard errors
    for p in (0.1, 0.5, 0.9, 0.98):
        q = xmin * (1 - p) ** (-1 / alpha)
        assert q < cap
        assert abs((x <= q).mean() - p) <= 4 * math.sqrt(p * (1 - p) / n), p
    assert xmin * 0.5 ** (-1 / alpha) == pytest.approx(median, rel=1e-12)
    # the cap: nothing above it, and P(X = cap) = P(pareto > cap) = (xmin / cap)^α = 0.012028
    p_cap = (xmin / cap) ** alpha
    assert p_cap == pytest.approx(0.0120281, rel=1e-4)
    assert x.max() == cap
    assert abs((x == cap).mean() - p_cap) <= 4 * math.sqrt(p_cap * (1 - p_cap) / n)
    # the capped mean: E[min(X, c)] = xmin + xmin^α (c^(1−α) − xmin^(1−α)) / (1 − α) = 0.031498 + 0.048562
    mean = xmin + xmin ** alpha * (cap ** (1 - alpha) - xmin ** (1 - alpha)) / (1 - alpha)
    assert mean == pytest.approx(0.080060, abs=1e-6)
    assert abs(x.mean() - mean) <= 4 * x.std() / math.sqrt(n)


def test_pareto_below_alpha_one_has_a_finite_capped_mean():
    # α = 0.8: the uncapped mean is infinite; capped at 1 it is xmin + xmin^α (1 − xmin^(1−α)) / (1 − α)
    median, alpha = 0.02, 0.8
    et = EventType("x", 1.0, "vendor_compromise", "customer_assets", "pareto", median=median, alpha=alpha)
    sc = simulate(PROFILE, model(et, rate=1.0), 200_000, seed=8)
    x = sc.event_loss / PROFILE.customer_assets_jpy
    xmin = median * 2 ** (-1 / alpha)
    mean = xmin + xmin ** alpha * (1 - xmin ** (1 - alpha)) / (1 - alpha)
    assert abs(x.mean() - mean) <= 4 * x.std() / math.sqrt(x.size)
    assert abs((x == 1.0).mean() - xmin ** alpha) <= 4 * math.sqrt(xmin ** alpha / x.size)


def test_a_pareto_type_leaves_the_other_types_draws_unchanged():
    # the severity reuses the uniform already drawn for every event: swapping one type's severity for a pareto
    # changes that type's losses only (the comparison of the two presets at one seed is a comparison of tails)
    heavy = load_loss_model(ROOT / "data" / "loss-models" / "japan-heavy-tail.toml")
    a, b = simulate(PROFILE, JAPAN, 50_000, 4), simulate(PROFILE, heavy, 50_000, 4)
    vendor = a.event_peril == PERILS.index("vendor_compromise")
    assert np.array_equal(a.event_year, b.event_year) and np.array_equal(a.event_peril, b.event_peril)
    assert np.array_equal(a.event_loss[~vendor], b.event_loss[~vendor])
    assert not np.array_equal(a.event_loss[vendor], b.event_loss[vendor])
