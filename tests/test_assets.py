"""Reserve assets beyond cash (assets.csv: deposits, JGBs, bank guarantees, committed lines, parent guarantees) in
the one formulation: hand-checked towers, the reasons for an asset not held, and the answers without assets."""

import dataclasses
import glob
from pathlib import Path

import pandas as pd
import pytest

from optimizer.domain import AssetShares, ReserveAsset
from optimizer.inputs import load_assets, load_profiles, load_quotes, load_regime
from optimizer.lp.matrix import numbers
from optimizer.lp.scaled import Scaled
from optimizer.model import Instance, build, solve
from optimizer.reasons import not_held
from optimizer.solution import Holding, verify

from builders import layer, profile, regime

R = 1e10  # builders.regime(): 0.2% of ¥5tn volume
DATA = Path(__file__).resolve().parent.parent / "data"


def shares(**kw) -> AssetShares:
    return AssetShares(**kw)


def jgb(asset_id="JGB", **kw) -> ReserveAsset:
    return ReserveAsset(asset_id, "jgb", **kw)


def guarantee(asset_id="BG", bank="Bank X", **kw) -> ReserveAsset:
    return ReserveAsset(asset_id, "bank_guarantee", bank, kw.pop("rating", "AA"), **kw)


def test_a_jgb_with_a_5_percent_haircut_needs_1_over_0_95_yen_per_yen_of_credit():
    # cash costs 10%; the JGB costs 10% − 9% = 1% per yen held but credits 0.95: it funds all of R with R/0.95
    s = solve(profile(), [], regime(), assets=[jgb(haircut=0.05, yield_rate=0.09)])
    [h] = s.holdings
    assert h.amount_jpy == pytest.approx(R / 0.95, rel=1e-9)
    assert h.credit_jpy == pytest.approx(R, rel=1e-9)
    assert s.cash_reserve_jpy == pytest.approx(0.0, abs=1e-3)
    assert s.annual_cost_jpy == pytest.approx(0.01 * R / 0.95, rel=1e-9)
    assert s.reserve_assets_jpy == pytest.approx(R / 0.95) and s.committed_jpy == 0.0
    assert not verify(s)


def test_a_bank_guarantee_at_0_4_percent_replaces_cash_only_up_to_its_cap():
    reg = regime(asset_shares=shares(bank_guarantee=0.5))
    s = solve(profile(), [], reg, assets=[guarantee(fee_rate=0.004)])
    assert s.amount_of("BG") == pytest.approx(0.5 * R, rel=1e-9)
    assert s.cash_reserve_jpy == pytest.approx(0.5 * R, rel=1e-9)
    assert s.annual_cost_jpy == pytest.approx(0.004 * 0.5 * R + 0.10 * 0.5 * R, rel=1e-9)
    assert "max_share.bank_guarantee" in s.binding
    assert s.committed_jpy == pytest.approx(0.5 * R) and s.reserve_assets_jpy == 0.0
    # the default regime allows a guarantee no credit at all: all cash, and the reason says so
    plain = solve(profile(), [], regime(), assets=[guarantee(fee_rate=0.004)])
    assert not plain.holdings and plain.cash_reserve_jpy == pytest.approx(R)
    [why] = not_held(plain, [], [guarantee(fee_rate=0.004)])
    assert why["reason"] == "no credit allowed: max_share.bank_guarantee 0"


def test_an_asset_that_pays_after_max_days_to_pay_earns_nothing_and_says_why():
    reg = regime(max_days_to_pay=30, asset_shares=shares(parent_guarantee=1.0))
    late = ReserveAsset("PG", "parent_guarantee", "Parent", "A", fee_rate=0.001, days_to_pay=180)
    s = solve(profile(), [], reg, assets=[late])
    assert not s.holdings and s.cash_reserve_jpy == pytest.approx(R)
    assert s.to_dict()["ineligible_assets"] == ["PG"]
    [why] = not_held(s, [], [late])
    assert why["reason"] == "ineligible: pays after 180 days, the regime allows 30"
    # the same promise paying within 30 days replaces all the cash
    on_time = solve(profile(), [], reg, assets=[dataclasses.replace(late, days_to_pay=30)])
    assert on_time.amount_of("PG") == pytest.approx(R, rel=1e-9)
    assert on_time.cash_reserve_jpy == pytest.approx(0.0, abs=1e-3)


