"""The Plan page (app_pages/plan.py) through streamlit.testing, and what it stands on: the plan form
(optimizer.plan_file.plan_from_form / plan_to_form) and the plan in the scenario file (optimizer.scenario).
The same page in a real browser: test_app_browser.py."""

import io
import json
import math

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import DATA, ROOT, on_sheet
from optimizer.entry import EntryError
from optimizer.inputs import InputError, load_profiles, load_quotes, load_regime
from optimizer.plan import solve_plan
from optimizer.plan_file import Plan, load_plan, plan_from_dict, plan_from_form, plan_to_dict, plan_to_form
from optimizer.scenario import Scenario, from_json, to_json

APP = str(ROOT / "app.py")
PLAN_PAGE = "app_pages/plan.py"
PHASE_IN = DATA / "plans" / "fy2027-five-year-phase-in.toml"


@pytest.fixture
def at():
    at = on_sheet(AppTest.from_file(APP, default_timeout=180).run(), "bundled")  # page_inputs' sheet
    at.switch_page(PLAN_PAGE).run()
    return at


def page_inputs():
    """What the page starts from: the first real exchange, the bundled quote sheet, the cold-wallet preset, and the
    five-year phase-in plan."""
    return (load_profiles(DATA / "profiles-japan-2025.csv")[0], load_quotes(DATA / "quotes.csv"),
            load_regime(DATA / "regimes" / "cold-wallet.toml"), load_plan(PHASE_IN))


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def money(text: str) -> float:
    return float(text.strip("¥m").replace(",", ""))


def year_table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "fiscal year" in d.value.columns)


def shown(markdown: str) -> str:
    """Markdown source as it reads on the page (what was typed is escaped)."""
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def field(at, name: str, version: str = "0_0"):
    return at.text_input(key=f"plan_{name}_{version}")


# ------------------------------------------------------------------ the page

def test_the_plan_page_shows_the_plan_the_core_solves_on_the_bundled_data(files, at):
    assert not at.exception and not [e.value for e in at.error]
    profile, quotes, regime, plan = page_inputs()
    expected = solve_plan(profile, quotes, regime, plan)
    assert money(metric(at, "Present value")) == pytest.approx(expected.present_value_jpy / 1e6, abs=0.05)
    assert money(metric(at, "After tax")) == pytest.approx(expected.present_value_after_tax_jpy / 1e6, abs=0.05)
    table = year_table(at)
    assert list(table["fiscal year"]) == [f"FY{y}" for y in range(2027, 2032)]
    assert list(table["share of R, %"]) == pytest.approx([20, 40, 60, 80, 100])
    assert list(table["reserve (¥m)"]) == pytest.approx([y.solution.cash_reserve_jpy / 1e6 for y in expected.years])
    assert list(table["provision (¥m)"]) == pytest.approx([y.provision_jpy / 1e6 for y in expected.years])
    assert field(at, "phase_in").value == "20%, 40%, 60%, 80%, 100%"
    assert field(at, "max_provision_jpy").value == "5bn"
    # the chart, and the downloads as the command line writes them
    assert at.get("vega_lite_chart")
    exchange = profile.exchange_id
    csv = pd.read_csv(io.BytesIO(files[f"plan_{exchange}.csv"]))
    assert list(csv["fiscal_year"]) == list(range(2027, 2032))
    assert csv["present_value_jpy"].sum() == pytest.approx(expected.present_value_jpy, rel=1e-9)
    book = pd.read_excel(io.BytesIO(files[f"plan_{exchange}.xlsx"]), sheet_name=None)
    assert list(book)[:2] == ["plan", "FY2027"] and "FY2031" in book


def test_a_preset_fills_the_form_and_an_edit_changes_the_plan(at):
    at.selectbox(key="plan_preset_0").set_value("fy2027-immediate").run()
    assert not at.exception
    assert field(at, "phase_in", "0_1").value == "100%" and field(at, "max_provision_jpy", "0_1").value == ""
    profile, quotes, regime, _plan = page_inputs()
    immediate = load_plan(DATA / "plans" / "fy2027-immediate.toml")
    pv = solve_plan(profile, quotes, regime, immediate).present_value_jpy
    assert money(metric(at, "Present value")) == pytest.approx(pv / 1e6, abs=0.05)
    field(at, "years", "0_1").set_value("3").run()          # typed as people type it
    field(at, "tax_rate", "0_1").set_value("30%").run()
    assert not at.error
    w = at.session_state["workspace"]
    assert w.plan.years == 3 and w.plan.tax_rate == pytest.approx(0.30) and w.plan.phase_in == (1.0, 1.0, 1.0)
    assert len(year_table(at)) == 3
    assert any("changed from the preset" in c.value for c in at.caption)


