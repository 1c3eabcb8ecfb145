"""The multi-year plan (optimizer/plan.py, optimizer/plan_file.py): the contract's identities, a hand-checked case,
properties over random plans, bad plan files, and the command end to end."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import layer, profile, random_regime, random_sheet, regime
from conftest import run_cli
from optimizer import cli
from optimizer.inputs import InputError, load_profiles, load_quotes, load_regime
from optimizer.model import solve
from optimizer.plan import solve_plan
from optimizer.plan_file import Plan, load_plan, plan_from_text
from optimizer.solution import verify

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
REL = 1e-9


def same_answer(plan_year, s):
    """A plan's year and a `solve` Solution agree on everything `solve` reports."""
    p = plan_year.solution
    assert p.status == s.status
    assert p.requirement_jpy == pytest.approx(s.requirement_jpy, rel=REL)
    assert p.annual_cost_jpy == pytest.approx(s.annual_cost_jpy, rel=1e-9, abs=1e-6 * s.requirement_jpy)
    assert p.cash_reserve_jpy == pytest.approx(s.cash_reserve_jpy, rel=1e-7, abs=1e-6 * s.requirement_jpy)
    assert p.shortfall_jpy == pytest.approx(s.shortfall_jpy, rel=1e-7, abs=1e-6 * s.requirement_jpy)
    assert {l.quote.quote_id: pytest.approx(l.share, abs=1e-7) for l in p.lines} == \
        {l.quote.quote_id: l.share for l in s.lines}
    assert p.binding == s.binding


def bundled(profiles="profiles.csv", quotes="quotes.csv", regime_file="securities-style.toml"):
    return (load_profiles(DATA / profiles), load_quotes(DATA / quotes), load_regime(DATA / "regimes" / regime_file))


# ---------------------------------------------------------------------------------------------- identities

@pytest.mark.parametrize("sheet", [("profiles.csv", "quotes.csv", "securities-style.toml"),
                                   ("profiles-japan-2025.csv", "quotes-japan.csv", "securities-style-japan.toml")])
def test_one_year_plan_gives_exactly_solves_answer(sheet):
    profiles, quotes, reg = bundled(*sheet)
    for prof in profiles[:6]:
        s = solve(prof, quotes, reg)
        result = solve_plan(prof, quotes, reg, Plan())
        assert len(result.years) == 1
        same_answer(result.years[0], s)
        assert result.years[0].solution.marginal_cost_per_jpy == pytest.approx(s.marginal_cost_per_jpy, rel=1e-6,
                                                                               abs=1e-9)
        assert result.present_value_jpy == pytest.approx(s.annual_cost_jpy, rel=1e-9)
        assert result.status == ("shortfall" if s.status == "shortfall" else "optimal")


@pytest.mark.parametrize("release", [False, True])
def test_identical_independent_years_give_solves_answer_every_year(release):
    profiles, quotes, reg = bundled()
    plan = Plan(years=4, phase_in=(1.0,) * 4, asset_growth=(0.0,) * 4, liquid_capital_growth=(0.0,) * 4,
                max_provision_jpy=(math.inf,) * 4, release=release, discount_rate=0.05)
    for prof in profiles[:4]:
        s = solve(prof, quotes, reg)
        result = solve_plan(prof, quotes, reg, plan)
        for k, y in enumerate(result.years):
            same_answer(y, s)
            assert y.provision_jpy == pytest.approx(s.cash_reserve_jpy if k == 0 else 0.0, abs=1e-6 * s.requirement_jpy)
            if release:  # nothing links the years: each year's marginal cost is solve's
                assert y.solution.marginal_cost_per_jpy == pytest.approx(s.marginal_cost_per_jpy, rel=1e-6, abs=1e-9)
        assert result.present_value_jpy == pytest.approx(sum(s.annual_cost_jpy / 1.05 ** k for k in range(4)),
                                                         rel=1e-9)


# ---------------------------------------------------------------------------------------------- by hand

