"""The app's sensitivity page: the same tornado as `python -m optimizer sensitivity` under the scenario's regime."""

import pytest
from streamlit.testing.v1 import AppTest

from conftest import DATA, ROOT
from optimizer import sensitivity
from optimizer.inputs import load_capacity, load_profiles, load_quotes, load_regime

PAGE = "app_pages/sensitivity.py"


@pytest.fixture
def at():
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()


def test_the_sensitivity_page_shows_what_the_command_computes(at):
    at.switch_page(PAGE).run()
    assert not at.exception
    at.button(key="sensitivity_run").click().run()
    assert not at.exception and not [e.value for e in at.error]
    table = next(d.value for d in at.dataframe if "assumption" in d.value.columns)
    want = sensitivity.run(sensitivity.Inputs(load_profiles(DATA / "profiles-japan-2025.csv"),
                                              load_quotes(DATA / "quotes-japan.csv"),
                                              load_regime(DATA / "regimes" / "cold-wallet.toml"),
                                              load_capacity(DATA / "capacity.csv"), DATA),
                           sensitivity.load_assumptions(DATA / "assumptions.toml"))
    assert list(table["assumption"]) == [r.assumption.label for r in want.rows]
    assert next(m.value for m in at.metric if m.label == "Cannot comply") == str(len(want.base.cannot_comply))
    assert len(at.get("arrow_vega_lite_chart")) >= 1 or len(at.get("vega_lite_chart")) >= 1


def test_the_page_shows_the_loss_model_assumptions_risk_figures_as_the_command_does(at):
    from optimizer.loss_model import load_loss_model

    at.switch_page(PAGE).run()
    at.button(key="sensitivity_run").click().run()
    assert not at.exception and not [e.value for e in at.error]
    table = next(d.value for d in at.dataframe if any(str(c).startswith("sum of TVaR") for c in d.value.columns))
    want = sensitivity.run(sensitivity.Inputs(load_profiles(DATA / "profiles-japan-2025.csv"),
                                              load_quotes(DATA / "quotes-japan.csv"),
                                              load_regime(DATA / "regimes" / "cold-wallet.toml"),
                                              load_capacity(DATA / "capacity.csv"), DATA,
                                              load_loss_model(DATA / "loss-models" / "japan.toml")),
                           sensitivity.load_assumptions(DATA / "assumptions.toml"))
    risk = sensitivity.risk_rows(want)
    assert list(table["assumption"]) == [r["label"] for r in risk]
    assert "Heavy tail on the vendor path (off / on)" in list(table["assumption"])
    heavy = table.set_index("assumption").loc["Heavy tail on the vendor path (off / on)"]
    [high] = [c for c in table.columns if c.startswith("sum of TVaR, high")]
    expected = next(r for r in risk if r["label"].startswith("Heavy tail"))["tvar"][1]
    unit = high[high.index("(") + 1:-1]
    divisor = {"¥m": 1e6, "¥bn": 1e9, "¥": 1.0}[unit]
    assert float(str(heavy[high]).replace(",", "")) == pytest.approx(expected / divisor, rel=1e-3)
