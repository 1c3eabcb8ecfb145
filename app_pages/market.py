"""Market page: every exchange at once against each counterparty's capacity (optimizer.market): utilisation,
clearing prices, who falls short because capacity ran out."""

from __future__ import annotations

import hashlib
import json
import math

import pandas as pd
import streamlit as st

from app_pages.common import DATA, N_, _, fitted_table, lang, md, tr, read_profiles_parquet, stale_warning, unit, upload_rows_check, ws
from optimizer import market, report, settings
from optimizer.i18n import Unit
from optimizer.inputs import InputError, csv_text_to_frame, load_capacity, load_profiles, load_quotes, \
    profiles_from_frame

RESULT = "market_result"     # (MarketResult, names, fingerprint) of the last run
SHEET = "market_sheet"       # which quote sheet: the bundled Japanese one or the scenario's
CAPACITY_EDITOR = "market_capacity"
JAPAN_SHEET = "quotes-japan.csv"


@st.cache_data(show_spinner=False)
def _bundled():
    return (load_profiles(DATA / "profiles-japan-2025.csv"), load_quotes(DATA / JAPAN_SHEET),
            load_capacity(DATA / "capacity.csv"))


def _profiles(up):
    """The uploaded profiles (CSV or Parquet), or the bundled Japanese ones; InputError for anything else."""
    if up is None:
        return _bundled()[0]
    data = up.getvalue()
    limit, command = settings.APP_MAX_MARKET_ROWS, f"python -m optimizer market {up.name} --out market.csv"
    if up.name.lower().endswith(".parquet"):
        table = read_profiles_parquet(up.name, data, limit, command)
        try:
            frame = table.to_pandas().astype(object).where(lambda f: f.notna(), "")
        except Exception as exc:  # noqa: BLE001 — whatever the file holds, a message
            raise InputError(up.name, f"not a Parquet file ({type(exc).__name__})") from None
    else:
        try:
            frame = csv_text_to_frame(data.decode("utf-8-sig"), up.name)
        except UnicodeDecodeError:
            raise InputError(up.name, "not UTF-8 text") from None
        upload_rows_check(up.name, len(frame), limit, command)
    return profiles_from_frame(frame, up.name)


def capacity_unit() -> Unit:
    """The unit of the capacity editor: the page's unit; where that is "fitted to each amount" (one column needs
    one unit), ¥bn in English and 億円 in Japanese."""
    u = unit()
    return Unit("億円" if lang() == "ja" else "¥bn", u.usd_rate, lang()) if u.key == "auto" else u


def _capacity_table(quotes, cu: Unit) -> pd.DataFrame:
    """One row per counterparty of the sheet: the bundled capacity in the unit `cu` where it has one, blank
    (unlimited) else."""
    bundled = _bundled()[2]
    names = sorted({q.counterparty for q in quotes})
    return pd.DataFrame({"counterparty": names,
                         "capacity": [bundled[c] / cu.divisor if c in bundled else None for c in names]})


def _capacity(table: pd.DataFrame, cu: Unit) -> dict[str, float]:
    """The edited table (amounts in the unit `cu`) → {counterparty: yen}; a blank is unlimited; a negative
    capacity is refused."""
    out = {}
    for row_no, row in enumerate(table.itertuples(), start=1):
        value = row.capacity
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if not math.isfinite(float(value)) or float(value) < 0:
            raise InputError(_("capacity table"), _("expected a capacity ≥ 0 (blank: unlimited)"), row_no,
                             _("capacity ({unit})").format(unit=cu.label), row.counterparty)
        out[row.counterparty] = float(value) * cu.divisor
    return out


STALE = N_("Stale: the inputs changed since this run (profiles, quote sheet, capacity or regime). Run the market "
           "again to update.")
STALE_ASSETS = N_("Stale: the inputs changed since this run (profiles, quote sheet, capacity, regime or the CFO "
                  "page's reserve assets). Run the market again to update.")


