"""The LP/MILP of docs/design.md §4 (optimizer/model.py): hand-computed towers, then properties, then a
cross-check against an independent formulation with scipy.optimize.milp."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from optimizer.domain import PERILS, Eligibility, ExchangeProfile, Quote, Regime, RequirementRule
from optimizer.model import solve
from optimizer.regime import credit_factor, requirement
from optimizer.solution import verify

from builders import layer, profile, random_assets, random_profiles, random_regime, random_sheet, regime

R = 1e10  # 0.002 × ¥5tn volume under builders.regime()

# ------------------------------------------------------------------ hand-computed cases

def test_all_cash_when_there_are_no_quotes():
    s = solve(profile(reserve_yield=0.02), [], regime())
    assert s.cash_reserve_jpy == pytest.approx(R)
    assert s.annual_cost_jpy == pytest.approx(0.08 * R)  # carry = 10% − 2%
    assert s.savings_jpy == pytest.approx(0.0, abs=1e-3)
    assert s.marginal_cost_per_jpy == pytest.approx(0.08, rel=1e-6)


def test_one_layer_plus_cash():
    # Layer 0–60% of R at 3% ROL, fully bought: cover 0.6R costs 0.018R; cash funds the top 0.4R at 10%.
    s = solve(profile(), [layer("L", 0.0, 0.6, 0.03)], regime())
    assert s.share_of("L") == pytest.approx(1.0)
    assert s.cash_reserve_jpy == pytest.approx(0.4 * R)
    assert s.annual_cost_jpy == pytest.approx(0.018 * R + 0.04 * R)
    assert s.savings_jpy == pytest.approx(0.1 * R - 0.058 * R)
    [line] = s.lines
    assert line.cover_jpy == pytest.approx(0.6 * R) and line.credit_jpy == pytest.approx(0.6 * R)


def test_gap_between_cash_and_first_layer_is_funded_by_cash():
    # A layer from 40% to 100% of R: a loss just below 40% gets nothing from it, so cash must be ≥ 0.4R even
    # though the layer's credit (0.6R) plus 0.4R cash adds up to R either way.
    s = solve(profile(), [layer("XS", 0.4, 0.6, 0.02)], regime())
    assert s.cash_reserve_jpy == pytest.approx(0.4 * R)
    assert s.share_of("XS") == pytest.approx(1.0)
    assert s.annual_cost_jpy == pytest.approx(0.04 * R + 0.012 * R)


def test_gap_in_the_middle_of_the_tower_is_funded_by_cash():
    # 0–30% and 50–100% layers leave 30–50% open: the loss at 50% retains 0.2R, at R retains 0.2R too.
    s = solve(profile(), [layer("A", 0.0, 0.3, 0.02), layer("B", 0.5, 0.5, 0.02)], regime())
    assert s.cash_reserve_jpy == pytest.approx(0.2 * R)
    assert s.share_of("A") == pytest.approx(1.0) and s.share_of("B") == pytest.approx(1.0)


def test_exclusion_leaves_a_peril_to_cash():
    # The only layer excludes vendor compromise: a vendor loss of R falls wholly on cash, so C = R and the
    # layer buys nothing of value — it is not bought.
    s = solve(profile(), [layer("L", 0.0, 1.0, 0.01, perils=frozenset({"external_hack", "insider_theft"}))], regime())
    assert s.cash_reserve_jpy == pytest.approx(R)
    assert s.lines == ()
    # If the regime only asks for hacks and insider theft, the layer is bought.
    s = solve(profile(), [layer("L", 0.0, 1.0, 0.01, perils=frozenset({"external_hack", "insider_theft"}))],
              regime(perils=("external_hack", "insider_theft")))
    assert s.cash_reserve_jpy == pytest.approx(0.0, abs=1e-3) and s.share_of("L") == pytest.approx(1.0)


def test_cap_on_insurance_credit():
    # Insurance may fund at most half of R: half the 0–100% layer, the rest in cash.
    s = solve(profile(), [layer("L", 0.0, 1.0, 0.02)], regime(max_insurance_share=0.5))
    assert s.share_of("L") == pytest.approx(0.5)
    assert s.cash_reserve_jpy == pytest.approx(0.5 * R)
    assert s.annual_cost_jpy == pytest.approx(0.01 * R + 0.05 * R)
    assert "max_insurance_share" in s.binding


def test_counterparty_cap_spreads_the_tower():
    # One insurer may supply at most 40% of R of credit.
    quotes = [layer("A", 0.0, 1.0, 0.02, counterparty="Same"), layer("B", 0.0, 1.0, 0.03, counterparty="Same"),
              layer("C", 0.0, 1.0, 0.05, counterparty="Other")]
    s = solve(profile(), quotes, regime(max_counterparty_share=0.4))
    assert s.share_of("A") == pytest.approx(0.4) and s.share_of("B") == pytest.approx(0.0, abs=1e-9)
    assert s.share_of("C") == pytest.approx(0.4)
    assert s.cash_reserve_jpy == pytest.approx(0.2 * R)


def test_rating_below_minimum_is_never_bought_and_reported():
    s = solve(profile(), [layer("JUNK", 0.0, 1.0, 0.001, rating="BB+")], regime())
    assert s.lines == () and [q.quote_id for q in s.ineligible] == ["JUNK"]
    assert s.to_dict()["ineligible_quotes"] == ["JUNK"]


def test_rating_credit_haircuts_the_cover():
    # An A layer earns 0.9 of credit per yen: to fund the whole loss, cash covers the other 10%.
    s = solve(profile(), [layer("L", 0.0, 1.0, 0.02, rating="A")], regime(rating_credit={"A": 0.9}))
    assert s.cash_reserve_jpy == pytest.approx(0.1 * R)
    assert s.lines[0].credit_jpy == pytest.approx(0.9 * R)


def test_derivative_credit_and_collateral():
    # Collateralized parametric cover earns derivative_credit_factor (0.5) whatever its rating, within a 50% cap.
    d = layer("D", 0.0, 1.0, 0.01, kind="derivative", rating="NR", collateralized=True)
    s = solve(profile(), [d], regime(max_derivative_share=0.5, derivative_credit_factor=0.5))
    # credit 0.5·s·R ≤ 0.5R → s ≤ 1; retained at x: x − 0.5·s·x ≤ C → C = 0.5R with s = 1
    assert s.share_of("D") == pytest.approx(1.0) and s.cash_reserve_jpy == pytest.approx(0.5 * R)
    # An uncollateralized NR derivative earns nothing.
    s = solve(profile(), [dataclasses.replace(d, collateralized=False)], regime(max_derivative_share=0.5))
    assert s.lines == ()


def test_collateralized_derivative_is_exempt_from_the_counterparty_cap():
    d = layer("D", 0.0, 1.0, 0.01, kind="derivative", rating="NR", collateralized=True, counterparty="SPV")
    s = solve(profile(), [d], regime(max_derivative_share=1.0, derivative_credit_factor=1.0,
                                     max_counterparty_share=0.3))
    assert s.share_of("D") == pytest.approx(1.0) and s.cash_reserve_jpy == pytest.approx(0.0, abs=1e-3)


def test_minimum_line_changes_the_answer():
    # Cheap layer 0–100% at 4%, but only 60% of R may be insurance. With no minimum line the optimum buys 0.6.
    # With min_share 0.8 it cannot be bought at all (0.8 > cap), so the dearer layer with no minimum takes the cap.
    cheap = layer("CHEAP", 0.0, 1.0, 0.04)
    dear = layer("DEAR", 0.0, 1.0, 0.06, counterparty="Other")
    s = solve(profile(), [cheap, dear], regime(max_insurance_share=0.6))
    assert s.share_of("CHEAP") == pytest.approx(0.6) and s.share_of("DEAR") == pytest.approx(0.0, abs=1e-9)
    s = solve(profile(), [dataclasses.replace(cheap, min_share=0.8), dear], regime(max_insurance_share=0.6))
    assert s.share_of("CHEAP") == 0.0 and s.share_of("DEAR") == pytest.approx(0.6)
    assert s.annual_cost_jpy == pytest.approx(0.6 * 0.06 * R + 0.4 * 0.1 * R)


def test_fixed_fee_can_make_a_small_line_not_worth_taking():
    # Layer 0–10% at 2% saves (10% − 2%)·0.1R = 0.008R a year; a fee above that keeps it out.
    saving = 0.08 * 0.1 * R
    s = solve(profile(), [layer("L", 0.0, 0.1, 0.02, fixed_fee_jpy=saving * 1.1)], regime())
    assert s.lines == () and s.cash_reserve_jpy == pytest.approx(R)
    s = solve(profile(), [layer("L", 0.0, 0.1, 0.02, fixed_fee_jpy=saving * 0.9)], regime())
    assert s.share_of("L") == pytest.approx(1.0)
    assert s.lines[0].annual_cost_jpy == pytest.approx(0.002 * R + saving * 0.9)


def test_jpy_basis_layer_does_not_scale_with_R():
    q = Quote("J", "insurance", "I", "AA", 0.0, 4e9, 0.02)  # ¥4bn in yen
    s = solve(profile(), [q], regime())
    assert s.lines[0].cover_jpy == pytest.approx(4e9) and s.cash_reserve_jpy == pytest.approx(R - 4e9)


def test_quote_for_another_exchange_is_not_offered():
    q = layer("L", 0.0, 1.0, 0.01, exchange_id="OTHER")
    assert solve(profile(), [q], regime()).lines == ()
    assert solve(profile(exchange_id="OTHER"), [q], regime()).share_of("L") == pytest.approx(1.0)


def test_shortfall_when_liquid_capital_is_short():
    # Cash can be at most 30% of R and no cover: 70% of R cannot be funded.
    s = solve(profile(liquid_capital_jpy=0.3 * R), [], regime())
    assert s.status == "shortfall"
    assert s.shortfall_jpy == pytest.approx(0.7 * R)
    assert s.cash_reserve_jpy == pytest.approx(0.3 * R)
    assert s.all_cash_cost_jpy is None and s.savings_jpy is None
    assert "liquid_capital" in s.binding


def test_shortfall_minimised_first_then_cost():
    # Liquid capital 0.2R, a 0–50% layer at 5%: least shortfall 0.3R needs both the layer and all the cash.
    s = solve(profile(liquid_capital_jpy=0.2 * R), [layer("L", 0.0, 0.5, 0.05, max_share=1.0)], regime())
    assert s.shortfall_jpy == pytest.approx(0.3 * R)
    assert s.share_of("L") == pytest.approx(1.0)
    assert s.annual_cost_jpy == pytest.approx(0.025 * R + 0.02 * R)


def test_min_cash_share_above_liquid_capital_is_a_shortfall():
    s = solve(profile(liquid_capital_jpy=0.1 * R), [layer("L", 0.0, 1.0, 0.01)], regime(min_cash_share=0.25))
    assert s.status == "shortfall" and s.shortfall_jpy == pytest.approx(0.15 * R)


def test_requirement_basis_marginal_cost_is_the_average_cost():
    # Everything scales with R: one more yen of R costs the average cost per yen.
    s = solve(profile(), [layer("L", 0.0, 0.6, 0.03)], regime())
    assert s.marginal_cost_per_jpy == pytest.approx(s.annual_cost_jpy / R, rel=1e-5)


def test_jpy_basis_marginal_cost_is_the_carry_of_cash_on_top():
    # A fixed ¥4bn layer at the bottom: one more yen of R lands on cash at 10%.
    s = solve(profile(), [Quote("J", "insurance", "I", "AA", 0.0, 4e9, 0.02)], regime())
    assert s.marginal_cost_per_jpy == pytest.approx(0.10, rel=1e-5)


def test_large_amounts_are_solved_in_scaled_units():
    # R of ¥2 trillion with yen-basis layers of ¥100bn: nothing is lost to HiGHS's absolute tolerances.
    big = profile(annual_trading_volume_jpy=1e15)
    quotes = [Quote(f"J{i}", "insurance", f"I{i}", "AA", i * 1e11, 1e11, 0.02 + 0.001 * i) for i in range(20)]
    s = solve(big, quotes, regime())
    assert s.requirement_jpy == 2e12
    assert s.cash_reserve_jpy == pytest.approx(0.0, abs=1.0)
    assert s.annual_cost_jpy == pytest.approx(sum((0.02 + 0.001 * i) * 1e11 for i in range(20)), rel=1e-9)


# ------------------------------------------------------------------ properties

ratings = st.sampled_from(["AAA", "AA", "A+", "A", "A-", "BBB", "BBB-", "BB+"])


@st.composite
def quotes_strategy(draw, max_quotes=6, milp=True):
    quotes = []
    for i in range(draw(st.integers(0, max_quotes))):
        basis = draw(st.sampled_from(["jpy", "requirement"]))
        a = draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.8]))
        lim = draw(st.sampled_from([0.1, 0.25, 0.5, 1.0]))
        if basis == "jpy":
            a, lim = a * 1e10, lim * 1e10
        quotes.append(Quote(
            f"Q{i}", draw(st.sampled_from(["insurance", "insurance", "derivative"])), f"C{draw(st.integers(0, 2))}",
            draw(ratings), a, lim, draw(st.floats(0.002, 0.2)), layer_basis=basis,
            max_share=draw(st.sampled_from([0.3, 0.5, 1.0])),
            min_share=draw(st.sampled_from([0.0, 0.0, 0.2])) if milp else 0.0,
            fixed_fee_jpy=draw(st.sampled_from([0.0, 0.0, 5e6])) if milp else 0.0,
            perils=draw(st.sampled_from([frozenset(PERILS), frozenset(PERILS[:2]), frozenset(PERILS[1:])])),
            collateralized=draw(st.booleans())))
    return quotes


@st.composite
def instances(draw, milp=True):
    p = ExchangeProfile("X", 1e11, 0.05, draw(st.floats(1e12, 1e13)), draw(st.floats(0.03, 0.2)),
                        liquid_capital_jpy=draw(st.sampled_from([math.inf, math.inf, 5e9, 1e10])),
                        premium_multiplier=draw(st.sampled_from([0.8, 1.0, 1.3])))
    reg = Regime("r", RequirementRule(volume_rate=0.002),
                 Eligibility(min_cash_share=draw(st.sampled_from([0.0, 0.0, 0.1])),
                             max_insurance_share=draw(st.sampled_from([0.5, 1.0])),
                             max_derivative_share=draw(st.sampled_from([0.0, 0.25])),
                             max_counterparty_share=draw(st.sampled_from([0.4, 1.0]))),
                 rating_credit={"A": 0.95, "BBB": 0.85})
    return p, draw(quotes_strategy(milp=milp)), reg


PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(instances())
def test_mix_is_feasible_on_a_fine_grid(inst):
    p, quotes, reg = inst
    s = solve(p, quotes, reg)
    assert verify(s) == []
    R_ = s.requirement_jpy
    for peril in reg.requirement.perils:
        for x in np.linspace(0, R_, 997):
            paid = sum(l.credit_factor * l.share * min(max(x - l.quote.attachment_jpy(R_), 0), l.quote.limit_jpy(R_))
                       for l in s.lines if l.quote.covers(peril))
            assert x - paid <= s.cash_reserve_jpy + s.shortfall_jpy + 1e-6 * R_


@PROPS
@given(instances())
def test_cost_never_above_all_cash_when_all_cash_is_feasible(inst):
    s = solve(*inst, marginal=False)
    if s.all_cash_cost_jpy is not None:
        assert s.status == "optimal"
        assert s.annual_cost_jpy <= s.all_cash_cost_jpy * (1 + 1e-9) + 1e-3


@PROPS
@given(instances(), st.data())
def test_cost_does_not_fall_when_a_premium_rises(inst, data):
    p, quotes, reg = inst
    assume(quotes)
    i = data.draw(st.integers(0, len(quotes) - 1))
    dearer = list(quotes)
    dearer[i] = dataclasses.replace(quotes[i], rate_on_line=quotes[i].rate_on_line * 1.5 + 0.01)
    a, b = solve(p, quotes, reg, marginal=False), solve(p, dearer, reg, marginal=False)
    if a.shortfall_jpy == pytest.approx(b.shortfall_jpy, rel=1e-9, abs=1e-3):
        assert b.annual_cost_jpy >= a.annual_cost_jpy * (1 - 1e-9) - 1e-3


@PROPS
@given(instances(), st.floats(1.0, 1.5))
def test_cost_does_not_fall_when_R_rises(inst, factor):
    p, quotes, reg = inst
    quotes = [q for q in quotes if q.layer_basis == "jpy"]  # keep the offer fixed while R moves
    higher = dataclasses.replace(reg, requirement=dataclasses.replace(reg.requirement,
                                                                      floor_jpy=requirement(p, reg) * factor))
    a, b = solve(p, quotes, reg, marginal=False), solve(p, quotes, higher, marginal=False)
    assert b.shortfall_jpy >= a.shortfall_jpy - 1e-6 * b.requirement_jpy
    if a.shortfall_jpy == 0 and b.shortfall_jpy == 0:
        assert b.annual_cost_jpy >= a.annual_cost_jpy * (1 - 1e-9) - 1e-3


@PROPS
@given(instances(), quotes_strategy(max_quotes=2))
def test_adding_a_quote_never_raises_cost(inst, extra):
    p, quotes, reg = inst
    extra = [dataclasses.replace(q, quote_id=f"NEW{q.quote_id}") for q in extra]
    a, b = solve(p, quotes, reg, marginal=False), solve(p, quotes + extra, reg, marginal=False)
    assert b.shortfall_jpy <= a.shortfall_jpy + 1e-6 * a.requirement_jpy
    if a.shortfall_jpy == pytest.approx(b.shortfall_jpy, abs=1e-6 * a.requirement_jpy):
        assert b.annual_cost_jpy <= a.annual_cost_jpy * (1 + 1e-8) + 1e-3  # up to solver tolerance


@PROPS
@given(instances())
def test_multiplying_all_money_by_1000_multiplies_cost_by_1000(inst):
    p, quotes, reg = inst
    k = 1000.0
    p2 = dataclasses.replace(p, customer_assets_jpy=p.customer_assets_jpy * k,
                             annual_trading_volume_jpy=p.annual_trading_volume_jpy * k,
                             liquid_capital_jpy=p.liquid_capital_jpy * k)
    q2 = [dataclasses.replace(q, fixed_fee_jpy=q.fixed_fee_jpy * k,
                              **({"attachment": q.attachment * k, "limit": q.limit * k} if q.layer_basis == "jpy" else {}))
          for q in quotes]
    reg2 = dataclasses.replace(reg, requirement=dataclasses.replace(reg.requirement, floor_jpy=reg.requirement.floor_jpy * k,
                                                                    cap_jpy=reg.requirement.cap_jpy * k))
    a, b = solve(p, quotes, reg), solve(p2, q2, reg2)
    assert b.annual_cost_jpy == pytest.approx(a.annual_cost_jpy * k, rel=1e-6, abs=1e-3)
    assert b.shortfall_jpy == pytest.approx(a.shortfall_jpy * k, rel=1e-6, abs=1e-3)
    assert b.marginal_cost_per_jpy == pytest.approx(a.marginal_cost_per_jpy, rel=1e-4, abs=1e-9)


# ------------------------------------------------------------------ cross-check: an independent formulation

def independent_cost(p: ExchangeProfile, quotes, reg: Regime) -> float | None:
    """The model of docs/design.md §4 written again as matrices for scipy.optimize.milp, in units of R. None if infeasible."""
    R_ = requirement(p, reg)
    qs = [q for q in quotes if q.offered_to(p.exchange_id) and credit_factor(q, reg) > 0]
    n = len(qs)
    k = np.array([credit_factor(q, reg) for q in qs])
    a = np.array([q.attachment_jpy(R_) / R_ for q in qs])
    l = np.array([q.limit_jpy(R_) / R_ for q in qs])
    binary = [i for i, q in enumerate(qs) if q.min_share > 0 or q.fixed_fee_jpy > 0]
    nv = 1 + n + len(binary)
    c = np.zeros(nv)
    c[0] = p.carry
    c[1:1 + n] = [p.premium_multiplier * q.rate_on_line * l[i] for i, q in enumerate(qs)]
    for b, i in enumerate(binary):
        c[1 + n + b] = qs[i].fixed_fee_jpy / R_
    rows, lo, hi = [], [], []

    def add(row, low, high):
        rows.append(row), lo.append(low), hi.append(high)

    xs = sorted({1.0} | {x for i in range(n) for x in (a[i], a[i] + l[i]) if 0 < x < 1})
    for peril in reg.requirement.perils:
        cov = np.array([peril in q.perils for q in qs], dtype=float)
        for x in xs:
            row = np.zeros(nv)
            row[0] = 1.0
            row[1:1 + n] = k * np.clip(x - a, 0, l) * cov
            add(row, x, np.inf)  # C + Σ κ s r(x) ≥ x
    e = reg.eligibility
    credit1 = k * np.clip(1.0 - a, 0, l)
    row = np.zeros(nv); row[0] = 1.0; add(row, e.min_cash_share, np.inf)
    der = np.array([q.kind == "derivative" for q in qs], dtype=bool)
    row = np.zeros(nv); row[1:1 + n] = credit1 * ~der; add(row, -np.inf, e.max_insurance_share)
    row = np.zeros(nv); row[1:1 + n] = credit1 * der; add(row, -np.inf, e.max_derivative_share)
    for cp in {q.counterparty for q in qs}:
        mask = np.array([q.counterparty == cp and not (q.kind == "derivative" and q.collateralized) for q in qs])
        row = np.zeros(nv); row[1:1 + n] = credit1 * mask; add(row, -np.inf, e.max_counterparty_share)
    for b, i in enumerate(binary):
        row = np.zeros(nv); row[1 + i] = 1; row[1 + n + b] = -qs[i].min_share; add(row, 0, np.inf)
        row = np.zeros(nv); row[1 + i] = 1; row[1 + n + b] = -qs[i].max_share; add(row, -np.inf, 0)
    upper = [p.liquid_capital_jpy / R_] + [q.max_share for q in qs] + [1.0] * len(binary)
    res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi), bounds=Bounds(np.zeros(nv), upper),
               integrality=[0] * (1 + n) + [1] * len(binary), options={"mip_rel_gap": 1e-9})
    return res.fun * R_ if res.success else None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_cost_matches_an_independent_scipy_formulation(inst):
    p, quotes, reg = inst
    s = solve(p, quotes, reg, marginal=False)
    expected = independent_cost(p, quotes, reg)
    if s.status == "optimal":
        assert expected is not None
        assert s.annual_cost_jpy == pytest.approx(expected, rel=1e-6, abs=1e-2)
    else:
        assert expected is None  # no compliant mix exists: the independent model is infeasible too


# ------------------------------------------------------------------ re-solving one model = a fresh model

def test_re_solves_agree_with_a_fresh_model_on_500_random_instances():
    """25 random sheets × 20 exchanges: MILP sheets, yen-basis layers, shortfalls, reserve assets on every other
    sheet. Solved three ways — a fresh model each (`solve`), one Resolver in sequence (basis re-use, warm
    simplex), and the batch's stacks (`Resolver.solve_many`, branch and bound, then one by one for what it
    leaves) — with the same answers."""
    from optimizer.model import NODES, REUSED_BASIS, Instance, Resolver
    rng, asset_rng = np.random.default_rng(500), np.random.default_rng(21)
    sequential, stacked = Resolver(), Resolver()
    counts = {"shortfall": 0, "milp": 0, "yen": 0, "stacked": 0, "held": 0, "stacked_held": 0}
    for sheet in range(25):
        quotes, reg = random_sheet(rng, int(rng.integers(3, 9))), random_regime(rng)
        profiles = random_profiles(rng, 20)
        assets: list = []
        if sheet % 2:
            assets, reg = random_assets(asset_rng, reg)
        insts = [Instance.build(p, quotes, reg, assets=assets) for p in profiles]
        mixes, left = stacked.solve_many(insts)
        from_stack = {m.exchange_id: m for m in (mixes.solution(k) for k in range(len(mixes)))}
        counts["stacked"] += len(from_stack)
        counts["stacked_held"] += sum(bool(m.holdings) for m in from_stack.values())
        for p, inst in zip(profiles, insts):
            fresh = solve(p, quotes, reg, assets=assets)
            again = sequential.solve(inst)
            stack = from_stack.get(p.exchange_id) or stacked.solve(inst)
            for other in (again, stack):
                assert other.status == fresh.status
                assert other.annual_cost_jpy == pytest.approx(fresh.annual_cost_jpy, rel=1e-9, abs=1e-3)
                assert other.shortfall_jpy == pytest.approx(fresh.shortfall_jpy, rel=1e-9, abs=1e-3)
                assert other.marginal_cost_per_jpy == pytest.approx(fresh.marginal_cost_per_jpy, rel=1e-6, abs=1e-9)
                assert not verify(other)
            counts["shortfall"] += fresh.status == "shortfall"
            counts["held"] += bool(fresh.holdings)
        counts["milp"] += any(q.needs_binary for q in insts[0].eligible)
        counts["yen"] += any(q.layer_basis == "jpy" for q in insts[0].eligible)
    # the cases the test is about did occur
    assert counts["shortfall"] >= 10 and counts["milp"] >= 5 and counts["yen"] >= 10 and counts["stacked"] >= 300
    assert counts["held"] >= 50 and counts["stacked_held"] >= 30
    assert sequential.stats[REUSED_BASIS] > 50 and stacked.stats[REUSED_BASIS] > 100 and stacked.stats[NODES] > 0


def test_the_kept_highs_model_holds_the_matrix_of_the_pulp_model():
    """The Resolver hands HiGHS the numbers the PuLP model is written from: PuLP's own HiGHS model (what
    `solve --write-lp` exports) has the same rows, columns, coefficients, bounds and costs, by name."""
    import highspy
    from optimizer.model import Instance, Scaled, _Kept, build, highs_solver, numbers
    rng = np.random.default_rng(7)
    for _ in range(5):
        quotes, reg = random_sheet(rng, 6), random_regime(rng)
        inst = Instance.build(random_profiles(rng, 1)[0], quotes, reg)
        num = numbers(Scaled.of(inst))
        ours = _Kept(num, None).h.getLp()
        model = build(inst)
        solver = highs_solver()
        solver.createAndConfigureSolver(model.prob)
        solver.buildSolverModel(model.prob)
        theirs = model.prob.solverModel.getLp()
        names = [v.name for v in model.columns]
        exported = {v.name: j for j, v in enumerate(model.prob.exported_variables())}

        def dense(lp):
            a, out = lp.a_matrix_, np.zeros((lp.num_row_, lp.num_col_))
            by_column = a.format_ == highspy.MatrixFormat.kColwise
            for outer in range(lp.num_col_ if by_column else lp.num_row_):
                for k in range(a.start_[outer], a.start_[outer + 1]):
                    out[(a.index_[k], outer) if by_column else (outer, a.index_[k])] = a.value_[k]
            return out

        A_ours, A_theirs = dense(ours), dense(theirs)
        for k, name in enumerate(names):
            if name in exported:  # PuLP leaves out columns with no nonzero anywhere
                j = exported[name]
                assert np.allclose(A_ours[:, k], A_theirs[:, j], rtol=1e-15, atol=0)
                assert ours.col_cost_[k] == pytest.approx(theirs.col_cost_[j], rel=1e-15)
                assert ours.col_upper_[k] == pytest.approx(theirs.col_upper_[j]) or \
                    (ours.col_upper_[k] >= highspy.kHighsInf and theirs.col_upper_[j] >= highspy.kHighsInf)
            else:
                assert not A_ours[:, k].any()
        assert ours.num_row_ == theirs.num_row_
        assert np.allclose(np.nan_to_num(ours.row_lower_, neginf=-1e30), np.nan_to_num(theirs.row_lower_, neginf=-1e30))
        assert np.allclose(np.nan_to_num(ours.row_upper_, posinf=1e30), np.nan_to_num(theirs.row_upper_, posinf=1e30))


def test_a_solve_runs_after_other_code_started_highs_with_other_threads(tmp_path):
    # HiGHS's thread scheduler is one per process: a user's own HiGHS run with the default threads used to make
    # every later solve here stop with status "Not Set"
    import subprocess
    import sys

    script = """
