"""Reserve optimizer — the Streamlit app. It only arranges what the `optimizer` package returns.

Pages: CFO (the cheapest compliant mix and what changes it), Broker (break-even premiums, demand curves),
Batch (many exchanges at once).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import streamlit as st

from optimizer import analysis, batch, report
from optimizer.charts import Unit, cost_chart, demand_chart, frontier_chart, stress_chart, tower_chart
from optimizer.domain import KINDS, LAYER_BASES, PERILS, RATINGS, ExchangeProfile
from optimizer.inputs import (
    InputError, csv_text_to_frame, load_incidents, load_profiles, load_quotes, load_regime, parse_profile,
    profiles_from_frame, quotes_from_frame, regime_from_text,
)
from optimizer.model import solve
from optimizer.regime import with_parameter
from optimizer.scenario import Scenario, from_json, profile_to_dict, quotes_to_frame, regime_to_dict, to_json
from optimizer.solution import SolveError

DATA = Path(__file__).resolve().parent / "data"
PRESETS = {p.stem: p for p in sorted((DATA / "regimes").glob("*.toml"))}
DEFAULT_PRESET = "securities-style"

st.set_page_config(page_title="Reserve optimizer", layout="wide")


# ------------------------------------------------------------------ cached core calls

@st.cache_data(show_spinner=False)
def bundled():
    return (load_profiles(DATA / "profiles.csv"), load_quotes(DATA / "quotes.csv"),
            {name: load_regime(path) for name, path in PRESETS.items()}, load_incidents(DATA / "incidents.csv"))


@st.cache_data(show_spinner=False, max_entries=64)
def cached_solve(profile, quotes, regime):
    return solve(profile, quotes, regime)


@st.cache_data(show_spinner="Sweeping the insurance cap…", max_entries=16)
def cached_frontier(profile, quotes, regime, param):
    return analysis.frontier(profile, quotes, regime, param, [i / 10 for i in range(11)])


@st.cache_data(show_spinner="Pricing every quote…", max_entries=16)
def cached_break_evens(profile, quotes, regime):
    return analysis.break_evens(profile, quotes, regime)


@st.cache_data(show_spinner="Tracing the demand curve…", max_entries=32)
def cached_demand(profile, quotes, regime, quote_id):
    return analysis.demand_curve(profile, quotes, regime, quote_id)


# ------------------------------------------------------------------ state: the last valid inputs

def init_state() -> None:
    profiles, quotes, regimes, incidents = bundled()
    ss = st.session_state
    ss.setdefault("profiles", profiles)
    ss.setdefault("quotes_frame", quotes_to_frame(quotes))
    ss.setdefault("quotes", tuple(quotes))
    ss.setdefault("regimes", dict(regimes))
    ss.setdefault("regime_name", DEFAULT_PRESET if DEFAULT_PRESET in regimes else next(iter(regimes)))
    ss.setdefault("custom_profile", None)
    ss.setdefault("editor_version", 0)
    ss.setdefault("messages", [])


def apply_upload(kind: str, name: str, data: bytes, state) -> str | None:
    """Validate an uploaded file and, only if it is valid, put it in place. Returns the error message or None."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return f"{name}: not UTF-8 text"
    try:
        if kind == "profiles":
            state["profiles"] = profiles_from_frame(csv_text_to_frame(text, name), name)
            state["custom_profile"] = None
            state.pop("exchange_choice", None)
        elif kind == "quotes":
            quotes = quotes_from_frame(csv_text_to_frame(text, name), name)
            state["quotes"], state["quotes_frame"] = tuple(quotes), quotes_to_frame(quotes)
            state["editor_version"] = state.get("editor_version", 0) + 1
        elif kind == "regime":
            regime = regime_from_text(text, name)
            state["regimes"] = {**state["regimes"], f"uploaded: {name}": regime}
            state["regime_name"] = state["regime_select"] = f"uploaded: {name}"
        elif kind == "scenario":
            sc = from_json(text, name)
            state["custom_profile"] = sc.profile
            state["quotes"], state["quotes_frame"] = sc.quotes, quotes_to_frame(sc.quotes)
            state["editor_version"] = state.get("editor_version", 0) + 1
            state["regimes"] = {**state["regimes"], f"scenario: {sc.regime.name}": sc.regime}
            state["regime_name"] = state["regime_select"] = f"scenario: {sc.regime.name}"
            state["exchange_choice"] = "custom"
            for field, _, _ in PROFILE_FIELDS:  # the custom-profile inputs show the scenario's figures
                state.pop(f"custom_{field}", None)
            state.pop("custom_liquid", None)
            state.pop("custom_limited", None)
        else:
            return f"unknown upload kind {kind!r}"
    except InputError as exc:
        return str(exc)
    return None