@pytest.mark.parametrize("typed, words", [
    ("20%, 40%, 60%", "3 values for 5 years"),
    ("20%, 40%, 60%, 80%, 120%", "'120%' is above 100%"),
    ("0.2, 0.4, 0.6, 0.8, 1", "'0.2' is ambiguous"),
])
def test_a_bad_phase_in_is_refused_beside_the_field_and_the_last_result_kept(at, typed, words):
    before = metric(at, "Present value")
    rows = len(year_table(at))
    field(at, "phase_in").set_value(typed).run()
    assert not at.exception
    column = next(c for c in at.columns if any(t.key == "plan_phase_in_0_0" for t in c.text_input))
    assert [e.value for e in column.error] and words in shown(column.error[0].value)   # in the field's column, under it
    assert len(at.error) == 1
    assert metric(at, "Present value") == before and len(year_table(at)) == rows
    assert at.session_state["workspace"].plan == load_plan(PHASE_IN)
    assert any("Results use the last valid plan." in c.value for c in at.caption)


def test_the_plan_is_saved_in_the_scenario_and_opens_again_with_the_same_answer(at, tmp_path, capsys):
    field(at, "phase_in").set_value("50%, 60%, 70%, 80%, 100%").run()
    field(at, "max_provision_jpy").set_value("20億").run()
    field(at, "discount_rate").set_value("6%").run()
    assert not at.error
    pv = metric(at, "Present value")
    saved = at.session_state["workspace"].scenario()
    text = to_json(saved)
    assert json.loads(text)["plan"]["phase_in"] == [0.5, 0.6, 0.7, 0.8, 1.0]
    # a fresh session opens the file: the form shows the saved plan, the page the same answer
    fresh = AppTest.from_file(APP, default_timeout=180).run()
    fresh.sidebar.file_uploader(key="upload_scenario").upload("s.json", text.encode(), "application/json").run()
    fresh.switch_page(PLAN_PAGE).run()
    assert not fresh.exception and not fresh.error
    assert fresh.selectbox(key="plan_preset_1").value == "__scenario__"
    assert field(fresh, "phase_in", "1_0").value == "50%, 60%, 70%, 80%, 100%"
    assert field(fresh, "max_provision_jpy", "1_0").value == "2bn"
    assert field(fresh, "discount_rate", "1_0").value == "6%"
    assert metric(fresh, "Present value") == pv
    # and the command line plans the saved scenario with its plan
    from optimizer import cli

    path = tmp_path / "s.json"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    code = cli.main(["plan", "--scenario", str(path), "--format", "json", "--no-reasons"])
    out = json.loads(capsys.readouterr().out)
    assert code == (3 if out["status"] == "shortfall" else 0)
    assert out["plan_years"][0]["required_share"] == 0.5 and out["discount_rate"] == 0.06
    assert money(pv) == pytest.approx(out["present_value_jpy"] / 1e6, abs=0.05)


def test_the_japanese_plan_page_reads_in_japanese(at):
    at.sidebar.radio(key="lang").set_value("ja").run()
    assert not at.exception and not at.error
    assert [m.label for m in at.metric] == ["現在価値", "税引後", "積立額の合計", "不足する年数"]
    assert "年度" in year_table_ja(at).iloc[0, 0]


def year_table_ja(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "年度" in d.value.columns)


# ------------------------------------------------------------------ the form and the file, below the page

def test_the_plan_form_shows_every_preset_as_typed_and_reads_it_back_exactly():
    for path in sorted((DATA / "plans").glob("*.toml")):
        plan = load_plan(path)
        for lang in ("en", "ja"):
            text = plan_to_form(plan, lang)
            back, errors = plan_from_form(text, plan.release, plan)
            assert errors == {} and back == plan, (path.name, lang, errors)
        assert plan_from_dict(plan_to_dict(plan), str(path)) == plan


def test_the_plan_form_takes_values_as_people_type_them():
    base = Plan()
    values = {"start_year": "２０２８", "years": "3", "phase_in": "30%、60%、100%", "asset_growth": "-5%",
              "liquid_capital_growth": "0, 10%, ▲5%", "renewal_rate_change": "15", "tax_rate": "30.62%",
              "discount_rate": "", "max_provision_jpy": "50億; ; 2,000,000,000"}
    plan, errors = plan_from_form(values, True, base)
    assert errors == {}
    assert plan.start_year == 2028 and plan.years == 3 and plan.phase_in == (0.3, 0.6, 1.0)
    assert plan.asset_growth == (-0.05,) * 3 and plan.liquid_capital_growth == (0.0, 0.1, -0.05)
    assert plan.renewal_rate_change == pytest.approx(0.15) and plan.tax_rate == pytest.approx(0.3062)
    assert plan.discount_rate == "cost_of_capital" and plan.release
    assert plan.max_provision_jpy == (5e9, math.inf, 2e9)


