"""`batch --plan`'s own path (plan.solve_plans: one kept plan LP per structure, warm, its own branch and bound, the
mixes checked as stacks) gives each exchange the plan `solve_plan` gives it alone; and what binds in a year."""

import math
from pathlib import Path

import numpy as np
import pytest

from builders import profile, random_assets, random_profiles, random_regime, random_sheet, regime
from optimizer import plan as plan_module
from optimizer.inputs import load_profiles, load_quotes, load_regime
from optimizer.plan import solve_plan, solve_plans
from optimizer.plan_file import Plan, load_plan
from optimizer.solution import verify

DATA = Path(__file__).resolve().parent.parent / "data"


def same_plan(batch, alone):
    assert batch.status == alone.status
    assert batch.present_value_jpy == pytest.approx(alone.present_value_jpy, rel=1e-9, abs=1e-3)
    assert batch.present_value_after_tax_jpy == pytest.approx(alone.present_value_after_tax_jpy, rel=1e-9, abs=1e-3)
    for b, a in zip(batch.years, alone.years):
        R = max(a.solution.requirement_jpy, 1.0)
        assert b.solution.status == a.solution.status
        assert b.solution.annual_cost_jpy == pytest.approx(a.solution.annual_cost_jpy, rel=1e-9, abs=1e-6 * R)
        assert b.solution.shortfall_jpy == pytest.approx(a.solution.shortfall_jpy, rel=1e-7, abs=1e-6 * R)
        assert b.solution.requirement_jpy == a.solution.requirement_jpy
        assert verify(b.solution) == []


@pytest.mark.parametrize("preset", ["fy2027-five-year-phase-in", "fy2027-hard-market", "fy2027-immediate"])
def test_batch_plans_are_the_plans_each_exchange_gets_alone_on_the_bundled_sheets(preset):
    plan = load_plan(DATA / "plans" / f"{preset}.toml")
    for profiles, quotes, reg in [("profiles.csv", "quotes.csv", "securities-style.toml"),
                                  ("profiles-japan-2025.csv", "quotes-japan.csv", "cold-wallet.toml")]:
        profs = load_profiles(DATA / profiles)
        q, r = load_quotes(DATA / quotes), load_regime(DATA / "regimes" / reg)
        for batch, prof in zip(solve_plans(profs, q, r, plan), profs):
            same_plan(batch, solve_plan(prof, q, r, plan, marginal=False))


def test_batch_plans_match_alone_on_random_exchanges_with_yes_no_quotes_assets_and_its_own_branch_and_bound(
        monkeypatch):
    branched = []
    original = plan_module._PlanLP.branch_and_bound

    def spy(self, x):
        found = original(self, x)
        branched.append(found is not None)
        return found

    monkeypatch.setattr(plan_module._PlanLP, "branch_and_bound", spy)
    plan = Plan(years=3, phase_in=(0.3, 0.7, 1.0), asset_growth=(0.0, 0.1, 0.2), liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(3e9,) * 3)
    quotes = load_quotes(DATA / "quotes.csv")  # yes/no quotes whose relaxations are often fractional
    reg = load_regime(DATA / "regimes" / "securities-style.toml")
    profs = random_profiles(np.random.default_rng(5), 60)
    for batch, prof in zip(solve_plans(profs, quotes, reg, plan), profs):
        same_plan(batch, solve_plan(prof, quotes, reg, plan, marginal=False))
    assert any(branched)  # the batch's own branch and bound was used, and agreed
    rng = np.random.default_rng(11)
    for _ in range(4):
        sheet = random_sheet(rng, 5)
        assets, r = random_assets(rng, random_regime(rng))
        profs = [p for p in random_profiles(rng, 15)
                 if all(a.yield_rate <= p.cost_of_capital for a in assets if a.funded)]
        for batch, prof in zip(solve_plans(profs, sheet, r, plan, assets=assets), profs):
            same_plan(batch, solve_plan(prof, sheet, r, plan, marginal=False, assets=assets))


def test_a_reserve_of_nought_last_year_is_never_said_to_be_held_by_the_no_fall_row():
    """EX08 holds no cash in any year of the five-year phase-in: the row C_t ≥ C_{t−1} says C_t ≥ 0, as C_t's own
    bound does, so it binds nothing (HiGHS may put a dual on it, or on the bound: the vertex is degenerate)."""
    prof = next(p for p in load_profiles(DATA / "profiles.csv") if p.exchange_id == "EX08")
    quotes, reg = load_quotes(DATA / "quotes.csv"), load_regime(DATA / "regimes" / "securities-style.toml")
    plan = load_plan(DATA / "plans" / "fy2027-five-year-phase-in.toml")
    for result in (solve_plan(prof, quotes, reg, plan), solve_plans([prof], quotes, reg, plan)[0]):
        assert all(y.solution.cash_reserve_jpy == 0 for y in result.years)
        assert not any("reserve_never_falls" in y.binding for y in result.years)


def test_a_reserve_held_at_last_years_level_is_still_said_to_bind():
    """All cash; year 2 requires half of year 1's R, but the reserve may not fall: it stays at ¥1bn and says why."""
    prof = profile(annual_trading_volume_jpy=5e11)
    plan = Plan(years=2, phase_in=(1.0, 0.5), asset_growth=(0.0,) * 2, liquid_capital_growth=(0.0,) * 2,
                max_provision_jpy=(math.inf,) * 2)
    for result in (solve_plan(prof, [], regime(), plan), solve_plans([prof], [], regime(), plan)[0]):
        assert [y.solution.cash_reserve_jpy for y in result.years] == pytest.approx([1e9, 1e9], rel=1e-9)
        assert ["reserve_never_falls" in y.binding for y in result.years] == [False, True]


def test_a_plans_json_imports_neither_pandas_nor_pyarrow_nor_scipy_and_a_table_still_prints():
    """`plan --format json` reads CSV text and writes JSON: the libraries only tables, workbooks and batches need
    stay unimported (about half of the command's start-up), and the answer is the same as the table's."""
    import json
    import subprocess
    import sys

    args = ["plan", "--profiles", "data/profiles-japan-2025.csv", "--exchange", "bitflyer", "--quotes",
            "data/quotes-japan.csv", "--regime", "cold-wallet", "--plan", "fy2027-five-year-phase-in"]
    probe = ("import sys\nfrom optimizer.cli import main\ncode = main(sys.argv[1:])\n"
             "sys.stderr.write(repr(sorted(m for m in ('pandas', 'pyarrow', 'scipy', 'openpyxl', 'pulp', 'dask', "
             "'matplotlib', 'altair', 'optimizer.risk') if m in sys.modules)))\nraise SystemExit(code)\n")
    root = DATA.parent
    out = subprocess.run([sys.executable, "-c", probe, *args, "--format", "json"], cwd=root, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "[]"
    pv = json.loads(out.stdout)["present_value_jpy"]
    table = subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=root, capture_output=True, text=True,
                           timeout=300)
    assert table.returncode == 0 and f"Present value   ¥{pv:,.0f}" in table.stdout