def test_min_cash_share_counts_cash_plus_funded_assets():
    # half of R must be held; a deposit at 1% a year (10% − 9%) holds it, the cheaper layer (0.5%) does the rest
    reg = regime(min_cash_share=0.5)
    cheap = [layer("L", 0.0, 1.0, 0.005)]
    deposit = ReserveAsset("D", "deposit", "Bank Y", "AA", yield_rate=0.09)
    s = solve(profile(), cheap, reg, assets=[deposit])
    assert s.amount_of("D") == pytest.approx(0.5 * R, rel=1e-9)
    assert s.cash_reserve_jpy == pytest.approx(0.0, abs=1e-3)
    assert s.share_of("L") == pytest.approx(0.5, rel=1e-9)
    assert s.annual_cost_jpy == pytest.approx(0.01 * 0.5 * R + 0.005 * 0.5 * R, rel=1e-9)
    assert not verify(s)
    # a promise at the same price does not count toward the floor: the floor stays in cash
    reg_g = regime(min_cash_share=0.5, asset_shares=shares(bank_guarantee=1.0))
    g = solve(profile(), [], reg_g, assets=[guarantee(fee_rate=0.01)])
    assert g.cash_reserve_jpy == pytest.approx(0.5 * R, rel=1e-9)
    assert g.amount_of("BG") == pytest.approx(0.5 * R, rel=1e-9)
    assert "min_cash_share" in g.binding and not verify(g)


def test_a_banks_guarantee_and_its_insurance_arm_share_one_counterparty_cap():
    reg = regime(max_counterparty_share=0.5, asset_shares=shares(bank_guarantee=1.0))
    arm = layer("ARM", 0.0, 1.0, 0.01, counterparty="Bank X")
    s = solve(profile(), [arm], reg, assets=[guarantee(fee_rate=0.004)])
    credit = sum(l.credit_jpy for l in s.lines) + sum(h.credit_jpy for h in s.holdings)
    assert credit == pytest.approx(0.5 * R, rel=1e-9)       # one cap for the bank and its arm together
    assert s.amount_of("BG") == pytest.approx(0.5 * R, rel=1e-9)  # the cheaper of the two takes it all
    assert s.cash_reserve_jpy == pytest.approx(0.5 * R, rel=1e-9)
    assert "max_counterparty_share:Bank X" in s.binding
    # under two names each has its own cap: no cash at all
    apart = solve(profile(), [dataclasses.replace(arm, counterparty="Insurer X")], reg,
                  assets=[guarantee(fee_rate=0.004)])
    assert apart.cash_reserve_jpy == pytest.approx(0.0, abs=1e-3)
    # the LP has one row for the bank, with both columns on it
    num = numbers(Scaled.of(Instance.build(profile(), [arm], reg, assets=[guarantee(fee_rate=0.004)])))
    [row] = [i for i, n in enumerate(num.names) if n.startswith("counterparty_cap")]
    assert num.names[row] == "counterparty_cap_Bank_X"
    assert (num.A[row, 2:4] > 0).all()  # the arm's share and the guarantee's amount, side by side


def test_funded_assets_and_cash_together_stay_within_liquid_capital():
    # ¥6bn of liquid capital: cash plus the deposit may not pass it, whatever the deposit saves
    p = profile(liquid_capital_jpy=6e9)
    reg = regime(asset_shares=shares(bank_guarantee=0.3))
    deposit = ReserveAsset("D", "deposit", "Bank Y", "AA", yield_rate=0.09)
    s = solve(p, [], reg, assets=[deposit, guarantee(fee_rate=0.02)])
    assert s.cash_reserve_jpy + s.amount_of("D") == pytest.approx(6e9, rel=1e-9)
    assert s.amount_of("BG") == pytest.approx(0.3 * R, rel=1e-9)
    assert s.shortfall_jpy == pytest.approx(0.1 * R, rel=1e-9)  # 0.6R held + 0.3R promised: 0.1R short
    assert "liquid_capital" in s.binding and not verify(s)