@pytest.mark.parametrize("name, typed, words", [
    ("years", "31", "'31' is not a whole number of years from 1 to 30"),
    ("years", "2.5", "not a whole number of years"),
    ("start_year", "27", "'27' is not a fiscal year from 2000 to 2100"),
    ("phase_in", "20%, 40%", "2 values for 5 years"),
    ("phase_in", "-20%", "negative values are not allowed"),
    ("asset_growth", "-100%", "'-100%' is outside -99% … 1000% a year"),
    ("tax_rate", "100%", "'100%' is above 99%"),
    ("max_provision_jpy", "-5bn", "negative values are not allowed"),
    ("max_provision_jpy", "5bn,6bn", "commas only group thousands"),
    ("max_provision_jpy", "5bn; 6bn", "2 values for 5 years"),
])
def test_the_plan_form_refuses_what_could_mislead_at_its_field(name, typed, words):
    plan = load_plan(PHASE_IN)
    values = plan_to_form(plan) | {name: typed}
    got, errors = plan_from_form(values, False, plan)
    assert got is None and list(errors) == [name] and isinstance(errors[name], EntryError)
    assert words in str(errors[name])


def test_a_plan_shorter_than_a_policys_term_is_refused_at_years():
    import dataclasses

    quotes = load_quotes(DATA / "quotes.csv")
    quotes[1] = dataclasses.replace(quotes[1], term_years=3)
    values = plan_to_form(load_plan(PHASE_IN)) | {"years": "2", "phase_in": "50%, 100%"}
    got, errors = plan_from_form(values, False, Plan(), quotes)
    assert got is None and "quote Q02 runs 3 years, longer than this plan" in str(errors["years"])


def test_a_scenario_without_a_plan_is_written_as_before_and_one_with_a_plan_reads_back():
    profile, quotes, regime, plan = page_inputs()
    plain = json.loads(to_json(Scenario(profile, tuple(quotes), regime)))
    assert "plan" not in plain and plain["scenario_version"] == 2
    limits = Plan(years=3, phase_in=(0.2, 0.5, 1.0), asset_growth=(0.0, 0.1, 0.2), liquid_capital_growth=(0.0,) * 3,
                  max_provision_jpy=(1e9, math.inf, 3e9))
    for p in (plan, limits):
        back = from_json(to_json(Scenario(profile, tuple(quotes), regime, plan=p)), "s.json")
        assert back.plan == p


@pytest.mark.parametrize("plan, words", [
    ({"years": 5, "phase_in": [0.2, 0.4]}, "s.json (plan), column 'phase_in'"),
    ({"years": 31}, "column 'years'"),
    ({"phase_in": 1.5}, "column 'phase_in'"),
    ({"max_provision_jpy": -1.0}, "column 'max_provision_jpy'"),
    ({"colour": "red"}, "column 'colour'"),
    ("five years", "column 'plan'"),
])
def test_a_scenario_with_a_bad_plan_is_refused_naming_the_key(plan, words):
    profile, quotes, regime, _plan = page_inputs()
    data = json.loads(to_json(Scenario(profile, tuple(quotes), regime)))
    data["plan"] = plan
    with pytest.raises(InputError) as err:
        from_json(json.dumps(data), "s.json")
    assert words in str(err.value)


# ------------------------------------------------------------------ the CFO page's reserve assets

ASSETS = DATA / "assets-japan.csv"


def on_assets(edit_bg_mega: str | None = None):
    """A fresh session (a real exchange, the Japanese market's sheet) under cold-wallet-assets, amounts in ¥: the CFO
    page's assets table starts from the bundled assets; `edit_bg_mega` types a most amount into BG-MEGA's row as a
    user does. Then the Plan page."""
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.sidebar.selectbox(key="unit").set_value("¥").run()
    at.selectbox(key="regime_select_0").set_value("cold-wallet-assets").run()
    w = at.session_state["workspace"]
    if edit_bg_mega is not None:
        row = list(w.asset_text["asset_id"]).index("BG-MEGA")
        at.session_state[f"asset_editor_{w.asset_version}"] = {
            "edited_rows": {row: {"max_amount_jpy": edit_bg_mega}}, "added_rows": [], "deleted_rows": []}
        at.run()
    assert not at.exception and not [e.value for e in at.error]
    at.switch_page(PLAN_PAGE).run()
    assert not at.exception and not [e.value for e in at.error]
    return at


