"""Scenarios and the app's workspace (optimizer/scenario.py): the text grid, the file, the CLI's --scenario."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, run_cli
from optimizer import load_profiles, load_quotes, load_regime, solve
from optimizer.inputs import InputError
from optimizer.scenario import (
    Scenario, Workspace, from_json, parse_own, quotes_to_text, text_to_quotes, to_json,
)

PROFILES = load_profiles(DATA / "profiles.csv")
QUOTES = load_quotes(DATA / "quotes.csv")
REGIMES = {p.stem: load_regime(p) for p in (DATA / "regimes").glob("*.toml")}


def workspace() -> Workspace:
    return Workspace.new(PROFILES, QUOTES, REGIMES, "securities-style")


# ------------------------------------------------------------------ the text grid

def test_the_bundled_sheet_round_trips_through_the_text_grid_in_both_languages():
    for lang in ("en", "ja"):
        quotes, problems = text_to_quotes(quotes_to_text(QUOTES, lang))
        assert problems == [] and quotes == tuple(QUOTES)


def test_rates_are_shown_in_percent_and_layers_of_r_with_a_percent_sign():
    grid = quotes_to_text(QUOTES)
    assert grid.loc[0, "rate_on_line"] == "4%" and grid.loc[0, "limit"] == "25%"
    assert grid.loc[5, "limit"] == "5bn" and quotes_to_text(QUOTES, "ja").loc[5, "limit"] == "50億"


def test_every_bad_cell_is_reported_with_its_row_and_column():
    grid = quotes_to_text(QUOTES)
    grid.loc[0, "rate_on_line"] = ".05"
    grid.loc[2, "limit"] = "abc"
    grid.loc[5, "attachment"] = "-1"
    quotes, problems = text_to_quotes(grid)
    assert quotes is None
    assert [(p.row, p.quote_id, p.column) for p in problems] == [(1, "Q01", "rate_on_line"), (3, "Q03", "limit"),
                                                                 (6, "Q06", "attachment")]


def test_a_percent_in_a_yen_layer_says_which_basis_it_is():
    grid = quotes_to_text(QUOTES)
    grid.loc[5, "limit"] = "25%"
    _, problems = text_to_quotes(grid)
    assert "basis" in problems[0].message


def test_an_amount_in_a_layer_of_r_says_which_basis_it_is():
    grid = quotes_to_text(QUOTES)
    grid.loc[0, "limit"] = "5bn"  # Q01 is in % of R
    _, problems = text_to_quotes(grid)
    assert "% of R" in problems[0].message and "25" in problems[0].message
    grid.loc[0, "limit"] = "0.25"  # a bare fraction is the ambiguous-percentage refusal, not this one
    _, problems = text_to_quotes(grid)
    assert "% of R" not in problems[0].message


def test_a_yen_amount_under_1m_waits_for_confirmation_then_counts():
    w = workspace()
    grid = w.quote_text.copy()
    grid.loc[5, "limit"] = "12"  # Q06 is in yen: ¥12 of limit, meant ¥12bn?
    w.set_quote_text(grid)
    assert [(p.quote_id, p.column, p.confirm) for p in w.problems] == [("Q06", "limit", True)]
    assert "less than ¥1m" in w.problems[0].message and w.last_quotes == tuple(QUOTES)
    w.confirm("Q06", "12")
    assert not w.problems and w.last_quotes[5].limit == 12


def test_a_zero_rate_waits_for_confirmation_then_counts():
    w = workspace()
    grid = w.quote_text.copy()
    grid.loc[0, "rate_on_line"] = "0"
    w.set_quote_text(grid)
    assert w.problems and w.problems[0].confirm and w.last_quotes == tuple(QUOTES)
    w.confirm("Q01", "0")
    assert not w.problems and w.last_quotes[0].rate_on_line == 0


def test_grid_edits_are_absorbed_and_marked_against_the_bundled_sheet():
    w = workspace()
    assert w.absorb_edits({"edited_rows": {1: {"rate_on_line": "5"}}, "added_rows": [
        {"quote_id": "N1", "kind": "insurance", "counterparty": "X", "rating": "AA", "layer_basis": "¥",
         "attachment": "0", "limit": "1bn", "rate_on_line": "3"}], "deleted_rows": [2]})
    assert w.version == 1 and not w.problems
    assert w.changed_rows() == {"Q02": "changed", "N1": "new"}
    assert "Q03" not in {q.quote_id for q in w.last_quotes}
    assert w.differs() == {"exchange": False, "regime": False, "quotes": True}


def test_own_figures_are_parsed_with_units_and_refused_when_ambiguous():
    profile, errors, doubts = parse_own({"customer_assets_jpy": "500億", "hot_wallet_share": "5",
                                         "annual_trading_volume_jpy": "1tn", "cost_of_capital": "10",
                                         "reserve_yield": "0", "liquid_capital_jpy": "", "premium_multiplier": "1.2"})
    assert errors == {} == doubts and profile.customer_assets_jpy == 5e10 and profile.hot_wallet_share == 0.05
    _, errors, _doubts = parse_own({"customer_assets_jpy": "-5", "hot_wallet_share": ".05",
                                    "annual_trading_volume_jpy": "1tn", "cost_of_capital": "10", "reserve_yield": "0"})
    assert set(errors) == {"customer_assets_jpy", "hot_wallet_share"}


def test_own_figures_that_are_probably_not_meant_wait_for_confirmation():
    # `12` for customer assets is ¥12 (meant: ¥12bn?), a loading of 0 makes cover free: asked, not used in silence
    typed = {"customer_assets_jpy": "12", "hot_wallet_share": "5", "annual_trading_volume_jpy": "1tn",
             "cost_of_capital": "10", "reserve_yield": "0", "liquid_capital_jpy": "", "premium_multiplier": "0"}
    profile, errors, doubts = parse_own(typed)
    assert profile is None and errors == {} and set(doubts) == {"customer_assets_jpy", "premium_multiplier"}
    assert "less than ¥1m" in str(doubts["customer_assets_jpy"]) and "free" in str(doubts["premium_multiplier"])
    profile, _, doubts = parse_own(typed, frozenset({("customer_assets_jpy", "12")}))
    assert profile is None and set(doubts) == {"premium_multiplier"}
    profile, errors, doubts = parse_own(typed, frozenset({("customer_assets_jpy", "12"), ("premium_multiplier", "0")}))
    assert errors == {} == doubts and profile.customer_assets_jpy == 12 and profile.premium_multiplier == 0
    # a confirmation is for the text typed: another small figure asks again
    _, _, doubts = parse_own({**typed, "customer_assets_jpy": "13"}, frozenset({("customer_assets_jpy", "12")}))
    assert "customer_assets_jpy" in doubts
    _, _, doubts = parse_own({**typed, "customer_assets_jpy": "0", "premium_multiplier": "1"})
    assert doubts == {}  # no customer assets (a volume-based rule) is a real case


# ------------------------------------------------------------------ the scenario file

def test_a_scenario_with_overrides_round_trips_and_reopens_in_the_workspace():
    w = workspace()
    w.exchange_id = "EX04"
    w.overrides = {"max_insurance_share": 0.5}
    sc = w.scenario()
    back = from_json(to_json(sc))
    assert back == sc and back.regime == w.regime and back.overrides == {"max_insurance_share": 0.5}
    fresh = workspace()
    fresh.load(back)
    assert fresh.exchange_id == "EX04" and fresh.regime_name == "securities-style"
    assert fresh.overrides == {"max_insurance_share": 0.5} and fresh.regime == w.regime


@pytest.mark.parametrize("text, words", [
    ("{", "not valid JSON"), ("[" * 10000 + "]" * 10000, "nested deeper"), ("[]", "expected a JSON object"),
    ('{"profile": {}, "quotes": [], "regime": {}, "x": 1}', "unknown key"),
    ('{"profile": [], "quotes": [], "regime": {}}', "expected profile"),
    ('{"profile": {}, "quotes": [1], "regime": {}}', "every quote"),
])
def test_a_malformed_scenario_is_an_input_error(text, words):
    with pytest.raises(InputError, match=words):
        from_json(text, "s.json")


def _saved(**changes) -> str:
    data = json.loads(to_json(workspace().scenario()))
    for path, value in changes.items():
        *outer, key = path.split("__")
        node = data
        for part in outer:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[key] = value
    return json.dumps(data, allow_nan=True)


@pytest.mark.parametrize("changes, words", [
    # NaN is not JSON: taken as a blank cell it would drop a fee or lift a share cap to its default
    ({"quotes__3__fixed_fee_jpy": float("nan")}, "NaN is not a number"),
    ({"quotes__0__max_share": float("nan")}, "NaN is not a number"),
    ({"profile__reserve_yield": float("inf")}, "Infinity is not a number"),
    # overrides record what differs from the preset; one that the regime does not hold would be ignored
    ({"overrides": {"max_insurance_share": 0.0}}, "overrides.max_insurance_share = 0, but the regime holds"),
    ({"overrides": {"max_insurance_share": 5}}, "expected a fraction between 0 and 1"),
    ({"scenario_version": 99}, "scenario_version"), ({"scenario_version": "x"}, "scenario_version"),
    ({"quote_sheet": 5}, "quote_sheet"),
])
def test_a_scenario_that_would_be_read_as_something_else_is_refused(changes, words):
    with pytest.raises(InputError) as err:
        from_json(_saved(**changes), "s.json")
    assert words in str(err.value)


@settings(max_examples=30, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=20))
def test_any_json_is_either_a_scenario_or_an_input_error(value):
    try:
        from_json(json.dumps(value), "s.json")
    except InputError:
        pass


def test_the_command_line_solves_the_saved_scenario_to_the_same_cost(tmp_path):
    w = workspace()
    w.exchange_id = "EX02"
    w.overrides = {"max_counterparty_share": 0.4}
    w.absorb_edits({"edited_rows": {0: {"rate_on_line": "3.5"}}})
    sc = w.scenario()
    path = tmp_path / "s.json"
    path.write_text(to_json(sc), encoding="utf-8")
    expected = solve(sc.profile, sc.quotes, sc.regime).annual_cost_jpy
    out = run_cli("solve", "--scenario", path, "--format", "json", cwd=ROOT)
    assert out.returncode in (0, 3), out.stderr
    assert json.loads(out.stdout)["annual_cost_jpy"] == pytest.approx(expected, rel=1e-9)
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    out = run_cli("price", "--scenario", bad, cwd=ROOT)
    assert out.returncode == 2 and "bad.json" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("sheet", ["quotes-japan.csv", "quotes-japan-state-excl.csv"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_grid_keeps_the_round_2_terms_of_every_quote(sheet, lang):
    """Yen ceilings, licensing, fronting fees, exclusions and reinstatements survive the text grid unchanged."""
    from optimizer.inputs import load_quotes
    from optimizer.scenario import quotes_to_text, text_to_quotes

    quotes = tuple(load_quotes(DATA / sheet))
    assert any(q.exclusions or q.reinstatements or q.fronting_fee_rate or q.max_limit_jpy < float("inf")
               for q in quotes)
    back, problems = text_to_quotes(quotes_to_text(quotes, lang))
    assert problems == [] and back == quotes


def test_a_scenario_keeps_days_to_pay_the_asset_shares_and_their_overrides():
    # issue 21: the regime's [eligibility.assets] and max_days_to_pay, an override of max_share.<kind>, and each
    # quote's days_to_pay are saved and read back as solved
    import dataclasses

    w = Workspace.new(PROFILES, QUOTES, REGIMES, "cold-wallet-assets")
    w.overrides = {"max_share.bank_guarantee": 0.3, "max_days_to_pay": 30.0}
    slow = tuple(dataclasses.replace(q, days_to_pay=45.0) if i == 0 else q for i, q in enumerate(QUOTES))
    sc = dataclasses.replace(w.scenario(), quotes=slow)
    data = json.loads(to_json(sc))
    assert data["regime"]["eligibility"]["assets"] == {"max_share": {"bank_guarantee": 0.3}}
    assert data["regime"]["eligibility"]["max_days_to_pay"] == 30.0 and data["quotes"][0]["days_to_pay"] == 45.0
    back = from_json(to_json(sc))
    assert back == sc and back.regime.eligibility.max_asset_share("bank_guarantee") == 0.3
    assert back.quotes[0].days_to_pay == 45.0
    # an override the regime does not hold is refused, as for every parameter
    data["overrides"]["max_share.bank_guarantee"] = 0.5
    with pytest.raises(InputError, match="overrides.max_share.bank_guarantee = 0.5, but the regime holds"):
        from_json(json.dumps(data))
    # a regime without asset keys writes none (files stay readable by readers that predate them)
    assert "assets" not in json.loads(to_json(workspace().scenario()))["regime"]["eligibility"]


# ------------------------------------------------------------------ the assets table (the app's reserve assets)

def _bundled_assets():
    from optimizer.inputs import load_assets

    return tuple(load_assets(DATA / "assets-japan.csv"))


def test_the_bundled_assets_round_trip_through_the_text_table_in_both_languages():
    from optimizer.scenario import assets_to_text, text_to_assets

    for lang in ("en", "ja"):
        assets, problems = text_to_assets(assets_to_text(_bundled_assets(), lang))
        assert problems == [] and assets == _bundled_assets()


def test_the_rate_cell_is_a_yield_for_a_held_kind_and_a_fee_for_a_promised_one():
    from optimizer.scenario import assets_to_text, text_to_assets

    table = assets_to_text(_bundled_assets())
    table.loc[4, "rate"], table.loc[5, "rate"] = "0.25%", "0.4%"   # DEP-MEGA, BG-MEGA
    table.loc[5, "max_amount_jpy"] = "50億"
    assets, problems = text_to_assets(table)
    assert problems == []
    assert (assets[4].yield_rate, assets[4].fee_rate) == (0.0025, 0.0)
    assert (assets[5].fee_rate, assets[5].yield_rate, assets[5].max_amount_jpy) == (0.004, 0.0, 5e9)


def test_a_promise_at_a_fee_of_0_waits_for_confirmation_and_a_bad_cell_names_its_column():
    from optimizer.scenario import assets_to_text, text_to_assets

    table = assets_to_text(_bundled_assets())
    table.loc[5, "rate"], table.loc[4, "rating"], table.loc[0, "days_to_pay"] = "0", "", "two"
    assets, problems = text_to_assets(table)
    assert assets is None
    assert {(p.row, p.quote_id, p.column, p.confirm) for p in problems} == {
        (6, "BG-MEGA", "rate", True), (5, "DEP-MEGA", "rating", False), (1, "JGB-3M", "days_to_pay", False)}
    table.loc[4, "rating"], table.loc[0, "days_to_pay"] = "A", "2"
    assets, problems = text_to_assets(table, frozenset({("BG-MEGA", "0")}))
    assert problems == [] and assets[5].fee_rate == 0.0


def test_a_scenario_names_the_assets_table_it_started_from_and_a_file_without_it_still_opens():
    sc = Scenario(PROFILES[0], tuple(QUOTES), REGIMES["cold-wallet-assets"], regime_preset="cold-wallet-assets",
                  assets=_bundled_assets(), asset_sheet="assets-japan.csv")
    back = from_json(to_json(sc))
    assert back.assets == sc.assets and back.asset_sheet == "assets-japan.csv"
    data = json.loads(to_json(sc))
    del data["asset_sheet"]
    assert from_json(json.dumps(data)).asset_sheet == ""
    assert "asset_sheet" not in json.loads(to_json(Scenario(PROFILES[0], tuple(QUOTES), REGIMES["cold-wallet"])))


def test_an_untouched_assets_table_follows_the_regime_and_an_edited_one_stays():
    from optimizer.scenario import assets_to_text

    w = Workspace.new(PROFILES, QUOTES, REGIMES, "cold-wallet")
    assert not w.follow_regime(False, "assets-japan.csv", _bundled_assets()) and w.last_assets == ()
    w.regime_name = "cold-wallet-assets"
    assert w.follow_regime(True, "assets-japan.csv", _bundled_assets())
    assert w.last_assets == _bundled_assets() and not w.assets_differ() and w.changed_assets() == {}
    assert w.absorb_asset_edits({"edited_rows": {5: {"max_amount_jpy": "5bn"}}})
    assert w.changed_assets() == {"BG-MEGA": "changed"} and w.assets_differ()
    w.regime_name = "cold-wallet"
    assert not w.follow_regime(False, "assets-japan.csv", _bundled_assets())
    assert w.last_assets[5].max_amount_jpy == 5e9 and len(w.asset_text) == len(assets_to_text(_bundled_assets()))


def test_a_held_asset_yielding_more_than_the_exchanges_cost_of_capital_is_left_out_and_said_so():
    from dataclasses import replace

    w = Workspace.new(PROFILES, QUOTES, REGIMES, "cold-wallet-assets")
    earning = replace(_bundled_assets()[0], yield_rate=w.profile.cost_of_capital + 0.01)
    w.replace_assets((earning,) + _bundled_assets()[1:], "mine")
    assert [(p.row, p.column) for p in w.asset_cell_problems()] == [(1, "rate")]
    assert earning.asset_id not in {a.asset_id for a in w.scenario().assets}
