"""CFO page: the cheapest compliant mix, the answer first, then what changes it (exchange, regime, quotes)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app_pages.common import (
    ASSET_GRID_WIDTHS, ASSET_KIND_CELL, ASSETS_FILE, allows_assets, kind_words, asset_grid_key, assets_answer, bundled_assets, not_held_reasons,
    cached_compare,
    N_, SHEETS, _, absorb_grid_edits, bundled_sheet, fitted_table, tr, bundled, cached_frontier, cached_solve, grid_key, headline, headline_slot, lang,
    QUOTE_GRID_WIDTHS, md, md_format, not_bought_ids, not_bought_reasons, page_resolver, session_resolver, show_reasons, styled, tr_error, unit, ws,
)
from app_pages import exports
from app_pages import risk as risk_view
from optimizer import analysis, charts, entry
from optimizer.domain import ASSET_KINDS, KINDS, PERILS, RATINGS
from optimizer.regime import SWEEPABLE
from optimizer.scenario import BASIS_TEXT, OWN_FIELDS, PERIL_TEXT, TEXT_COLUMNS, own_to_text, parse_own
from optimizer.solution import SolveError

OWN = "__own__"
# Own-figures form: label with its unit, per field of scenario.OWN_FIELDS
OWN_LABELS = {
    "customer_assets_jpy": N_("Customer assets in custody (¥; e.g. 50bn, 500億)"),
    "hot_wallet_share": N_("Share in hot wallets (%)"),
    "annual_trading_volume_jpy": N_("Annual trading volume (¥)"),
    "cost_of_capital": N_("Cost of capital (% a year)"),
    "reserve_yield": N_("Yield on reserve assets (% a year)"),
    "liquid_capital_jpy": N_("Most cash we can set aside (¥; blank: no limit)"),
    "premium_multiplier": N_("Insurers' loading on premiums (×; 1 or blank = none)"),
}
# Regime overrides: parameter → (label with unit, kind of entry)
OVERRIDES = {
    "volume_rate": (N_("R: rate on annual trading volume (%)"), "percent"),
    "hot_wallet_rate": (N_("R: rate on hot-wallet assets (%)"), "percent"),
    "cold_wallet_rate": (N_("R: rate on cold-wallet assets (%)"), "percent"),
    "floor_jpy": (N_("R: floor (¥)"), "amount"),
    "cap_jpy": (N_("R: cap (¥; blank: none)"), "amount"),
    "min_cash_share": (N_("Cash at least (% of R)"), "share"),
    "max_insurance_share": (N_("Insurance credit at most (% of R)"), "share"),
    "max_derivative_share": (N_("Parametric cover credit at most (% of R)"), "share"),
    "max_counterparty_share": (N_("One counterparty at most (% of R)"), "share"),
    "derivative_credit_factor": (N_("Credit per yen of parametric cover (%)"), "share"),
}
MAIN_COLUMNS = ["status", "quote_id", "kind", "counterparty", "rating", "layer_basis", "attachment", "limit",
                "rate_on_line", "perils"]
MORE_COLUMNS = ["status", "quote_id", "max_share", "min_share", "fixed_fee_jpy", "collateralized", "exchange_id",
                "max_limit_jpy", "licensed_in_japan", "fronting_fee_rate", "exclusions", "reinstatements",
                "days_to_pay", "term_years", "legal_form", "quote_source"]
VIEWS = [N_("Mix"), N_("Not bought"), N_("Tower"), N_("Cost breakdown"), N_("Frontier"), N_("Stress test"),
         N_("Risk"), N_("Presets"), N_("Downloads")]


# ------------------------------------------------------------------ inputs

def _lang_suffix() -> str:
    """Widgets whose labels of options are translated are rebuilt when the language changes."""
    return "" if lang() == "en" else f"_{lang()}"


def exchange_label(p) -> str:
    """An exchange as the CFO knows it: by name (the real ones), or the invented name and its id (illustrative)."""
    if not p.statement_date:  # the illustrative profiles carry no statement date
        return f"{_(p.display_name)} ({p.exchange_id})"
    return _(p.display_name)


def _confirmed(text: str, value: str, key: str) -> bool:
    """A value that is possible but probably not meant: the question beside a "Yes, use it" button (True: clicked)."""
    c1, c2 = st.columns([4, 1])
    c1.warning(text + ("。" if lang() == "ja" else ". ") + _("Is that what you meant?"), icon=":material/help:")
    return c2.button(md_format(_("Yes, use {v}"), v=value), key=key)


def exchange_inputs() -> None:
    w = ws()
    ids = [p.exchange_id for p in w.profiles] + [OWN]
    labels = {p.exchange_id: exchange_label(p) for p in w.profiles}
    current = OWN if w.exchange_id is None else w.exchange_id
    choice = st.selectbox(_("Exchange"), ids, index=ids.index(current) if current in ids else 0,
                          format_func=lambda i, t=tr(): t("Enter my own figures") if i == OWN else labels.get(i, i),
                          help=_("Japan's registered exchanges with their published 2025 figures, then illustrative "
                                 "exchanges, then your own figures. Type to search."),
                          key=f"exchange_choice_{w.generation}{_lang_suffix()}")
    if choice != OWN:
        w.exchange_id = choice
        p = w.profile
        if p is not None and p.statement_date:
            st.caption(_("Figures from the statutory statement of {date}; liquid capital = net assets (an upper "
                         "bound).").format(date=md(p.statement_date)))
        elif p is not None and w.profiles_name == "bundled":
            st.caption(_("Illustrative figures, not a real exchange."))
        return
    w.exchange_id = None
    base = w.own or w.profiles[0]
    text = own_to_text(base, lang())
    values = {}
    cols = st.columns(2)
    for i, (field, _kind) in enumerate(OWN_FIELDS):
        values[field] = cols[i % 2].text_input(_(OWN_LABELS[field]), value=text[field],
                                               key=f"own_{field}_{w.generation}")
    profile, errors, doubts = parse_own(values, w.own_confirmed)
    for field, exc in errors.items():
        st.error(f"{_(OWN_LABELS.get(field, field))}: {tr_error(exc)}", icon=":material/warning:")
    for field, doubt in doubts.items():  # possible but probably not meant: used only once confirmed
        typed = values[field].strip()
        if _confirmed(f"{_(OWN_LABELS.get(field, field))}: {md_format(_(doubt.key), **doubt.params)}", typed,
                      f"own_confirm_{field}_{typed}"):
            w.own_confirmed = w.own_confirmed | {(field, typed)}
            st.rerun()
    if profile is not None:
        w.own = profile
    elif w.own is not None:
        st.caption(_("Results use your last valid figures."))


def _override_text(param: str, value: float, kind: str) -> str:
    if math.isinf(value):
        return ""
    if kind == "amount":
        return entry.format_amount(value, lang())
    return entry.format_percent(value)


def regime_inputs() -> None:
    w = ws()
    names = list(w.regimes)
    name = st.selectbox(_("Regime"), names, index=names.index(w.regime_name), key=f"regime_select_{w.generation}{_lang_suffix()}",
                        format_func=lambda n, t=tr(): t(w.regimes[n].name),
                        help=md(_(w.base_regime.description)) if w.base_regime.description else None)
    if name != w.regime_name:
        w.regime_name, w.overrides = name, {}
    base = w.base_regime
    with st.expander(_("Override the regime's parameters") + (f" ({len(w.overrides)})" if w.overrides else "")):
        c = st.columns(2)
        for i, (param, (label, kind)) in enumerate(OVERRIDES.items()):
            section = getattr(base, SWEEPABLE[param])
            preset = float(getattr(section, param))
            shown = w.overrides.get(param, preset)
            typed = c[i % 2].text_input(_(label), value=_override_text(param, shown, kind),
                                        key=f"ov_{param}_{name}_{w.generation}")
            try:
                if kind == "amount":
                    value = math.inf if (param == "cap_jpy" and not typed.strip()) else entry.parse_amount(typed)
                else:
                    value = entry.parse_percent(typed, high=1.0 if kind == "share" else None)
            except entry.EntryError as exc:
                c[i % 2].error(tr_error(exc), icon=":material/warning:")
                continue
            if value == preset or (kind != "amount" and abs(value - preset) < 1e-15):
                w.overrides.pop(param, None)
            else:
                w.overrides[param] = value
        if w.overrides and st.button(_("Back to the preset"), key="ov_reset"):
            w.overrides = {}
            w.generation += 1
            st.rerun()


# ------------------------------------------------------------------ the quote grid

STATUS_MARKS = {"fix": "⚠", "confirm": "?", "new": "＋", "changed": "✎"}


def _status_column(w) -> list[str]:
    """One mark per row: ⚠ a cell to fix, ? a value to confirm, ＋ new, ✎ edited against the bundled sheet."""
    changed = w.changed_rows()
    problems: dict[int, str] = {}
    for p in w.problems:
        if not p.confirm or p.row not in problems:
            problems[p.row] = "confirm" if p.confirm else "fix"
    out = []
    for i, qid in enumerate(w.quote_text["quote_id"], start=1):
        state = problems.get(i) or changed.get(str(qid).strip())
        out.append(STATUS_MARKS.get(state, ""))
    return out




def sheet_inputs() -> None:
    """Which bundled quote sheet the grid starts from (an uploaded sheet is listed under its file name)."""
    w = ws()
    names = list(SHEETS) + ([w.quote_sheet] if w.quote_sheet not in SHEETS else [])
    choice = st.columns(2)[0].selectbox(_("Start from"), names, index=names.index(w.quote_sheet),
                          format_func=lambda n, t=tr(): t(SHEETS[n][1]) if n in SHEETS else n,
                          key=f"sheet_choice_{w.generation}_{w.quote_sheet}{_lang_suffix()}")
    if choice != w.quote_sheet and choice in SHEETS:
        quotes = bundled_sheet(SHEETS[choice][0])
        w.bundled_quotes = quotes          # "changed" markers compare with the sheet chosen here
        w.replace_quotes(quotes, choice, lang())
        st.rerun()


def quote_grid() -> None:
    """The quote sheet as text cells, parsed by optimizer.entry; problems shown under the grid, never guessed."""
    w = ws()
    more = st.toggle(_("Show the rarely used terms (shares, fees, collateral, exchange, licensing, exclusions)"),
                     key="quote_more")
    absorb_grid_edits()
    key = grid_key()
    frame = w.quote_text.copy()
    frame.insert(0, "status", _status_column(w))
    req = " ✱"
    W = QUOTE_GRID_WIDTHS
    config = {
        "status": st.column_config.TextColumn(_("status"), disabled=True, width=W["status"],
                                              help=_("✎ edited, ＋ new (against the bundled sheet); ⚠ a cell to fix; ? a value to confirm")),
        "quote_id": st.column_config.TextColumn(_("quote") + req, width=W["quote_id"], required=True),
        "kind": st.column_config.SelectboxColumn(_("kind") + req, options=list(KINDS), width=W["kind"], required=True,
                                                 format_func=tr()),  # shown in the page's language, stored as data
        "counterparty": st.column_config.TextColumn(_("counterparty") + req, width=W["counterparty"], required=True),
        "rating": st.column_config.SelectboxColumn(_("rating") + req, options=list(RATINGS), width=W["rating"], required=True),
        "layer_basis": st.column_config.SelectboxColumn(_("basis"), options=list(BASIS_TEXT.values()), width=W["layer_basis"],
                                                        format_func=tr(),
                                                        help=_("¥: attachment and limit in yen; % of R: in percent "
                                                               "of the requirement R")),
        "attachment": st.column_config.TextColumn(_("attach.") + req, width=W["attachment"],
                                                  help=_("yen (5bn, 50億, 5,000,000,000) or, for basis % of R, "
                                                         "percent of R (25%)")),
        "limit": st.column_config.TextColumn(_("limit") + req, width=W["limit"],
                                             help=_("yen (5bn, 50億) or, for basis % of R, percent of R (25%)")),
        "rate_on_line": st.column_config.TextColumn(_("ROL, %/yr") + req, width=W["rate_on_line"],
                                                    help=_("rate on line: annual premium ÷ limit, in percent: type 4 or 4% for "
                                                           "4%; 0.5% for half a percent")),
        "perils": st.column_config.TextColumn(_("perils"), width=W["perils"],
                                              help=_("all, or perils separated by ;: {perils}").format(
                                                  perils=", ".join(_(PERIL_TEXT[p]) for p in PERILS))),
        "max_share": st.column_config.TextColumn(_("largest share, %"), width=110),
        "min_share": st.column_config.TextColumn(_("smallest share if taken, %"), width=140),
        "fixed_fee_jpy": st.column_config.TextColumn(_("flat fee, ¥"), width=100),
        "collateralized": st.column_config.CheckboxColumn(_("collateralized"), width=110),
        "exchange_id": st.column_config.TextColumn(_("only for exchange"), width=120),
        "max_limit_jpy": st.column_config.TextColumn(_("yen ceiling, ¥"), width=100,
                                                     help=_("For a layer in % of R: the most yen of limit it offers "
                                                            "(blank: no ceiling)")),
        "licensed_in_japan": st.column_config.CheckboxColumn(_("licensed in Japan"), width=120),
        "fronting_fee_rate": st.column_config.TextColumn(_("fronting fee, %"), width=110,
                                                         help=_("Extra premium charged by a licensed fronting insurer, "
                                                                "in percent of the premium")),
        "exclusions": st.column_config.TextColumn(_("exclusions"), width=100,
                                                  help=_("blank, or state_backed (no cover for state-backed attacks)")),
        "reinstatements": st.column_config.TextColumn(_("reinstatements"), width=110,
                                                      help=_("How many times the limit is restored after a claim in a "
                                                             "year (used by the risk view)")),
        "days_to_pay": st.column_config.TextColumn(_("days to pay"), width=100,
                                                   help=_("Days from a loss until the cover pays customers (0: on "
                                                          "the day); a regime's max_days_to_pay gives later cover no "
                                                          "credit")),
        "term_years": st.column_config.TextColumn(_("policy term, years"), width=110,
                                                  help=_("Years one purchase covers at one share and one rate "
                                                         "(blank: 1; used by the funding plan)")),
        "legal_form": st.column_config.TextColumn(_("legal form"), width=100,
                                                  help=_("insurance, derivative or guarantee: which licence the cover "
                                                         "needs in Japan (blank: as its kind)")),
        "quote_source": st.column_config.TextColumn(_("source"), width=160),
    }
    with st.container(key="quote_grid"):
        st.data_editor(frame, key=key, num_rows="dynamic", hide_index=True, width="content",
                       column_order=MORE_COLUMNS if more else MAIN_COLUMNS, column_config=config)
    st.caption(_("✱ required. Rates and shares in percent; amounts in yen as 5bn, 500m, 5,000,000,000, 50億 or "
                 "300百万. Every valid change re-solves."))
    names = {c: config[c].get("label", c) if isinstance(config[c], dict) else c for c, _k in TEXT_COLUMNS}
    names["rate_on_line"] = _("rate on line, % a year")  # messages use the long names of the short headers
    names["attachment"] = _("attaches at")
    for p in w.problems:
        where = _("Row {row} ({qid}) · {column}").format(row=p.row, qid=md(p.quote_id or "—"),
                                                         column=_(names.get(p.column, p.column)).rstrip(" ✱"))
        text = md_format(_(p.key), **p.params)
        if p.confirm:
            typed = str(w.quote_text.at[p.row - 1, p.column]).strip()
            percent = p.column == "rate_on_line" and not typed.endswith("%")
            if _confirmed(f"{where}: {text}", typed + ("%" if percent else ""), f"confirm_{p.quote_id}_{typed}"):
                w.confirm(p.quote_id, typed)
                w.version += 1
                st.rerun()
        else:
            st.error(f"{where}: {text}", icon=":material/warning:")
    if w.problems:
        st.caption(_("Results above use the last valid quote sheet until these cells are fixed."))


# ------------------------------------------------------------------ the assets table

ASSET_MAIN = ["status", "asset_id", "kind", "counterparty", "rating", "rate", "haircut", "max_amount_jpy",
              "days_to_pay"]
ASSET_MORE = ["status", "asset_id", "exchange_id", "asset_source"]


def _asset_status_column(w) -> list[str]:
    """One mark per row of the assets table, as for quotes: ⚠ fix, ? confirm, ＋ new, ✎ edited."""
    changed = w.changed_assets()
    problems: dict[int, str] = {}
    for p in w.asset_cell_problems():
        if not p.confirm or p.row not in problems:
            problems[p.row] = "confirm" if p.confirm else "fix"
    return [STATUS_MARKS.get(problems.get(i) or changed.get(str(aid).strip()), "")
            for i, aid in enumerate(w.asset_text["asset_id"], start=1)]


def asset_column_names() -> dict[str, str]:
    """The assets table's columns as the messages under it name them (the headers, without the ✱)."""
    return {"asset_id": _("asset"), "kind": _("kind"), "counterparty": _("bank or parent"), "rating": _("rating"),
            "rate": _("yield or fee, % a year"), "haircut": _("haircut, %"),
            "max_amount_jpy": _("most that can be held or committed, ¥"), "days_to_pay": _("days to pay"), "exchange_id": _("only for exchange"), "asset_source": _("source of the figures")}


