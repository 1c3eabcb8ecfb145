"""Risk metrics and the risk-objective solve (optimizer/risk.py): hand-checked metrics, properties, end to end."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from optimizer.domain import ExchangeProfile, Quote
from optimizer.inputs import load_profiles, load_quotes, load_regime
from optimizer.loss_model import load_loss_model
from optimizer.model import Instance, solve
from optimizer.risk import RiskBook, metrics, solution_metrics, solve_with_risk, var_tvar
from optimizer.simulation import simulate
from optimizer.solution import SolveError, verify

from test_simulation import hand_scenarios
from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PROFILES = {p.exchange_id: p for p in load_profiles(DATA / "profiles.csv")}
QUOTES = load_quotes(DATA / "quotes.csv")
REGIME = load_regime(DATA / "regimes" / "securities-style.toml")
JAPAN = load_loss_model(DATA / "loss-models" / "japan.toml")
HAND = ExchangeProfile("H", 1e3, 0.05, 1e3, cost_of_capital=0.1)


# ---------------------------------------------------------------- hand-checked metrics

def test_metrics_of_a_hand_built_book():
    # 10 years; losses 30 (year 0) and 100 (year 3); a 20 xs 10 layer at 50%: recovers 10 and 10
    sc = hand_scenarios([0, 0, 3], [5, 25, 100], ["external_hack"] * 3, [False] * 3)
    q = Quote("L", "insurance", "C", "AA", 10.0, 20.0, 0.1)  # premium 0.1 × 20 = 2 at 100%
    book = RiskBook.build(sc, [q], 1.0)
    m = metrics(book, HAND, {"L": 0.5}, cash_jpy=50.0, level=0.9)
    assert m.expected_loss_jpy == pytest.approx(13.0)          # (30 + 100) / 10
    assert m.expected_retained_jpy == pytest.approx(11.25)     # (22.5 + 90) / 10
    assert m.expected_recovery_jpy == pytest.approx(1.75)      # (7.5 + 10) / 10
    assert m.annual_cost_jpy == pytest.approx(0.1 * 50 + 1.0)  # carry × cash + premium × share
    assert m.total_cost_of_risk_jpy == pytest.approx(6.0 + 11.25)
    # VaR_0.9 is the 9th smallest of {0 ×8, 22.5, 90} = 22.5; TVaR = mean of the worst 1 = 90
    assert (m.var_jpy, m.tvar_jpy) == pytest.approx((22.5, 90.0))
    assert m.prob_reserve_exhausted == pytest.approx(0.1)      # only 90 > 50
    (line,) = m.instruments
    assert line.expected_recovery_jpy == pytest.approx(1.75) and line.loss_ratio == pytest.approx(1.75 / 1.0)
    se = math.sqrt((np.var([30, 0, 0, 100] + [0] * 6) * 10 / 9) / 10)
    assert m.expected_loss_se_jpy == pytest.approx(se)


def test_overlapping_cover_never_makes_retained_negative():
    sc = hand_scenarios([0], [10.0], ["external_hack"], [False])
    qs = [Quote(f"Q{i}", "insurance", "C", "AA", 0.0, 10.0, 0.01) for i in range(3)]
    book = RiskBook.build(sc, qs, 1.0)
    m = metrics(book, HAND, {"Q0": 1.0, "Q1": 1.0, "Q2": 1.0}, 0.0)
    assert m.expected_retained_jpy == 0.0 and m.tvar_jpy == 0.0
    assert m.expected_recovery_jpy == pytest.approx(1.0)       # recovered = loss − retained, not 3× the loss


# ---------------------------------------------------------------- properties

BOOK_QUOTES = [q for q in QUOTES if q.offered_to("EX03")]
SC = simulate(PROFILES["EX03"], JAPAN, 20_000, seed=7)
R_EX03 = Instance.build(PROFILES["EX03"], QUOTES, REGIME).requirement_jpy
BOOK = RiskBook.build(SC, BOOK_QUOTES, R_EX03)
shares = st.lists(st.floats(0, 1), min_size=len(BOOK_QUOTES), max_size=len(BOOK_QUOTES))


@settings(max_examples=60, deadline=None)
@given(shares, shares, st.sampled_from([0.9, 0.95, 0.99, 0.995]))
def test_retained_bounds_and_more_cover_never_raises_tvar(s, extra, level):
    mix = {q.quote_id: v for q, v in zip(BOOK_QUOTES, s)}
    more = {q.quote_id: v + e for q, v, e in zip(BOOK_QUOTES, s, extra)}
    r = BOOK.retained(mix)
    assert np.all(r >= 0) and np.all(r <= SC.annual_loss)
    a, b = metrics(BOOK, PROFILES["EX03"], mix, 0.0, level=level), metrics(BOOK, PROFILES["EX03"], more, 0.0,
                                                                           level=level)
    assert b.tvar_jpy <= a.tvar_jpy + 1e-6 and b.var_jpy <= a.var_jpy + 1e-6
    assert b.expected_retained_jpy <= a.expected_retained_jpy + 1e-6
    assert a.tvar_jpy >= a.var_jpy >= 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1e12), max_size=50), st.integers(0, 200), st.floats(0.5, 0.999))
def test_tvar_at_least_var_at_least_zero_and_equals_tail_mean(values, zeros, level):
    v = np.array(values, dtype=float)
    n = v.size + zeros
    if n == 0:
        return
    var, tvar = var_tvar(v, n, level)
    assert tvar >= var - 1e-6 * max(1.0, var) and var >= 0
    full = np.sort(np.r_[v, np.zeros(zeros)])
    assert var == full[math.ceil(level * n - 1e-9) - 1]


def test_same_seed_same_metrics():
    a = simulate(PROFILES["EX02"], JAPAN, 5_000, seed=42)
    b = simulate(PROFILES["EX02"], JAPAN, 5_000, seed=42)
    s = solve(PROFILES["EX02"], QUOTES, REGIME, marginal=False)
    ma = solution_metrics(s, RiskBook.build(a, [x.quote for x in s.lines], s.requirement_jpy))
    mb = solution_metrics(s, RiskBook.build(b, [x.quote for x in s.lines], s.requirement_jpy))
    assert ma == mb


# ---------------------------------------------------------------- optimising with risk

@pytest.fixture(scope="module")
def ex01():
    p = PROFILES["EX01"]
    sc = simulate(p, JAPAN, 20_000, seed=1)
    reg = solve(p, QUOTES, REGIME, marginal=False)
    book = RiskBook.build(sc, Instance.build(p, QUOTES, REGIME).eligible, reg.requirement_jpy)
    return p, sc, reg, solution_metrics(reg, book)


def test_risk_optimal_mix_is_compliant_and_no_dearer_in_cost_of_risk(ex01):
    p, sc, reg, reg_m = ex01
    out = solve_with_risk(p, QUOTES, REGIME, sc)
    assert verify(out.solution) == [] and out.solution.status == "optimal"
    # the regulatory mix is feasible for the risk LP, so the risk optimum cannot cost more in total
    assert out.metrics.total_cost_of_risk_jpy <= reg_m.total_cost_of_risk_jpy * (1 + 1e-7)
    # and the regulatory optimum is the cheapest in premiums and carry
    assert out.solution.annual_cost_jpy >= reg.annual_cost_jpy * (1 - 1e-7)


@pytest.mark.parametrize("fraction", [0.9, 0.6])
def test_tvar_limit_holds_when_recomputed_and_tighter_costs_more(ex01, fraction):
    p, sc, reg, reg_m = ex01
    free = solve_with_risk(p, QUOTES, REGIME, sc)
    limit = fraction * free.metrics.tvar_jpy
    out = solve_with_risk(p, QUOTES, REGIME, sc, tvar_limit=limit)
    assert out.metrics.tvar_jpy <= limit * (1 + 1e-6)
    assert verify(out.solution) == []
    assert out.metrics.total_cost_of_risk_jpy >= free.metrics.total_cost_of_risk_jpy * (1 - 1e-9)


def test_unreachable_tvar_limit_says_how_low_tvar_can_go(ex01):
    p, sc, _, _ = ex01
    with pytest.raises(SolveError, match="the least a compliant mix reaches"):
        solve_with_risk(p, QUOTES, REGIME, sc, tvar_limit=1.0)


def test_shortfall_is_a_status_not_an_error():
    # under the cash-only preset EX03 cannot hold its ¥2bn requirement (liquid capital ¥1bn): least shortfall first
    p = PROFILES["EX03"]
    cash_only = load_regime(DATA / "regimes" / "cash-only.toml")
    reg = solve(p, QUOTES, cash_only, marginal=False)
    out = solve_with_risk(p, QUOTES, cash_only, simulate(p, JAPAN, 5_000, seed=2))
    assert reg.status == out.solution.status == "shortfall"
    assert out.solution.shortfall_jpy == pytest.approx(reg.shortfall_jpy, rel=1e-6, abs=1.0)


# ---------------------------------------------------------------- end to end

run = run_cli  # the command line in this process, exit code and both streams (conftest.run_cli)


def test_cli_risk_json_is_one_object_with_the_design_names():
    out = run("risk", "--scenarios", "20000", "--seed", "3", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    risk = data["risk"]
    for key in ("expected_loss_jpy", "expected_retained_jpy", "expected_recovery_jpy", "var_jpy", "tvar_jpy",
                "prob_reserve_exhausted", "total_cost_of_risk_jpy", "scenarios", "seed", "expected_loss_se_jpy",
                "expected_retained_se_jpy"):
        assert key in risk
    assert risk["scenarios"] == 20000 and risk["seed"] == 3 and data["mix"] == "regulatory"
    assert {i["quote_id"] for i in risk["instruments"]} == {i["quote_id"] for i in data["instruments"]}
    assert all("loss_ratio" in i and "expected_recovery_jpy" in i for i in risk["instruments"])
    again = json.loads(run("risk", "--scenarios", "20000", "--seed", "3", "--format", "json").stdout)
    assert again == data


def test_cli_risk_mix_with_tvar_limit_meets_it():
    base = json.loads(run("risk", "--mix", "risk", "--scenarios", "20000", "--format", "json").stdout)["risk"]
    limit = 0.8 * base["tvar_jpy"]
    out = run("risk", "--mix", "risk", "--scenarios", "20000", "--tvar-limit", str(limit), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["risk"]["tvar_jpy"] <= limit * (1 + 1e-6)
    text = run("risk", "--scenarios", "5000")
    assert text.returncode == 0 and "TVaR 0.99" in text.stdout


@pytest.mark.parametrize("args,what", [(["--level", "1.5"], "--level"), (["--scenarios", "0"], "--scenarios"),
                                       (["--tvar-limit", "1e9"], "--tvar-limit")])
def test_cli_risk_bad_options_exit_2(args, what):
    out = run("risk", *args)
    assert out.returncode == 2 and what in out.stderr and "Traceback" not in out.stderr


def test_cli_solve_objective_risk_is_the_risk_mix():
    a = run("solve", "--objective", "risk", "--scenarios", "20000", "--seed", "4", "--format", "json")
    b = run("risk", "--mix", "risk", "--scenarios", "20000", "--seed", "4", "--format", "json")
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)
    plain = run("solve", "--tvar-limit", "1e9")
    assert plain.returncode == 2 and "--objective risk" in plain.stderr
    for option in (["--level", "0.95"], ["--seed", "4"], ["--scenarios", "100"], ["--loss-model", "japan"]):
        ignored = run("solve", *option)  # a risk option without the risk objective is refused, not ignored
        assert ignored.returncode == 2 and option[0] in ignored.stderr and "--objective risk" in ignored.stderr
        assert "Traceback" not in ignored.stderr


# ---------------------------------------------------------------- the three mixes side by side (risk_view)

def test_exceedance_of_a_hand_built_loss():
    from optimizer.risk import exceedance

    # losses 5 and 3 in 2 of 10 years (and a year retaining nothing): P(≥ 5) = 0.1, P(≥ 3) = 0.2
    x, p = exceedance(np.array([3.0, 0.0, 5.0]), 10)
    assert list(x) == [5.0, 3.0] and list(p) == pytest.approx([0.1, 0.2])
    x, p = exceedance(np.zeros(4), 10)
    assert x.size == 0 and p.size == 0
    # thinned to at most `points`, always keeping the largest loss and the smallest positive one
    values = np.arange(1.0, 1001.0)
    x, p = exceedance(values, 10_000, points=50)
    assert len(x) <= 50 and x[0] == 1000.0 and x[-1] == 1.0 and p[-1] == pytest.approx(0.1)
    assert np.all(np.diff(x) < 0) and np.all(np.diff(p) > 0)


def test_layer_expected_loss_is_its_mean_payout_at_full_share():
    from optimizer.risk import layer_expected_losses

    sc = hand_scenarios([0, 0, 3], [5, 25, 100], ["external_hack"] * 3, [False] * 3)
    q = Quote("L", "insurance", "C", "AA", 10.0, 20.0, 0.1)   # 20 xs 10: pays 15 (year 0) and 20 (year 3)
    mean, se = layer_expected_losses(RiskBook.build(sc, [q], 1.0))["L"]
    assert mean == pytest.approx(3.5)
    assert se == pytest.approx(math.sqrt(np.var([15, 0, 0, 20] + [0] * 6) * 10 / 9 / 10))


@pytest.fixture(scope="module")
def ex01_view():
    from optimizer.risk import risk_view

    return risk_view(PROFILES["EX01"], QUOTES, REGIME, simulate(PROFILES["EX01"], JAPAN, 20_000, 3))


def test_risk_view_compares_three_mixes_on_the_same_years(ex01_view):
    v = ex01_view
    reg, risk, cash = v.mix("regulatory"), v.mix("risk"), v.mix("all cash")
    assert reg.solution.annual_cost_jpy == pytest.approx(solve(PROFILES["EX01"], QUOTES, REGIME).annual_cost_jpy)
    # all cash: holds R, retains every loss; the same expected loss for every mix (common random numbers)
    assert cash.metrics.cash_reserve_jpy == v.requirement_jpy
    assert cash.metrics.expected_retained_jpy == pytest.approx(cash.metrics.expected_loss_jpy, rel=1e-12)
    assert cash.metrics.annual_cost_jpy == pytest.approx(PROFILES["EX01"].carry * v.requirement_jpy)
    assert reg.metrics.expected_loss_jpy == risk.metrics.expected_loss_jpy == cash.metrics.expected_loss_jpy
    # the risk-optimal mix is never worse on its own objective, and is still compliant
    assert risk.metrics.total_cost_of_risk_jpy <= reg.metrics.total_cost_of_risk_jpy * (1 + 1e-9)
    assert verify(risk.solution) == []
    assert risk.solution.shortfall_jpy == 0
    # the offered limits: the least TVaR is below the unconstrained one
    assert 0 <= v.least_tvar_jpy <= v.free_tvar_jpy == pytest.approx(risk.metrics.tvar_jpy)


def test_risk_view_under_a_limit_meets_it(ex01_view):
    from optimizer.risk import risk_view

    limit = (ex01_view.least_tvar_jpy + ex01_view.free_tvar_jpy) / 2
    v = risk_view(PROFILES["EX01"], QUOTES, REGIME, simulate(PROFILES["EX01"], JAPAN, 20_000, 3), tvar_limit=limit)
    risk = v.mix("risk").metrics
    assert risk.tvar_jpy <= limit * (1 + 1e-6)
    assert risk.annual_cost_jpy >= ex01_view.mix("risk").metrics.annual_cost_jpy * (1 - 1e-9)  # a tighter limit costs
    assert v.mix("regulatory").metrics == ex01_view.mix("regulatory").metrics                # the others stay


def test_exceedance_chart_marks_r_and_the_cash_reserves(ex01_view):
    from optimizer import charts
    from optimizer.i18n import Unit

    frame = charts.exceedance_frame(ex01_view)
    assert set(frame["mix"]) == {"regulatory", "risk", "all cash"}
    cash = frame[frame["mix"] == "all cash"]
    assert cash["probability"].max() == pytest.approx(np.count_nonzero(ex01_view.mix("all cash").retained > 0) / 20_000)
    spec = json.dumps(charts.exceedance_chart(ex01_view, Unit("¥m")).to_dict(), ensure_ascii=False)
    # here both mixes hold ¥62.5m of cash: one rule and one label for the two (two were drawn on top of each other)
    assert ex01_view.mix("risk").metrics.cash_reserve_jpy == ex01_view.mix("regulatory").metrics.cash_reserve_jpy
    assert "R = ¥2,000.0m" in spec and "cash reserve, regulatory mix and risk-optimal mix: ¥62.5m" in spec
    assert '"type": "log"' in spec
    import dataclasses

    apart = dataclasses.replace(ex01_view, mixes=[  # with different cash, each mix has its own
        m if m.name != "risk" else dataclasses.replace(m, metrics=dataclasses.replace(m.metrics, cash_reserve_jpy=100e6))
        for m in ex01_view.mixes])
    spec = json.dumps(charts.exceedance_chart(apart, Unit("¥m")).to_dict(), ensure_ascii=False)
    assert "cash reserve, regulatory mix: ¥62.5m" in spec and "cash reserve, risk-optimal mix: ¥100.0m" in spec


# ---------------------------------------------------------------- the reserve tolerance and per-instrument recoveries

def _split_tower():
    """Cash ¥1bn under a 3bn xs 1bn layer and a 6bn xs 4bn layer, each split 50/50 between two insurers."""
    return [Quote(f"{name}{half}", "insurance", f"{name}{half}", "AA", a, l, 0.01)
            for name, a, l in (("A", 1e9, 3e9), ("B", 4e9, 6e9)) for half in (1, 2)]


def test_a_year_that_retains_exactly_the_cash_does_not_exhaust_it():
    # Every single-event year with a loss between ¥1.5bn and ¥9.5bn retains exactly the ¥1bn of cash (the layers
    # pay the rest); a second event in a year finds the layers' aggregates spent, so the year retains ≥ ¥2bn. So a
    # year exhausts the reserve exactly when it has two or more events: counted from the simulated years, and
    # against the Poisson closed form P(N ≥ 2) = 1 − e^(−λ)(1 + λ).
    from optimizer.loss_model import EventType, LossModel

    lam, n = 0.3, 40_000
    lm = LossModel("t", lam, 0.0, 0.0, 60, (EventType("x", 1.0, "external_hack", "customer_assets", "uniform",
                                                         low=0.15, high=0.95),))
    profile = ExchangeProfile("T", 1e10, 0.05, 1e11, cost_of_capital=0.1)
    sc = simulate(profile, lm, n, seed=3)
    quotes = _split_tower()
    m = metrics(RiskBook.build(sc, quotes, 1e10), profile, {q.quote_id: 0.5 for q in quotes}, cash_jpy=1e9)
    events = np.bincount(sc.event_year, minlength=n)
    assert m.prob_reserve_exhausted == np.count_nonzero(events >= 2) / n
    exact = 1 - math.exp(-lam) * (1 + lam)
    assert abs(m.prob_reserve_exhausted - exact) <= 4 * math.sqrt(exact * (1 - exact) / n)


def test_per_instrument_recoveries_add_up_to_the_total_in_over_insured_years():
    # Two full layers over the same band: each would pay the whole loss; the exchange recovers it once.
    sc = hand_scenarios([0, 4], [6.0, 30.0], ["external_hack"] * 2, [False] * 2)
    qs = [Quote("P", "insurance", "C", "AA", 0.0, 10.0, 0.1), Quote("Q", "insurance", "D", "AA", 0.0, 10.0, 0.1)]
    m = metrics(RiskBook.build(sc, qs, 1.0), HAND, {"P": 1.0, "Q": 0.5}, cash_jpy=0.0)
    # year 0: would pay 6 + 3 for a loss of 6 → 4 and 2; year 4: would pay 10 + 5 for 30 → all of it
    p, q = m.instruments
    assert (p.expected_recovery_jpy, q.expected_recovery_jpy) == pytest.approx(((4 + 10) / 10, (2 + 5) / 10))
    assert p.expected_recovery_jpy + q.expected_recovery_jpy == pytest.approx(m.expected_recovery_jpy)
    assert p.loss_ratio == pytest.approx(1.4 / 1.0) and q.loss_ratio == pytest.approx(0.7 / 0.5)


def test_cli_risk_instruments_add_up_to_the_expected_recovery():
    out = run("risk", "--exchange", "EX05", "--scenarios", "20000", "--format", "json")
    assert out.returncode == 0, out.stderr
    risk = json.loads(out.stdout)["risk"]
    parts = sum(i["expected_recovery_jpy"] for i in risk["instruments"])
    assert len(risk["instruments"]) >= 2
    assert parts == pytest.approx(risk["expected_recovery_jpy"], rel=1e-9)


# ---------------------------------------------------------------- the cutting planes are the full LP

@pytest.fixture(scope="module")
def ex05_20k():
    p = PROFILES["EX05"]
    return p, simulate(p, JAPAN, 20_000, seed=2026)


@pytest.mark.parametrize("limit", [None, 6e9, 7.5e9])
def test_cutting_planes_find_the_full_lps_mix_at_20000_years(ex05_20k, limit):
    # EX05's sheet has yes/no quotes: the full formulation is a MILP with a row per year with a loss
    p, sc = ex05_20k
    assert Instance.build(p, QUOTES, REGIME).eligible and any(q.needs_binary for q in QUOTES)
    cuts = solve_with_risk(p, QUOTES, REGIME, sc, tvar_limit=limit)
    full = solve_with_risk(p, QUOTES, REGIME, sc, tvar_limit=limit, formulation="rows")
    a, b = cuts.solution, full.solution
    assert a.annual_cost_jpy == pytest.approx(b.annual_cost_jpy, rel=1e-9)
    assert a.cash_reserve_jpy == pytest.approx(b.cash_reserve_jpy, rel=1e-9, abs=1e-6 * a.requirement_jpy)
    shares = lambda s: {line.quote.quote_id: line.share for line in s.lines}  # noqa: E731
    assert shares(a).keys() == shares(b).keys()
    assert all(shares(a)[k] == pytest.approx(v, abs=1e-9) for k, v in shares(b).items())
    assert cuts.metrics.tvar_jpy == pytest.approx(full.metrics.tvar_jpy, rel=1e-9)
    assert cuts.metrics.total_cost_of_risk_jpy == pytest.approx(full.metrics.total_cost_of_risk_jpy, rel=1e-9)
    if limit is not None:
        assert cuts.metrics.tvar_jpy <= limit * (1 + 1e-9)


def test_least_tvar_by_cutting_planes_is_the_full_lps(ex05_20k):
    from optimizer.risk import least_tvar

    p, sc = ex05_20k
    inst = Instance.build(p, QUOTES, REGIME)
    book = RiskBook.build(sc, inst.eligible, inst.requirement_jpy)
    assert least_tvar(inst, book) == pytest.approx(least_tvar(inst, book, formulation="rows"), rel=1e-9)


def test_cli_risk_with_a_tvar_limit_answers_at_a_million_years():
    # the full LP (24,724 loss years: 44,287 rows, a MILP) stopped on HiGHS's time limit: exit 1
    out = run("risk", "--exchange", "EX05", "--mix", "risk", "--tvar-limit", "6e9", "--scenarios", "1000000",
              "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "optimal" and data["risk"]["scenarios"] == 1_000_000
    assert data["risk"]["tvar_jpy"] <= 6e9 * (1 + 1e-9)


def test_the_standard_errors_of_var_and_tvar_match_their_spread_over_seeds():
    # 300 independent samples of 5,000 years (a loss in 5% of them, lognormal): the standard error each sample
    # reports is, on average, the spread of the VaR and TVaR across the samples, within 20%.
    from optimizer.risk import var_tvar, var_tvar_se

    rng = np.random.default_rng(1)
    n, level = 5000, 0.99
    figures, errors = [], []
    for _ in range(300):
        values = rng.lognormal(20, 1.2, int((rng.random(n) < 0.05).sum()))
        figures.append(var_tvar(values, n, level))
        errors.append(var_tvar_se(values, n, level))
    spread, reported = np.std(figures, axis=0), np.mean(errors, axis=0)
    assert reported == pytest.approx(spread, rel=0.2)
    # they shrink as 1/√n: four times the years, half the error
    values = rng.lognormal(20, 1.2, 4 * 250)
    quarter = var_tvar_se(values[:250], 5000, level)[1]
    assert var_tvar_se(values, 20000, level)[1] == pytest.approx(quarter / 2, rel=0.35)
