"""Sensitivity page: Japan's 21 exchanges re-solved with each assumption of data/assumptions.toml at its low and its
high value (optimizer.sensitivity), as a tornado chart and a table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.common import DATA, _, unit, ws
from optimizer import charts, report, sensitivity
from optimizer.inputs import InputError, load_capacity, load_profiles, load_quotes
from optimizer.loss_model import load_loss_model

RESULT = "sensitivity_result"   # (Sensitivity, regime name) of the last run


@st.cache_data(show_spinner=False)
def _bundled():
    return (load_profiles(DATA / "profiles-japan-2025.csv"), load_quotes(DATA / "quotes-japan.csv"),
            load_capacity(DATA / "capacity.csv"), sensitivity.load_assumptions(DATA / "assumptions.toml"),
            load_loss_model(DATA / "loss-models" / "japan.toml"))


def main() -> None:
    ss = st.session_state
    w = ws()
    u = unit()
    st.markdown("#### " + _("What each assumption moves"))
    st.caption(_("Japan's 21 exchanges, the bundled Japanese quote sheet with each ceiling capped by its counterparty's "
                 "capacity, under the scenario's regime: each assumption of data/assumptions.toml moved to its low "
                 "and then its high value, everything else as it is. Widest swing in total annual cost first."))
    st.caption(_("Regime: **{regime}**").format(regime=_(w.regime.name)))
    if w.last_assets:
        st.caption(_("Cash and cover alone: the reserve assets of the CFO page are left out of the sensitivity."))
    if st.button(_("Run sensitivity"), type="primary", key="sensitivity_run"):
        profiles, quotes, capacity, assumptions, loss_model = _bundled()
        try:
            with st.spinner(_("Solving…")):  # the loss-model assumptions simulated as the command does (100,000 years)
                result = sensitivity.run(sensitivity.Inputs(list(profiles), list(quotes), w.regime, dict(capacity),
                                                            DATA, loss_model), assumptions)
            ss[RESULT] = (result, w.regime.name)
        except InputError as exc:
            st.error(_("Not run — {error}").format(error=exc))
    stored = ss.get(RESULT)
    if stored is None:
        return
    result, regime = stored
    b = result.base
    c = st.columns(3)
    c[0].metric(_("Total annual cost"), u(b.annual_cost_jpy))
    c[1].metric(_("Insurance cover"), u(b.insurance_cover_jpy))
    c[2].metric(_("Cannot comply"), f"{len(b.cannot_comply)}")
    st.altair_chart(charts.tornado_chart(result, u, _), width="stretch")
    frame = result.frame()
    shown = pd.DataFrame({
        _("assumption"): frame["label"].map(_),
        # as text: a loss-model file's range is two file names (a column of numbers and names is not one type)
        _("low"): frame["low"].map(sensitivity.value_text), _("high"): frame["high"].map(sensitivity.value_text),
        _("annual cost, low ({unit})").format(unit=u.label): frame["annual_cost_low_jpy"].map(
            lambda v: None if pd.isna(v) else u.number(v)),
        _("annual cost, high ({unit})").format(unit=u.label): frame["annual_cost_high_jpy"].map(
            lambda v: None if pd.isna(v) else u.number(v)),
        _("cannot comply, low"): frame["cannot_comply_low"], _("cannot comply, high"): frame["cannot_comply_high"],
    })
    st.dataframe(shown, hide_index=True, width="stretch")
    st.caption(_("Regime **{regime}**. Loss-model assumptions change risk figures, not the cheapest mix: they have no "
                 "bars.").format(regime=_(regime)))
    risk = sensitivity.risk_rows(result)
    if risk:
        st.markdown("##### " + _("What the loss-model assumptions move"))
        st.caption(_("Each exchange's cheapest mix simulated under the loss model {model} ({n} years, one seed) with the "
                     "assumption at its low and at its high value; summed over the exchanges. At base: expected "
                     "retained loss {retained}, sum of TVaR {tvar}.").format(
            model=_(b.loss_model), n=f"{sensitivity.Inputs.scenarios:,}", retained=u(b.expected_retained_jpy),
            tvar=u(b.tvar_jpy)))
        st.dataframe(pd.DataFrame({
            _("assumption"): [_(r["label"]) for r in risk], _("low → high"): [r["values"] for r in risk],
            _("expected retained loss, low ({unit})").format(unit=u.label): [u.number(r["retained"][0]) for r in risk],
            _("expected retained loss, high ({unit})").format(unit=u.label): [u.number(r["retained"][1]) for r in risk],
            _("sum of TVaR, low ({unit})").format(unit=u.label): [u.number(r["tvar"][0]) for r in risk],
            _("sum of TVaR, high ({unit})").format(unit=u.label): [u.number(r["tvar"][1]) for r in risk],
        }), hide_index=True, width="stretch")
    st.download_button(_("Results (CSV)"), report.csv_bytes(frame), "sensitivity.csv", "text/csv",
                       key="dl_sensitivity")


main()