def test_three_year_case_by_hand_provision_limit_makes_year_one_hold_more_cash():
    """R = ¥1bn (0.2% of ¥500bn volume); at least half of R'_t in cash; one AA layer over all of R'_t at 2% a
    year; carry 10%. Phase-in 40%, 100%, 100%; provisions at most ¥400m, ¥250m, ¥250m.

    Alone, year 1 would hold C = 0.5 × ¥400m = ¥200m. Year 2 needs C ≥ ¥500m but may add only ¥250m, so year 1
    holds ¥250m and the layer covers the other ¥150m (share 150/400 = 0.375): cost 0.1 × 250m + 0.02 × 400m ×
    0.375 = ¥28m. Years 2 and 3: C = ¥500m, share 0.5: 0.1 × 500m + 0.02 × 1bn × 0.5 = ¥60m. Discounted at
    the cost of capital (10%): PV = 28m + 60m/1.1 + 60m/1.21. Year 2 is the one the provision limit binds."""
    prof = profile(annual_trading_volume_jpy=5e11)
    reg = regime(min_cash_share=0.5)
    quotes = [layer("Q", 0.0, 1.0, 0.02)]
    plan = Plan(years=3, phase_in=(0.4, 1.0, 1.0), asset_growth=(0.0,) * 3, liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(4e8, 2.5e8, 2.5e8), tax_rate=0.3152)
    result = solve_plan(prof, quotes, reg, plan)
    years = result.years
    assert [y.solution.requirement_jpy for y in years] == pytest.approx([4e8, 1e9, 1e9])
    assert [y.solution.cash_reserve_jpy for y in years] == pytest.approx([2.5e8, 5e8, 5e8], rel=1e-9)
    assert [y.provision_jpy for y in years] == pytest.approx([2.5e8, 2.5e8, 0.0], abs=1.0)
    assert [y.solution.share_of("Q") for y in years] == pytest.approx([0.375, 0.5, 0.5], rel=1e-9)
    assert [y.solution.annual_cost_jpy for y in years] == pytest.approx([28e6, 60e6, 60e6], rel=1e-9)
    assert [y.premiums_jpy for y in years] == pytest.approx([3e6, 10e6, 10e6], rel=1e-9)
    assert result.present_value_jpy == pytest.approx(28e6 + 60e6 / 1.1 + 60e6 / 1.21, rel=1e-9)
    shield = 0.3152 * (3e6 + 10e6 / 1.1 + 10e6 / 1.21)  # premiums are deductible; the provisions are not
    assert result.present_value_after_tax_jpy == pytest.approx(28e6 + 60e6 / 1.1 + 60e6 / 1.21 - shield, rel=1e-9)
    assert ["max_provision" in y.binding for y in years] == [False, True, False]
    assert "min_cash_share" not in years[0].binding and "min_cash_share" in years[1].binding
    assert result.status == "optimal"
    free = solve_plan(prof, quotes, reg, replace(plan, max_provision_jpy=(math.inf,) * 3))
    assert [y.solution.cash_reserve_jpy for y in free.years] == pytest.approx([2e8, 5e8, 5e8], rel=1e-9)


def test_a_provision_limit_below_the_need_is_a_shortfall_until_provisions_catch_up():
    prof = profile(annual_trading_volume_jpy=5e11)
    plan = Plan(years=3, phase_in=(1.0,) * 3, asset_growth=(0.0,) * 3, liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(4e8, 4e8, 4e8))
    result = solve_plan(prof, [], regime(), plan)  # all cash: C_t ≥ ¥1bn, at most ¥400m more a year
    assert [y.solution.status for y in result.years] == ["shortfall", "shortfall", "optimal"]
    assert [y.solution.shortfall_jpy for y in result.years] == pytest.approx([6e8, 2e8, 0.0], abs=1.0)
    assert result.short_years == [2027, 2028]
    assert ["max_provision" in y.binding for y in result.years] == [True, True, False]