import highspy, sys
from optimizer import load_profiles, load_quotes, load_regime, solve
h = highspy.Highs(); h.setOptionValue("output_flag", False); h.setOptionValue("threads", 2)
h.addVar(0, 1); h.changeColCost(0, 1.0); h.run(); del h
p = load_profiles(sys.argv[1])[1]
print(solve(p, load_quotes(sys.argv[2]), load_regime(sys.argv[3]), marginal=False).status)
"""
    from conftest import DATA
    out = subprocess.run([sys.executable, "-c", script, str(DATA / "profiles.csv"), str(DATA / "quotes.csv"),
                          str(DATA / "regimes" / "securities-style.toml")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "optimal"


def test_a_minimum_line_too_small_for_highs_is_solved_not_refused():
    # Hypothesis found a min_share of 5e-324 on a yes/no quote: HiGHS drops the coefficient (below its 1e-9
    # small_matrix_value) and says kWarning, which the MILP path read as "HiGHS refused the model"
    tiny = layer("Q0", 0.0, 1.0, 0.02, min_share=5e-324, fixed_fee_jpy=1e6)
    s = solve(profile(), [tiny], regime())
    assert s.status == "optimal"
    assert s.annual_cost_jpy <= s.all_cash_cost_jpy


def test_a_shortfall_found_to_highs_tolerance_still_has_a_cheapest_mix_at_it():
    # Hypothesis (test_adding_a_quote_never_raises_cost): with the two extra layers the MILP's least shortfall was found
    # to HiGHS's feasibility tolerance, and holding it + SHORTFALL_SLACK (1e-12 of R) left no mix: "HiGHS found no mix
    # at the least shortfall". The last phase is now tried once more at SHORTFALL_RETRY_SLACK.
    def cover(qid, kind, limit, max_share, perils=PERILS, min_share=0.0):
        return Quote(qid, kind, "C0", "AAA", 0.0, limit, 0.125, layer_basis="jpy", max_share=max_share,
                     min_share=min_share, perils=frozenset(perils))

    p = ExchangeProfile("X", 1e11, 0.05, 8721519246450.0, 0.125, liquid_capital_jpy=5e9, premium_multiplier=0.8)
    quotes = [cover("Q0", "derivative", 1e9, 0.3),
              cover("Q1", "derivative", 5e9, 0.3, ("external_hack", "insider_theft"), min_share=0.2),
              cover("Q2", "derivative", 5e9, 0.5, ("insider_theft", "vendor_compromise")),
              cover("Q3", "derivative", 1e9, 0.3)]
    reg = Regime("r", RequirementRule(volume_rate=0.002, hot_wallet_rate=0.0, cold_wallet_rate=0.0, perils=PERILS),
                 Eligibility(max_insurance_share=0.5, max_derivative_share=0.25, max_counterparty_share=0.4,
                             min_rating="BBB-", derivative_credit_factor=0.7),
                 rating_credit={"A": 0.95, "BBB": 0.85})
    extra = [cover("NEWQ0", "insurance", 5e9, 0.3, ("external_hack", "insider_theft")),
             cover("NEWQ1", "derivative", 5e9, 0.5)]
    a, b = solve(p, quotes, reg, marginal=False), solve(p, quotes + extra, reg, marginal=False)
    assert b.shortfall_jpy <= a.shortfall_jpy + 1e-6 * a.requirement_jpy
    assert verify(b) == []
