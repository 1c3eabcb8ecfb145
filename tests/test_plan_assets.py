"""The multi-year plan with reserve assets (`plan --assets`, `batch --plan F --assets A`): each year's asset columns
from the same row families as `solve --assets`, the reserve the provisions build counting the funded assets, a
hand-checked case, and the command end to end."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import layer, profile, random_assets, random_regime, random_sheet, regime
from optimizer.domain import AssetShares, ReserveAsset
from optimizer.inputs import load_assets, load_profiles, load_quotes, load_regime
from optimizer.model import solve
from optimizer.plan import solve_plan
from optimizer.plan_file import Plan
from optimizer.solution import verify

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def same_answer(plan_year, s):
    """A plan's year and a `solve` Solution agree on the mix, its assets and its cost."""
    p = plan_year.solution
    R = max(s.requirement_jpy, 1.0)
    assert p.status == s.status
    assert p.annual_cost_jpy == pytest.approx(s.annual_cost_jpy, rel=1e-9, abs=1e-6 * R)
    assert p.cash_reserve_jpy == pytest.approx(s.cash_reserve_jpy, rel=1e-7, abs=1e-6 * R)
    assert p.shortfall_jpy == pytest.approx(s.shortfall_jpy, rel=1e-7, abs=1e-6 * R)
    assert {l.quote.quote_id: pytest.approx(l.share, abs=1e-7) for l in p.lines} == \
        {l.quote.quote_id: l.share for l in s.lines}
    assert {h.asset.asset_id: pytest.approx(h.amount_jpy, rel=1e-7, abs=1e-6 * R) for h in p.holdings} == \
        {h.asset.asset_id: h.amount_jpy for h in s.holdings}
    assert p.reserve_assets_jpy == pytest.approx(s.reserve_assets_jpy, rel=1e-7, abs=1e-6 * R)
    assert p.committed_jpy == pytest.approx(s.committed_jpy, rel=1e-7, abs=1e-6 * R)
    assert p.binding == s.binding
    assert verify(p) == []


def japan():
    return (load_profiles(DATA / "profiles-japan-2025.csv"), load_quotes(DATA / "quotes-japan.csv"),
            load_regime(DATA / "regimes" / "cold-wallet-assets.toml"), load_assets(DATA / "assets-japan.csv"))


# ---------------------------------------------------------------------------------------------- identities

def test_a_one_year_plan_with_assets_gives_solves_answer_with_assets_on_the_bundled_exchanges():
    profiles, quotes, reg, assets = japan()
    held = 0
    for prof in profiles[:8]:
        s = solve(prof, quotes, reg, assets=assets)
        result = solve_plan(prof, quotes, reg, Plan(), assets=assets)
        [year] = result.years
        same_answer(year, s)
        assert result.present_value_jpy == pytest.approx(s.annual_cost_jpy, rel=1e-9)
        assert year.solution.marginal_cost_per_jpy == pytest.approx(s.marginal_cost_per_jpy, rel=1e-6, abs=1e-9)
        held += bool(s.holdings)
    assert held >= 4  # the assets are really in the answers compared


@pytest.mark.parametrize("seed", range(12))
def test_a_one_year_plan_with_random_assets_gives_solves_answer(seed):
    rng = np.random.default_rng(seed)
    quotes = random_sheet(rng, int(rng.integers(0, 5)))
    assets, reg = random_assets(rng, random_regime(rng))
    prof = profile(annual_trading_volume_jpy=float(rng.uniform(5e11, 5e12)), cost_of_capital=0.08,
                   liquid_capital_jpy=float(rng.choice([math.inf, 6e9])))
    same_answer(solve_plan(prof, quotes, reg, Plan(), assets=assets).years[0], solve(prof, quotes, reg, assets=assets))


