"""The Streamlit app through streamlit.testing (AppTest): each page, edits, uploads, downloads."""

import io
import json

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from conftest import DATA, ROOT

APP = str(ROOT / "app.py")


@pytest.fixture
def at():
    return AppTest.from_file(APP, default_timeout=120).run()


def cost(at) -> float:
    text = next(m.value for m in at.metric if m.label == "Annual cost")
    return float(text.strip("¥m").replace(",", ""))


def edit_quotes(at, edits: dict):
    at.session_state["quote_editor_0"] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    return at.run()


def test_cfo_page_shows_the_cheapest_mix(at):
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert labels == ["Annual cost", "Savings vs all cash", "Cash reserve", "Shortfall", "Marginal cost of R"]
    assert cost(at) > 0
    mix = at.dataframe[0].value
    assert mix["source"].iloc[0] == "cash reserve"


def test_a_premium_edit_changes_the_cost(at):
    before = cost(at)
    edit_quotes(at, {0: {"rate_on_line": 0.2}})  # Q01 becomes dearer than cash
    assert not at.exception and not at.error
    assert cost(at) > before


def test_a_bad_edit_shows_the_message_and_keeps_the_last_valid_sheet(at):
    before = cost(at)
    edit_quotes(at, {0: {"limit": -1.0}})
    assert any("'limit'" in e.value and "row 1" in e.value for e in at.error)
    assert cost(at) == before


def test_a_bad_upload_shows_the_message_and_keeps_the_old_inputs(at):
    before = cost(at)
    bad = b"quote_id,kind,counterparty,rating,attachment,limit,rate_on_line\nX1,insurance,I,AA,0,1e9,cheap\n"
    at.sidebar.file_uploader(key="upload_quotes").upload("my_quotes.csv", bad, "text/csv").run()
    messages = [e.value for e in at.error]
    assert any("my_quotes.csv" in m and "row 1" in m and "'rate_on_line'" in m for m in messages)
    assert not at.exception
    assert cost(at) == before
    assert list(at.session_state["quotes_frame"]["quote_id"])[:2] == ["Q01", "Q02"]


def test_a_good_upload_replaces_the_quote_sheet(at):
    good = b"quote_id,kind,counterparty,rating,attachment,limit,rate_on_line,layer_basis\nONLY,insurance,I,AA,0,1,0.01,requirement\n"
    at.sidebar.file_uploader(key="upload_quotes").upload("q.csv", good, "text/csv").run()
    assert not at.error and list(at.session_state["quotes_frame"]["quote_id"]) == ["ONLY"]
    from optimizer import load_profiles, load_regime, solve
    from optimizer.inputs import quotes_from_frame

    expected = solve(load_profiles(DATA / "profiles.csv")[0], quotes_from_frame(at.session_state["quotes_frame"]),
                     load_regime(DATA / "regimes" / "securities-style.toml")).annual_cost_jpy
    assert cost(at) == pytest.approx(expected / 1e6, abs=0.005)


def test_downloads_contain_what_the_page_shows(at, monkeypatch):
    files = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        files[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    shown_cost = cost(at)
    at.segmented_control(key="cfo_view").set_value("Downloads").run()
    assert not at.exception
    csv = pd.read_csv(io.BytesIO(files["mix_EX01.csv"]))
    assert csv["annual_cost_jpy"].sum() / 1e6 == pytest.approx(shown_cost, abs=0.005)
    book = pd.read_excel(io.BytesIO(files["reserve_EX01.xlsx"]), sheet_name=None)
    assert {"mix", "inputs", "stress"} <= set(book)
    assert book["mix"]["annual_cost_jpy"].sum() == pytest.approx(csv["annual_cost_jpy"].sum())
    scenario = files["scenario_EX01.json"]
    data = json.loads(scenario)
    assert data["profile"]["exchange_id"] == "EX01" and len(data["quotes"]) == len(at.session_state["quotes"])


def test_a_saved_scenario_loads_back(at):
    from optimizer.scenario import Scenario, to_json
    from optimizer.inputs import load_profiles, load_quotes, load_regime

    p = load_profiles(DATA / "profiles.csv")[4]
    q = load_quotes(DATA / "quotes.csv")[:3]
    r = load_regime(DATA / "regimes" / "asset-based.toml")
    at.sidebar.file_uploader(key="upload_scenario").upload("s.json", to_json(Scenario(p, tuple(q), r)).encode(),
                                                            "application/json").run()
    assert not at.error
    assert at.session_state["custom_profile"] == p
    assert list(at.session_state["quotes_frame"]["quote_id"]) == [x.quote_id for x in q]
    assert at.session_state["regime_name"].startswith("scenario:")


@pytest.mark.parametrize("view", ["Tower", "Cost breakdown", "Frontier", "Stress test"])
def test_every_result_view_renders(at, view):
    at.segmented_control(key="cfo_view").set_value(view).run()
    assert not at.exception and not at.error


def test_unit_toggle_changes_the_amounts(at):
    at.sidebar.radio(key="unit").set_value("¥ billions").run()
    assert next(m.value for m in at.metric if m.label == "Annual cost").endswith("bn")
    at.sidebar.radio(key="unit").set_value("US$ millions").run()
    assert next(m.value for m in at.metric if m.label == "Annual cost").startswith("$")


def test_broker_page_lists_break_even_premiums(at):
    at.sidebar.radio(key="page").set_value("Broker: pricing").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert {"quote_id", "break_even_rol", "bought", "competitors"} <= set(table.columns)
    bought = table[table["bought"]]
    assert (bought["break_even_rol"] >= bought["rate_on_line"]).all()


def test_batch_page_runs_the_bundled_profiles(at):
    at.sidebar.radio(key="page").set_value("Batch: many exchanges").run()
    at.button(key="batch_run").click().run()
    assert not at.exception and not at.error
    assert next(m.value for m in at.metric if m.label == "Exchanges") == "14"


def test_a_cfo_can_enter_their_own_figures(at):
    at.selectbox(key="exchange_choice").set_value("custom").run()
    base = cost(at)
    at.number_input(key="custom_annual_trading_volume_jpy").set_value(5e12).run()  # R = 0.2% × ¥5tn = ¥10bn
    assert not at.exception and not at.error
    assert cost(at) > base
    assert "¥10,000.00m" in next(c.value for c in at.caption if c.value.startswith("Requirement R"))


def test_overriding_the_insurance_cap_changes_the_mix(at):
    base = cost(at)
    at.number_input(key="ov_ins_securities-style").set_value(0.0).run()
    assert not at.exception
    assert cost(at) > base
    assert "max_insurance_share" in next(c.value for c in at.caption if c.value.startswith("Requirement R"))