def asset_grid() -> None:
    """The reserve assets as text cells, parsed and checked as the quote grid's are; problems shown under it."""
    w = ws()
    st.subheader(_("Reserve assets"))
    st.caption(_("Deposits and JGBs are held (they tie up capital and earn their yield); bank guarantees, committed "
                 "lines and parent guarantees are promised (no capital tied up, a fee a year). The regime decides how "
                 "much of R each kind may fund: under a preset without reserve assets the table starts empty."))
    more = st.toggle(_("Show the exchange each asset is offered to and its source"), key="asset_more")
    names = asset_column_names()
    W = ASSET_GRID_WIDTHS
    frame = w.asset_text.copy()
    frame.insert(0, "status", _asset_status_column(w))
    req = " ✱"
    config = {
        "status": st.column_config.TextColumn(_("status"), disabled=True, width=W["status"],
                                              help=_("✎ edited, ＋ new (against the table it started from); ⚠ a cell "
                                                     "to fix; ? a value to confirm")),
        "asset_id": st.column_config.TextColumn(names["asset_id"] + req, width=W["asset_id"], required=True),
        "kind": st.column_config.SelectboxColumn(names["kind"] + req, options=list(ASSET_KINDS), width=W["kind"],
                                                 required=True,
                                                 format_func=lambda k, t=tr(): t(ASSET_KIND_CELL.get(k, k))),
        "counterparty": st.column_config.TextColumn(names["counterparty"], width=W["counterparty"],
                                                    help=_("The bank or the parent company; blank for a JGB")),
        "rating": st.column_config.TextColumn(names["rating"], width=W["rating"],
                                              help=_("The counterparty's rating, AAA … CCC or NR; blank for a JGB")),
        "rate": st.column_config.TextColumn(_("yield/fee %") + req, width=W["rate"],
                                            help=_("In percent a year: what a deposit or JGB earns, or what a "
                                                   "guarantee or line costs (type 0.4% for 0.4 percent)")),
        "haircut": st.column_config.TextColumn(_("haircut %"), width=W["haircut"],
                                               help=_("Credit per yen = rating credit × (1 − haircut); in percent "
                                                      "(blank: 0)")),
        "max_amount_jpy": st.column_config.TextColumn(_("cap, ¥"), width=W["max_amount_jpy"],
                                                      help=_("The most that can be held or committed, in yen (5bn, "
                                                             "50億; blank: no limit)")),
        "days_to_pay": st.column_config.TextColumn(_("pays in, days"), width=W["days_to_pay"],
                                                   help=_("Days from a loss until the money can pay customers (0: on "
                                                          "the day)")),
        "exchange_id": st.column_config.TextColumn(names["exchange_id"], width=140),
        "asset_source": st.column_config.TextColumn(names["asset_source"], width=600),
    }
    with st.container(key="asset_grid"):
        st.data_editor(frame, key=asset_grid_key(), num_rows="dynamic", hide_index=True, width="content",
                       column_order=ASSET_MORE if more else ASSET_MAIN, column_config=config)
    st.caption(_("✱ required. Add a row at the bottom of the table. Every valid change re-solves."))
    for p in w.asset_cell_problems():
        where = _("Row {row} ({qid}) · {column}").format(row=p.row, qid=md(p.quote_id or "—"),
                                                         column=names.get(p.column, p.column))
        text = md_format(_(p.key), **p.params)
        if p.confirm:
            typed = str(w.asset_text.at[p.row - 1, p.column]).strip()
            percent = p.column == "rate" and not typed.endswith("%")
            if _confirmed(f"{where}: {text}", typed + ("%" if percent else ""), f"asset_confirm_{p.quote_id}_{typed}"):
                w.confirm_asset(p.quote_id, typed)
                w.asset_version += 1
                st.rerun()
        else:
            st.error(f"{where}: {text}", icon=":material/warning:")
    if w.asset_problems:
        st.caption(_("Results above use the last valid assets until these cells are fixed."))
    elif any(not p.confirm for p in w.asset_cell_problems()):
        st.caption(_("Results above leave these assets out until their yield is fixed."))


