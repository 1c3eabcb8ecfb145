"""The Batch page as a regulator uses it (AppTest): the batch under every preset, the distributions across the
exchanges, the cover per counterparty against capacity, and the Excel summary, each against the command line's
`batch --all-presets --summary-xlsx` on the same inputs."""

import io
import json

import pytest
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from conftest import DATA, ROOT, run_cli

APP, BATCH = str(ROOT / "app.py"), "app_pages/batch.py"
PROFILES, QUOTES = DATA / "profiles-japan-2025.csv", DATA / "quotes-japan.csv"


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """The command line's every-preset run on the bundled data (the page's default inputs), with its workbook."""
    tmp = tmp_path_factory.mktemp("cli")
    r = run_cli("batch", PROFILES, "--all-presets", "--quotes", QUOTES, "--out", tmp / "all.csv", "--workers", "1",
                "--summary-xlsx", tmp / "all.xlsx")
    assert r.returncode == 0, r.stderr
    return json.loads((tmp / "all.summary.json").read_text())["presets"], load_workbook(tmp / "all.xlsx"), r.stdout


def every_preset_page(files, lang="en"):
    at = AppTest.from_file(APP, default_timeout=300).run()
    if lang != "en":
        at.sidebar.radio(key="lang").set_value(lang).run()
    w = at.session_state["workspace"]
    assert w.quote_sheet == "quotes-japan.csv" and not w.last_assets  # the bundled inputs of the command line above
    at.switch_page(BATCH).run()
    at.toggle(key="batch_every").set_value(True).run()
    at.button(key="batch_run").click().run()
    assert not at.exception and not at.error
    assert any("Amounts in ¥m" in c.value or "百万円" in c.value for c in at.caption)
    return at


def presets_frame(at):
    return next(d.value for d in at.dataframe if d.value.columns[0] in ("preset", "制度案"))


def charts(at):
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_every_preset_table_is_the_command_lines_summary(files, cli):
    """The page's every-preset table holds the command line's headline figures, preset by preset."""
    from optimizer.inputs import load_quotes
    from optimizer.report import preset_headline

    sections, _book, stdout = cli
    at = every_preset_page(files)
    table = presets_frame(at)
    assert list(table["preset"]) == [s["preset"] for s in sections]
    quotes = load_quotes(QUOTES)
    for (_i, row), s in zip(table.iterrows(), sections):
        h = preset_headline(s, quotes)
        for key, col in (("required_coverage_jpy", "total R"), ("annual_cost_jpy", "annual cost"),
                         ("cover_jpy", "all cover"), ("shortfall_jpy", "shortfall")):
            assert row[col] == pytest.approx(h[key] / 1e6, rel=1e-12, abs=1e-9), (s["preset"], key)
        assert row["cannot comply"] == h["cannot_comply"] and row["R > net assets"] == h["over_net_assets"]
        assert row["over their capacity"] == (", ".join(h["over_capacity"]) or "—")
        # and as the command line prints it (¥bn, one decimal)
        line = next(x for x in stdout.splitlines() if x.startswith(s["preset"] + " "))
        assert f"{h['required_coverage_jpy'] / 1e9:,.1f}" in line and f"{row['total R'] / 1e3:,.1f}" in line


def test_the_excel_download_is_the_command_lines_workbook_cell_by_cell(files, cli):
    _sections, book, _stdout = cli
    every_preset_page(files)
    mine = load_workbook(io.BytesIO(files["batch_summary.xlsx"]))
    assert mine.sheetnames == book.sheetnames == ["summary", "counterparties", "cannot comply", "results"]
    for name in book.sheetnames:
        a, b = mine[name], book[name]
        assert (a.max_row, a.max_column) == (b.max_row, b.max_column), name
        for ra, rb in zip(a.iter_rows(), b.iter_rows()):
            for x, y in zip(ra, rb):
                assert (x.value, x.number_format, x.data_type) == (y.value, y.number_format, y.data_type), \
                    (name, x.coordinate)


def test_the_charts_are_of_the_preset_shown(files):
    at = every_preset_page(files)
    specs = charts(at)
    titles = json.dumps(specs, ensure_ascii=False)
    assert "R ÷ net assets" in titles and "cash share of R" in titles and "shortfall (¥m)" in titles
    capacity = [s for s in specs if "against its capacity" in json.dumps(s.get("title", ""), ensure_ascii=False)]
    assert len(capacity) == 1                     # one capacity chart, with each counterparty's share of the cover
    assert "of the cover bought" in json.dumps(capacity[0], ensure_ascii=False)
    before = [c.proto.SerializeToString() for c in at.get("vega_lite_chart")]
    first = at.selectbox(key="batch_preset_shown").value
    other = at.selectbox(key="batch_preset_shown").options[-1]
    at.selectbox(key="batch_preset_shown").set_value(other).run()
    assert not at.exception
    assert first != other
    # the run shown is the preset chosen: its charts' data change with it
    assert [c.proto.SerializeToString() for c in at.get("vega_lite_chart")] != before