@pytest.mark.parametrize("release", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_identical_independent_years_with_assets_give_solves_answer_every_year(release, seed):
    rng = np.random.default_rng(100 + seed)
    quotes = random_sheet(rng, int(rng.integers(1, 5)))
    assets, reg = random_assets(rng, random_regime(rng))
    prof = profile(annual_trading_volume_jpy=float(rng.uniform(5e11, 5e12)), cost_of_capital=0.08)
    s = solve(prof, quotes, reg, assets=assets)
    plan = Plan(years=3, phase_in=(1.0,) * 3, asset_growth=(0.0,) * 3, liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(math.inf,) * 3, release=release, discount_rate=0.05)
    result = solve_plan(prof, quotes, reg, plan, assets=assets)
    for y in result.years:
        same_answer(y, s)
    assert result.present_value_jpy == pytest.approx(s.annual_cost_jpy * (1 + 1 / 1.05 + 1 / 1.05 ** 2), rel=1e-9)


# ---------------------------------------------------------------------------------------------- by hand

def test_three_year_case_by_hand_the_provision_limit_holds_cash_and_jgbs_together():
    """R = ¥10bn every year; a JGB at no haircut yielding 9% costs 1% a year per yen held against cash's 10%; a
    bank guarantee at 0.5% a year may supply 30% of R; a layer over all of R costs 5% a year; the reserve held
    (cash and JGBs) may grow by at most ¥4bn a year.

    Year 1: the guarantee ¥3bn, JGBs ¥4bn (the provision limit), the layer the other 30%: 0.005 × 3bn + 0.01 × 4bn
    + 0.05 × 10bn × 0.3 = ¥205m. Year 2: the guarantee ¥3bn, JGBs ¥7bn (¥3bn more), no layer: ¥85m; year 3 the
    same. Present value at the 10% cost of capital: 205m + 85m/1.1 + 85m/1.21. Had the limit counted cash alone,
    year 1 would hold ¥7bn of JGBs at once (¥85m)."""
    reg = regime(asset_shares=AssetShares(bank_guarantee=0.3))
    assets = [ReserveAsset("JGB", "jgb", yield_rate=0.09),
              ReserveAsset("BG", "bank_guarantee", "Bank X", "AA", fee_rate=0.005)]
    quotes = [layer("Q", 0.0, 1.0, 0.05)]
    plan = Plan(years=3, phase_in=(1.0,) * 3, asset_growth=(0.0,) * 3, liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(4e9,) * 3, tax_rate=0.3152)
    result = solve_plan(profile(), quotes, reg, plan, assets=assets)
    years = result.years
    assert [y.solution.amount_of("JGB") for y in years] == pytest.approx([4e9, 7e9, 7e9], rel=1e-9)
    assert [y.solution.amount_of("BG") for y in years] == pytest.approx([3e9] * 3, rel=1e-9)
    assert [y.solution.cash_reserve_jpy for y in years] == pytest.approx([0.0] * 3, abs=1.0)
    assert [y.solution.share_of("Q") for y in years] == pytest.approx([0.3, 0.0, 0.0], abs=1e-9)
    assert [y.provision_jpy for y in years] == pytest.approx([4e9, 3e9, 0.0], abs=1.0)
    assert [y.reserve_held_jpy for y in years] == pytest.approx([4e9, 7e9, 7e9], rel=1e-9)
    assert [y.solution.annual_cost_jpy for y in years] == pytest.approx([205e6, 85e6, 85e6], rel=1e-9)
    assert [y.asset_carry_jpy for y in years] == pytest.approx([40e6, 70e6, 70e6], rel=1e-9)
    assert [y.asset_fees_jpy for y in years] == pytest.approx([15e6] * 3, rel=1e-9)
    assert [y.premiums_jpy for y in years] == pytest.approx([150e6, 0.0, 0.0], abs=1.0)
    pv = 205e6 + 85e6 / 1.1 + 85e6 / 1.21
    assert result.present_value_jpy == pytest.approx(pv, rel=1e-9)
    shield = 0.3152 * (165e6 + 15e6 / 1.1 + 15e6 / 1.21)  # premiums and the guarantee's fee; not the JGBs' carry
    assert result.present_value_after_tax_jpy == pytest.approx(pv - shield, rel=1e-9)
    assert years[0].profit_charge_jpy == pytest.approx(150e6 + 15e6 + 4e9, rel=1e-9)
    assert ["max_provision" in y.binding for y in years] == [True, False, False]
    d = result.to_dict()
    assert d["final_reserve_jpy"] == pytest.approx(7e9, rel=1e-9)
    assert d["total_provisions_jpy"] == pytest.approx(7e9, rel=1e-9)
    first = d["plan_years"][0]
    assert first["reserve_assets_jpy"] == pytest.approx(4e9) and first["committed_jpy"] == pytest.approx(3e9)
    assert first["credit_assets_jpy"] == pytest.approx(7e9) and first["reserve_held_jpy"] == pytest.approx(4e9)
    assert {i["asset_id"]: i["kind"] for i in first["instruments"] if "asset_id" in i} == {"JGB": "jgb", "BG":
                                                                                             "bank_guarantee"}
    for y in years:
        assert verify(y.solution) == []


def test_a_promise_is_no_provision_the_reserve_held_never_falls_when_guarantees_grow():
    """A guarantee is not a provision: with no cap on it, it takes all of R from year 1 and the reserve held stays
    nought; when it is capped at ¥3bn in yen, the JGBs fill the rest and never fall while R rises."""
    reg = regime(asset_shares=AssetShares(bank_guarantee=1.0))
    jgb = ReserveAsset("JGB", "jgb", yield_rate=0.09)
    plan = Plan(years=3, phase_in=(0.5, 0.8, 1.0), asset_growth=(0.0,) * 3, liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(math.inf,) * 3)
    free = solve_plan(profile(), [], reg, plan, assets=[jgb, ReserveAsset("BG", "bank_guarantee", "Bank X", "AA",
                                                                             fee_rate=0.005)])
    assert [y.provision_jpy for y in free.years] == pytest.approx([0.0] * 3, abs=1.0)
    assert [y.solution.committed_jpy for y in free.years] == pytest.approx([5e9, 8e9, 1e10], rel=1e-9)
    capped = solve_plan(profile(), [], reg, plan, assets=[jgb, ReserveAsset(
        "BG", "bank_guarantee", "Bank X", "AA", fee_rate=0.005, max_amount_jpy=3e9)])
    assert [y.solution.amount_of("JGB") for y in capped.years] == pytest.approx([2e9, 5e9, 7e9], rel=1e-9)
    assert [y.provision_jpy for y in capped.years] == pytest.approx([2e9, 3e9, 2e9], rel=1e-9)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), years=st.integers(1, 4), release=st.booleans(),
       limit=st.sampled_from([math.inf, 1e9, 4e9]))