def test_an_asset_dearer_than_cash_is_not_held_and_its_break_even_yield_is_given():
    # a JGB yielding 1% costs 9% per yen against cash's 10% but its 20% haircut makes a yen of credit cost 11.25%
    dear = jgb(haircut=0.2, yield_rate=0.01)
    s = solve(profile(), [], regime(), assets=[dear])
    assert not s.holdings
    [why] = not_held(s, [], [dear])
    assert why["reason"].startswith("dearer than cash and other cover")
    # it enters when 0.8 × (cost per yen) < 0.10, i.e. a yield above 10% − 0.10 × 0.8 = 2%
    assert why["break_even"] == pytest.approx(0.02, abs=1e-6)


def test_verify_re_derives_the_credit_of_an_asset_and_refuses_a_wrong_one():
    s = solve(profile(), [], regime(), assets=[jgb(haircut=0.05, yield_rate=0.09)])
    [h] = s.holdings
    wrong = dataclasses.replace(s, holdings=(dataclasses.replace(h, credit_jpy=h.amount_jpy),))  # no haircut
    assert any("credit" in p for p in verify(wrong))
    over = dataclasses.replace(s, holdings=(Holding(h.asset, h.amount_jpy, h.credit_jpy, h.annual_cost_jpy,
                                                    h.credit_factor),),
                               regime=regime(asset_shares=shares(jgb=0.5)))
    assert any("max_share.jgb" in p for p in verify(over))


def test_result_lists_assets_as_instruments_with_their_kind():
    reg = regime(asset_shares=shares(bank_guarantee=0.5))
    s = solve(profile(), [], reg, assets=[guarantee(fee_rate=0.004), jgb(haircut=0.05, yield_rate=0.09)])
    d = s.to_dict()
    by_id = {i.get("asset_id"): i for i in d["instruments"] if "asset_id" in i}
    assert set(by_id) == {"BG", "JGB"}
    assert by_id["JGB"]["kind"] == "jgb" and by_id["BG"]["kind"] == "bank_guarantee"
    assert by_id["JGB"]["cover_jpy"] == pytest.approx(0.5 * R / 0.95, rel=1e-9)
    assert by_id["JGB"]["credit_jpy"] == pytest.approx(0.5 * R, rel=1e-9)
    assert by_id["BG"]["cover_jpy"] == pytest.approx(0.5 * R) and by_id["BG"]["credit_jpy"] == pytest.approx(0.5 * R)
    assert d["reserve_assets_jpy"] == pytest.approx(by_id["JGB"]["cover_jpy"])
    assert d["committed_jpy"] == pytest.approx(0.5 * R)


def test_with_no_assets_file_every_answer_keeps_its_keys_and_its_model():
    """No assets: the result has no asset keys and the LP no asset column or row, for every preset on the bundled
    data; an assets file whose rows are all offered to another exchange leaves the answer exactly as it was."""
    profiles = load_profiles(DATA / "profiles-japan-2025.csv")[:4]
    quotes = load_quotes(DATA / "quotes-japan.csv")
    elsewhere = [dataclasses.replace(a, exchange_id="nobody") for a in load_assets(DATA / "assets-japan.csv")]
    for preset in sorted(glob.glob(str(DATA / "regimes" / "*.toml"))):
        reg = load_regime(preset)
        for p in profiles:
            plain = solve(p, quotes, reg)
            d = plain.to_dict()
            assert not {"reserve_assets_jpy", "committed_jpy", "ineligible_assets"} & set(d)
            assert all("asset_id" not in i for i in d["instruments"])
            model = build(Instance.build(p, quotes, reg))
            assert not any(v.name.startswith("asset_") for v in model.columns)
            assert "liquid_capital" not in numbers(model.scaled).names
            other = solve(p, quotes, reg, assets=elsewhere).to_dict()
            assert other == d, (preset, p.exchange_id)  # none offered to it: no asset keys either


# ------------------------------------------------------------------ the command line and the batch

def run(*args):
    """The command line in this process, from the repository's folder (conftest.run_cli)."""
    from conftest import run_cli

    return run_cli(*args, cwd=DATA.parent)


JAPAN = ("--profiles", "data/profiles-japan-2025.csv", "--quotes", "data/quotes-japan.csv")