def sidebar() -> tuple[str, Unit]:
    st.sidebar.title("Reserve optimizer")
    page = st.sidebar.radio("Page", ["CFO: funding mix", "Broker: pricing", "Batch: many exchanges"], key="page")
    st.sidebar.divider()
    unit_name = st.sidebar.radio("Show amounts in", ["¥", "¥ millions", "¥ billions", "US$ millions"], index=1,
                                 key="unit", horizontal=True)
    rate = st.sidebar.number_input("Yen per US dollar", min_value=1.0, value=150.0, step=1.0, key="usd_rate",
                                   disabled=unit_name != "US$ millions")
    unit = {"¥": Unit("¥", 1.0), "¥ millions": Unit("¥m", 1e6), "¥ billions": Unit("¥bn", 1e9),
            "US$ millions": Unit("$m", 1e6 * rate)}[unit_name]
    st.sidebar.divider()
    with st.sidebar.expander("Upload your own files", expanded=False):
        st.caption("CSV and TOML in the formats of data/README.md. A bad file is rejected with the reason; "
                   "your current inputs stay in place.")
        for kind, label, types in (("profiles", "Exchange profiles (CSV)", ["csv"]),
                                   ("quotes", "Quote sheet (CSV)", ["csv"]),
                                   ("regime", "Regime (TOML)", ["toml"]),
                                   ("scenario", "Saved scenario (JSON)", ["json"])):
            up = st.file_uploader(label, type=types, key=f"upload_{kind}")
            marker = f"done_{kind}"
            if up is not None and st.session_state.get(marker) != (up.name, up.size):
                st.session_state[marker] = (up.name, up.size)
                error = apply_upload(kind, up.name, up.getvalue(), st.session_state)
                st.session_state[f"upload_error_{kind}"] = error
            error = st.session_state.get(f"upload_error_{kind}") if up is not None else None
            if error:
                st.error(f"Not loaded — {error}", icon="🚫")
    return page, unit


# ------------------------------------------------------------------ inputs on the CFO page

PROFILE_FIELDS = [
    ("customer_assets_jpy", "Customer assets in custody (¥)", 1e9),
    ("hot_wallet_share", "Share in hot wallets (0–1)", 0.01),
    ("annual_trading_volume_jpy", "Annual trading volume (¥)", 1e10),
    ("cost_of_capital", "Cost of capital (annual, 0–1)", 0.005),
    ("reserve_yield", "Yield on reserve assets (annual, 0–1)", 0.001),
    ("premium_multiplier", "Insurers' loading on premiums (×)", 0.05),
]


def profile_inputs() -> ExchangeProfile | None:
    ss = st.session_state
    profiles = ss["profiles"]
    ids = [p.exchange_id for p in profiles]
    labels = {p.exchange_id: f"{p.exchange_id} — {p.display_name}" for p in profiles}
    choice = st.selectbox("Exchange", ids + ["custom"], format_func=lambda i: labels.get(i, "Enter my own figures"),
                          key="exchange_choice")
    base = next((p for p in profiles if p.exchange_id == choice), None)
    if choice == "custom":
        base = ss["custom_profile"] or dataclasses.replace(profiles[0], exchange_id="MINE", name="My exchange")
        values = {}
        cols = st.columns(3)
        for i, (field, label, step) in enumerate(PROFILE_FIELDS):
            values[field] = cols[i % 3].number_input(label, min_value=0.0, value=float(getattr(base, field)),
                                                     step=step, format="%.4f" if step < 1 else "%.0f",
                                                     key=f"custom_{field}")
        limited = cols[0].checkbox("Liquid capital is limited", value=not math.isinf(base.liquid_capital_jpy),
                                   key="custom_limited")
        liquid = cols[1].number_input("Most cash we can set aside (¥)", min_value=0.0,
                                      value=0.0 if math.isinf(base.liquid_capital_jpy) else base.liquid_capital_jpy,
                                      step=1e9, format="%.0f", disabled=not limited, key="custom_liquid")
        row = {"exchange_id": base.exchange_id, "name": base.name, **values,
               "liquid_capital_jpy": liquid if limited else ""}
        try:
            profile = parse_profile(row, "your figures")
        except InputError as exc:
            st.error(str(exc))
            return ss["custom_profile"]
        ss["custom_profile"] = profile
        return profile
    return base


