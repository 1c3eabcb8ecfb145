"""Broker page: where each layer gets bought — break-even premiums in yen, the value of more limit, demand curves.

It prices the scenario the CFO page shows (the same exchange, regime overrides and edited quote sheet).
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import streamlit as st

from app_pages.common import (
    N_, _, cached_break_evens, cached_demand, cached_more_limit, cached_solve, headline, headline_slot, not_bought_reasons,
    fitted_table, md, page_resolver, right_aligned, session_resolver, show_reasons, styled, unit, ws,
)
from app_pages import market as market_view, risk as risk_view
from optimizer import charts

EXTRA_LIMIT_JPY = 1e9
# Column titles with their unit (short: the yen view fits at 1280 px)
PREMIUM = N_("premium, {u}/yr")
BREAK_EVEN = N_("break-even premium, {u}/yr")
MORE_LIMIT = N_("¥1bn more limit saves, {u}/yr")
FEE = N_("flat fee, {u}/yr")
EXPECTED_LOSS = N_("expected loss, {u}/yr")


def _dash(v):
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def broker_table(s, quotes, table: pd.DataFrame, more: dict, reasons: pd.DataFrame,
                 losses: dict | None = None) -> pd.DataFrame:
    """The break-even table in words and yen: premium now, break-even premium (¥ a year at 100%), value of more limit."""
    u = unit()
    R = s.requirement_jpy
    by_id = {q.quote_id: q for q in quotes}
    why = dict(zip(reasons["quote"], reasons["reason"]))
    rows = []
    for r in table.to_dict("records"):
        q = by_id[r["quote_id"]]
        premium = q.premium_jpy(R, s.profile.premium_multiplier)  # what a 100% line pays, fronting fee included
        be = r["break_even_rol"]
        rows.append({
            _("quote"): r["quote_id"], _("counterparty"): r["counterparty"],
            _("bought"): "✔" if r["bought"] else "—",
            _("share, %"): 100 * r["share"],
            _(PREMIUM).format(u=u.label): u.number(premium),
            _(FEE).format(u=u.label): u.number(q.fixed_fee_jpy),  # paid on top if any share is bought
            **({} if losses is None else _loss_columns(losses.get(r["quote_id"]), premium, u)),
            _(BREAK_EVEN).format(u=u.label): None if be is None else u.number(
                dataclasses.replace(q, rate_on_line=be).premium_jpy(R, s.profile.premium_multiplier)),
            _(MORE_LIMIT).format(u=u.label): u.number(more.get(r["quote_id"])),
            _("rate on line, %"): 100 * r["rate_on_line"],
            _("break-even rate, %"): None if be is None else 100 * be,
            _("competes with"): r["competitors"] or "—",
            _("note"): (_("bought at any price") if r.get("bought_at_any_rol") else
                        why.get(r["quote_id"]) or (_(r["reason"]) if r["reason"] else "—")),
        })
    return pd.DataFrame(rows)


def _loss_columns(loss, premium: float, u) -> dict:
    """Expected loss to the layer (¥ a year, from the Risk view's simulation) and loss ratio (%, expected loss ÷
    premium), next to its premium."""
    expected = None if loss is None else loss[0]
    return {_(EXPECTED_LOSS).format(u=u.label): None if expected is None else u.number(expected),
            _("loss ratio, %"): None if expected is None or premium <= 0 else 100 * expected / premium}


def main_columns() -> list[str]:
    """What fits at 1280 px: the yen view; rates, counterparty and competitors behind the toggle."""
    u = unit()
    return [_("quote"), _("bought"), _("share, %"), _(PREMIUM).format(u=u.label), _(BREAK_EVEN).format(u=u.label),
            _(MORE_LIMIT).format(u=u.label), _("competes with")]


def main() -> None:
    w = ws()
    sc = w.scenario()
    st.markdown("#### " + _("Where does each layer get bought?"))
    st.caption(_("For each quote: is it in the cheapest mix, at what share, and the break-even premium — in the mix, "
                 "the highest premium at which it stays; out of it, the premium at which it would enter. Priced on "
                 "the scenario of the CFO page (same exchange, regime and edited quotes)."))
    if sc is None:
        st.info(_("Enter your exchange's figures on the CFO page to see a result."))
        return
    s = cached_solve(sc.profile, sc.quotes, sc.regime, session_resolver(), assets=sc.assets)
    slot, details = headline_slot(), st.container()
    with slot:
        headline(s, details)
    resolver = page_resolver()  # every re-solve of this page run on one set of kept models
    with st.spinner(_("Pricing every quote…")):
        table = cached_break_evens(sc.profile, sc.quotes, sc.regime, _resolver=resolver, assets=sc.assets)
        more = cached_more_limit(sc.profile, sc.quotes, sc.regime, EXTRA_LIMIT_JPY, _resolver=resolver,
                                 assets=sc.assets)
    if table.empty:
        st.info(_("No quote is offered to this exchange."))
        return
    reasons = not_bought_reasons(s, sc.quotes, resolver)
    shown = broker_table(s, sc.quotes, table, more, reasons,
                         risk_view.layer_losses(sc.profile, sc.quotes, s.requirement_jpy))
    numeric = [c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c]) or shown[c].isna().all()]
    for c in numeric:
        shown[c] = shown[c].astype(float)
    money = [c for c in numeric if c.endswith("/yr")]
    table_view = styled(shown, money=money, percent=[c for c in numeric if c not in money])
    u = unit()
    config = {**right_aligned(table_view), _("counterparty"): st.column_config.TextColumn(width=150),
              _("note"): st.column_config.TextColumn(width="large")}
    helps = {PREMIUM: N_("Annual premium for the whole layer (a 100% line) at today's rate on line; a flat fee, if "
                         "the quote has one, comes on top (the CFO page's annual cost includes both)"),
             FEE: N_("Charged in full once any share of the layer is bought, whatever the share"),
             BREAK_EVEN: N_("For the whole layer. In the mix: the highest premium at which it stays; out of it: the "
                            "premium at which it would enter"),
             MORE_LIMIT: N_("How much less the cheapest mix would cost a year if this quote offered ¥1bn more limit")}
    for title, text in helps.items():
        column = _(title).format(u=u.label)
        config[column] = {**config.get(column, {}), "help": _(text)}
    fitted_table(table_view, main_columns(), key="broker_more", column_config=config)
    st.caption(_("Expected loss: the layer's average annual payout at a 100% share over {n} simulated years of hacks "
                 "(loss model “{m}”, as in the CFO page's Risk view); loss ratio = expected loss ÷ premium.").format(
        n=f"{risk_view.APP_SCENARIOS:,}", m=md(_(risk_view._loss_model(risk_view.DEFAULT_MODEL).name))))
    if len(reasons):
        st.markdown("##### " + _("Why the others are not bought"))
        show_reasons(reasons)
    pick = st.selectbox(_("Demand curve for"), list(table["quote_id"]), key="broker_quote")
    current = float(table.loc[table["quote_id"] == pick, "rate_on_line"].iloc[0])
    with st.spinner(_("Tracing the demand curve…")):
        curve = cached_demand(sc.profile, sc.quotes, sc.regime, pick, _resolver=resolver, assets=sc.assets)
    st.altair_chart(charts.demand_chart(curve, current, _), width="stretch")
    st.caption(_("Share of the layer bought in the cheapest mix at each rate on line; the red line is today's premium."))
    market_view.broker_section(sc.quotes, sc.regime)


main()