def _fingerprint(up, quotes, regime, capacity: pd.Series, assets: tuple = ()) -> str:
    """What a run read: the profiles, the quote sheet, the regime, the capacity table (in yen: another unit on
    the page is not another input) and the CFO page's reserve assets."""
    from optimizer.scenario import assets_to_frame, quotes_to_frame, regime_to_dict

    parts = [up.file_id if up is not None else "bundled", quotes_to_frame(quotes).to_json(),
             json.dumps(regime_to_dict(regime), default=str), capacity.round(0).to_json(),
             assets_to_frame(assets).to_json() if assets else ""]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _scarcity(s, u, c) -> None:
    """The cost of scarcity in its metric; a total lower only because exchanges fall short is never a saving."""
    cost, n = market.scarcity_reading(s)
    if cost is None:
        c.metric(_("Cost of scarcity"), "—")
        st.warning(_("Cheaper only because {n} exchanges fall short: the total annual cost is {amount} below the one "
                     "without capacity limits because those exchanges cannot buy the cover they need. That is not a "
                     "saving.").format(n=n, amount=u(-s["scarcity_cost_jpy"])), icon=":material/warning:")
        return
    c.metric(_("Cost of scarcity"), u(cost))
    if n:
        st.warning(_("{n} exchanges fall short because capacity ran out: the cost of scarcity leaves out the cover "
                     "they cannot buy.").format(n=n), icon=":material/warning:")


def _split(result, u) -> None:
    """When capacity runs out, which exchanges fall short is one of many equally cheap answers: said, with each
    exchange's least and most shortfall over all of them (market.shortfall_ranges)."""
    split = result.summary.get("shortfall_split") or {}
    if split.get("unique") is None and split.get("note"):
        st.caption(_("Which exchanges fall short is one of many equally cheap answers (not ranged for this many "
                     "exchanges): the totals are the least possible, the split among exchanges is not."))
    if split.get("unique") is not False:
        return
    st.caption(_("Which exchanges fall short is one of many equally cheap answers: the total shortfall and cost are "
                 "the least possible, but capacity can be shared out in other ways at the same cost (another method "
                 "may name other exchanges). Each exchange's shortfall in every such answer:"))
    rows = pd.DataFrame(split["exchanges"])
    st.dataframe(pd.DataFrame({
        _("exchange"): rows["exchange_id"],
        _("shortfall ({unit})").format(unit=u.label): rows["shortfall_jpy"].map(u.number),
        _("at least ({unit})").format(unit=u.label): rows["least_jpy"].map(u.number),
        _("at most ({unit})").format(unit=u.label): rows["most_jpy"].map(u.number),
    }), hide_index=True, width="stretch", key="market_split")