# ------------------------------------------------------------------ results

def mix_table(s) -> pd.DataFrame:
    u = unit()
    mix = s.mix
    money = lambda col: mix[col].map(u.number)  # noqa: E731
    return pd.DataFrame({
        _("source"): mix["source"].replace({"cash reserve": _("cash reserve")}),
        _("kind"): mix["kind"].map(kind_words), _("counterparty"): mix["counterparty"].map(lambda c: _(c) if c else "—"),
        _("rating"): mix["rating"],
        f"{_('attaches at')} ({u.label})": money("attachment_jpy"), f"{_('limit')} ({u.label})": money("limit_jpy"),
        _("share"): mix["share"], _("credit factor"): mix["credit_factor"],
        f"{_('credit')} ({u.label})": money("credit_jpy"), f"{_('annual cost')} ({u.label})": money("annual_cost_jpy"),
    })


def result_views(s, scenario) -> None:
    u = unit()
    profile, quotes, regime = scenario.profile, scenario.quotes, scenario.regime
    view = st.segmented_control(_("Show"), VIEWS, default="Mix", format_func=tr(), key=f"cfo_view{_lang_suffix()}",
                                required=True) or "Mix"  # a second click on the view shown keeps it shown
    incidents = bundled()[3]
    if view == "Mix":
        table = mix_table(s)
        main = [_("source"), _("counterparty"), f"{_('attaches at')} ({u.label})", f"{_('limit')} ({u.label})",
                _("share"), f"{_('credit')} ({u.label})", f"{_('annual cost')} ({u.label})"]
        fitted_table(styled(table, money=[c for c in table.columns if f"({u.label})" in c],
                            percent=[_("credit factor")], fraction=[_("share")]), main, key="mix_more",
                     column_config={_("counterparty"): st.column_config.TextColumn(width=220),
                                    _("source"): st.column_config.TextColumn(width=90)})
        left_out = not_bought_ids(s, quotes)
        if left_out:
            st.caption(_("Not bought: {ids} (see “Not bought” for the reasons).").format(ids=", ".join(map(md, left_out))))
    elif view == "Not bought":
        with st.spinner(_("Finding why each quote is left out…")):
            reasons = not_bought_reasons(s, quotes, page_resolver())
        st.caption(_("Each reason is checked by the model: without that obstacle (or at that price) the cheapest "
                     "mix would buy the quote."))
        show_reasons(reasons)
        if scenario.assets:
            with st.spinner(_("Finding why each reserve asset is left out…")):
                held = not_held_reasons(s, quotes, scenario.assets, page_resolver())
            if len(held):
                st.markdown("**" + _("Reserve assets not held") + "**")
                show_reasons(held, key="asset_reasons", first="asset")
    elif view == "Tower":
        perils = list(regime.requirement.perils)
        peril = st.selectbox(_("Peril"), perils, index=perils.index(_least_covered(s, perils)), key=f"tower_peril{_lang_suffix()}",
                             format_func=lambda p, t=tr(): t(p.replace("_", " ")))
        st.caption(_("One column per source: each layer drawn from where it attaches to where it stops, filled to "
                     "the share bought (dashed: the whole layer); cash on the left. The bar on the right is the "
                     "regulatory credit allocation of a loss of R."))
        st.altair_chart(charts.tower_chart(s, u, peril, _), width="stretch")
    elif view == "Cost breakdown":
        st.altair_chart(charts.cost_chart(s, u, _), width="stretch")
    elif view == "Frontier":
        st.caption(_("What if the regulator lets insurance fund more or less of R? Optimal cost for each cap; "
                     "shaded: no compliant mix (shortfall); the red line marks the current regime."))
        with st.spinner(_("Sweeping the insurance cap…")):
            frame = cached_frontier(profile, quotes, regime, "max_insurance_share", scenario.assets)
        st.altair_chart(charts.frontier_chart(frame, "max_insurance_share", regime.eligibility.max_insurance_share,
                                              u, _), width="stretch")
    elif view == "Stress test":
        scale = st.radio(_("Scale each historical loss by"), ["assets", "absolute"], horizontal=True,
                         key=f"stress_scale{_lang_suffix()}", format_func=lambda k, t=tr(): t("share of customer assets") if k == "assets"
                         else t("reported yen amount"))
        st.caption(_("Historical hacks replayed against this mix: layers pay first (if they cover the peril and do "
                     "not exclude the attack: a layer that excludes state-backed attacks pays nothing for an attack "
                     "attributed to a state actor or of unknown attribution), then cash up to the reserve; the rest "
                     "is uncovered. The dashed line is R."))
        table = analysis.stress_test(s, incidents, scale)
        st.altair_chart(charts.stress_chart(table, u, _, s.requirement_jpy), width="stretch")
        shown, config = charts.stress_table(table, u, _)
        st.dataframe(styled(shown, money=config), hide_index=True, width="stretch")
    elif view == "Risk":
        risk_view.render(scenario)
    elif view == "Presets":
        _presets(profile, quotes, u, scenario.assets)
    else:
        exports.downloads(s, scenario, analysis.stress_test(s, incidents))