def test_every_years_mix_with_assets_passes_the_check_and_the_reserve_held_keeps_the_plans_rows(seed, years,
                                                                                                 release, limit):
    rng = np.random.default_rng(seed)
    quotes = random_sheet(rng, int(rng.integers(0, 5)))
    assets, reg = random_assets(rng, random_regime(rng))
    prof = profile(annual_trading_volume_jpy=float(rng.uniform(5e11, 5e12)), cost_of_capital=0.08)
    plan = Plan(years=years, phase_in=tuple(float(v) for v in rng.uniform(0.2, 1.0, years)),
                asset_growth=tuple(float(v) for v in rng.uniform(-0.2, 0.4, years)),
                liquid_capital_growth=(0.0,) * years, max_provision_jpy=(limit,) * years, release=release)
    result = solve_plan(prof, quotes, reg, plan, marginal=False, assets=assets)
    previous = 0.0
    scale = max(max(y.solution.requirement_jpy for y in result.years), 1.0)
    for y in result.years:
        assert verify(y.solution) == []
        held = y.solution.cash_reserve_jpy + y.solution.reserve_assets_jpy
        if not release:
            assert held >= previous - 1e-6 * scale
        assert held - previous <= limit + 1e-6 * scale
        assert y.provision_jpy == pytest.approx(held - previous)
        previous = held


# ---------------------------------------------------------------------------------------------- the command line

def run(*args):
    return subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


JAPAN = ("--profiles", "data/profiles-japan-2025.csv", "--quotes", "data/quotes-japan.csv",
         "--regime", "cold-wallet-assets", "--assets", "data/assets-japan.csv")