def main() -> None:
    ss = st.session_state
    w = ws()
    u = unit()
    st.markdown("#### " + _("The market: every exchange at once"))
    st.caption(_("Each exchange alone assumes every insurer can write its whole tower. Here all exchanges buy at "
                 "once against each counterparty's capacity (the most cover it writes across all of them): who can "
                 "still comply, and what one more yen of each counterparty's capacity is worth (its clearing "
                 "price)."))
    up = st.file_uploader(_("Profiles (CSV or Parquet)"), type=["csv", "parquet"], key="market_upload")
    sheet = st.radio(_("Quote sheet"), ["japan", "scenario"], horizontal=True, key=SHEET,
                     format_func=lambda k, t=tr(): t("bundled Japanese sheet") if k == "japan" else t("the scenario's sheet"))
    quotes = _bundled()[1] if sheet == "japan" else w.last_quotes
    cu = capacity_unit()
    st.caption(_("Capacity per counterparty in {unit}; a blank cell means unlimited. Bundled figures are "
                 "assumptions bounded by reported totals (data/capacity.csv).").format(unit=cu.label))
    # one editor per unit: an edit typed in one unit is never read in another
    table = st.data_editor(_capacity_table(quotes, cu), key=f"{CAPACITY_EDITOR}_{sheet}_{cu.key}", hide_index=True,
                           width="stretch", disabled=["counterparty"],
                           column_config={"counterparty": st.column_config.TextColumn(_("counterparty")),
                                          "capacity": st.column_config.NumberColumn(
                                              _("capacity ({unit})").format(unit=cu.label),
                                              format="%,.1f" if cu.divisor > 1 else "%,.0f")})
    st.caption(_("Regime: **{regime}** · profiles: **{profiles}**").format(
        regime=md(_(w.regime.name)), profiles=md(up.name if up is not None else "profiles-japan-2025.csv")))
    assets = tuple(w.last_assets)
    if assets:
        st.caption(_("Reserve assets: the CFO page's table (**{n}**), offered to every exchange as `python -m "
                     "optimizer market --assets FILE` offers them; a bank's or parent's promise (guarantee, "
                     "committed line) uses its capacity beside its layers.").format(n=len(assets)))
    fingerprint = _fingerprint(up, quotes, w.regime, table["capacity"].astype(float) * cu.divisor, assets)
    if st.button(_("Run market"), type="primary", key="market_run"):
        try:
            with st.spinner(_("Solving…")):
                # market.run checks each exchange's asset yields as the command line does, then solve_market
                result = market.run(_profiles(up), quotes, w.regime, _capacity(table, cu), assets=assets or None)
            ss[RESULT] = (result, {"regime": w.regime.name, "assets": bool(assets)}, fingerprint)
        except InputError as exc:
            st.error(_("Not run — {error}").format(error=md(exc)))
    stored = ss.get(RESULT)
    if stored is None:
        return
    result, names, old = stored
    if old != fingerprint:
        stale_warning(STALE_ASSETS if assets or names.get("assets") else STALE)
    s = result.summary
    totals, free, milp = s["totals"], s["unlimited"], s["milp"]
    c = st.columns(4)
    c[0].metric(_("Exchanges"), f"{s['exchanges']:,}")
    c[1].metric(_("Total annual cost"), u(totals["annual_cost_jpy"]))
    c[3].metric(_("Short because capacity ran out"), f"{len(s['short_because_of_capacity'])}")
    _scarcity(s, u, c[2])
    st.caption(_("Without capacity limits: annual cost {cost}, shortfall {short}, {n} exchanges short. With them: "
                 "shortfall {now}. Regime **{regime}**; yes/no quotes: {milp}.").format(
        cost=u(free["annual_cost_jpy"]), short=u(free["shortfall_jpy"]), n=free["shortfall_exchanges"],
        now=u(totals["shortfall_jpy"]), regime=md(_(names["regime"])), milp=_(milp)))
    rows = pd.DataFrame([{"counterparty": r["counterparty"],
                          "capacity": None if r["capacity_jpy"] is None else u.number(r["capacity_jpy"]),
                          "cover": u.number(r["cover_jpy"]),
                          "utilisation": None if r["utilisation"] is None else 100 * min(r["utilisation"], 1.0),
                          "committed": u.number(r["committed_jpy"]) if "committed_jpy" in r else None,
                          "price": r["clearing_price"], "shortfall_price": r["shortfall_price"],
                          "exchanges": r["exchanges"]} for r in s["counterparties"]],
                        columns=["counterparty", "capacity", "cover", "committed", "utilisation", "price",
                                 "shortfall_price", "exchanges"])
    promised = any("committed_jpy" in r for r in s["counterparties"])  # a run with reserve assets
    st.subheader(_("Capacity used and clearing prices"))
    # the clearing price (the point of the page) next to the name, everything in view at 1280 px; the shortfall
    # price and the buyers behind the toggle
    rows = rows[["counterparty", "price", "utilisation", "capacity", "cover", *(["committed"] if promised else []),
                 "shortfall_price", "exchanges"]]
    fitted_table(rows, ["counterparty", "price", "utilisation", "capacity", "cover", "committed"], key="market_more",
                 column_config={
        "counterparty": st.column_config.TextColumn(_("counterparty"), width=320),
        "capacity": st.column_config.NumberColumn(_("capacity ({unit})").format(unit=u.label), format="%,.1f"),
        "cover": st.column_config.NumberColumn(_("cover written ({unit})").format(unit=u.label), format="%,.1f"),
        "committed": st.column_config.NumberColumn(_("of which promised by banks and parents ({unit})").format(
            unit=u.label), format="%,.1f"),
        "utilisation": st.column_config.ProgressColumn(_("utilisation"), min_value=0, max_value=100,
                                                       format="%.0f%%", width=120),
        "price": st.column_config.NumberColumn(_("clearing price (¥ per ¥)"), format="%.4f"),
        "shortfall_price": st.column_config.NumberColumn(_("shortfall price (¥ per ¥)"), format="%.2f"),
        "exchanges": st.column_config.NumberColumn(_("buyers")),
    })
    st.subheader(_("Who falls short"))
    short = result.rows[result.rows["status"] == "shortfall"]
    if short.empty:
        st.write(_("Every exchange complies."))
    else:
        st.dataframe(pd.DataFrame({
            _("exchange"): short["exchange_id"],
            _("shortfall ({unit})").format(unit=u.label): short["shortfall_jpy"].map(u.number),
            _("without capacity limits ({unit})").format(unit=u.label): short["unlimited_shortfall_jpy"].map(u.number),
            _("because capacity ran out"): short["short_because_of_capacity"].map(lambda v: _("yes") if v else _("no")),
        }), hide_index=True, width="stretch")
    _split(result, u)
    c = st.columns(2)
    c[0].download_button(_("Results (CSV)"), report.csv_bytes(result.rows), "market.csv", "text/csv", key="dl_market")
    c[1].download_button(_("Summary (JSON)"), report.to_json(s), "market.summary.json", "application/json",
                         key="dl_market_summary")