def regime_inputs():
    ss = st.session_state
    names = list(ss["regimes"])
    if ss.get("regime_select") not in names:
        ss["regime_select"] = ss["regime_name"] if ss["regime_name"] in names else names[0]
    name = st.selectbox("Regime", names, key="regime_select")
    ss["regime_name"] = name
    regime = ss["regimes"][name]
    st.caption(regime.description or "")
    with st.expander("Override the regime's parameters"):
        r, e = regime.requirement, regime.eligibility
        c1, c2 = st.columns(2)
        overrides = {
            "volume_rate": c1.number_input("R: rate on trading volume", 0.0, 1.0, r.volume_rate, 0.0005, "%.4f",
                                           key=f"ov_volume_rate_{name}"),
            "hot_wallet_rate": c1.number_input("R: rate on hot-wallet assets", 0.0, 10.0, r.hot_wallet_rate, 0.05,
                                               "%.3f", key=f"ov_hot_{name}"),
            "cold_wallet_rate": c1.number_input("R: rate on cold-wallet assets", 0.0, 10.0, r.cold_wallet_rate, 0.01,
                                                "%.3f", key=f"ov_cold_{name}"),
            "floor_jpy": c1.number_input("R: floor (¥)", 0.0, None, r.floor_jpy, 1e9, "%.0f", key=f"ov_floor_{name}"),
            "min_cash_share": c2.number_input("Cash at least (share of R)", 0.0, 1.0, e.min_cash_share, 0.05,
                                              key=f"ov_mincash_{name}"),
            "max_insurance_share": c2.number_input("Insurance credit at most (share of R)", 0.0, 1.0,
                                                   e.max_insurance_share, 0.05, key=f"ov_ins_{name}"),
            "max_derivative_share": c2.number_input("Derivative credit at most (share of R)", 0.0, 1.0,
                                                    e.max_derivative_share, 0.05, key=f"ov_der_{name}"),
            "max_counterparty_share": c2.number_input("One counterparty at most (share of R)", 0.0, 1.0,
                                                      e.max_counterparty_share, 0.05, key=f"ov_cp_{name}"),
            "derivative_credit_factor": c2.number_input("Credit per yen of parametric cover", 0.0, 1.0,
                                                        e.derivative_credit_factor, 0.05, key=f"ov_dcf_{name}"),
        }
        if not math.isinf(r.cap_jpy):
            overrides["cap_jpy"] = c1.number_input("R: cap (¥)", 0.0, None, r.cap_jpy, 1e9, "%.0f",
                                                   key=f"ov_cap_{name}")
    for param, value in overrides.items():
        regime = with_parameter(regime, param, value)
    return regime


def quote_editor():
    """The quote sheet, editable in place. Returns the validated quotes (the last valid ones if an edit is bad)."""
    ss = st.session_state
    st.caption("Edit premiums (rate on line = annual premium ÷ limit), limits, attachments, shares, ratings and "
               "perils; add or delete rows. `requirement` basis: attachment and limit are fractions of R. "
               "Every change re-solves.")
    edited = st.data_editor(
        ss["quotes_frame"], key=f"quote_editor_{ss['editor_version']}", num_rows="dynamic", hide_index=True,
        width="stretch",
        column_order=["quote_id", "rate_on_line", "kind", "counterparty", "rating", "attachment", "limit",
                      "layer_basis", "max_share", "min_share", "fixed_fee_jpy", "perils", "collateralized",
                      "exchange_id"],
        column_config={
            "quote_id": st.column_config.TextColumn("quote", width="small", required=True),
            "rate_on_line": st.column_config.NumberColumn("rate on line", format="%.4f", min_value=0.0, step=0.0005,
                                                          width="small"),
            "kind": st.column_config.SelectboxColumn("kind", options=list(KINDS), required=True),
            "rating": st.column_config.SelectboxColumn("rating", options=list(RATINGS), required=True),
            "layer_basis": st.column_config.SelectboxColumn("basis", options=list(LAYER_BASES)),
            "attachment": st.column_config.NumberColumn("attachment", format="localized"),
            "limit": st.column_config.NumberColumn("limit", format="localized"),
            "max_share": st.column_config.NumberColumn("max share", min_value=0.0, max_value=1.0, format="%.2f"),
            "min_share": st.column_config.NumberColumn("min share", min_value=0.0, max_value=1.0, format="%.2f"),
            "fixed_fee_jpy": st.column_config.NumberColumn("fixed fee ¥", format="localized"),
            "perils": st.column_config.TextColumn("perils", help="all, or ; separated: " + ", ".join(PERILS)),
            "collateralized": st.column_config.CheckboxColumn("collateralized"),
            "exchange_id": st.column_config.TextColumn("only for exchange"),
        },
    )
    try:
        quotes = tuple(quotes_from_frame(edited.replace({"": None}), "quote sheet"))
    except InputError as exc:
        st.error(f"This edit is not used — {exc}. The last valid quote sheet is shown in the results.", icon="⚠️")
        return ss["quotes"]
    ss["quotes"] = quotes
    return quotes