@pytest.mark.parametrize("exchange", ["bitflyer", "zaif"])
def test_plan_with_assets_and_no_plan_file_prints_solve_with_assets_numbers(exchange):
    plan = run("plan", *JAPAN, "--exchange", exchange, "--format", "json", "--no-reasons")
    one = run("solve", *JAPAN, "--exchange", exchange, "--format", "json")
    assert plan.returncode == 0 and one.returncode == 0, plan.stderr + one.stderr
    p, s = json.loads(plan.stdout), json.loads(one.stdout)
    [year] = p["plan_years"]
    assert year["annual_cost_jpy"] == pytest.approx(s["annual_cost_jpy"], rel=1e-9)
    assert year["reserve_assets_jpy"] == pytest.approx(s["reserve_assets_jpy"], rel=1e-7, abs=1.0)
    assert year["committed_jpy"] == pytest.approx(s["committed_jpy"], rel=1e-7, abs=1.0)
    assert s["committed_jpy"] > 0
    kinds = lambda d: {i.get("asset_id") or i["quote_id"]: (i["kind"], pytest.approx(i["cover_jpy"], rel=1e-7,  # noqa: E731
                                                                                      abs=1.0))
                       for i in d["instruments"] if i["cover_jpy"] > 0}
    assert kinds(year) == kinds(s)


def test_plan_with_assets_says_which_assets_are_not_held_each_year():
    out = run("plan", *JAPAN, "--exchange", "bitflyer", "--plan", "fy2027-five-year-phase-in", "--format", "json")
    assert out.returncode == 0, out.stderr
    years = json.loads(out.stdout)["plan_years"]
    assert len(years) == 5
    for y in years:
        why = {r["asset_id"]: r["reason"] for r in y["assets_not_held"]}
        assert "not offered to this exchange" in why["LINE-MONEX"]
        assert "max_share.parent_guarantee 0" in why["PG-PARENT"]


def test_plan_with_assets_none_offered_to_the_exchange_prints_the_plan_of_cash_and_cover(tmp_path):
    """An assets file whose only asset is offered to another exchange: the plan is the one without assets (the
    table printed, not an internal error)."""
    only = tmp_path / "assets.csv"
    lines = (DATA / "assets-japan.csv").read_text(encoding="utf-8").splitlines()
    only.write_text("\n".join([lines[0], *[l for l in lines if l.startswith("LINE-MONEX,")]]) + "\n",
                    encoding="utf-8")
    args = ("plan", "--profiles", "data/profiles-japan-2025.csv", "--exchange", "bitflyer", "--quotes",
            "data/quotes-japan.csv", "--regime", "cold-wallet-assets", "--plan", "fy2027-five-year-phase-in",
            "--no-reasons")
    text, plain = run(*args, "--assets", only), run(*args)
    assert text.returncode == 0 and not text.stderr, text.stderr
    assert "Year by year:" in text.stdout and "reserve_assets_jpy" not in text.stdout
    assert text.stdout == plain.stdout


def test_batch_with_a_plan_and_assets_has_the_assets_per_year_and_an_error_row_for_a_yield_above_coc(tmp_path):
    profiles = pd.read_csv(DATA / "profiles-japan-2025.csv").head(4)
    profiles.loc[3, "cost_of_capital"] = 0.01  # JGB-10Y yields 2.125%: holding it would earn money
    src = tmp_path / "p.csv"
    profiles.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    done = run("batch", str(src), "--plan", "fy2027-five-year-phase-in", "--quotes", "data/quotes-japan.csv",
               "--regime", "cold-wallet-assets", "--assets", "data/assets-japan.csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = pd.read_csv(out)
    ok = rows[rows["status"] != "error"]
    assert len(ok) == 3 * 5 and (ok["committed_jpy"] > 0).all()
    [bad] = rows[rows["status"] == "error"].to_dict("records")
    assert bad["exchange_id"] == profiles.loc[3, "exchange_id"] and "yield" in bad["error"]
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    first = summary["by_year"][0]
    assert first["total_committed_jpy"] == pytest.approx(ok[ok["year"] == 1]["committed_jpy"].sum(), rel=1e-9)
    assert summary["errors"][0]["exchange_id"] == bad["exchange_id"]
    # each exchange's plan is the plan the command gives for it alone
    alone = run("plan", *JAPAN, "--exchange", str(profiles.loc[0, "exchange_id"]), "--plan",
                "fy2027-five-year-phase-in", "--format", "json", "--no-reasons")
    pv = json.loads(alone.stdout)["present_value_jpy"]
    mine = ok[ok["exchange_id"] == profiles.loc[0, "exchange_id"]]["present_value_jpy"].sum()
    assert mine == pytest.approx(pv, rel=1e-9)