def plan_cli(*args) -> dict:
    from conftest import run_cli

    out = run_cli("plan", *args, "--format", "json", "--no-reasons", cwd=ROOT)
    assert out.returncode in (0, 3), out.stderr
    return json.loads(out.stdout)


def yen_of(text: str) -> int:
    import re

    return int(re.sub(r"[^\d-]", "", text))


def chart_parts(at) -> set[str]:
    """What the Plan page's chart stacks (the 'what' of every bar)."""
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[0]
    frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets]
    return {v for f in frames if "what" in f.columns for v in f["what"]}


def assert_page_is(at, out: dict) -> None:
    """The page's present value, provisions, assets held and committed per year: the command line's `out`."""
    assert yen_of(metric(at, "Present value")) == round(out["present_value_jpy"])
    assert yen_of(metric(at, "Provisions in total")) == round(out["total_provisions_jpy"])
    table, years = year_table(at), out["plan_years"]
    assert list(table["fiscal year"]) == [f"FY{y['fiscal_year']}" for y in years]
    for column, key in (("provision (¥)", "provision_jpy"), ("reserve (¥)", "cash_reserve_jpy"),
                        ("held in deposits and JGBs (¥)", "reserve_assets_jpy"),
                        ("committed by banks and parents (¥)", "committed_jpy"),
                        ("fees of guarantees and lines (¥)", "asset_fees_jpy"),
                        ("reserve held (¥)", "reserve_held_jpy"), ("annual cost (¥)", "annual_cost_jpy")):
        assert list(table[column]) == pytest.approx([y[key] for y in years], rel=1e-9, abs=1e-3), column


def test_the_plan_page_plans_with_the_cfo_pages_reserve_assets_as_plan_assets_does():
    at = on_assets()
    w = at.session_state["workspace"]
    assert w.quote_sheet == "quotes-japan.csv" and w.plan == load_plan(PHASE_IN)
    assert not any("left out" in c.value for c in at.caption)
    assert any("Reserve assets: the CFO page's table (**8**)" in c.value for c in at.caption)
    args = ["--profiles", DATA / "profiles-japan-2025.csv", "--exchange", w.exchange_id, "--quotes",
            DATA / "quotes-japan.csv", "--regime", "cold-wallet-assets", "--plan", PHASE_IN]
    out, without = plan_cli(*args, "--assets", ASSETS), plan_cli(*args)
    assert out["present_value_jpy"] < without["present_value_jpy"]   # the bank guarantee is worth having
    assert sum(y["committed_jpy"] for y in out["plan_years"]) > 0
    assert_page_is(at, out)
    assert {"cash", "bank guarantees", "insurance"} <= chart_parts(at)


def test_a_plan_holding_jgbs_builds_them_by_provisions_and_plan_scenario_gives_the_pages_answer(tmp_path):
    """BG-MEGA capped at ¥100m on the CFO page: the plan holds JGBs, which the provisions build (the reserve held,
    cash and JGBs, never falls); the saved scenario planned by the command line gives the same answer."""
    at = on_assets("1億")
    sc = at.session_state["workspace"].scenario()
    assert {a.asset_id: a for a in sc.assets}["BG-MEGA"].max_amount_jpy == 1e8
    path = tmp_path / "s.json"
    path.write_text(to_json(sc), encoding="utf-8")
    out = plan_cli("--scenario", path)
    years = out["plan_years"]
    assert all(y["reserve_assets_jpy"] > 0 for y in years)   # JGBs held every year …
    assert sum(y["provision_jpy"] for y in years) == pytest.approx(out["final_reserve_jpy"])   # … built by provisions
    assert_page_is(at, out)
    assert "Japanese government bonds" in chart_parts(at)
    # and as `plan --assets` on the same table, written as a file
    from optimizer.scenario import assets_to_frame

    table = tmp_path / "assets.csv"
    assets_to_frame(sc.assets).to_csv(table, index=False)
    again = plan_cli("--profiles", DATA / "profiles-japan-2025.csv", "--exchange", sc.profile.exchange_id,
                     "--quotes", DATA / "quotes-japan.csv", "--regime", "cold-wallet-assets", "--plan", PHASE_IN,
                     "--assets", table)
    assert again["present_value_jpy"] == pytest.approx(out["present_value_jpy"], rel=1e-12)
    assert [y["provision_jpy"] for y in again["plan_years"]] == pytest.approx([y["provision_jpy"] for y in years])


def test_the_japanese_plan_page_names_the_reserve_assets_in_japanese():
    at = on_assets()
    at.sidebar.radio(key="lang").set_value("ja").run()
    assert not at.exception and not at.error
    table = year_table_ja(at)
    assert "銀行・親会社のコミット額（円）" in table.columns and "預金・国債の保有額（円）" in table.columns
    assert "銀行保証" in chart_parts(at)
