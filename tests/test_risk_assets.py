"""Reserve assets in the risk view (docs/design.md, "Reserve assets in the risk view"; docs/risk.md): an asset pays
1 − haircut per yen in a simulated year unless its bank or parent defaults that year, a JGB always; the retained loss
is the cover's alone, and the reserve a year can exhaust is cash plus what the assets pay that year."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optimizer.domain import AssetShares, ExchangeProfile, ReserveAsset
from optimizer.inputs import load_profiles, load_quotes, load_regime
from optimizer.loss_model import load_loss_model
from optimizer.model import solve
from optimizer.risk import RiskBook, book_for, metrics, solution_metrics, solve_with_risk
from optimizer.simulation import simulate

from test_simulation import hand_scenarios

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
HAND = ExchangeProfile("H", 1e3, 0.05, 1e3, cost_of_capital=0.1)
GUARANTEE = ReserveAsset("BG", "bank_guarantee", "Bank X", "AA", fee_rate=0.004)
JGB = ReserveAsset("JGB", "jgb", haircut=0.05, yield_rate=0.02)


def _hand(default_rate: float):
    # 10 years; a loss of 45 in year 0 and of 100 in year 3; Bank X (AA) defaults every year or never
    sc = hand_scenarios([0, 3], [45.0, 100.0], ["external_hack"] * 2, [False] * 2, defaults={"AA": default_rate})
    book = RiskBook.build(sc, [], 1.0, [GUARANTEE, JGB])
    # cash 20, a JGB of 20 (pays 19 after its 5% haircut), a guarantee of 50; no cover: retained = the loss
    return metrics(book, HAND, {}, 20.0, level=0.9, amounts={"BG": 50.0, "JGB": 20.0})


def test_a_guarantee_whose_bank_never_defaults_pays_as_the_regulatory_model_says():
    m = _hand(0.0)
    assert m.expected_retained_jpy == pytest.approx(14.5)  # (45 + 100) / 10: assets do not change the retained loss
    # the reserve is 20 + 19 + 50 = 89: only year 3 (100) exhausts it, leaving 11
    assert m.prob_reserve_exhausted == pytest.approx(0.1)
    assert m.expected_unfunded_jpy == pytest.approx(1.1)
    jgb, bg = sorted(m.assets, key=lambda a: a.asset_id == "BG")
    # cash pays 20 first, then the JGB (held before promised) 19 a year, then the guarantee 6 and 50
    assert jgb.expected_paid_jpy == pytest.approx((19 + 19) / 10) and jgb.default_probability == 0.0
    assert bg.expected_paid_jpy == pytest.approx((6 + 50) / 10) and bg.prob_called_and_failed == 0.0


def test_a_guarantee_whose_bank_always_defaults_pays_nothing_and_the_loss_falls_on_cash_and_shortfall():
    m = _hand(1.0)
    assert m.expected_retained_jpy == pytest.approx(14.5)
    # the reserve is 20 + 19 = 39 in both years: both exhaust it, leaving 6 and 61
    assert m.prob_reserve_exhausted == pytest.approx(0.2)
    assert m.expected_unfunded_jpy == pytest.approx((6 + 61) / 10)
    jgb, bg = sorted(m.assets, key=lambda a: a.asset_id == "BG")
    assert jgb.expected_paid_jpy == pytest.approx(3.8)  # a JGB has no bank: it pays whoever fails
    assert bg.expected_paid_jpy == 0.0 and bg.default_probability == 1.0
    assert bg.prob_called_and_failed == pytest.approx(0.2)  # called on in both loss years, failed both times


def test_a_bank_and_its_insurance_arm_default_in_the_same_years():
    from optimizer.domain import Quote

    sc = simulate(HAND, load_loss_model(DATA / "loss-models" / "japan-stressed.toml"), 20_000, seed=5)
    arm = Quote("ARM", "insurance", "Bank X", "BB", 0.0, 1e3, 0.01)
    bank = dataclasses.replace(GUARANTEE, rating="BB")
    book = RiskBook.build(sc, [arm], 1.0, [bank])
    arm_fails = (book.payout[:, 0] == 0) & (sc.annual_loss > 0)
    assert arm_fails.any() and np.array_equal(arm_fails, book.asset_pays[:, 0] == 0)


def test_without_assets_the_metrics_have_no_asset_keys_and_are_unchanged():
    sc = hand_scenarios([0, 3], [45.0, 100.0], ["external_hack"] * 2, [False] * 2)
    plain = metrics(RiskBook.build(sc, [], 1.0), HAND, {}, 20.0, level=0.9)
    assert plain.prob_reserve_exhausted == pytest.approx(0.2)  # 45 and 100 both above the cash
    d = plain.to_dict()
    assert "assets" not in d and "expected_unfunded_jpy" not in d


# ---------------------------------------------------------------- the solve with assets

P = {p.exchange_id: p for p in load_profiles(DATA / "profiles.csv")}["EX05"]
QUOTES = load_quotes(DATA / "quotes.csv")
BASE = load_regime(DATA / "regimes" / "securities-style.toml")
ALLOW = dataclasses.replace(BASE, eligibility=dataclasses.replace(
    BASE.eligibility, asset_shares=AssetShares(bank_guarantee=0.5)))
OFFER = [ReserveAsset("BG", "bank_guarantee", "Bank X", "AA+", fee_rate=0.004, max_amount_jpy=1e9),  # no quote is AA+
         ReserveAsset("JGB", "jgb", haircut=0.01, yield_rate=0.016)]


@pytest.fixture(scope="module")
def ex05():
    return simulate(P, load_loss_model(DATA / "loss-models" / "japan.toml"), 20_000, seed=2026)


@pytest.mark.parametrize("limit", [None, 6e9])
def test_cutting_planes_and_the_full_lp_agree_with_assets(ex05, limit):
    cuts = solve_with_risk(P, QUOTES, ALLOW, ex05, tvar_limit=limit, assets=OFFER)
    full = solve_with_risk(P, QUOTES, ALLOW, ex05, tvar_limit=limit, formulation="rows", assets=OFFER)
    a, b = cuts.solution, full.solution
    assert a.amount_of("BG") > 0  # the guarantee is held (up to its most without a limit)
    if limit is None:
        assert a.amount_of("BG") == pytest.approx(1e9, rel=1e-9)
    assert a.annual_cost_jpy == pytest.approx(b.annual_cost_jpy, rel=1e-9)
    assert a.cash_reserve_jpy == pytest.approx(b.cash_reserve_jpy, rel=1e-9, abs=1e-6 * a.requirement_jpy)
    for asset in OFFER:
        assert a.amount_of(asset.asset_id) == pytest.approx(b.amount_of(asset.asset_id), rel=1e-9,
                                                            abs=1e-6 * a.requirement_jpy)
    assert {l.quote.quote_id: round(l.share, 9) for l in a.lines} == {l.quote.quote_id: round(l.share, 9)
                                                                       for l in b.lines}
    assert cuts.metrics.tvar_jpy == pytest.approx(full.metrics.tvar_jpy, rel=1e-9)
    assert cuts.metrics.expected_unfunded_jpy == pytest.approx(full.metrics.expected_unfunded_jpy, rel=1e-9)
    # the assets save money against the same risk objective without them
    alone = solve_with_risk(P, QUOTES, ALLOW, ex05, tvar_limit=limit)
    assert a.annual_cost_jpy < alone.solution.annual_cost_jpy


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_the_risk_mix_is_the_same_whether_the_bank_defaults_but_its_reserve_is_not(ex05, rate):
    # The bank's default does not change the retained loss, so not the risk-optimal mix; it changes which years
    # exhaust the reserve: cash alone when the bank always defaults, cash plus the guarantee when it never does
    lm = load_loss_model(DATA / "loss-models" / "japan.toml")
    lm = dataclasses.replace(lm, default_probability={**dict(lm.default_probability), "AA+": rate})
    sc = simulate(P, lm, 20_000, seed=2026)
    r = solve_with_risk(P, QUOTES, ALLOW, sc, assets=OFFER)
    s, m = r.solution, r.metrics
    retained = np.zeros(sc.n_years)
    retained[sc.loss_years] = r.book.retained({l.quote.quote_id: l.share for l in s.lines})
    jgb = s.amount_of("JGB") * 0.99
    reserve = s.cash_reserve_jpy + jgb + (0.0 if rate == 1.0 else s.amount_of("BG"))
    tol = 1e-9 * s.requirement_jpy
    assert m.prob_reserve_exhausted == pytest.approx(np.mean(retained > reserve + tol))
    assert m.expected_unfunded_jpy == pytest.approx(np.maximum(retained - reserve, 0).mean(), rel=1e-9)
    bg = next(a for a in m.assets if a.asset_id == "BG")
    assert (bg.expected_paid_jpy == 0.0) == (rate == 1.0)
    same = solve_with_risk(P, QUOTES, ALLOW, sc if rate == 0.0 else simulate(P, load_loss_model(
        DATA / "loss-models" / "japan.toml"), 20_000, seed=2026), assets=OFFER)
    assert same.solution.annual_cost_jpy == pytest.approx(s.annual_cost_jpy, rel=1e-9)


def test_the_regulatory_mixs_metrics_count_the_assets_it_holds(ex05):
    s = solve(P, QUOTES, ALLOW, marginal=False, assets=OFFER)
    m = solution_metrics(s, book_for(s, ex05))
    cash_only = solution_metrics(dataclasses.replace(s, holdings=()), RiskBook.build(
        ex05, [l.quote for l in s.lines], s.requirement_jpy))
    assert s.holdings and m.expected_retained_jpy == pytest.approx(cash_only.expected_retained_jpy)
    assert m.prob_reserve_exhausted < cash_only.prob_reserve_exhausted


# ---------------------------------------------------------------- the command line

def run(*args):
    return subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


JAPAN = ("--profiles", "data/profiles-japan-2025.csv", "--quotes", "data/quotes-japan.csv", "--exchange", "bitflyer",
         "--regime", "cold-wallet-assets", "--scenarios", "20000")


@pytest.mark.parametrize("how", [("risk",), ("risk", "--mix", "risk"), ("solve", "--objective", "risk")])
def test_cli_risk_takes_assets(how):
    with_assets = run(*how, *JAPAN, "--assets", "data/assets-japan.csv", "--format", "json")
    assert with_assets.returncode == 0, with_assets.stderr
    data = json.loads(with_assets.stdout)
    held = {h["asset_id"]: h for h in data["instruments"] if "asset_id" in h}
    assert "BG-MEGA" in held
    [bg] = [a for a in data["risk"]["assets"] if a["asset_id"] == "BG-MEGA"]
    assert bg["amount_jpy"] == pytest.approx(held["BG-MEGA"]["cover_jpy"]) and bg["default_probability"] > 0
    assert data["risk"]["expected_unfunded_jpy"] >= 0
    plain = json.loads(run(*how, *JAPAN, "--format", "json").stdout)
    assert "assets" not in plain["risk"] and "expected_unfunded_jpy" not in plain["risk"]
    assert data["annual_cost_jpy"] < plain["annual_cost_jpy"]
    text = run(*how, *JAPAN, "--assets", "data/assets-japan.csv")
    assert text.returncode == 0 and "expected unfunded" in text.stdout and "BG-MEGA" in text.stdout


def test_batch_risk_columns_count_the_assets_as_the_risk_command_does(tmp_path):
    from optimizer import batch
    from optimizer.risk import RiskColumns

    profile = {p.exchange_id: p for p in load_profiles(DATA / "profiles-japan-2025.csv")}["bitflyer"]
    lm = load_loss_model(DATA / "loss-models" / "japan.toml")
    rows = batch.run([profile], DATA / "quotes-japan.csv", DATA / "regimes" / "cold-wallet-assets.toml", workers=1,
                     assets=DATA / "assets-japan.csv", risk=RiskColumns(lm, 20_000, 2026)).results
    data = json.loads(run("risk", *JAPAN, "--assets", "data/assets-japan.csv", "--format", "json").stdout)
    assert rows["prob_reserve_exhausted"].iloc[0] == pytest.approx(data["risk"]["prob_reserve_exhausted"])