def _presets(profile, quotes, u, assets=()) -> None:
    """This exchange under every bundled regime preset, side by side (the table a CFO brings to the FSA)."""
    st.caption(_("The same exchange and quote sheet under every bundled regime preset (without this page's "
                 "overrides): the requirement, its size against customer assets and net assets, and the cheapest "
                 "compliant mix's cost."))
    with st.spinner(_("Solving…")):
        table = cached_compare(profile, quotes, tuple(assets))
    money = {"required_coverage_jpy": N_("R ({u})"), "annual_cost_jpy": N_("annual cost ({u})"),
             "all_cash_cost_jpy": N_("all cash ({u})"), "savings_jpy": N_("savings ({u})"),
             "cash_reserve_jpy": N_("cash reserve ({u})"), "insurance_credit_jpy": N_("insurance credit ({u})"),
             "shortfall_jpy": N_("shortfall ({u})")}
    shown = pd.DataFrame({_("preset"): table["regime"].map(lambda name: _(name)),
                          _("status"): table["status"].map(lambda v: _(v))})
    for column, title in money.items():
        shown[_(title).format(u=u.label)] = table[column].map(lambda v: None if v is None or pd.isna(v) else u.number(v))
    shown[_("R ÷ customer assets, %")] = 100 * table["requirement_to_customer_assets"].astype(float)
    shown[_("R ÷ net assets, %")] = 100 * table["requirement_to_net_assets"].astype(float)
    money_columns = [_(t).format(u=u.label) for t in money.values()]
    fitted_table(styled(shown, money=money_columns, percent=[_("R ÷ customer assets, %"), _("R ÷ net assets, %")]),
                 [_("preset"), _("status"), *money_columns[:3], _("R ÷ net assets, %")], key="cfo_presets")


