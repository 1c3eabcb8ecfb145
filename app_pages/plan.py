"""Plan page: the funding plan year by year (optimizer.plan) — phase-in, growth, provisions, tax, multi-year
policies — on the exchange, quote sheet and regime of the shared scenario.

The plan's parameters are typed as everywhere in the app (rates in percent, yen as people write them) and parsed by
optimizer.plan_file.plan_from_form; a field that cannot be used is refused beside it and the last valid plan (kept in
the Workspace, and saved in the scenario file) stays in use. The page only arranges what optimizer.plan returns,
optimizer.charts draws and optimizer.report writes.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.common import DATA, N_, _, binding_words, fitted_table, lang, md, styled, tr, tr_error, unit, ws
from optimizer import charts, report
from optimizer.inputs import InputError
from optimizer.plan_file import PLAN_FORM, Plan, load_plan, plan_from_form, plan_to_form
from optimizer.solution import SolveError

PRESETS = {p.stem: p for p in sorted((DATA / "plans").glob("*.toml"))}
DEFAULT_PRESET = "fy2027-five-year-phase-in"
SAVED = "__scenario__"       # the preset selector's entry for a plan opened from a scenario file
PRESET = "plan_preset"       # session key: (workspace generation, the preset the form started from)

LABELS = {
    "start_year": N_("First fiscal year (e.g. 2027)"),
    "years": N_("Years (1 to 30)"),
    "phase_in": N_("Share of R required (% each year; one for all, or one a year: 20%, 40%, …)"),
    "asset_growth": N_("Growth of customer assets and volume (% a year; or one a year, the first ignored)"),
    "liquid_capital_growth": N_("Growth of liquid capital (% a year; or one a year, the first ignored)"),
    "renewal_rate_change": N_("Change of one-year rates at each renewal (% a year; hard market: 15%)"),
    "tax_rate": N_("Effective tax rate (%)"),
    "discount_rate": N_("Discount rate (% a year; blank: the exchange's cost of capital)"),
    "max_provision_jpy": N_("Most the reserve may grow in one year (¥; blank: no limit; one a year with ;)"),
}
# The presets' names and descriptions, marked for the catalogue (shown translated)
PRESET_WORDS = (N_("FY2027 start, in full at once"), N_("FY2027 start, five-year phase-in"),
                N_("FY2027 start, five-year phase-in, hard market"),
                N_("All of R from FY2027; the reserve may not fall; five years at today's prices."),
                N_("20% of R in FY2027 rising to 100% in FY2031; provisions capped at ¥5bn a year; assets +10% a year."),
                N_("The five-year phase-in with one-year rates rising 15% a year at every renewal."))
STATUS_WORDS = (N_("optimal"), N_("shortfall"))


@st.cache_data(show_spinner=False)
def presets() -> dict[str, Plan]:
    return {name: load_plan(path) for name, path in PRESETS.items()}


@st.cache_data(show_spinner=False, max_entries=32)
def cached_plan(profile, quotes, regime, plan, assets=()):
    """`plan --assets`: the reserve assets (the CFO page's table) offered every year; () for cash and cover alone."""
    from optimizer.plan import solve_plan

    return solve_plan(profile, quotes, regime, plan, assets=tuple(assets))


# ------------------------------------------------------------------ inputs

def _preset_of(plan: Plan) -> str:
    return next((name for name, p in presets().items() if p == plan), SAVED)


def plan_inputs(quotes) -> Plan:
    """The preset selector and the form; returns the plan in use (the last valid one while a field has a problem)."""
    ss, w = st.session_state, ws()
    if w.plan is None:
        w.plan = presets()[DEFAULT_PRESET if DEFAULT_PRESET in PRESETS else next(iter(PRESETS))]
    names = list(PRESETS)
    mark = ss.get(PRESET)
    if mark is None or mark[0] != w.generation:  # first visit, or a scenario file opened: the preset it matches
        mark = ss[PRESET] = (w.generation, _preset_of(w.plan))
    started = mark[1]
    if started == SAVED or started not in names:
        names.append(SAVED)
    suffix = "" if lang() == "en" else f"_{lang()}"
    choice = st.selectbox(_("Plan"), names, index=names.index(started), key=f"plan_preset_{w.generation}{suffix}",
                          format_func=lambda n, t=tr(): t("the plan of the scenario file") if n == SAVED
                          else t(presets()[n].name))
    if choice != started:  # a preset chosen: the form starts again from it
        ss[PRESET] = (w.generation, choice)
        if choice != SAVED:
            w.plan = presets()[choice]
        ss["plan_form_version"] = ss.get("plan_form_version", 0) + 1
        st.rerun()
    base = presets().get(choice, w.plan)
    if base.description:
        st.caption(md(_(base.description)))
    text = plan_to_form(w.plan, lang())
    version = f"{w.generation}_{ss.get('plan_form_version', 0)}"
    values, slots = {}, {}
    cols = st.columns(3)
    for i, (name, _kind) in enumerate(PLAN_FORM):
        col = cols[i % 3]
        values[name] = col.text_input(_(LABELS[name]), value=text[name], key=f"plan_{name}_{version}")
        slots[name] = col.container()  # the field's problem, right under it
    release = st.checkbox(_("The reserve may fall from one year to the next"), value=w.plan.release,
                          key=f"plan_release_{version}",
                          help=_("Off: the reserve is a balance built by yearly provisions, as the securities "
                                 "reserve is; it never falls."))
    plan, errors = plan_from_form(values, release, base if choice != SAVED else w.plan, quotes)
    for name, exc in errors.items():
        slots[name].error(tr_error(exc), icon=":material/warning:")
    if plan is not None:
        w.plan = plan
    else:
        st.caption(_("Results use the last valid plan."))
    if plan is not None and choice != SAVED and plan != presets()[choice]:
        st.caption("✎ " + _("changed from the preset"))
    return w.plan


# ------------------------------------------------------------------ results

def _binding(y, regime) -> list[str]:
    """What holds a year where it is, in words: the year's own limits, then the plan's."""
    u = unit()
    out = binding_words(y.solution.binding, regime, frozenset(h.asset.asset_id for h in y.solution.holdings))
    for name in y.binding[len(y.solution.binding):]:
        if name == "max_provision":
            out.append(_("the most the reserve may grow this year ({x})").format(x=u(y.year.max_provision_jpy)))
        elif name == "reserve_never_falls":
            out.append(_("the reserve may not fall below last year's ({x})").format(
                x=u(y.reserve_held_jpy - y.provision_jpy)))
        else:
            out.append(md(name))
    return out


def headline(result) -> None:
    u, d = unit(), result.to_dict()
    p = result.plan
    span = _("FY{a}–FY{b}").format(a=p.start_year, b=p.start_year + p.years - 1)
    if result.status == "shortfall":
        st.markdown("**" + _("The requirement cannot be met in {years}: even the best plan leaves {short} unfunded "
                             "in total over {span}.").format(
            years=", ".join(_("FY{year}").format(year=y) for y in result.short_years),
            short=u(d["total_shortfall_jpy"]), span=span) + "**")
    else:
        st.markdown("**" + _("Over {span} the cheapest plan costs {pv} in present value ({after} after tax); the "
                             "reserve is built to {final} by provisions charged to profit.").format(
            span=span, pv=u(d["present_value_jpy"]), after=u(d["present_value_after_tax_jpy"]),
            final=u(d["final_reserve_jpy"])) + "**")
    c = st.columns(4)
    c[0].metric(_("Present value"), u(d["present_value_jpy"]),
                help=_("Each year's annual cost (carry on the reserve, premiums, fees) discounted to the first year "
                       "at {r}").format(r=f"{100 * d['discount_rate']:.2f}%"))
    c[1].metric(_("After tax"), u(d["present_value_after_tax_jpy"]),
                help=_("Premiums and fees are deductible at the tax rate ({r}); provisions and carry are not").format(
                    r=f"{100 * p.tax_rate:.2f}%"))
    c[2].metric(_("Provisions in total"), u(d["total_provisions_jpy"]),
                help=_("What the plan charges to profit to build the reserve (not deductible)"))
    c[3].metric(_("Years short"), str(len(result.short_years)),
                delta=None if not result.short_years else _("cannot comply"), delta_color="inverse")


MONEY = {"required_coverage_jpy": N_("required ({u})"), "cash_reserve_jpy": N_("reserve ({u})"),
         "provision_jpy": N_("provision ({u})"), "premiums_and_fees_jpy": N_("premiums and fees ({u})"),
         "carry_jpy": N_("carry ({u})"), "annual_cost_jpy": N_("annual cost ({u})"),
         "present_value_jpy": N_("present value ({u})"), "after_tax_cost_jpy": N_("after-tax cost ({u})"),
         "credit_insurance_jpy": N_("insurance credit ({u})"), "credit_derivative_jpy": N_("parametric credit ({u})"),
         "shortfall_jpy": N_("shortfall ({u})"), "requirement_full_jpy": N_("R in full ({u})")}
# with reserve assets, the columns `plan --assets` adds to its table: held (deposits, JGBs), promised (guarantees,
# lines) and the promises' fees; then the reserve the provisions build (cash and what is held)
ASSET_MONEY = {"reserve_assets_jpy": N_("held in deposits and JGBs ({u})"),
               "committed_jpy": N_("committed by banks and parents ({u})"),
               "asset_fees_jpy": N_("fees of guarantees and lines ({u})"),
               "reserve_held_jpy": N_("reserve held ({u})")}


def with_assets(result) -> bool:
    """Whether the plan was offered reserve assets (some offered to this exchange): its rows then have their columns."""
    return any(y.solution.offered_assets for y in result.years)


def money_columns(result) -> dict[str, str]:
    """The table's amounts, key → title: MONEY, and with reserve assets ASSET_MONEY after the cash reserve."""
    if not with_assets(result):
        return MONEY
    keys = list(MONEY)
    at = keys.index("cash_reserve_jpy") + 1
    return {**{k: MONEY[k] for k in keys[:at]}, **ASSET_MONEY, **{k: MONEY[k] for k in keys[at:]}}


def year_table(result) -> pd.DataFrame:
    """One row per year, amounts in the page's unit, headers in its language."""
    u = unit()
    frame = report.plan_frame(result)
    frame["premiums_and_fees_jpy"] = frame["premiums_jpy"] + frame["fees_jpy"]
    shown = pd.DataFrame({_("fiscal year"): frame["fiscal_year"].map(lambda v: _("FY{year}").format(year=v)),
                          _("status"): frame["status"].map(lambda v: _(v)),
                          _("share of R, %"): 100 * frame["required_share"].astype(float)})
    for column, title in money_columns(result).items():
        shown[_(title).format(u=u.label)] = frame[column].map(u.number)
    return shown


def downloads(result) -> None:
    exchange, frame = result.profile.exchange_id, report.plan_frame(result)
    c = st.columns(2)
    csv = report.for_people(frame, _) if lang() == "ja" else frame
    c[0].download_button(_("Plan (CSV, one row per year)"), report.csv_bytes(csv), f"plan_{exchange}.csv",
                         "text/csv", key="dl_plan_csv")
    c[1].download_button(_("Workbook (XLSX: the plan, then one sheet per year)"),
                         report.xlsx_bytes(report.plan_sheets(result)), f"plan_{exchange}.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_plan_xlsx")
    st.caption(_("The files the command line writes (plan --out plan.csv, plan.xlsx): amounts in yen. The plan's "
                 "parameters are saved in the scenario file (sidebar: Open and save)."))


def main() -> None:
    w = ws()
    st.markdown("#### " + _("The funding plan, year by year"))
    st.caption(_("From the first fiscal year of the rule: how much of R is required each year, how the exchange "
                 "grows, how far the reserve may grow in one year, and how the insurance market renews. One "
                 "optimisation over all the years: what to provision each year, what to buy when, and what it costs "
                 "before and after tax. The exchange, quote sheet and regime are the scenario's (CFO page)."))
    sc = w.scenario()
    if sc is None:
        st.info(_("Enter your exchange's figures to see a result."))
        return
    if sc.assets:
        st.caption(_("Reserve assets: the CFO page's table (**{n}**), offered every year as `python -m optimizer plan "
                     "--assets FILE` offers them. The provisions build the reserve held — cash, deposits and JGBs; a "
                     "guarantee or a committed line holds nothing and is no provision.").format(n=len(sc.assets)))
    top = st.container()  # the answer first, above the form it comes from
    with st.expander(_("The plan's parameters"), expanded=True):
        plan = plan_inputs(sc.quotes)
    try:
        with st.spinner(_("Solving…")):
            result = cached_plan(sc.profile, sc.quotes, sc.regime, plan, sc.assets)
    except (InputError, SolveError) as exc:
        top.error(_("Not solved — {error}").format(error=tr_error(exc)), icon=":material/warning:")
        return
    with top:
        headline(result)
    u = unit()
    st.altair_chart(charts.plan_chart(result, u, tr()), width="stretch")
    if with_assets(result):
        st.caption(_("Left: each year's requirement (black tick) met by cash, the reserve assets by kind, insurance "
                     "and parametric cover, and what is left unfunded; the dashed line is the reserve held (cash, "
                     "deposits and JGBs). Right: what each year charges to profit — the provision into the reserve "
                     "(not deductible), premiums and fees, and the fees of guarantees and lines."))
    else:
        st.caption(_("Left: each year's requirement (black tick) met by cash, insurance and parametric cover, and "
                     "what is left unfunded; the dashed line is the reserve. Right: what each year charges to profit "
                     "— the provision into the reserve (not deductible), premiums and fees."))
    shown = year_table(result)
    titles = money_columns(result)
    money = [_(title).format(u=u.label) for title in titles.values()]
    # what fits at 1280 px in both languages (the status is in the headline and the shortfall column); with reserve
    # assets, what is held and what is promised beside the cash (the share of R gives way)
    assets = with_assets(result)
    keys = ("required_coverage_jpy", "cash_reserve_jpy", *(("reserve_assets_jpy", "committed_jpy") if assets else ()),
            "provision_jpy", "premiums_and_fees_jpy", "annual_cost_jpy", "shortfall_jpy")
    main = [_("fiscal year"), *([] if assets else [_("share of R, %")]),
            *[_(titles[k]).format(u=u.label) for k in keys]]
    with st.container(key="plan_table"):
        fitted_table(styled(shown, money=money, percent=[_("share of R, %")]), main, key="plan_more")
    st.markdown("##### " + _("What holds each year where it is"))
    lines = []
    for y in result.years:
        words = _binding(y, sc.regime)
        lines.append(f"- **{_('FY{year}').format(year=y.year.fiscal_year)}**: " +
                     ("; ".join(words) if words else _("nothing binds: the cheapest mix of that year alone")))
    st.markdown("\n".join(lines))
    downloads(result)


main()
