"""Broker page: where each layer gets bought — break-even premiums in yen, the value of more limit, demand curves.

It prices the scenario the CFO page shows (the same exchange, regime overrides and edited quote sheet).
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app_pages.common import (
    _, cached_break_evens, cached_demand, cached_more_limit, cached_solve, fit, headline, headline_slot, lang, right_aligned, styled, not_bought_reasons,
    unit, ws,
)
from app_pages import risk as risk_view
from optimizer import charts

EXTRA_LIMIT_JPY = 1e9


def _dash(v):
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def broker_table(s, quotes, table: pd.DataFrame, more: dict, losses: dict | None = None) -> pd.DataFrame:
    """The break-even table in words and yen: premium now, break-even premium (¥ a year at 100%), value of more limit;
    with `losses` (quote_id → expected annual loss to the whole layer, from the Risk view's simulation), the layer's
    expected loss and loss ratio (expected loss ÷ premium) next to its premium."""
    u = unit()
    R = s.requirement_jpy
    by_id = {q.quote_id: q for q in quotes}
    reasons = not_bought_reasons(s, quotes, table)
    why = dict(zip(reasons["quote"], reasons["reason"]))
    rows = []
    for r in table.to_dict("records"):
        q = by_id[r["quote_id"]]
        limit = q.limit_jpy(R)
        mult = s.profile.premium_multiplier
        be = r["break_even_rol"]
        rows.append({
            _("quote"): r["quote_id"], _("counterparty"): r["counterparty"],
            _("rate on line, %"): 100 * r["rate_on_line"],
            _("premium now ({u} a year)").format(u=u.label): u.number(q.premium_rate * limit * mult),
            **({} if losses is None else _loss_columns(losses.get(r["quote_id"]), q.premium_rate * limit * mult, u)),
            _("bought"): "✔" if r["bought"] else "—",
            _("share bought, %"): 100 * r["share"],
            _("break-even rate, %"): None if be is None else 100 * be,
            _("break-even premium ({u} a year)").format(u=u.label): None if be is None else u.number(be * limit * mult),
            _("saving from ¥1bn more limit ({u} a year)").format(u=u.label): u.number(more.get(r["quote_id"])),
            _("competes with"): r["competitors"] or "—",
            _("note"): (_("bought at any price") if r.get("bought_at_any_rol") else
                        why.get(r["quote_id"]) or (_(r["reason"]) if r["reason"] else "—")),
        })
    return pd.DataFrame(rows)


def _loss_columns(loss, premium: float, u) -> dict:
    """Expected loss to the layer (¥ a year) and loss ratio (%, expected loss ÷ premium) for the broker table."""
    expected = None if loss is None else loss[0]
    return {_("expected loss ({u} a year)").format(u=u.label): None if expected is None else u.number(expected),
            _("loss ratio, %"): None if expected is None or premium <= 0 else 100 * expected / premium}


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
    s = cached_solve(sc.profile, sc.quotes, sc.regime)
    slot, details = headline_slot(), st.container()
    with slot:
        headline(s, details)
    with st.spinner(_("Pricing every quote…")):
        table = cached_break_evens(sc.profile, sc.quotes, sc.regime)
        more = cached_more_limit(sc.profile, sc.quotes, sc.regime, EXTRA_LIMIT_JPY)
    if table.empty:
        st.info(_("No quote is offered to this exchange."))
        return
    shown = broker_table(s, sc.quotes, table, more, risk_view.layer_losses(sc.profile, sc.quotes, s.requirement_jpy))
    numeric = [c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c]) or shown[c].isna().all()]
    for c in numeric:
        shown[c] = shown[c].astype(float)
    table_view = styled(shown, money=[c for c in numeric if "(" in c], percent=[c for c in numeric if "(" not in c])
    st.dataframe(table_view, hide_index=True, width="stretch",
                 column_config={**right_aligned(table_view),
                                _("counterparty"): st.column_config.TextColumn(width=150),
                                _("note"): st.column_config.TextColumn(width="large")})
    st.caption(_("Expected loss: the layer's average annual payout at a 100% share over {n} simulated years of hacks "
                 "(loss model “{m}”, as in the CFO page's Risk view); loss ratio = expected loss ÷ premium.").format(
        n=f"{risk_view.APP_SCENARIOS:,}", m=_(risk_view._loss_model(risk_view.DEFAULT_MODEL).name)))
    pick = st.selectbox(_("Demand curve for"), list(table["quote_id"]), key="broker_quote")
    current = float(table.loc[table["quote_id"] == pick, "rate_on_line"].iloc[0])
    with st.spinner(_("Tracing the demand curve…")):
        curve = cached_demand(sc.profile, sc.quotes, sc.regime, pick)
    st.altair_chart(charts.demand_chart(curve, current, _), width="stretch")
    st.caption(_("Share of the layer bought in the cheapest mix at each rate on line; the red line is today's premium."))


main()