def _least_covered(s, perils):
    return min(perils, key=lambda p: sum(l.credit_jpy for l in s.lines if l.quote.covers(p)))


def main() -> None:
    w = ws()
    results = headline_slot()
    details = st.container()
    with st.expander(_("Exchange and regime"), expanded=True):
        left, right = st.columns(2)
        with left:
            exchange_inputs()
        with right:
            regime_inputs()
    # an untouched assets table starts again from the chosen preset's default (drawn and solved below)
    w.follow_regime(allows_assets(w.base_regime), ASSETS_FILE, bundled_assets(), lang())
    st.subheader(_("Quote sheet"))
    sheet_inputs()
    grid = st.container()
    assets_slot = st.container()
    # The grid's edits are in the workspace already (app.py absorbs them before any page runs), so the answer is
    # solved and sent before the grid is drawn: after a premium edit the new cost reaches the browser first.
    sc = w.scenario()
    s = None
    with results:
        if sc is None:
            st.info(_("Enter your exchange's figures to see a result."))
        else:
            try:
                s = cached_solve(sc.profile, sc.quotes, sc.regime, session_resolver(), assets=sc.assets)
                # what the assets save: the same scenario solved with cash and cover alone
                base = cached_solve(sc.profile, sc.quotes, sc.regime, session_resolver()) if sc.assets else None
            except SolveError as exc:
                st.error(_("The solver failed: {e}").format(e=md(exc)))
            else:
                headline(s, details)
                if base is not None:
                    with details:
                        assets_answer(s, base)
    with grid:
        quote_grid()
    with assets_slot:
        asset_grid()
    if s is not None:
        result_views(s, sc)


main()
