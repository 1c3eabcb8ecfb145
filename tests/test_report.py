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
    data = xlsx_bytes({"mix": pd.DataFrame({"a": ["=1+1"]}), "inputs": pd.DataFrame({"b": [1.5]})})
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None)
    assert list(sheets) == ["mix", "inputs"]
    assert sheets["mix"]["a"][0] == "'=1+1"


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
