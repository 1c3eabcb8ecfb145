"""Exports and text views (optimizer/report.py)."""

import io
import json
import math

import pandas as pd
import pytest

from optimizer.report import csv_bytes, json_safe, neutralize, text_table, to_json, xlsx_bytes, yen


def test_cells_that_look_like_formulas_are_neutralized():
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "plain"], "n": [1, 2, 3, 4, 5]})
    out = neutralize(frame)
    assert list(out["name"]) == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "plain"]
    assert list(out["n"]) == [1, 2, 3, 4, 5]  # numbers (even negative ones) stay numbers
    assert "'=HYPERLINK" in csv_bytes(frame).decode()


def test_xlsx_has_one_sheet_per_frame_and_is_neutralized():
    # Neutralised by the cell type (text), not by a literal apostrophe: ids read back unchanged, nothing runs.
    data = xlsx_bytes({"mix": pd.DataFrame({"a": ["=1+1", "-Q01"]}), "inputs": pd.DataFrame({"b": [1.5, 2.0]})})
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None)
    assert list(sheets) == ["mix", "inputs"]
    assert list(sheets["mix"]["a"]) == ["=1+1", "-Q01"]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    assert [c.data_type for c in book["mix"]["A"][1:]] == ["s", "s"]


def test_the_workbook_has_a_numeric_summary_rounded_to_the_yen():
    from optimizer import load_profiles, load_quotes, load_regime, solve
    from optimizer.report import summary_frame
    from openpyxl import load_workbook

    from conftest import DATA

    s = solve(load_profiles(DATA / "profiles.csv")[0], load_quotes(DATA / "quotes.csv"),
              load_regime(DATA / "regimes" / "securities-style.toml"))
    data = xlsx_bytes({"mix": s.mix, "summary": summary_frame(s)})  # what `solve --out x.xlsx` writes
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames[:4] == ["summary", "mix", "inputs", "quotes"]
    summary = {r[0].value: r[1] for r in book["summary"].iter_rows(min_row=2)}
    cell = summary["Annual cost (¥ a year)"]
    assert cell.value == round(s.annual_cost_jpy) and cell.number_format == "#,##0"
    assert summary["Status"].value == "optimal" and summary["Regime"].value == s.regime.name
    assert summary["Savings vs all cash (¥ a year)"].value == round(s.savings_jpy)
    mix_header = [c.value for c in book["mix"][1]]
    money = book["mix"].cell(row=2, column=mix_header.index("annual cost (¥)") + 1)
    assert isinstance(money.value, int) and money.number_format == "#,##0"
    inputs = {r[1].value: r[2].value for r in book["inputs"].iter_rows(min_row=2)}
    assert inputs["customer_assets_jpy"] == 5_000_000_000 and inputs["cost_of_capital"] == 0.1
    # the quote sheet: a requirement-basis layer's attachment and limit are fractions of R, shown as percent (not
    # rounded to 0 yen); a yen-basis layer's are yen
    header = [c.value for c in book["quotes"][1]]
    rows = {r[header.index("quote id")].value: r for r in book["quotes"].iter_rows(min_row=2)}
    for q in load_quotes(DATA / "quotes.csv"):
        attachment, limit = rows[q.quote_id][header.index("attachment")], rows[q.quote_id][header.index("limit")]
        if q.layer_basis == "requirement":
            assert (attachment.value, limit.value) == pytest.approx((q.attachment, q.limit))
            assert attachment.number_format == limit.number_format == "0.00%"
        else:
            assert (attachment.value, limit.value) == (round(q.attachment), round(q.limit))
            assert limit.number_format == "#,##0"
    assert any(q.layer_basis == "requirement" and q.limit > 0 for q in load_quotes(DATA / "quotes.csv"))


def test_json_has_no_nan_or_infinity():
    text = to_json({"a": math.inf, "b": [math.nan, 1.0]})
    assert json.loads(text) == {"a": None, "b": [None, 1.0]}
    assert json_safe(float("-inf")) is None


def test_yen_has_thousands_separators_and_text_table_aligns():
    assert yen(1234567.4) == "¥1,234,567"
    assert yen(None) == "—"
    table = text_table(pd.DataFrame({"id": ["a", "bb"], "v": [1500.0, 2.5]}))
    lines = table.splitlines()
    assert lines[0].startswith("id") and lines[2].endswith("1,500") and lines[3].endswith("2.5")


# ------------------------------------------------------------------ the batch summary: who cannot comply, capacity

def _three_exchanges():
    """R = the ¥1bn floor for each; one layer 0→R at 1% (below the 10% carry, so always bought) capped at ¥0.5bn.
    A: net assets ¥5bn (R/net 0.2); B: net assets ¥0.5bn (R/net 2), no limit on cash: complies;
    C: net assets ¥0.3bn and ¥0.2bn of liquid capital: R/net ≈ 3.3, short by 1 − 0.2 − 0.5 = ¥0.3bn;
    D: a bad row (an error row, counted nowhere else); E: net assets below zero (債務超過): R exceeds them, and
    R ÷ net assets means nothing (blank)."""
    from optimizer.domain import Eligibility, Quote, Regime, RequirementRule

    profiles = pd.DataFrame({
        "exchange_id": ["A", "B", "C", "D", "E"], "customer_assets_jpy": [1e11, 1e11, 1e11, "lots", 1e11],
        "hot_wallet_share": 0.05, "annual_trading_volume_jpy": 1e12, "cost_of_capital": 0.1,
        "liquid_capital_jpy": [None, None, 2e8, None, None], "net_assets_jpy": [5e9, 5e8, 3e8, 1e9, -1e8],
        "statement_date": ["2025-03-31", "", "2025-12-31", "", ""]})
    quotes = [Quote("Q", "insurance", "Insurer", "AA", 0.0, 1.0, 0.01, layer_basis="requirement",
                    max_limit_jpy=5e8)]
    regime = Regime("floor", RequirementRule(floor_jpy=1e9), Eligibility(), rating_credit={})
    return profiles, quotes, regime