def test_the_japanese_page_names_presets_and_counterparties_in_one_term_each(files):
    at = every_preset_page(files, "ja")
    assert presets_frame(at).columns[0] == "制度案"
    words = json.dumps(charts(at), ensure_ascii=False)
    assert "引受先" in words or "引受能力" in words


def test_one_presets_run_has_its_charts_and_the_command_lines_workbook(files, tmp_path):
    at = AppTest.from_file(APP, default_timeout=300).run()
    w = at.session_state["workspace"]
    regime = DATA / "regimes" / f"{w.regime_name}.toml"   # the page's preset (a fresh session's)
    assert regime.exists() and w.quote_sheet == "quotes-japan.csv" and not w.last_assets
    at.switch_page(BATCH).run()
    at.button(key="batch_run").click().run()
    assert not at.exception and not at.error
    words = json.dumps(charts(at), ensure_ascii=False)
    assert "R ÷ net assets" in words and "against its capacity" in words
    r = run_cli("batch", PROFILES, "--quotes", QUOTES, "--regime", regime, "--out", tmp_path / "one.csv",
                "--workers", "1", "--summary-xlsx", tmp_path / "one.xlsx")
    assert r.returncode == 0, r.stderr
    book, mine = load_workbook(tmp_path / "one.xlsx"), load_workbook(io.BytesIO(files["batch_summary.xlsx"]))
    assert mine.sheetnames == book.sheetnames
    for name in book.sheetnames:
        cells = lambda ws: [(c.value, c.number_format) for row in ws.iter_rows() for c in row]  # noqa: E731
        assert cells(mine[name]) == cells(book[name]), name


def test_the_distributions_hold_each_exchanges_figures_and_the_capacity_chart_its_share_of_the_cover(tmp_path):
    """The charts' data, from the command line's own results and summary: one value per exchange and panel (the
    shortfall panel the exchanges short), and each counterparty's share of all the cover bought."""
    import pandas as pd

    from optimizer import charts
    from optimizer.i18n import Unit

    r = run_cli("batch", PROFILES, "--quotes", QUOTES, "--regime", "cold-wallet", "--out", tmp_path / "r.csv",
                "--workers", "1")
    assert r.returncode == 0, r.stderr
    rows = pd.read_csv(tmp_path / "r.csv")
    summary = json.loads((tmp_path / "r.summary.json").read_text())
    data = charts.distribution_frame(rows, Unit("¥m"))
    ratio = data[data["panel"] == "R ÷ net assets"].set_index("exchange")["value"]
    known = rows.dropna(subset=["requirement_to_net_assets"]).set_index("exchange_id")["requirement_to_net_assets"]
    assert ratio.to_dict() == known.to_dict()
    short = data[data["panel"] == "shortfall (¥m)"].set_index("exchange")["value"]
    assert sorted(short.index) == sorted(rows.loc[rows["shortfall_jpy"] > 0, "exchange_id"])
    assert short.to_dict() == (rows.set_index("exchange_id").loc[short.index, "shortfall_jpy"] / 1e6).to_dict()
    by_cp = summary["insurance_by_counterparty"]
    spec = charts.capacity_chart(by_cp, Unit("¥m")).to_dict()
    shown = next(iter(spec["datasets"].values()))
    total = sum(x["cover_jpy"] for x in by_cp)
    assert [x["share_text"] for x in shown] == [f"{x['cover_jpy'] / total:.0%}" for x in by_cp]
    assert summary["status_counts"].get("shortfall", 0) == len(short) > 0


def test_every_preset_results_go_stale_with_the_quotes_not_with_the_scenarios_regime(files):
    at = every_preset_page(files)
    stale = lambda: any("Stale" in w.value for w in at.warning)  # noqa: E731
    assert not stale()
    at.switch_page("app_pages/cfo.py").run()
    w = at.session_state["workspace"]
    other = next(n for n in w.regimes if n != w.regime_name)
    at.selectbox(key=f"regime_select_{w.generation}").set_value(other).run()
    assert at.session_state["workspace"].regime_name == other
    at.switch_page(BATCH).run()
    assert not stale()                      # every preset was run: the scenario's regime is not an input
    at.toggle(key="batch_every").set_value(False).run()
    assert stale()                          # one preset's run is another question