# ------------------------------------------------------------------ results

def headline(s, unit: Unit) -> None:
    c = st.columns(5)
    c[0].metric("Annual cost", unit(s.annual_cost_jpy), help="Cash carry plus premiums and fees, per year")
    if s.savings_jpy is None:
        c[1].metric("Savings vs all cash", "—", help="All cash is not an option: R exceeds liquid capital")
    else:
        share = s.savings_jpy / s.all_cash_cost_jpy if s.all_cash_cost_jpy else 0.0
        c[1].metric("Savings vs all cash", unit(s.savings_jpy), f"{100 * share:.1f}% of {unit(s.all_cash_cost_jpy)}")
    c[2].metric("Cash reserve", unit(s.cash_reserve_jpy), help="Cash the exchange sets aside")
    c[3].metric("Shortfall", unit(s.shortfall_jpy), help="Largest loss up to R that nothing funds",
                delta=None if s.shortfall_jpy == 0 else "cannot comply", delta_color="inverse")
    mc = s.marginal_cost_per_jpy
    c[4].metric("Marginal cost of R", "—" if mc is None else f"{100 * mc:.2f}%",
                help="Annual cost of one more yen of requirement, per yen")
    st.caption(f"Requirement R = **{unit(s.requirement_jpy)}** under *{s.regime.name}*."
               + (f" Binding: {', '.join(s.binding)}." if s.binding else ""))
    if s.status == "shortfall":
        st.error(f"The requirement cannot be met: {unit(s.shortfall_jpy)} of loss stays unfunded even at best. "
                 f"Binding: {', '.join(s.binding) or 'capacity'}.")


def mix_table(s, unit: Unit) -> pd.DataFrame:
    mix = s.mix
    view = pd.DataFrame({
        "source": mix["source"], "kind": mix["kind"], "counterparty": mix["counterparty"], "rating": mix["rating"],
        f"attachment ({unit.label})": mix["attachment_jpy"] / unit.divisor,
        f"limit ({unit.label})": mix["limit_jpy"] / unit.divisor,
        "share": mix["share"], "credit factor": mix["credit_factor"],
        f"credit ({unit.label})": mix["credit_jpy"] / unit.divisor,
        f"annual cost ({unit.label})": mix["annual_cost_jpy"] / unit.divisor,
    })
    return view


def money_config(frame: pd.DataFrame, unit: Unit) -> dict:
    fmt = "%,.0f" if unit.divisor == 1 else "%,.2f"
    cfg = {c: st.column_config.NumberColumn(c, format=fmt) for c in frame.columns if f"({unit.label})" in c}
    if "share" in frame.columns:
        cfg["share"] = st.column_config.NumberColumn("share", format="percent")
    return cfg


def downloads(s, profile, quotes, regime, stress: pd.DataFrame) -> None:
    inputs = pd.concat([
        pd.DataFrame([{"section": "profile", "key": k, "value": v} for k, v in profile_to_dict(profile).items()]),
        pd.DataFrame([{"section": f"regime.{sec}", "key": k, "value": v}
                      for sec, part in regime_to_dict(regime).items() if isinstance(part, dict)
                      for k, v in part.items()]),
    ], ignore_index=True).astype({"value": str})
    c = st.columns(3)
    c[0].download_button("Mix (CSV)", report.csv_bytes(s.mix), f"mix_{profile.exchange_id}.csv", "text/csv",
                         key="dl_csv")
    c[1].download_button("Workbook (XLSX: mix, inputs, stress)",
                         report.xlsx_bytes({"mix": s.mix, "inputs": inputs, "quotes": quotes_to_frame(quotes),
                                            "stress": stress}),
                         f"reserve_{profile.exchange_id}.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_xlsx")
    c[2].download_button("Scenario (JSON, loads back here)", to_json(Scenario(profile, tuple(quotes), regime)),
                         f"scenario_{profile.exchange_id}.json", "application/json", key="dl_json")