def test_a_three_year_policy_keeps_one_share_and_one_rate_while_one_year_cover_renews_dearer():
    """Two identical layers except that T runs three years at 2.2% while O renews at 2%, then 15% dearer each
    year: T is bought in year 1 and held; its share is the same every year and its rate does not change."""
    prof = profile(annual_trading_volume_jpy=5e11)
    quotes = [layer("O", 0.0, 1.0, 0.02), layer("T", 0.0, 1.0, 0.022, term_years=3)]
    plan = Plan(years=3, phase_in=(1.0,) * 3, asset_growth=(0.0,) * 3, liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(math.inf,) * 3, renewal_rate_change=0.15)
    result = solve_plan(prof, quotes, regime(), plan)
    shares = [y.solution.share_of("T") for y in result.years]
    assert shares[0] > 0 and shares == pytest.approx([shares[0]] * 3)
    premiums = [l.annual_cost_jpy for y in result.years for l in y.solution.lines if l.quote.quote_id == "T"]
    assert premiums == pytest.approx([premiums[0]] * 3)
    o_rates = [q.rate_on_line for y in result.years for q in y.year.quotes if q.quote_id == "O"]
    assert o_rates == pytest.approx([0.02, 0.023, 0.02645])


def test_growth_raises_the_requirement_and_liquid_capital_as_the_plan_says():
    prof = profile(liquid_capital_jpy=2e10)
    plan = Plan(years=3, phase_in=(1.0,) * 3, asset_growth=(0.9, 0.1, 0.2), liquid_capital_growth=(0.0, 0.5, 0.0),
                max_provision_jpy=(math.inf,) * 3)
    result = solve_plan(prof, [], regime(), plan)
    assert [y.year.requirement_full_jpy for y in result.years] == pytest.approx([1e10, 1.1e10, 1.32e10])
    assert [y.year.profile.liquid_capital_jpy for y in result.years] == pytest.approx([2e10, 3e10, 3e10])


# ---------------------------------------------------------------------------------------------- properties