def test_batch_rows_carry_R_against_net_assets_and_what_binds():
    from optimizer import batch

    profiles, quotes, regime = _three_exchanges()
    rows = batch.run(profiles, quotes, regime, workers=1).results.set_index("exchange_id")
    assert list(rows["status"]) == ["optimal", "optimal", "shortfall", "error", "optimal"]
    assert math.isnan(rows.loc["E", "requirement_to_net_assets"]) and rows.loc["E", "net_assets_jpy"] == -1e8
    assert rows.loc["A", "requirement_to_net_assets"] == pytest.approx(0.2)
    assert rows.loc["B", "requirement_to_net_assets"] == pytest.approx(2.0)
    assert rows.loc["C", "requirement_to_net_assets"] == pytest.approx(1e9 / 3e8)
    assert math.isnan(rows.loc["A", "liquid_capital_jpy"]) and rows.loc["C", "liquid_capital_jpy"] == 2e8
    assert rows.loc["C", "shortfall_jpy"] == pytest.approx(3e8)
    assert rows.loc["C", "binding"].split(";") == ["liquid_capital", "capacity:Q"]
    assert rows.loc["A", "statement_date"] == "2025-03-31" and rows.loc["D", "binding"] == ""


def test_batch_summary_counts_who_cannot_comply_and_sets_cover_against_capacity():
    from optimizer import batch
    from optimizer.report import batch_summary_text

    profiles, quotes, regime = _three_exchanges()
    summary = batch.run(profiles, quotes, regime, workers=1, capacity={"Insurer": 1e9, "Other": 2e9}).summary
    assert summary["requirement_over_net_assets"] == {"count": 3, "exchanges": ["B", "C", "E"]}
    assert summary["requirement_over_liquid_capital"] == {"count": 1, "exchanges": ["C"]}
    [c] = summary["cannot_comply"]
    assert c["exchange_id"] == "C" and c["shortfall_jpy"] == pytest.approx(3e8)
    assert c["binding"] == ["liquid_capital", "capacity:Q"]
    demand = summary["cover_demand"]
    assert demand["cover_jpy"] == pytest.approx(4 * 5e8)       # each exchange takes the whole ¥0.5bn ceiling
    assert demand["capacity_jpy"] == 3e9 and demand["cover_of_listed_jpy"] == pytest.approx(2e9)
    assert demand["over_capacity"] == ["Insurer"]               # ¥2bn bought of ¥1bn it can write
    [cp] = summary["insurance_by_counterparty"]
    assert cp["capacity_jpy"] == 1e9 and cp["capacity_used"] == pytest.approx(2.0)
    json.dumps(summary, allow_nan=False)                         # what RESULTS.summary.json holds
    text = batch_summary_text(summary)
    assert "Requirement     ¥4,000,000,000  (total R)" in text
    assert "R > net assets  3: B, C, E" in text and "R > liquid cap. 1: C" in text
    assert "Cannot comply   1" in text and "C               short ¥300,000,000 of R ¥1,000,000,000" in text
    assert "[liquid_capital, capacity:Q]" in text
    assert "against their capacity ¥3,000,000,000 (66.7%)" in text and "Over capacity   Insurer" in text
    assert "200.0%" in text


def test_batch_summary_without_capacity_says_nothing_of_it():
    from optimizer import batch
    from optimizer.report import batch_summary_text

    profiles, quotes, regime = _three_exchanges()
    summary = batch.run(profiles.iloc[:2], quotes, regime, workers=1).summary
    assert "capacity_jpy" not in summary["cover_demand"] and summary["cannot_comply"] == []
    text = batch_summary_text(summary)
    assert "capacity" not in text and "Cannot comply" not in text and "R > liquid cap. 0" in text


# ------------------------------------------------------------------ finite capacity, named the same everywhere

def test_capacity_limits_are_named_for_exactly_the_layers_taken_in_full_and_say_which_ceiling():
    from optimizer import load_profiles, load_quotes, load_regime, solve
    from optimizer.report import binding_words, solution_text
    from conftest import DATA

    quotes = load_quotes(DATA / "quotes-japan.csv")
    profiles = load_profiles(DATA / "profiles-japan-2025.csv")
    seen_ceiling = 0
    for preset in ("past-outflows", "cold-wallet", "securities-style-japan"):
        regime = load_regime(DATA / "regimes" / f"{preset}.toml")
        for p in profiles[:8]:
            s = solve(p, quotes, regime, marginal=False)
            full = {l.quote.quote_id for l in s.lines if l.share >= l.quote.max_share - 1e-9}
            assert {b.removeprefix("capacity:") for b in s.binding if b.startswith("capacity:")} == full
            words = dict(zip(s.binding, binding_words(s)))
            for line in s.lines:
                q, name = line.quote, f"capacity:{line.quote.quote_id}"
                if name not in words:
                    continue
                capped = q.limit * s.requirement_jpy > q.max_limit_jpy
                assert line.cover_jpy == pytest.approx(q.max_share * (q.max_limit_jpy if capped else
                                                                       q.limit * s.requirement_jpy))
                assert ("(ceiling ¥" in words[name]) == capped and words[name] in solution_text(s)
                seen_ceiling += capped
    assert seen_ceiling > 0  # the bundled ceilings do bite on the largest exchanges