def cfo_page(unit: Unit) -> None:
    st.title("Cheapest compliant reserve")
    st.caption("Fund the liability reserve for hack losses with the cheapest mix of cash, insurance layers and "
               "parametric cover, so that every loss up to the requirement R is paid, for every peril.")
    left, right = st.columns([1, 1])
    with left:
        profile = profile_inputs()
    with right:
        regime = regime_inputs()
    results = st.container()  # shown above the quote sheet, filled once the sheet is read
    st.subheader("Quote sheet")
    quotes = quote_editor()
    with results:
        if profile is None:
            st.info("Enter your exchange's figures to see a result.")
            return
        try:
            s = cached_solve(profile, quotes, regime)
        except SolveError as exc:
            st.error(f"The solver failed: {exc}")
            return
        headline(s, unit)
        result_views(s, profile, quotes, regime, unit)


def result_views(s, profile, quotes, regime, unit: Unit) -> None:
    view = st.segmented_control("Show", ["Mix", "Tower", "Cost breakdown", "Frontier", "Stress test", "Downloads"],
                                default="Mix", key="cfo_view") or "Mix"
    incidents = bundled()[3]
    if view == "Mix":
        table = mix_table(s, unit)
        st.dataframe(table, hide_index=True, width="stretch", column_config=money_config(table, unit))
        if s.ineligible:
            st.caption("Not eligible (rating below the regime's minimum; never bought): "
                       + ", ".join(q.quote_id for q in s.ineligible))
    elif view == "Tower":
        perils = list(regime.requirement.perils)
        peril = st.selectbox("Peril", perils, index=perils.index(_least_covered(s, perils)), key="tower_peril")
        st.caption("Read upwards: each band is a slice of loss from 0 to R; across, who pays it. A gap in the "
                   "layers is filled by cash.")
        st.altair_chart(tower_chart(s, unit, peril), width="stretch")
    elif view == "Cost breakdown":
        st.altair_chart(cost_chart(s, unit), width="stretch")
    elif view == "Frontier":
        st.caption("What if the regulator lets insurance fund more or less of R? Optimal cost for each cap "
                   "(dashed: all cash); the red line marks the current regime.")
        frame = cached_frontier(profile, quotes, regime, "max_insurance_share")
        st.altair_chart(frontier_chart(frame, "max_insurance_share", regime.eligibility.max_insurance_share, unit),
                        width="stretch")
    elif view == "Stress test":
        scale = st.radio("Scale each historical loss by", ["share of customer assets", "reported yen amount"],
                         horizontal=True, key="stress_scale")
        st.caption("Historical hacks replayed against this mix: layers pay first (if they cover the peril), then "
                   "cash up to the reserve; the rest is uncovered.")
        table = analysis.stress_test(s, incidents, "assets" if scale.startswith("share") else "absolute")
        st.altair_chart(stress_chart(table, unit), width="stretch")
        shown = table[["incident_id", "date", "peril", "loss_jpy", "paid_by_cash_jpy", "paid_by_layers_jpy",
                       "uncovered_jpy"]].copy()
        for col in ("loss_jpy", "paid_by_cash_jpy", "paid_by_layers_jpy", "uncovered_jpy"):
            shown[col] = shown[col].map(unit)
        st.dataframe(shown, hide_index=True, width="stretch")
    else:
        downloads(s, profile, quotes, regime, analysis.stress_test(s, incidents))


def _least_covered(s, perils):
    return min(perils, key=lambda p: sum(l.credit_jpy for l in s.lines if l.quote.covers(p)))


