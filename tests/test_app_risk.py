"""The Risk view (app_pages/risk.py) through streamlit.testing: the CFO page's Risk view, its TVaR slider, the
Broker page's expected loss and loss ratio per layer. The same in a real browser: test_app_browser.py."""

import pytest
from streamlit.testing.v1 import AppTest

from conftest import DATA, ROOT, on_sheet
from optimizer.inputs import load_profiles, load_quotes, load_regime
from optimizer.loss_model import load_loss_model
from optimizer.risk import RiskBook, layer_expected_losses, risk_view
from optimizer.simulation import DEFAULT_SEED, simulate

APP = str(ROOT / "app.py")
N = 20_000  # app_pages.risk.APP_SCENARIOS


def illustrative(at):
    """The page on the illustrative EX01 under the securities-style preset with the invented quote sheet (the figures
    below are computed for it)."""
    on_sheet(at, "bundled")
    at.selectbox(key="exchange_choice_0").set_value("EX01").run()
    at.selectbox(key="regime_select_0").set_value("securities-style").run()
    return at


@pytest.fixture
def at():
    at = illustrative(AppTest.from_file(APP, default_timeout=180).run())
    at.segmented_control(key="cfo_view").set_value("Risk").run()
    return at


def expected_view(limit=None):
    profile = load_profiles(DATA / "profiles.csv")[0]
    return risk_view(profile, load_quotes(DATA / "quotes.csv"), load_regime(DATA / "regimes" / "securities-style.toml"),
                     simulate(profile, load_loss_model(DATA / "loss-models" / "japan.toml"), N, DEFAULT_SEED),
                     tvar_limit=limit)


def table(at):
    return next(d.value for d in at.dataframe if "metric" in d.value.columns).set_index("metric")


def test_the_risk_view_shows_the_three_mixes_as_the_core_computes_them(at):
    assert not at.exception and not [e.value for e in at.error]
    shown = table(at)
    assert list(shown.columns) == ["regulatory mix", "risk-optimal mix", "all cash"]
    v = expected_view()
    m = v.mix('regulatory').metrics
    assert shown.loc["TVaR 99% of retained loss (mean of the worst 1%)", "regulatory mix"] == \
        f"¥{m.tvar_jpy / 1e6:,.1f}m ± ¥{m.tvar_se_jpy / 1e6:,.1f}m"   # every simulated figure with its ±
    assert shown.loc["cash reserve", "all cash"] == "¥2,000.0m"
    assert any("20,000 simulated years" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 1


def test_the_slider_re_solves_within_the_limit(at):
    slider = at.select_slider[0]
    assert slider.options[-1] == "no limit" and slider.value == len(slider.options) - 1
    before = next(m.value for m in at.markdown if "Risk-optimal mix" in m.value)
    slider.set_value(0).run()                       # the tightest limit offered
    assert not at.exception and not [e.value for e in at.error]
    after = next(m.value for m in at.markdown if "Risk-optimal mix" in m.value)
    assert after != before and "TVaR at most" in after
    limit_text = slider.options[0]
    shown_tvar = table(at).loc["TVaR 99% of retained loss (mean of the worst 1%)", "risk-optimal mix"]
    money = lambda s: float(s.split(" ± ")[0].strip("¥m").replace(",", ""))  # noqa: E731 — the figure, not its ±
    assert money(shown_tvar) <= money(limit_text) + 0.05
    assert money(shown_tvar) < money(table(at).loc["TVaR 99% of retained loss (mean of the worst 1%)", "regulatory mix"])


def test_the_japanese_risk_view_is_in_japanese(at):
    at.sidebar.radio(key="lang").set_value("ja").run()
    at.segmented_control(key="cfo_view_ja").set_value("Risk").run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "指標" in d.value.columns)
    assert list(shown.columns) == ["指標", "制度上の最安構成", "リスク最適構成", "全額現金"]
    assert at.select_slider[0].options[-1] == "上限なし"


def test_the_broker_page_shows_expected_loss_and_loss_ratio_per_layer():
    at = illustrative(AppTest.from_file(APP, default_timeout=180).run())
    at.switch_page("app_pages/broker.py").run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "loss ratio, %" in d.value.columns).set_index("quote")
    number = lambda v: float(str(v).replace(",", ""))  # noqa: E731 — money is shown with separators
    profile = load_profiles(DATA / "profiles.csv")[0]
    quotes = [q for q in load_quotes(DATA / "quotes.csv") if q.offered_to(profile.exchange_id)]
    sc = simulate(profile, load_loss_model(DATA / "loss-models" / "japan.toml"), N, DEFAULT_SEED)
    R = 2e9
    losses = layer_expected_losses(RiskBook.build(sc, quotes, R))
    q01 = next(q for q in quotes if q.quote_id == "Q01")
    premium = q01.premium_rate * q01.limit_jpy(R) * profile.premium_multiplier
    assert number(shown.loc["Q01", "expected loss, ¥m/yr"]) == pytest.approx(losses["Q01"][0] / 1e6, abs=0.005)
    assert number(shown.loc["Q01", "loss ratio, %"]) == pytest.approx(100 * losses["Q01"][0] / premium, abs=0.005)
    assert number(shown.loc["Q01", "premium, ¥m/yr"]) == pytest.approx(premium / 1e6, abs=0.005)


