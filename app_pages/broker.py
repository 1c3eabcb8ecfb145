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
    fitted_table, md, page_resolver, right_aligned, session_resolver, show_reasons, styled, tr, unit, ws,
)
from app_pages import market as market_view, risk as risk_view
from optimizer import analysis, charts

EXTRA_LIMIT_JPY = 1e9
# Column titles with their unit (short: the yen view fits at 1280 px)
PREMIUM = N_("premium, {u}/yr")
AT_SHARE = N_("premium paid, {u}/yr")  # at the share bought
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
            _(AT_SHARE).format(u=u.label): u.number(r["share"] * premium),
            _(PREMIUM).format(u=u.label): u.number(premium),
            _(FEE).format(u=u.label): u.number(q.fixed_fee_jpy),  # paid on top if any share is bought
            **({} if losses is None else _loss_columns(losses.get(r["quote_id"]), premium, q.limit_jpy(R), u)),
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


def _loss_columns(loss, premium: float, limit: float, u) -> dict:
    """Expected loss to the layer (¥ a year, from the Risk view's simulation), loss ratio (%, expected loss ÷
    premium), expected loss on line (%, expected loss ÷ limit) and the pricing multiple (premium ÷ expected loss),
    next to its premium."""
    expected = None if loss is None else loss[0]
    return {_(EXPECTED_LOSS).format(u=u.label): None if expected is None else u.number(expected),
            _("loss ratio, %"): None if expected is None or premium <= 0 else 100 * expected / premium,
            _("expected loss on line, %"): None if expected is None or limit <= 0 else 100 * expected / limit,
            _("pricing multiple, ×"): None if expected is None or expected <= 0 else premium / expected}


def pricing_frame(s, quotes, table: pd.DataFrame, losses: dict) -> pd.DataFrame:
    """One row per quote offered with a simulated expected loss: its rate on line as the exchange pays it (premium ÷
    limit, loading and fronting fee included), its expected loss on line, their ratio (the pricing multiple)."""
    R, by_id = s.requirement_jpy, {q.quote_id: q for q in quotes}
    rows = []
    for r in table.to_dict("records"):
        q, loss = by_id[r["quote_id"]], losses.get(r["quote_id"])
        limit = q.limit_jpy(R)
        if loss is None or limit <= 0:
            continue
        premium = q.premium_jpy(R, s.profile.premium_multiplier)
        rows.append({"quote_id": q.quote_id, "loss_on_line": loss[0] / limit, "rate_on_line": premium / limit,
                     "multiple": premium / loss[0] if loss[0] > 0 else None, "bought": bool(r["bought"])})
    return pd.DataFrame(rows, columns=["quote_id", "loss_on_line", "rate_on_line", "multiple", "bought"])