def broker_page(unit: Unit) -> None:
    st.title("Where does my layer get bought?")
    st.write("For each quote: is it in the cheapest mix, at what share, and the **break-even premium** — in the mix, "
             "the highest rate on line at which it stays; out of it, the rate at which it would enter.")
    ss = st.session_state
    profile = ss["custom_profile"] if ss.get("exchange_choice") == "custom" and ss["custom_profile"] else None
    profiles = ss["profiles"]
    ids = [p.exchange_id for p in profiles]
    if profile is None:
        chosen = st.selectbox("Exchange", ids, key="broker_exchange",
                              format_func=lambda i: next(f"{p.exchange_id} — {p.display_name}" for p in profiles
                                                         if p.exchange_id == i))
        profile = next(p for p in profiles if p.exchange_id == chosen)
    regime = ss["regimes"][ss["regime_name"]]
    quotes = ss["quotes"]
    st.caption(f"Exchange {profile.display_name}; regime {regime.name}; the quote sheet of the CFO page.")
    table = cached_break_evens(profile, quotes, regime)
    shown = table[["quote_id", "counterparty", "rate_on_line", "bought", "share", "break_even_rol", "headroom",
                   "competitors", "reason"]]
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "rate_on_line": st.column_config.NumberColumn("rate on line", format="percent"),
        "share": st.column_config.NumberColumn("share bought", format="percent"),
        "break_even_rol": st.column_config.NumberColumn("break-even rate", format="percent"),
        "headroom": st.column_config.NumberColumn("headroom", format="percent",
                                                  help="break-even ÷ current rate − 1"),
        "competitors": st.column_config.TextColumn("competes with"),
    })
    if table.empty:
        return
    pick = st.selectbox("Demand curve for", list(table["quote_id"]), key="broker_quote")
    current = float(table.loc[table["quote_id"] == pick, "rate_on_line"].iloc[0])
    curve = cached_demand(profile, quotes, regime, pick)
    st.altair_chart(demand_chart(curve, current), width="stretch")
    st.caption("Share of the layer bought in the cheapest mix at each rate on line; the red line is today's premium.")


def batch_page(unit: Unit) -> None:
    st.title("Many exchanges at once")
    st.write("Upload a profiles file (CSV or Parquet, the columns of data/profiles.csv) and run the rule over every "
             "exchange with the current quote sheet and regime: total cost, insurance demand, who cannot comply. "
             "A bad row becomes an error row; the rest still runs.")
    ss = st.session_state
    up = st.file_uploader("Profiles", type=["csv", "parquet"], key="batch_upload")
    regime = ss["regimes"][ss["regime_name"]]
    if up is None:
        st.caption("Or run the bundled profiles:")
    if st.button("Run batch", type="primary", key="batch_run"):
        try:
            if up is None:
                frame = csv_text_to_frame((DATA / "profiles.csv").read_text(encoding="utf-8"), "profiles.csv")
            elif up.name.endswith(".parquet"):
                frame = pd.read_parquet(up)
            else:
                frame = csv_text_to_frame(up.getvalue().decode("utf-8-sig"), up.name)
            bar = st.progress(0.0, text="Solving…")

            def on_progress(done, total):
                bar.progress(min(done / max(total or 1, 1), 1.0), text=f"{done:,} of {total:,} exchanges")

            result = batch.run(frame, ss["quotes"], regime, workers=1, on_progress=on_progress)
            ss["batch_result"] = result
        except (InputError, UnicodeDecodeError) as exc:
            st.error(f"Not run — {exc}")
    result = ss.get("batch_result")
    if result is not None:
        summary = result.summary
        t = summary["totals"]
        c = st.columns(4)
        c[0].metric("Exchanges", f"{summary['profiles']:,}")
        c[1].metric("Total annual cost", unit(t["annual_cost_jpy"]))
        c[2].metric("Savings vs all cash", unit(t["savings_jpy"]))
        c[3].metric("In shortfall / errors", f"{summary['status_counts'].get('shortfall', 0)} / "
                                           f"{summary['status_counts'].get('error', 0)}")
        st.dataframe(result.results, hide_index=True, width="stretch")
        if summary["insurance_by_counterparty"]:
            st.subheader("Insurance demand by counterparty")
            st.dataframe(pd.DataFrame(summary["insurance_by_counterparty"]), hide_index=True, width="stretch")
        st.download_button("Results (CSV)", report.csv_bytes(result.results), "batch_results.csv", "text/csv",
                           key="dl_batch")


def main() -> None:
    init_state()
    page, unit = sidebar()
    if page.startswith("CFO"):
        cfo_page(unit)
    elif page.startswith("Broker"):
        broker_page(unit)
    else:
        batch_page(unit)


main()