if __name__ == "__main__":  # run as a page (Streamlit runs a page as __main__); the Broker page imports
    main()                  # broker_section from here, and an import must not draw this page on the Broker page


BROKER_MARKET = "broker_market"  # (fingerprint, counterparties frame) of the Broker page's last market run


def broker_section(quotes, regime) -> None:
    """On the Broker page: each counterparty's clearing price when all of Japan's exchanges buy at once from this
    quote sheet under this regime (bundled profiles and capacity), on demand (one LP over all exchanges)."""
    ss, u = st.session_state, unit()
    st.markdown("##### " + _("Clearing prices when all of Japan's exchanges buy at once"))
    st.caption(_("The market of the bundled Japanese exchanges (2025 statements) with this quote sheet, this regime "
                 "and the bundled capacity: what one more yen of each counterparty's capacity would save the market "
                 "a year. A counterparty without a capacity in the bundled file is unlimited (price 0)."))
    key = repr((tuple(quotes), regime))
    if st.button(_("Price the market"), key="broker_market_run"):
        profiles, _sheet, capacity = _bundled()
        with st.spinner(_("Solving…")):
            result = market.solve_market(profiles, tuple(quotes), regime, capacity, method="joint")
        ss[BROKER_MARKET] = (key, pd.DataFrame(result.summary["counterparties"]))
    stored = ss.get(BROKER_MARKET)
    if stored is None:
        return
    if stored[0] != key:
        st.info(_("The quote sheet or the regime changed since the market was priced: press the button again."))
        return
    frame = stored[1]
    mine = frame[frame["counterparty"].isin({q.counterparty for q in quotes})]
    st.dataframe(pd.DataFrame({
        _("counterparty"): mine["counterparty"],
        _("capacity ({unit})").format(unit=u.label): mine["capacity_jpy"].map(
            lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else u.number(v)),
        _("cover written ({unit})").format(unit=u.label): mine["cover_jpy"].map(u.number),
        _("utilisation"): mine["utilisation"].map(lambda v: None if v is None or (isinstance(v, float)
                                                  and math.isnan(v)) else 100 * min(v, 1.0)),
        _("clearing price (¥ per ¥)"): mine["clearing_price"],
    }), hide_index=True, width="stretch", column_config={
        _("utilisation"): st.column_config.ProgressColumn(_("utilisation"), min_value=0, max_value=100,
                                                          format="%.0f%%"),
        _("clearing price (¥ per ¥)"): st.column_config.NumberColumn(format="%.4f")})