def main_columns() -> list[str]:
    """What fits at 1280 px: the yen view; rates, counterparty and competitors behind the toggle."""
    u = unit()
    return [_("quote"), _("share, %"), _(AT_SHARE).format(u=u.label), _(PREMIUM).format(u=u.label),
            _(BREAK_EVEN).format(u=u.label), _(MORE_LIMIT).format(u=u.label), _("competes with")]


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
    losses = risk_view.layer_losses(sc.profile, sc.quotes, s.requirement_jpy)
    shown = broker_table(s, sc.quotes, table, more, reasons, losses)
    numeric = [c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c]) or shown[c].isna().all()]
    for c in numeric:
        shown[c] = shown[c].astype(float)
    money = [c for c in numeric if c.endswith("/yr")]
    table_view = styled(shown, money=money, percent=[c for c in numeric if c not in money])
    u = unit()
    config = {**right_aligned(table_view), _("counterparty"): st.column_config.TextColumn(width=150),
              _("note"): st.column_config.TextColumn(width="large")}
    helps = {AT_SHARE: N_("What the cheapest mix pays for the share it buys: share × the premium of the whole layer "
                          "(a flat fee, if any, on top)"),
             PREMIUM: N_("Annual premium for the whole layer (a 100% line) at today's rate on line; a flat fee, if "
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
    pricing = pricing_frame(s, sc.quotes, table, losses)
    if len(pricing):
        st.markdown("##### " + _("What each layer is priced at against its expected loss"))
        st.altair_chart(charts.pricing_chart(pricing, tr()), width="stretch")
        st.caption(_("Each point is a layer: its rate on line as this exchange pays it (premium ÷ limit, loading and "
                     "fronting fee included) against its expected loss on line (expected annual loss ÷ limit, "
                     "simulated as in the table). The dashed lines are pricing multiples (premium ÷ expected loss)."))
    st.markdown("##### " + _("What rate gets a share of the layer"))
    ids, bought = list(table["quote_id"]), list(table.loc[table["bought"], "quote_id"])
    pick = st.selectbox(_("Demand curve for"), ids, index=ids.index(bought[0]) if bought else 0,  # a layer bought
                        key="broker_quote")
    current = float(table.loc[table["quote_id"] == pick, "rate_on_line"].iloc[0])
    with st.spinner(_("Tracing the demand curve…")):
        curve = cached_demand(sc.profile, sc.quotes, sc.regime, pick, _resolver=resolver, assets=sc.assets)
    share_for_rate(s, next(q for q in sc.quotes if q.quote_id == pick), curve)
    st.altair_chart(charts.demand_chart(curve, current, _), width="stretch")
    st.caption(_("Share of the layer bought in the cheapest mix at each rate on line, sampled at every rate where "
                 "the share changes (the break-even of each share, found by re-solving); the red line is today's "
                 "premium."))
    market_view.broker_section(sc.quotes, sc.regime)


def share_levels(s, quote, curve: pd.DataFrame) -> pd.DataFrame:
    """Each share the demand curve steps through: the highest rate on line that still buys at least that share
    (analysis.rate_for_share) and the premiums it means, for the whole layer and for that share (¥ a year)."""
    R, m = s.requirement_jpy, s.profile.premium_multiplier
    rows = []
    for share in sorted({round(float(v), 9) for v in curve["share"] if v > 0}, reverse=True):
        rol = analysis.rate_for_share(curve, share)
        if rol is None or not math.isfinite(rol):
            continue
        premium = dataclasses.replace(quote, rate_on_line=rol).premium_jpy(R, m)
        rows.append({"share": share, "rate_on_line": rol, "premium": premium, "at_share": share * premium})
    return pd.DataFrame(rows, columns=["share", "rate_on_line", "premium", "at_share"])


def share_for_rate(s, quote, curve: pd.DataFrame) -> None:
    """"What rate gets me X%": a share typed in percent, the rate on line read from the demand curve; every
    share level of the curve in a table below."""
    u = unit()
    R, m = s.requirement_jpy, s.profile.premium_multiplier
    wanted = st.number_input(_("Share wanted, %"), min_value=0.1, max_value=100.0, step=5.0,
                             value=float(round(100 * quote.max_share, 1)), key=f"broker_share_{quote.quote_id}",
                             help=_("The share of the whole layer the cheapest mix should buy"))
    rol = analysis.rate_for_share(curve, wanted / 100)
    name, pct = md(quote.quote_id), f"{wanted:g}%"
    if rol is None:
        most = float(curve.sort_values("rate_on_line")["share"].iloc[0])
        st.info(_("No rate gets {share} of {q}: even free, the cheapest mix buys at most {most} of it "
                  "(its largest share on offer is {max}).").format(share=pct, q=name, most=f"{100 * most:.3g}%",
                                                                     max=f"{100 * quote.max_share:.3g}%"))
    elif not math.isfinite(rol):
        st.success(_("The cheapest mix buys at least {share} of {q} at every rate on line of the curve, up to "
                     "{top}.").format(share=pct, q=name, top=f"{100 * curve['rate_on_line'].max():.2f}%"))
    else:
        premium = dataclasses.replace(quote, rate_on_line=rol).premium_jpy(R, m)
        st.success(_("For at least {share} of {q}: a rate on line below **{rol}**, a premium below {premium} a year "
                     "for the whole layer ({at_share} for {share}).").format(
            share=pct, q=name, rol=f"{100 * rol:.3f}%", premium=u(premium), at_share=u(premium * wanted / 100)))
    levels = share_levels(s, quote, curve)
    if len(levels):
        shown = pd.DataFrame({
            _("share, %"): 100 * levels["share"],
            _("rate on line below, %"): 100 * levels["rate_on_line"],
            _("premium below, {u}/yr").format(u=u.label): levels["premium"].map(u.number),
            _("at that share, {u}/yr").format(u=u.label): levels["at_share"].map(u.number)})
        money_fmt = "{:,.0f}" if u.divisor == 1 else "{:,.2f}"
        st.table(shown.style.format({c: money_fmt if c.endswith("/yr") else "{:.3f}" if c.startswith(
            _("rate on line below, %")) else "{:.2f}" for c in shown.columns}).hide(axis="index"))  # a few rows


main()
