"""The CFO page's reserve assets (AppTest): the table typed like the quote grid, the answer with what the assets
save against cash and cover alone, the assets in the scenario file."""

import json
import re
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from conftest import DATA, ROOT

APP = str(ROOT / "app.py")
ASSETS = DATA / "assets-japan.csv"


@pytest.fixture
def at():
    return AppTest.from_file(APP, default_timeout=120).run()


def ws(at):
    return at.session_state["workspace"]


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def shown(markdown: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def errors(at) -> list[str]:
    return [shown(e.value) for e in at.error]


def yen(text: str) -> int:
    """A metric in the ¥ unit (¥1,234 or 1,234円) as whole yen."""
    return int(re.sub(r"[^\d-]", "", text))


def choose_regime(at, preset: str):
    at.selectbox(key="regime_select_0").set_value(preset).run()
    assert not at.exception
    return at


def edit_assets(at, edits: dict, added: list | None = None):
    """Edit the assets table as a user does: cells typed as text."""
    at.session_state[f"asset_editor_{ws(at).asset_version}"] = {"edited_rows": edits, "added_rows": added or [],
                                                                 "deleted_rows": []}
    return at.run()


def asset_table(at):
    return next(d.value for d in at.dataframe if "asset_id" in d.value.columns)


def row_of(at, asset_id: str) -> int:
    return list(ws(at).asset_text["asset_id"]).index(asset_id)


def cli_solve(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "optimizer", "solve", "--format", "json", *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_assets_table_starts_empty_under_cold_wallet_and_from_the_bundled_assets_under_cold_wallet_assets(at):
    from optimizer.inputs import load_assets

    assert ws(at).regime_name == "cold-wallet" and ws(at).last_assets == ()
    assert asset_table(at).empty
    assert not any(m.label == "Saved by the reserve assets" for m in at.metric)   # the answer is the one without
    choose_regime(at, "cold-wallet-assets")
    bundled = load_assets(ASSETS)
    assert ws(at).last_assets == tuple(bundled)
    assert list(asset_table(at)["asset_id"]) == [a.asset_id for a in bundled]
    sentence = next(m.value for m in at.markdown if "Cheapest compliant mix" in m.value)
    assert "bank guarantees" in sentence
    used = next(m.value for m in at.markdown if "Reserve assets used" in m.value)
    assert "bank guarantees" in used and "save" in used
    assert any("Reserve assets: **assets-japan.csv, 8 assets**" in c.value for c in at.caption)
    choose_regime(at, "cold-wallet")   # untouched: the table follows the preset back to empty
    assert ws(at).last_assets == () and not any(m.label == "Saved by the reserve assets" for m in at.metric)


@pytest.mark.parametrize("column, typed, header, words", [
    ("haircut", "abc", "haircut, %", "not a number"),
    ("rate", ".4", "yield or fee, % a year", "ambiguous"),
    ("max_amount_jpy", "-1", "most that can be held or committed, ¥", "negative"),
    ("haircut", "100", "haircut, %", "leaves no credit"),
    ("counterparty", "Megabank", "bank or parent", "owed by the state"),
    ("rating", "AA", "rating", "owed by the state"),
])
def test_a_bad_asset_cell_is_refused_naming_its_row_and_column_and_the_answer_stays(at, column, typed, header,
                                                                                     words):
    choose_regime(at, "cold-wallet-assets")
    before, assets = metric(at, "Annual cost"), ws(at).last_assets
    edit_assets(at, {0: {column: typed}})
    assert not at.exception
    assert any(f"Row 1 (JGB-3M) · {header}" in m and words in m for m in errors(at)), errors(at)
    assert metric(at, "Annual cost") == before and ws(at).last_assets == assets
    assert asset_table(at)["status"].iloc[0] == "⚠"


def test_a_bad_asset_cell_is_refused_in_japanese_naming_the_column(at):
    choose_regime(at, "cold-wallet-assets")
    at.sidebar.radio(key="lang").set_value("ja").run()
    edit_assets(at, {row_of(at, "BG-MEGA"): {"max_amount_jpy": "abc"}})
    assert any("6行目（BG-MEGA）・保有・コミットの上限額（円）" in m for m in errors(at)), errors(at)


def test_a_guarantee_at_a_fee_of_0_is_used_only_after_confirmation(at):
    choose_regime(at, "cold-wallet-assets")
    before = metric(at, "Annual cost")
    i = row_of(at, "BG-MEGA")
    edit_assets(at, {i: {"rate": "0"}})
    assert any("fee of 0%" in w.value for w in at.warning)
    assert metric(at, "Annual cost") == before and asset_table(at)["status"].iloc[i] == "?"
    at.button(key="asset_confirm_BG-MEGA_0").click().run()
    assert not at.exception
    assert {a.asset_id: a for a in ws(at).last_assets}["BG-MEGA"].fee_rate == 0.0
    assert float(metric(at, "Annual cost").strip("¥m").replace(",", "")) < \
        float(before.strip("¥m").replace(",", ""))


def test_rates_and_amounts_are_typed_as_in_the_quote_grid_and_an_edit_is_marked(at):
    choose_regime(at, "cold-wallet-assets")
    i = row_of(at, "BG-MEGA")
    edit_assets(at, {i: {"rate": "0.3%", "max_amount_jpy": "50億"}})
    assert not errors(at)
    bg = {a.asset_id: a for a in ws(at).last_assets}["BG-MEGA"]
    assert bg.fee_rate == pytest.approx(0.003) and bg.max_amount_jpy == 5e9
    assert ws(at).changed_assets() == {"BG-MEGA": "changed"} and asset_table(at)["status"].iloc[i] == "✎"
    assert any("8 assets, 1 edited" in c.value for c in at.caption)
    choose_regime(at, "cold-wallet")   # an edited table stays whatever the preset
    assert {a.asset_id: a for a in ws(at).last_assets}["BG-MEGA"].max_amount_jpy == 5e9


def test_an_asset_added_at_the_bottom_is_held_and_marked_new(at):
    choose_regime(at, "cold-wallet-assets")
    edit_assets(at, {}, added=[{"asset_id": "BG-OTHER", "kind": "bank_guarantee", "counterparty": "Other bank",
                                "rating": "AA", "rate": "0.2%", "max_amount_jpy": "30億"}])
    assert not errors(at) and ws(at).changed_assets() == {"BG-OTHER": "new"}
    assert asset_table(at)["status"].iloc[-1] == "＋"
    mix = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert "BG-OTHER" in set(mix["source"])


def test_the_saving_is_the_command_lines_solve_with_and_without_the_assets_to_the_yen(at):
    at.sidebar.selectbox(key="unit").set_value("¥").run()
    choose_regime(at, "cold-wallet-assets")
    exchange = ws(at).exchange_id
    assert ws(at).quote_sheet == "quotes-japan.csv"   # a real exchange starts on the Japanese market's sheet
    args = ["--profiles", str(DATA / "profiles-japan-2025.csv"), "--exchange", exchange, "--quotes",
            str(DATA / "quotes-japan.csv"), "--regime", "cold-wallet-assets"]
    with_assets = cli_solve(*args, "--assets", str(ASSETS))
    without = cli_solve(*args)
    assert with_assets["status"] == without["status"] == "optimal"
    saving = without["annual_cost_jpy"] - with_assets["annual_cost_jpy"]
    assert saving > 1e8   # the bundled guarantee is worth having for bitFlyer
    assert yen(metric(at, "Saved by the reserve assets")) == round(saving)
    assert yen(metric(at, "Cost without the reserve assets")) == round(without["annual_cost_jpy"])
    assert yen(metric(at, "Annual cost")) == round(with_assets["annual_cost_jpy"])
    assert yen(metric(at, "Committed by banks and parents")) == round(with_assets["committed_jpy"])


def test_without_the_assets_an_exchange_short_of_capital_says_the_assets_make_it_comply(at):
    from optimizer import solve
    from optimizer.inputs import load_assets, load_profiles, load_quotes, load_regime

    real = load_profiles(DATA / "profiles-japan-2025.csv")
    quotes, regime = load_quotes(DATA / "quotes.csv"), load_regime(DATA / "regimes" / "cold-wallet-assets.toml")
    assets = load_assets(ASSETS)
    short = next(p for p in real if solve(p, quotes, regime).status == "shortfall"
                 and solve(p, quotes, regime, assets=assets).status == "optimal")
    choose_regime(at, "cold-wallet-assets")
    at.selectbox(key="exchange_choice_0").set_value(short.exchange_id).run()
    used = next(m.value for m in at.markdown if "Reserve assets used" in m.value)
    assert "Without the reserve assets the requirement cannot be met" in used
    assert metric(at, "Saved by the reserve assets") == "—"   # no saving shown where one mix falls short


def test_the_assets_go_into_the_scenario_file_and_come_back_with_their_edits_counted(at, files, tmp_path):
    choose_regime(at, "cold-wallet-assets")
    edit_assets(at, {row_of(at, "BG-MEGA"): {"max_amount_jpy": "50億"}})
    at.segmented_control(key="cfo_view").set_value("Downloads").run()
    assert not at.exception
    data = files[f"scenario_{ws(at).exchange_id}.json"]
    saved = json.loads(data)
    assert saved["asset_sheet"] == "assets-japan.csv" and len(saved["assets"]) == 8
    assets, cost = ws(at).last_assets, metric(at, "Annual cost")
    path = tmp_path / "scenario.json"
    path.write_bytes(data)
    assert cli_solve("--scenario", str(path))["annual_cost_jpy"] / 1e6 == \
        pytest.approx(float(cost.strip("¥m").replace(",", "")), abs=0.05)

    again = AppTest.from_file(APP, default_timeout=120).run()
    again.sidebar.file_uploader(key="upload_scenario").upload("s.json", data, "application/json").run()
    assert not again.exception and not errors(again)
    assert ws(again).last_assets == assets and ws(again).asset_sheet == "assets-japan.csv"
    assert ws(again).changed_assets() == {"BG-MEGA": "changed"}
    assert any("assets-japan.csv, 8 assets, 1 edited" in c.value for c in again.caption)
    assert metric(again, "Annual cost") == cost


def test_not_bought_gives_each_reserve_asset_not_held_its_reason_in_words(at):
    choose_regime(at, "cold-wallet-assets")
    at.segmented_control(key="cfo_view").set_value("Not bought").run()
    assert not at.exception
    table = next(t.value for t in at.table if t.value.index.name == "asset").reset_index()
    why = dict(zip(table["asset"], table["why not"]))
    assert "LINE-MONEX" in why and "offered only to coincheck" in why["LINE-MONEX"]
    assert "parent-company guarantees no credit" in why["PG-PARENT"]
    assert "BG-MEGA" not in why   # held


def test_the_broker_page_prices_on_the_cfo_pages_scenario_with_its_assets(at):
    from optimizer import solve

    choose_regime(at, "cold-wallet-assets")
    cfo_cost = metric(at, "Annual cost")
    at.switch_page("app_pages/broker.py").run()
    assert not at.exception and metric(at, "Annual cost") == cfo_cost
    sc = ws(at).scenario()
    assert sc.assets and solve(sc.profile, sc.quotes, sc.regime, assets=sc.assets).annual_cost_jpy / 1e6 == \
        pytest.approx(float(cfo_cost.strip("¥m").replace(",", "")), abs=0.05)


def test_the_tower_draws_each_reserve_asset_held_and_colours_its_slice_of_r():
    from optimizer import charts, solve
    from optimizer.i18n import Unit
    from optimizer.inputs import load_assets, load_profiles, load_quotes, load_regime

    p = load_profiles(DATA / "profiles-japan-2025.csv")[0]
    s = solve(p, load_quotes(DATA / "quotes.csv"), load_regime(DATA / "regimes" / "cold-wallet-assets.toml"),
              assets=load_assets(ASSETS))
    held = {h.asset.asset_id: h.credit_jpy for h in s.holdings if h.credit_jpy > 0}
    assert held   # the bank guarantee
    bands = charts.layer_bands(s)
    for asset_id, credit in held.items():
        row = bands[bands["payer"] == asset_id].iloc[0]
        assert (row["y0"], row["y1"]) == (0.0, credit)
    spec = charts.tower_chart(s, Unit()).to_dict()
    domains = [scale["domain"] for scale in _scales(spec)]
    assert any(set(held) <= set(d) for d in domains), domains   # every payer of the allocation has its colour
    assert set(held) <= set(s.tower()["payer"])


def _scales(spec):
    """Every colour scale of a Vega-Lite spec with an explicit domain."""
    stack = [spec]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            color = v.get("color")
            if isinstance(color, dict) and isinstance(color.get("scale"), dict) and "domain" in color["scale"]:
                yield color["scale"]
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def test_what_holds_the_answer_names_the_asset_caps_in_words_never_identifiers(at):
    choose_regime(at, "cold-wallet-assets")
    details = next(c.value for c in at.caption if "What holds the answer" in c.value)
    assert "the cap on credit from bank guarantees (50% of R)" in details and "max" not in details, details
    edit_assets(at, {row_of(at, "BG-MEGA"): {"max_amount_jpy": "50億"}})
    details = next(c.value for c in at.caption if "What holds the answer" in c.value)
    assert "BG-MEGA held or committed in full" in details and "largest share" not in details.split(";")[0], details


def test_the_downloads_hold_the_reserve_assets_the_page_shows(at, files):
    import io

    import pandas as pd

    choose_regime(at, "cold-wallet-assets")
    at.segmented_control(key="cfo_view").set_value("Downloads").run()
    exchange = ws(at).exchange_id
    mix = pd.read_csv(io.BytesIO(files[f"mix_{exchange}.csv"]))
    held = {h.asset.asset_id for h in cached(at).holdings}
    assert held and held <= set(mix["source"])
    assert mix["annual_cost_jpy"].sum() / 1e6 == pytest.approx(float(metric(at, "Annual cost").strip("¥m")
                                                                     .replace(",", "")), abs=0.05)
    book = pd.read_excel(io.BytesIO(files[f"reserve_{exchange}.xlsx"]), sheet_name=None)
    # the assets offered to this exchange (LINE-MONEX is offered to coincheck only)
    assert list(book["assets"]["asset_id"]) == [a.asset_id for a in ws(at).last_assets if a.offered_to(exchange)]


def cached(at):
    """The page's answer, solved again from the page's scenario (with its assets)."""
    from optimizer import solve

    sc = ws(at).scenario()
    return solve(sc.profile, sc.quotes, sc.regime, assets=sc.assets)


def test_the_batch_page_runs_with_the_cfo_pages_reserve_assets_as_batch_assets_does(at, files):
    import io

    import pandas as pd

    from optimizer import batch

    choose_regime(at, "cold-wallet-assets")
    at.switch_page("app_pages/batch.py").run()
    assert any("reserve assets: **8**" in c.value for c in at.caption)
    at.button(key="batch_run").click().run()
    assert not at.exception and not errors(at)
    page = pd.read_csv(io.BytesIO(files["batch_results.csv"]))
    assert ws(at).quote_sheet == "quotes-japan.csv"   # the page's sheet: a real exchange starts on it
    cli = batch.run(DATA / "profiles-japan-2025.csv", DATA / "quotes-japan.csv",
                    DATA / "regimes" / "cold-wallet-assets.toml", workers=1, assets=ASSETS).results
    assert list(page["exchange_id"]) == list(cli["exchange_id"])
    assert page["annual_cost_jpy"].tolist() == pytest.approx(cli["annual_cost_jpy"].tolist(), rel=1e-9)
    assert page["bank_guarantee_jpy"].sum() > 0
    at.switch_page("app_pages/cfo.py").run()
    edit_assets(at, {row_of(at, "BG-MEGA"): {"rate": "0.5%"}})
    at.switch_page("app_pages/batch.py").run()
    assert any("Stale" in w.value for w in at.warning)   # an edited asset makes the results old


def test_the_broker_page_shows_the_market_page_only_where_it_is_asked_for(at):
    """The Broker page imports the Market page's module for its clearing prices: the first import in a server
    process drew the whole Market page above the Broker's (found while checking every page with reserve assets)."""
    sys.modules.pop("app_pages.market", None)   # as in a server process that has not shown either page yet
    at.switch_page("app_pages/broker.py").run()
    assert not at.exception
    titles = [m.value for m in at.markdown if m.value.startswith("####")]
    assert "#### Where does each layer get bought?" in titles
    assert "#### The market: every exchange at once" not in titles
    at.switch_page("app_pages/market.py").run()
    assert "#### The market: every exchange at once" in [m.value for m in at.markdown]


def _japan_args(exchange: str) -> list[str]:
    """The command line's inputs for the page's scenario under cold-wallet-assets (a real exchange starts on the
    Japanese market's sheet)."""
    return ["--profiles", str(DATA / "profiles-japan-2025.csv"), "--exchange", exchange, "--quotes",
            str(DATA / "quotes-japan.csv"), "--regime", "cold-wallet-assets"]


def test_the_risk_view_counts_the_cfo_pages_reserve_assets_as_risk_assets_does(at, tmp_path):
    from conftest import run_cli
    from optimizer.i18n import Unit
    from optimizer.scenario import to_json

    from app_pages.risk import APP_SCENARIOS

    at.sidebar.selectbox(key="unit").set_value("¥").run()
    choose_regime(at, "cold-wallet-assets")
    at.segmented_control(key="cfo_view").set_value("Risk").run()
    assert not at.exception and not errors(at)
    assert ws(at).quote_sheet == "quotes-japan.csv"
    assert not any("left out" in c.value for c in at.caption)
    table = next(d.value for d in at.dataframe if "metric" in d.value.columns).set_index("metric")
    u = Unit("¥")
    exhausted = "probability a year's retained loss exceeds the reserve (cash and the reserve assets that pay that year)"
    unfunded = "expected unfunded loss (retained beyond cash and the reserve assets that pay)"
    paid = next(d.value for d in at.dataframe if "expected paid a year (¥)" in d.value.columns)
    for mix, column in (("regulatory", "regulatory mix"), ("risk", "risk-optimal mix")):
        out = run_cli("risk", *_japan_args(ws(at).exchange_id), "--assets", ASSETS, "--scenarios", APP_SCENARIOS,
                      "--mix", mix, "--format", "json", cwd=ROOT)
        assert out.returncode == 0, out.stderr
        risk = json.loads(out.stdout)["risk"]
        assert table.loc["annual cost", column] == u(risk["annual_cost_jpy"])
        assert table.loc["TVaR 99% of retained loss (mean of the worst 1%)", column] == \
            f"{u(risk['tvar_jpy'])} ± {u(risk['tvar_se_jpy'])}"
        assert table.loc[exhausted, column] == \
            f"{100 * risk['prob_reserve_exhausted']:.2f}% ± {100 * risk['prob_reserve_exhausted_se']:.2f}%"
        assert table.loc[unfunded, column] == \
            f"{u(risk['expected_unfunded_jpy'])} ± {u(risk['expected_unfunded_se_jpy'])}"
        mine = paid[paid["mix"] == column]
        assert risk["assets"] and list(mine["asset"]) == [a["asset_id"] for a in risk["assets"]]
        assert list(mine["expected paid a year (¥)"]) == \
            [f"{u(a['expected_paid_jpy'])} ± {u(a['expected_paid_se_jpy'])}" for a in risk["assets"]]
    assert "BG-MEGA" in set(paid["asset"])   # the bank guarantee the cheapest mix holds
    sentence = next(m.value for m in at.markdown if "Risk-optimal mix" in m.value)
    assert "BG-MEGA" in shown(sentence)   # the mix's words name what it holds
    # the saved scenario holds the assets: `risk --scenario FILE` gives the page's figures too
    path = tmp_path / "s.json"
    path.write_text(to_json(ws(at).scenario()), encoding="utf-8")
    out = run_cli("risk", "--scenario", path, "--scenarios", APP_SCENARIOS, "--format", "json", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    risk = json.loads(out.stdout)["risk"]
    assert table.loc[unfunded, "regulatory mix"] == \
        f"{u(risk['expected_unfunded_jpy'])} ± {u(risk['expected_unfunded_se_jpy'])}"


def test_the_japanese_risk_view_names_the_reserve_assets_in_japanese(at):
    choose_regime(at, "cold-wallet-assets")
    at.sidebar.radio(key="lang").set_value("ja").run()
    at.segmented_control(key="cfo_view_ja").set_value("Risk").run()
    assert not at.exception and not errors(at)
    paid = next(d.value for d in at.dataframe if "資産" in d.value.columns)
    assert "BG-MEGA" in set(paid["資産"]) and "銀行・親会社" in paid.columns
    assert any("期待未充当損失" in r for r in next(d.value for d in at.dataframe if "指標" in d.value.columns)["指標"])


def test_the_market_page_runs_with_the_cfo_pages_reserve_assets_as_market_assets_does(at, tmp_path):
    from conftest import run_cli
    from optimizer.i18n import Unit

    at.sidebar.selectbox(key="unit").set_value("¥").run()
    choose_regime(at, "cold-wallet-assets")
    at.switch_page("app_pages/market.py").run()
    assert not any("left out" in c.value for c in at.caption)
    at.button(key="market_run").click().run()
    assert not at.exception and not errors(at)
    out = run_cli("market", "--regime", "cold-wallet-assets", "--assets", ASSETS, "--out", tmp_path / "m.csv",
                  "--format", "json", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert yen(metric(at, "Total annual cost")) == round(summary["totals"]["annual_cost_jpy"])
    u = Unit("¥")
    table = next(d.value for d in at.dataframe if "committed" in d.value.columns)
    promised = {r["counterparty"]: r["committed_jpy"] for r in summary["counterparties"]}
    assert sum(promised.values()) > 0   # the megabank's guarantees use its capacity
    assert dict(zip(table["counterparty"], table["committed"])) == {c: u.number(v) for c, v in promised.items()}
    at.switch_page("app_pages/cfo.py").run()
    edit_assets(at, {row_of(at, "BG-MEGA"): {"rate": "0.5%"}})
    at.switch_page("app_pages/market.py").run()
    assert any("Stale" in w.value and "reserve assets" in w.value for w in at.warning)