@st.composite
def random_plans(draw):
    years = draw(st.integers(1, 4))
    fractions = st.floats(0.0, 1.0, allow_nan=False)
    phase = tuple(draw(st.lists(fractions, min_size=years, max_size=years)))
    growth = tuple(draw(st.lists(st.floats(-0.3, 0.5), min_size=years, max_size=years)))
    limits = tuple(draw(st.lists(st.sampled_from([math.inf, 1e9, 4e9, 0.0]), min_size=years, max_size=years)))
    return Plan(years=years, phase_in=phase, asset_growth=growth, liquid_capital_growth=(0.0,) * years,
                max_provision_jpy=limits, release=draw(st.booleans()),
                renewal_rate_change=draw(st.sampled_from([0.0, 0.15, -0.1])),
                discount_rate=draw(st.sampled_from(["cost_of_capital", 0.0, 0.03])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=random_plans(), seed=st.integers(0, 2**31 - 1), terms=st.booleans())
def test_every_years_mix_passes_the_check_the_reserve_never_falls_and_no_provision_exceeds_its_limit(plan, seed,
                                                                                                      terms):
    rng = np.random.default_rng(seed)
    quotes = random_sheet(rng, int(rng.integers(0, 6)))
    if terms and quotes:
        quotes[0] = replace(quotes[0], term_years=int(rng.integers(1, plan.years + 1)))
    prof = profile(annual_trading_volume_jpy=float(rng.uniform(5e11, 5e12)), cost_of_capital=0.08)
    result = solve_plan(prof, quotes, random_regime(rng), plan, marginal=False)
    previous = 0.0
    # the linking rows hold to HiGHS's tolerance in the plan's own money unit (all years together), not in one
    # year's R: a year whose R'_t is tiny (a small phase-in share) keeps the reserve of a larger earlier year
    scale = max(max(y.solution.requirement_jpy for y in result.years), 1.0)
    for y in result.years:
        s = y.solution
        assert verify(s) == []
        tol = 1e-6 * scale
        if not plan.release:
            assert s.cash_reserve_jpy >= previous - tol
        assert s.cash_reserve_jpy - previous <= y.year.max_provision_jpy + tol
        assert y.provision_jpy == pytest.approx(s.cash_reserve_jpy - previous)
        previous = s.cash_reserve_jpy
    held = [q for q in quotes if q.term_years > 1]
    for q in held:
        shares = [y.solution.share_of(q.quote_id) for y in result.years[:q.term_years]]
        assert shares == pytest.approx([shares[0]] * len(shares), abs=1e-7)


# ---------------------------------------------------------------------------------------------- plan files

def test_the_bundled_presets_load_and_say_where_their_numbers_come_from():
    names = sorted(p.name for p in (DATA / "plans").glob("*.toml"))
    assert names == ["fy2027-five-year-phase-in.toml", "fy2027-hard-market.toml", "fy2027-immediate.toml"]
    for path in (DATA / "plans").glob("*.toml"):
        plan = load_plan(path)
        assert plan.start_year == 2027 and len(plan.phase_in) == plan.years
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith(("#", "name", "description")):
                assert "ASSUMPTION" in line or "sourced" in line.lower(), line  # the marks are SOURCED / ASSUMPTION (data/README.md)
    assert load_plan(DATA / "plans" / "fy2027-hard-market.toml").renewal_rate_change == 0.15


def test_a_plan_file_fills_defaults_and_takes_one_number_or_one_a_year():
    plan = plan_from_text('years = 3\nasset_growth = [0, 0.1, 0.2]\nmax_provision_jpy = 5e9\ndiscount_rate = 0.04\n')
    assert plan.phase_in == (1.0, 1.0, 1.0) and plan.asset_growth == (0.0, 0.1, 0.2)
    assert plan.max_provision_jpy == (5e9,) * 3 and plan.discount(0.12) == 0.04
    assert plan.release is False and plan.start_year == 2027
    assert Plan().discount(0.12) == 0.12


@pytest.mark.parametrize("text, key", [
    ("years = 5\nphase_in = [0.2, 0.4, 1.0]", "phase_in"),
    ("years = 2\nphase_in = [0.5, 1.5]", "phase_in[2]"),
    ("years = 2\nphase_in = -0.1", "phase_in"),
    ("years = 31", "years"),
    ("years = 0", "years"),
    ("years = 2.5", "years"),
    ("max_provision_jpy = -1e9", "max_provision_jpy"),
    ("years = 2\nasset_growth = [0.1]", "asset_growth"),
    ("liquid_capital_growth = 'fast'", "liquid_capital_growth"),
    ("discount_rate = 'wacc'", "discount_rate"),
    ("tax_rate = 1.2", "tax_rate"),
    ("release = 'no'", "release"),
    ("phase_inn = 1", "phase_inn"),
])
def test_bad_plan_files_are_refused_naming_the_file_and_the_key(write, text, key):
    path = write("bad-plan.toml", text + "\n")
    with pytest.raises(InputError) as info:
        load_plan(path)
    assert info.value.source == str(path) and info.value.column == key
    assert str(path) in str(info.value) and f"'{key}'" in str(info.value)


def test_a_policy_longer_than_the_plan_is_refused_naming_the_quotes_file_and_term_years():
    prof = profile()
    with pytest.raises(InputError) as info:
        solve_plan(prof, [layer("T", 0.0, 1.0, 0.02, term_years=3)], regime(), Plan(), quotes_source="q.csv")
    assert info.value.column == "term_years" and "q.csv" in str(info.value) and "T" in str(info.value)


def test_term_years_is_read_from_the_quote_sheet_and_checked(write):
    header = "quote_id,kind,counterparty,rating,attachment,limit,rate_on_line,term_years\n"
    quotes = load_quotes(write("q.csv", header + "A,insurance,X,AA,0,1e9,0.02,3\nB,insurance,X,AA,0,1e9,0.02,\n"))
    assert [q.term_years for q in quotes] == [3, 1]
    with pytest.raises(InputError) as info:
        load_quotes(write("q2.csv", header + "A,insurance,X,AA,0,1e9,0.02,1.5\n"))
    assert info.value.column == "term_years" and info.value.row == 1


# ---------------------------------------------------------------------------------------------- the command

def test_plan_command_json_per_year_and_plan_keys(capsys):
    code = cli.main(["plan", "--plan", "fy2027-five-year-phase-in", "--format", "json", "--no-reasons"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["status"] == "optimal" and data["years"] == 5
    assert [y["fiscal_year"] for y in data["plan_years"]] == [2027, 2028, 2029, 2030, 2031]
    assert [y["required_share"] for y in data["plan_years"]] == [0.2, 0.4, 0.6, 0.8, 1.0]
    for key in ("requirement_full_jpy", "required_coverage_jpy", "cash_reserve_jpy", "provision_jpy", "premiums_jpy",
                "fees_jpy", "carry_jpy", "credit_cash_jpy", "credit_insurance_jpy", "credit_derivative_jpy",
                "shortfall_jpy", "binding", "instruments"):
        assert key in data["plan_years"][0]
    assert data["present_value_jpy"] == pytest.approx(sum(y["present_value_jpy"] for y in data["plan_years"]))
    assert data["present_value_after_tax_jpy"] < data["present_value_jpy"]


def test_plan_without_a_plan_file_prints_solves_numbers(capsys):
    assert cli.main(["solve", "--format", "json"]) == 0
    solved = json.loads(capsys.readouterr().out)
    assert cli.main(["plan", "--format", "json"]) == 0
    year = json.loads(capsys.readouterr().out)["plan_years"][0]
    assert year["annual_cost_jpy"] == pytest.approx(solved["annual_cost_jpy"], rel=1e-9)
    assert year["cash_reserve_jpy"] == pytest.approx(solved["cash_reserve_jpy"], rel=1e-9)
    assert year["instruments"] == [{**i, "share": pytest.approx(i["share"]), "cover_jpy": pytest.approx(i["cover_jpy"]),
                                    "credit_jpy": pytest.approx(i["credit_jpy"]),
                                    "annual_cost_jpy": pytest.approx(i["annual_cost_jpy"])}
                                   for i in solved["instruments"]]


def test_plan_table_says_why_quotes_are_not_bought_and_what_binds(capsys):
    assert cli.main(["plan", "--plan", "fy2027-immediate", "--exchange", "EX05"]) == 0
    out = capsys.readouterr().out
    assert "Year by year:" in out and "FY2031" in out and "Not bought:" in out and "Binding:" in out


def test_plan_writes_csv_and_a_workbook_with_a_plan_sheet_and_a_sheet_per_year(tmp_path, capsys):
    csv_path, xlsx = tmp_path / "plan.csv", tmp_path / "plan.xlsx"
    assert cli.main(["plan", "--plan", "fy2027-hard-market", "--out", str(csv_path), "--no-reasons"]) == 0
    frame = pd.read_csv(csv_path)
    assert list(frame["fiscal_year"]) == [2027, 2028, 2029, 2030, 2031] and "provision_jpy" in frame
    assert cli.main(["plan", "--plan", "fy2027-hard-market", "--out", str(xlsx)]) == 0
    from openpyxl import load_workbook

    assert load_workbook(xlsx).sheetnames == ["plan", "FY2027", "FY2028", "FY2029", "FY2030", "FY2031"]


def test_a_year_that_cannot_comply_exits_3_with_the_plan_printed(write, capsys):
    plan = write("tight.toml", "years = 2\nmax_provision_jpy = 1e6\n")
    cash_only = write("q.csv", "quote_id,kind,counterparty,rating,attachment,limit,rate_on_line\n")
    code = cli.main(["plan", "--plan", str(plan), "--quotes", str(cash_only), "--format", "json", "--no-reasons"])
    data = json.loads(capsys.readouterr().out)
    assert code == 3 and data["status"] == "shortfall" and data["years_short"] == [2027, 2028]
    assert all(y["shortfall_jpy"] > 0 for y in data["plan_years"])


def test_a_bad_plan_file_exits_2_with_one_line_naming_file_and_key(write):
    plan = write("bad.toml", "years = 3\nphase_in = [0.5, 1.0]\n")
    out = run_cli("plan", "--plan", plan, cwd=ROOT)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and str(plan) in out.stderr and "'phase_in'" in out.stderr
    assert "Traceback" not in out.stderr


def test_batch_with_a_plan_writes_a_row_per_exchange_and_year_and_a_summary_per_year(tmp_path, capsys):
    out = tmp_path / "plans.csv"
    profiles = tmp_path / "p.csv"
    text = (DATA / "profiles.csv").read_text().splitlines()
    profiles.write_text("\n".join(text[:4] + [text[4].replace(text[4].split(",")[2], "lots", 1)]) + "\n")
    code = cli.main(["batch", str(profiles), "--plan", "fy2027-five-year-phase-in", "--out", str(out)])
    assert code == 0
    rows = pd.read_csv(out)
    good = rows[rows["status"] != "error"]
    assert len(good) == 3 * 5 and list(good["fiscal_year"].head(5)) == [2027, 2028, 2029, 2030, 2031]
    assert (rows["status"] == "error").sum() == 1 and "customer_assets_jpy" in rows["error"].dropna().iloc[0]
    summary = json.loads(out.with_name("plans.summary.json").read_text())
    by_year = summary["by_year"]
    assert [y["fiscal_year"] for y in by_year] == [2027, 2028, 2029, 2030, 2031]
    for y in by_year:
        mine = good[good["fiscal_year"] == y["fiscal_year"]]
        assert y["total_provisions_jpy"] == pytest.approx(mine["provision_jpy"].sum())
        assert y["total_required_jpy"] == pytest.approx(mine["required_coverage_jpy"].sum())
        assert y["short"] == list(mine[mine["status"] == "shortfall"]["exchange_id"])
    assert "2031" in capsys.readouterr().out


def test_batch_with_a_plan_refuses_options_it_would_ignore(capsys):
    assert cli.main(["batch", "--plan", "fy2027-immediate", "--workers", "2", "--out", "x.csv"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_a_term_policy_with_a_minimum_line_is_one_yes_no_decision_for_its_whole_term():
    """A MILP: T (two years, a 60% minimum line and a flat fee) is cheaper than O per yen but only worth its fee
    when bought big; whatever the solver decides, year 2 repeats year 1's decision and share."""
    prof = profile(annual_trading_volume_jpy=5e11)
    quotes = [layer("O", 0.0, 1.0, 0.03), layer("T", 0.0, 1.0, 0.01, term_years=2, min_share=0.6, fixed_fee_jpy=2e6)]
    plan = Plan(years=2, phase_in=(0.5, 1.0), asset_growth=(0.0,) * 2, liquid_capital_growth=(0.0,) * 2,
                max_provision_jpy=(math.inf,) * 2)
    result = solve_plan(prof, quotes, regime(max_insurance_share=0.8), plan)
    t_shares = [y.solution.share_of("T") for y in result.years]
    assert t_shares[0] == pytest.approx(t_shares[1]) and (t_shares[0] == 0 or t_shares[0] >= 0.6 - 1e-9)
    assert t_shares[0] > 0  # 1% + a ¥2m fee beats 3% on ¥400m+ of cover
    assert [y.fees_jpy for y in result.years] == pytest.approx([2e6, 2e6])
    assert all(verify(y.solution) == [] for y in result.years)


def test_after_year_one_a_term_policy_not_bought_says_it_could_only_be_bought_in_year_one():
    prof = profile(annual_trading_volume_jpy=5e11)
    quotes = [layer("O", 0.0, 1.0, 0.03), layer("T", 0.0, 1.0, 0.5, term_years=2)]
    plan = Plan(years=2, phase_in=(1.0, 1.0), asset_growth=(0.0,) * 2, liquid_capital_growth=(0.0,) * 2,
                max_provision_jpy=(math.inf,) * 2)
    from optimizer.plan import with_reasons

    result = with_reasons(solve_plan(prof, quotes, regime(), plan))
    first, second = ({r["quote_id"]: r["reason"] for r in rows} for rows in result.not_bought)
    assert first["T"].startswith("dearer than cash")
    assert second["T"] == "a 2-year policy is bought in the plan's first year or not at all"


# ---------------------------------------------------------------------------------------------- analyses over years

def hand_case():
    prof = profile(annual_trading_volume_jpy=5e11)
    plan = Plan(years=3, phase_in=(0.4, 1.0, 1.0), asset_growth=(0.0,) * 3, liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(math.inf,) * 3)
    return prof, [layer("Q", 0.0, 1.0, 0.02)], regime(min_cash_share=0.5), plan


def test_a_faster_phase_in_costs_the_present_value_of_the_earlier_share_by_hand():
    """The hand case with no provision limit: year 1 alone holds ¥200m and covers ¥200m at 2% (¥24m); requiring
    all of R in year 1 costs ¥60m instead: ¥36m more, undiscounted (year 1)."""
    from optimizer.plan import phase_in_costs

    rows = phase_in_costs(*hand_case())
    assert [r["fiscal_year"] for r in rows] == [2027]  # year 2 already requires year 3's share
    assert rows[0]["extra_present_value_jpy"] == pytest.approx(36e6, rel=1e-9)


def test_the_provision_frontier_goes_from_short_to_compliant_and_never_gets_dearer_with_more_room():
    from optimizer.plan import provision_frontier

    rows = provision_frontier(*hand_case(), values=[2e8, 2.5e8, 5e8, math.inf])
    assert [r["status"] for r in rows] == ["shortfall", "optimal", "optimal", "optimal"]
    assert rows[0]["total_shortfall_jpy"] == pytest.approx(1e8, rel=1e-9)  # year 2: ¥400m of the ¥500m floor
    assert rows[0]["years_short"] == [2028]
    assert rows[1]["present_value_jpy"] == pytest.approx(28e6 + 60e6 / 1.1 + 60e6 / 1.21, rel=1e-9)
    assert rows[3]["present_value_jpy"] == pytest.approx(24e6 + 60e6 / 1.1 + 60e6 / 1.21, rel=1e-9)
    assert rows[1]["present_value_jpy"] >= rows[2]["present_value_jpy"] >= rows[3]["present_value_jpy"] - 1e-3


def test_a_three_year_policy_breaks_even_at_the_discounted_average_of_the_renewed_rates():
    """O renews at 2%, 2.3%, 2.645% (+15% a year); T covers the same for three years at one rate r. Cash (10%)
    is dearer than both, so the plan covers R with T at share s and O at 1 − s: Σ_t d_t (r·s + o_t·(1 − s)) is
    linear in s, and T is bought while r < Σ d_t o_t / Σ d_t, with d_t = 1.1^−(t−1)."""
    from optimizer.plan import term_break_even

    prof = profile(annual_trading_volume_jpy=5e11)
    quotes = [layer("O", 0.0, 1.0, 0.02), layer("T", 0.0, 1.0, 0.05, term_years=3)]
    plan = Plan(years=3, phase_in=(1.0,) * 3, asset_growth=(0.0,) * 3, liquid_capital_growth=(0.0,) * 3,
                max_provision_jpy=(math.inf,) * 3, renewal_rate_change=0.15)
    d = [1.0, 1 / 1.1, 1 / 1.21]
    expected = sum(di * o for di, o in zip(d, [0.02, 0.023, 0.02645])) / sum(d)
    found = term_break_even(prof, quotes, regime(), plan, "T")
    assert found["break_even_rol"] == pytest.approx(expected, rel=1e-6)


def test_plan_analyses_on_the_command_line(capsys):
    assert cli.main(["plan", "--plan", "fy2027-five-year-phase-in", "--no-reasons", "--analyses",
                     "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)["analyses"]
    assert [r["fiscal_year"] for r in found["phase_in_costs"]] == [2027, 2028, 2029, 2030]
    assert all(r["extra_present_value_jpy"] > 0 for r in found["phase_in_costs"])
    assert found["provision_frontier"][-1]["max_provision_jpy"] is None


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_apps_quote_grid_keeps_a_policys_term(lang):
    from optimizer.scenario import quotes_to_text, text_to_quotes

    quotes = (layer("O", 0.0, 0.5, 0.02), layer("T", 0.5, 0.5, 0.01, term_years=3))
    grid = quotes_to_text(quotes, lang)
    assert list(grid["term_years"]) == ["1", "3"]
    back, problems = text_to_quotes(grid)
    assert problems == [] and back == quotes
    grid.loc[1, "term_years"] = "31"
    _, problems = text_to_quotes(grid)
    assert [p.column for p in problems] == ["term_years"]


def test_a_plan_with_an_integer_of_thousands_of_digits_is_refused_naming_the_file():
    from optimizer.inputs import InputError
    from optimizer.plan_file import plan_from_text

    text = (ROOT / "data" / "plans" / "fy2027-immediate.toml").read_text(encoding="utf-8")
    with pytest.raises(InputError) as err:
        plan_from_text(text.replace("years = 5", "years = " + "9" * 5000), "big.toml")
    assert "big.toml" in str(err.value) and "4,300 digits" in str(err.value)