def test_solve_with_assets_lists_them_with_their_kind_and_says_why_the_others_are_not_held():
    import json
    out = run("solve", *JAPAN, "--exchange", "bitflyer", "--regime", "cold-wallet-assets", "--assets",
              "data/assets-japan.csv", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    held = [i for i in data["instruments"] if "asset_id" in i]
    assert held and all(i["kind"] in ("deposit", "jgb", "bank_guarantee", "credit_line", "parent_guarantee")
                        for i in held)
    assert data["committed_jpy"] == pytest.approx(sum(i["cover_jpy"] for i in held if i["kind"] == "bank_guarantee"))
    reasons = {r["asset_id"]: r["reason"] for r in data["assets_not_held"]}
    assert reasons["PG-PARENT"] == "no credit allowed: max_share.parent_guarantee 0"
    assert reasons["LINE-MONEX"].startswith("not offered to this exchange")
    plain = json.loads(run("solve", *JAPAN, "--exchange", "bitflyer", "--regime", "cold-wallet-assets",
                           "--format", "json").stdout)
    assert data["annual_cost_jpy"] < plain["annual_cost_jpy"]
    assert "reserve_assets_jpy" not in plain and "assets_not_held" not in plain


def test_a_bad_assets_file_is_refused_naming_the_file_row_and_column(tmp_path):
    bad = tmp_path / "assets.csv"
    bad.write_text("asset_id,kind,counterparty,rating,haircut\nJ,jgb,,,1.2\n")
    out = run("solve", "--assets", str(bad))
    assert out.returncode == 2 and out.stdout == ""
    [line] = out.stderr.strip().splitlines()
    assert str(bad) in line and "row 1" in line and "haircut" in line


def test_market_takes_assets_and_a_bad_output_folder_is_still_refused_in_one_line():
    # market --assets is answered (tests/test_market.py, "reserve assets"); a bad --out is still one line, exit 2
    out = run("market", "--assets", "data/assets-japan.csv", "--out", "/nonexistent/m.csv")
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert "/nonexistent/m.csv" in line and "does not count reserve assets" not in line


def test_batch_with_assets_has_a_column_per_kind_and_totals_by_kind_and_bank(tmp_path):
    from optimizer import batch
    profiles = DATA / "profiles-japan-2025.csv"
    reg = DATA / "regimes" / "cold-wallet-assets.toml"
    result = batch.run(profiles, DATA / "quotes-japan.csv", reg, workers=1, assets=DATA / "assets-japan.csv")
    rows = result.results
    for col in batch.ASSET_COLUMNS:
        assert col in rows.columns
    plain = batch.run(profiles, DATA / "quotes-japan.csv", reg, workers=1).results
    assert list(plain.columns) == list(batch.COLUMNS)
    assert (rows["annual_cost_jpy"] <= plain["annual_cost_jpy"] * (1 + 1e-9)).all()
    # every row agrees with solving that exchange alone
    quotes, regime_ = load_quotes(DATA / "quotes-japan.csv"), load_regime(reg)
    assets = load_assets(DATA / "assets-japan.csv")
    for p, row in zip(load_profiles(profiles), rows.itertuples()):
        s = solve(p, quotes, regime_, assets=assets)
        assert row.annual_cost_jpy == pytest.approx(s.annual_cost_jpy, rel=1e-9)
        assert row.bank_guarantee_jpy == pytest.approx(sum(h.amount_jpy for h in s.holdings
                                                           if h.asset.kind == "bank_guarantee"), rel=1e-9, abs=1)
        assert row.committed_jpy == pytest.approx(s.committed_jpy, rel=1e-9, abs=1)
    by_kind = {r["kind"]: r["amount_jpy"] for r in result.summary["reserve_assets_by_kind"]}
    assert by_kind["bank_guarantee"] == pytest.approx(rows["bank_guarantee_jpy"].sum(), rel=1e-9)
    banks = {r["counterparty"] for r in result.summary["reserve_assets_by_counterparty"]}
    assert "Japanese megabank (illustrative)" in banks


def test_a_batch_row_whose_cost_of_capital_is_below_a_held_assets_yield_is_an_error_row():
    from optimizer import batch
    cheap = profile(exchange_id="CHEAP", cost_of_capital=0.005)
    result = batch.run([profile(), cheap], [], regime(), workers=1, assets=[jgb(yield_rate=0.01)])
    rows = result.results.set_index("exchange_id")
    assert rows.loc["X", "status"] == "optimal" and rows.loc["X", "jgb_jpy"] == pytest.approx(R)
    assert rows.loc["CHEAP", "status"] == "error"
    assert "yield" in rows.loc["CHEAP", "error"] and "cost_of_capital" in rows.loc["CHEAP", "error"]


def test_stress_says_who_pays_the_layers_their_share_then_cash_then_each_asset():
    from optimizer.analysis import stress_test
    from optimizer.domain import Incident
    reg = regime(asset_shares=shares(bank_guarantee=0.5))
    s = solve(profile(), [layer("L", 0.5, 0.5, 0.001)], reg, assets=[guarantee(fee_rate=0.004)])
    assert s.amount_of("BG") == pytest.approx(0.5 * R) and s.share_of("L") == pytest.approx(1.0)
    hack = Incident("H", "2024-05-31", "Somewhere", "external_hack", 1.0, loss_share_of_assets=0.8 * R / 1e11)
    [row] = stress_test(s, [hack]).to_dict("records")
    assert row["paid_by_cash_jpy"] == pytest.approx(0.0, abs=1)
    assert row["paid_BG_jpy"] == pytest.approx(0.5 * R) and row["paid_by_assets_jpy"] == pytest.approx(0.5 * R)
    assert row["paid_by_layers_jpy"] == pytest.approx(0.3 * R) and row["uncovered_jpy"] == pytest.approx(0.0, abs=1)


def test_a_scenario_keeps_its_assets_and_solve_scenario_uses_them(tmp_path):
    import json
    from optimizer.scenario import Scenario, from_json, to_json
    p = load_profiles(DATA / "profiles-japan-2025.csv")[0]
    quotes, reg = load_quotes(DATA / "quotes-japan.csv"), load_regime(DATA / "regimes" / "cold-wallet-assets.toml")
    assets = tuple(load_assets(DATA / "assets-japan.csv"))
    sc = Scenario(p, tuple(quotes), reg, assets=assets)
    back = from_json(to_json(sc))
    assert back.assets == assets
    assert "assets" not in json.loads(to_json(Scenario(p, tuple(quotes), reg)))  # without assets: the file as before
    path = tmp_path / "s.json"
    path.write_text(to_json(sc))
    out = run("solve", "--scenario", str(path), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["annual_cost_jpy"] == pytest.approx(solve(p, quotes, reg, assets=assets)
                                                                       .annual_cost_jpy, rel=1e-9)
    both = run("solve", "--scenario", str(path), "--assets", "data/assets-japan.csv")
    assert both.returncode == 2 and "--assets" in both.stderr
    bad = json.loads(to_json(sc))
    bad["assets"][0]["haircut"] = 1.5
    path.write_text(json.dumps(bad))
    refused = run("solve", "--scenario", str(path))
    assert refused.returncode == 2 and "(assets)" in refused.stderr and "haircut" in refused.stderr


def test_price_gives_the_fee_at_which_a_guarantee_enters():
    # a guarantee at 3% against a layer at 2% and cash at 10%: it enters below the layer's price per credit
    reg = regime(asset_shares=shares(bank_guarantee=1.0))
    from optimizer.analysis import asset_break_evens
    table = asset_break_evens(profile(), [layer("L", 0.0, 1.0, 0.02)], reg, [guarantee(fee_rate=0.03)])
    [row] = table.to_dict("records")
    assert row["amount_jpy"] == 0 and row["reason"] == "dearer than cash and other cover"
    assert row["break_even"] == pytest.approx(0.02, abs=1e-6)


def test_reasons_name_the_rating_and_a_kinds_cap_that_binds():
    reg = regime(asset_shares=shares(bank_guarantee=0.5))
    # Bank A's guarantee fills the cap (¥5bn = 0.5R, its most); Bank B's, dearer, would fund the rest but for the cap
    cheap = guarantee("BG1", "Bank A", fee_rate=0.004, max_amount_jpy=0.5 * R)
    dear = guarantee("BG2", "Bank B", fee_rate=0.005)
    junk = guarantee("BG3", "Bank C", rating="BB", fee_rate=0.001)
    s = solve(profile(), [], reg, assets=[cheap, dear, junk])
    assert s.amount_of("BG1") == pytest.approx(0.5 * R) and s.cash_reserve_jpy == pytest.approx(0.5 * R)
    why = {r["asset_id"]: r["reason"] for r in not_held(s, [], [cheap, dear, junk])}
    assert why == {"BG2": "cap binds: max_share.bank_guarantee", "BG3": "ineligible: rating below min_rating"}
    # the reason is true: lift the cap and BG2 is held
    lifted = solve(profile(), [], regime(asset_shares=shares(bank_guarantee=1.0)), assets=[cheap, dear, junk])
    assert lifted.amount_of("BG2") > 0


def test_the_workbook_holds_the_assets_offered_and_why_the_others_are_not_held(tmp_path):
    out = tmp_path / "mix.xlsx"
    done = run("solve", *JAPAN, "--exchange", "zaif", "--regime", "cold-wallet-assets", "--assets",
               "data/assets-japan.csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    sheets = pd.read_excel(out, sheet_name=None)
    assert set(sheets["assets"]["asset_id"]) == {a.asset_id for a in load_assets(DATA / "assets-japan.csv")
                                                  if a.offered_to("zaif")}
    assert "BG-MEGA" in set(sheets["mix"]["source"])
    assert "PG-PARENT" in set(sheets["assets_not_held"]["asset_id"])
    plain = tmp_path / "plain.xlsx"
    assert run("solve", *JAPAN, "--exchange", "zaif", "--out", str(plain)).returncode == 0
    assert "assets" not in pd.read_excel(plain, sheet_name=None)


# ---------------------------------------------------------------------- after the merge with main

def test_an_assets_reasons_are_typed_codes_the_app_words_in_japanese():
    from app_pages import common
    from optimizer import i18n
    from optimizer.obstacles import WORDS, Reason

    reg = regime(asset_shares=shares(deposit=1.0))
    dear = ReserveAsset("DEP", "deposit", "Bank Y", "AA", yield_rate=0.0)  # cash costs 10%, the deposit yields 0
    offered = guarantee(fee_rate=0.004)                                    # a guarantee the regime credits 0
    s = solve(profile(), [], reg, assets=[dear, offered])
    items = {i["asset_id"]: i for i in not_held(s, [], [dear, offered], typed=True)}
    assert items["BG"]["reasons"] == (Reason("asset_no_credit_allowed", ("bank_guarantee",)),)
    assert items["BG"]["reason"] == "no credit allowed: max_share.bank_guarantee 0"
    # a deposit yielding 0 is out by its price alone: the code carries the break-even yield and the offered one
    [why] = items["DEP"]["reasons"]
    assert why.code == "dearer_yield_above" and why.params[1] == 0.0 and why.params[0] > 0
    assert items["DEP"]["reason"] == WORDS["dearer_yield_above"].format(*why.params)
    for item in items.values():
        for r in item["reasons"]:
            assert r.code in common.REASON_WORDS
    ja = i18n.translations("ja")
    for text in ("the regime allows {kind} no credit (its cap is 0% of R)", "bank guarantees", "a yield above {p}"):
        assert ja.gettext(text) != text


def test_assets_named_as_the_output_is_refused_and_left_as_it_was(tmp_path):
    assets = tmp_path / "assets.csv"
    assets.write_bytes((DATA / "assets-japan.csv").read_bytes())
    before = assets.read_bytes()
    out = run("solve", *JAPAN, "--exchange", "bitflyer", "--regime", "cold-wallet-assets", "--assets", str(assets),
              "--out", str(assets))
    assert out.returncode == 2 and out.stdout == ""
    [line] = out.stderr.strip().splitlines()
    assert "--assets" in line and str(assets) in line
    assert assets.read_bytes() == before


@pytest.mark.parametrize("command", [("sensitivity",)])
def test_sensitivity_refuses_assets_in_one_line_rather_than_ignore_them(command):
    out = run(*command, "--assets", "data/assets-japan.csv")
    assert out.returncode == 2 and out.stdout == ""
    [line] = out.stderr.strip().splitlines()
    assert "--assets" in line and command[0] in line


def test_write_lp_with_a_jgb_for_an_exchange_with_no_liquid_capital_limit(tmp_path):
    # the liquid-capital row has no bound then (it constrains nothing): the LP file leaves it out, it is not an
    # internal error
    assets = tmp_path / "assets.csv"
    assets.write_text("asset_id,kind,counterparty,rating,haircut,yield\nJ,jgb,,,0.01,0.05\n")
    lp = tmp_path / "model.lp"
    out = run("solve", "--exchange", "EX05", "--assets", str(assets), "--write-lp", str(lp))
    assert out.returncode == 0, out.stderr
    text = lp.read_text()
    assert "asset_0_J" in text and "liquid_capital" not in text