def test_a_shortfall_scenario_shows_the_risk_view_without_a_slider(at):
    # EX03 under the cash-only preset cannot hold its ¥2bn requirement (liquid capital ¥1bn): no compliant mix,
    # so no TVaR limit can be asked for; the three mixes are still shown
    next(s for s in at.selectbox if s.label == "Exchange").set_value("EX03").run()
    next(s for s in at.selectbox if s.label == "Regime").set_value("cash-only").run()
    assert not at.exception and not [e.value for e in at.error]
    assert len(at.select_slider) == 0
    assert any("No TVaR limit to choose here: no mix meets the requirement." in c.value for c in at.caption)
    shown = table(at)
    assert shown.loc["cash reserve", "regulatory mix"] == "¥1,000.0m"
    assert any("at the least shortfall" in m.value for m in at.markdown)


def test_bitbank_under_the_default_preset_has_a_tvar_slider_whose_tightest_limit_holds():
    # bitbank's TVaR is mostly loss beyond any layer on the sheet: its compliant mixes span a few hundred million
    # yen of TVaR on more than ¥100bn, less than 1% of it, which is still a choice worth a slider
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.selectbox(key="exchange_choice_0").set_value("bitbank").run()
    at.segmented_control(key="cfo_view").set_value("Risk").run()
    assert not at.exception and not [e.value for e in at.error]
    assert len(at.select_slider) == 1, [c.value for c in at.caption]
    slider = at.select_slider[0]
    assert slider.options[-1] == "no limit" and len(slider.options) > 2
    slider.set_value(0).run()
    assert not at.exception and not [e.value for e in at.error]
    money = lambda s: float(s.split(" ± ")[0].strip("¥m").replace(",", ""))  # noqa: E731
    tight = table(at).loc["TVaR 99% of retained loss (mean of the worst 1%)", "risk-optimal mix"]
    assert money(tight) <= money(slider.options[0]) + 0.05
    assert money(slider.options[0]) < money(slider.options[-2])


def test_a_fronted_quotes_loss_ratio_divides_by_the_premium_the_mix_pays():
    # MGA-V1 of the Japanese sheet is fronted (a 10% fronting fee): the premium a 100% line costs already includes
    # the fee once; the loss ratio divides the layer's expected loss by that premium, not by the fee charged twice
    from optimizer import solve

    at = AppTest.from_file(APP, default_timeout=180).run()
    on_sheet(at, "quotes-japan.csv")
    at.switch_page("app_pages/broker.py").run()
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "loss ratio, %" in d.value.columns).set_index("quote")
    number = lambda v: float(str(v).replace(",", ""))  # noqa: E731 — money is shown with separators
    profile = load_profiles(DATA / "profiles-japan-2025.csv")[0]
    sheet = load_quotes(DATA / "quotes-japan.csv")
    quotes = [q for q in sheet if q.offered_to(profile.exchange_id)]
    R = solve(profile, sheet, load_regime(DATA / "regimes" / "cold-wallet.toml")).requirement_jpy
    fronted = next(q for q in quotes if q.quote_id == "MGA-V1")
    assert fronted.fronting_fee_rate > 0
    paid = fronted.rate_on_line * (1 + fronted.fronting_fee_rate) * fronted.limit_jpy(R) * profile.premium_multiplier
    sc = simulate(profile, load_loss_model(DATA / "loss-models" / "japan.toml"), N, DEFAULT_SEED)
    expected = layer_expected_losses(RiskBook.build(sc, quotes, R))["MGA-V1"][0]
    assert expected > 0
    assert number(shown.loc["MGA-V1", "premium, ¥m/yr"]) == pytest.approx(paid / 1e6, abs=0.005)
    assert number(shown.loc["MGA-V1", "loss ratio, %"]) == pytest.approx(100 * expected / paid, abs=0.005)


def test_every_simulated_figure_has_its_standard_error_and_the_command_line_reproduces_it(at, tmp_path):
    import json

    from conftest import run_cli
    from optimizer.scenario import to_json

    shown = table(at)
    simulated = [r for r in shown.index if r not in ("annual cost", "cash reserve")]
    assert len(simulated) == 7
    for mix in shown.columns:
        assert all(" ± " in shown.loc[r, mix] for r in simulated), mix
        assert " ± " not in shown.loc["annual cost", mix]
    assert "±" in next(m.value for m in at.markdown if "Risk-optimal mix" in m.value)
    noise = next(c.value for c in at.caption if "standard error" in c.value)
    assert "100,000" in noise
    # the saved scenario on the command line, with the page's sample: the same TVaR and standard error
    path = tmp_path / "s.json"
    path.write_text(to_json(at.session_state["workspace"].scenario()), encoding="utf-8")
    out = run_cli("risk", "--scenario", path, "--scenarios", N, "--format", "json", cwd=ROOT)
    assert out.returncode == 0, out.stderr
    risk = json.loads(out.stdout)["risk"]
    assert shown.loc["TVaR 99% of retained loss (mean of the worst 1%)", "regulatory mix"] == \
        f"¥{risk['tvar_jpy'] / 1e6:,.1f}m ± ¥{risk['tvar_se_jpy'] / 1e6:,.1f}m"
