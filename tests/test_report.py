"""Exports and text views (optimizer/report.py)."""

import io
import json
import math

import pandas as pd

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
