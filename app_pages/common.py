"""What every page shares: session keys, the one Workspace, cached core calls, the context bar, the headline.

Pages import from here; nothing here draws a whole page. Session keys shared by two functions are constants.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from optimizer import analysis
from optimizer.i18n import N_, Unit, fit, translator
from optimizer.inputs import load_incidents, load_profiles, load_quotes, load_regime
from optimizer.model import solve
from optimizer.scenario import Workspace

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PRESETS = {p.stem: p for p in sorted((DATA / "regimes").glob("*.toml"))}
DEFAULT_PRESET = "securities-style"

# Session keys used by more than one function
WS = "workspace"          # the one Workspace
LANG = "lang"             # "en" | "ja"
UNIT = "unit"             # a key of optimizer.i18n.UNITS
USD = "usd_rate"
MESSAGES = "messages"     # upload outcomes shown once: list of (kind, text)


# ------------------------------------------------------------------ cached core calls

@st.cache_data(show_spinner=False)
def bundled():
    return (load_profiles(DATA / "profiles.csv"), load_quotes(DATA / "quotes.csv"),
            {name: load_regime(path) for name, path in PRESETS.items()}, load_incidents(DATA / "incidents.csv"))


@st.cache_data(show_spinner=False, max_entries=64)
def cached_solve(profile, quotes, regime):
    return solve(profile, quotes, regime)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_frontier(profile, quotes, regime, param):
    return analysis.frontier(profile, quotes, regime, param, [i / 10 for i in range(11)])


@st.cache_data(show_spinner=False, max_entries=16)
def cached_break_evens(profile, quotes, regime):
    return analysis.break_evens(profile, quotes, regime)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_demand(profile, quotes, regime, quote_id):
    return analysis.demand_curve(profile, quotes, regime, quote_id)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_more_limit(profile, quotes, regime, extra_jpy: float = 1e9) -> dict[str, float]:
    """quote_id → annual saving (¥) if that quote offered `extra_jpy` more limit, everything else unchanged."""
    import dataclasses

    base = solve(profile, quotes, regime, marginal=False)
    R = base.requirement_jpy
    out = {}
    for q in quotes:
        if not q.offered_to(profile.exchange_id) or base.credit.get(q.quote_id, 0.0) <= 0:
            continue
        more = q.limit + (extra_jpy / R if q.layer_basis == "requirement" and R > 0 else extra_jpy)
        changed = [dataclasses.replace(x, limit=more) if x.quote_id == q.quote_id else x for x in quotes]
        out[q.quote_id] = base.annual_cost_jpy - solve(profile, changed, regime, marginal=False,
                                                       check=False).annual_cost_jpy
    return out


# ------------------------------------------------------------------ session

def lang() -> str:
    return st.session_state.get(LANG, "en")


def _(message: str) -> str:
    """Translate for the language of this session."""
    return translator(lang())(message)


def tr():
    """The translator of this session's language as a plain function (safe in format_func after the run)."""
    return translator(lang())


def ws() -> Workspace:
    ss = st.session_state
    if WS not in ss:
        profiles, quotes, regimes, _incidents = bundled()
        name = DEFAULT_PRESET if DEFAULT_PRESET in regimes else next(iter(regimes))
        ss[WS] = Workspace.new(profiles, quotes, regimes, name, lang())
    return ss[WS]


def grid_key() -> str:
    """The session key of the quote grid (new whenever the grid is rebuilt from the cells)."""
    return f"quote_editor_{ws().version}"


def absorb_grid_edits() -> None:
    """Fold the quote grid's pending edits into the workspace (called before anything reads the scenario)."""
    w = ws()
    w.absorb_edits(st.session_state.get(grid_key()))


def unit() -> Unit:
    return Unit(st.session_state.get(UNIT, "¥m"), float(st.session_state.get(USD, 150.0)), lang())


def tr_error(exc: Exception) -> str:
    """An EntryError, InputError or CellProblem in the session's language."""
    key = getattr(exc, "key", None)
    if key is not None:
        return _(key).format(**getattr(exc, "params", {}))
    message = getattr(exc, "message", None)
    return _(message) if message else str(exc)


def styled(frame: pd.DataFrame, money=(), percent=(), fraction=()):
    """A table for st.dataframe: money with separators (whole yen in the ¥ unit, two decimals otherwise), blanks as
    "—" (never "None"). Columns without blanks stay numbers, so they sort as numbers; a column with blanks is shown
    as right-aligned text (the grid would print "None" for a missing number)."""
    u = unit()
    money_fmt = "{:,.0f}" if u.divisor == 1 else "{:,.2f}"
    formats = {c: money_fmt for c in money if c in frame.columns}
    formats.update({c: "{:.2f}" for c in percent if c in frame.columns})
    formats.update({c: "{:.1%}" for c in fraction if c in frame.columns})
    formats.update({c: "{:.4g}" for c in frame.columns if c not in formats
                    and pd.api.types.is_float_dtype(frame[c])})
    frame = frame.copy()
    for c, fmt in list(formats.items()):
        if frame[c].isna().any():
            frame[c] = frame[c].map(lambda v, f=fmt: "—" if pd.isna(v) else f.format(v + 0.0)).astype(object)
            del formats[c]
    return frame.style.format(formats, na_rep="—")


def right_aligned(frame) -> dict:
    """column_config aligning the text columns that hold numbers (see styled) to the right."""
    data = frame.data if hasattr(frame, "data") else frame
    return {c: st.column_config.TextColumn(alignment="right") for c in data.columns
            if data[c].dtype == object and data[c].map(lambda v: isinstance(v, str) and (v == "—" or
                                                                                         v.lstrip("-")[:1].isdigit())).all()}


# ------------------------------------------------------------------ words for the model's identifiers

def binding_words(binding, regime) -> list[str]:
    """Binding limits in plain words: capacity:Q01 → "Q01 fully taken"."""
    e = regime.eligibility
    out = []
    full = [b.partition(":")[2] for b in binding if b.startswith("capacity:")]
    if full:
        out.append((_("{q} fully taken (its largest share on offer)") if len(full) == 1 else
                    _("{q} fully taken (their largest shares on offer)")).format(q=", ".join(full)))
    for b in binding:
        name, _sep, arg = b.partition(":")
        if name == "capacity":
            continue
        elif name == "liquid_capital":
            out.append(_("all the liquid capital the exchange can set aside"))
        elif name == "min_cash_share":
            out.append(_("the minimum cash share ({p:.0f}% of R)").format(p=100 * e.min_cash_share))
        elif name == "max_insurance_share":
            out.append(_("the cap on insurance credit ({p:.0f}% of R)").format(p=100 * e.max_insurance_share))
        elif name == "max_derivative_share":
            out.append(_("the cap on parametric cover credit ({p:.0f}% of R)").format(p=100 * e.max_derivative_share))
        elif name == "max_counterparty_share":
            out.append(_("the cap on credit from one counterparty ({p:.0f}% of R): {name}").format(
                p=100 * e.max_counterparty_share, name=arg))
        else:
            out.append(b)
    return out


# Words of the data shown in tables, marked for the catalogue (translated where shown)
DATA_WORDS = (N_("insurance"), N_("derivative"), N_("cash"), N_("optimal"), N_("shortfall"), N_("error"),
              N_("external hack"), N_("insider theft"), N_("vendor compromise"), N_("max insurance share"))

PERIL_WORDS = {"external_hack": N_("external hack"), "insider_theft": N_("insider theft"),
               "vendor_compromise": N_("vendor compromise")}


def not_bought_reasons(solution, quotes, break_evens: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per offered quote that is not in the mix: quote, reason in words, what would change it.

    Uses optimizer.reasons.not_bought when that module exists; otherwise the structural reasons found here and the
    break-even rate from analysis.break_evens.
    """
    # The page's reasons are worded (and translated) here; optimizer.reasons gives the CLI's, checked by re-solving.
    bought = {l.quote.quote_id for l in solution.lines}
    rows = []
    R = solution.requirement_jpy
    required = list(solution.regime.requirement.perils)
    be = {} if break_evens is None else {r["quote_id"]: r for r in break_evens.to_dict("records")}
    for q in quotes:
        if q.quote_id in bought:
            continue
        change = "—"
        if not q.offered_to(solution.profile.exchange_id):
            continue
        if solution.credit.get(q.quote_id, 0.0) <= 0:
            reason = _("not eligible: rating {r} is below the regime's minimum {m}").format(
                r=q.rating, m=solution.regime.eligibility.min_rating)
            change = _("a counterparty rated {m} or better").format(m=solution.regime.eligibility.min_rating)
        elif q.attachment_jpy(R) >= R:
            reason = _("attaches at {a}, above the requirement R = {r}: it never pays a loss up to R").format(
                a=fit(q.attachment_jpy(R), lang()), r=fit(R, lang()))
            change = _("a lower attachment")
        else:
            missing = [p for p in required if not q.covers(p)]
            row = be.get(q.quote_id)
            rol = None if row is None else row.get("break_even_rol")
            if missing:
                reason = _("does not cover {perils}, which the regime requires: cash must fund those losses anyway"
                           ).format(perils=", ".join(_(PERIL_WORDS[p]) for p in missing))
            else:
                reason = _("dearer than cash and the other cover for what it adds")
            if rol is not None and isinstance(rol, float) and math.isfinite(rol) and rol > 0:
                change = _("a rate on line below {p}").format(p=f"{100 * rol:.2f}%")
            elif row is not None:
                change = _("no price: it is not bought even if free")
        rows.append({"quote": q.quote_id, "reason": reason, "what would change it": change})
    return pd.DataFrame(rows, columns=["quote", "reason", "what would change it"])


# ------------------------------------------------------------------ the sentence at the top

def answer_sentence(s) -> str:
    """One plain sentence: the cheapest compliant mix, its cost, and the saving against all cash."""
    L = lang()
    n = len(s.lines)
    parts = [fit(s.cash_reserve_jpy, L) + " " + _("cash")] if s.cash_reserve_jpy > 0 else []
    if n:
        parts.append((_("1 layer") if n == 1 else _("{n} layers").format(n=n)))
    mix = " + ".join(parts) or _("nothing")
    if s.status == "shortfall":
        return _("The requirement cannot be met: even the best mix ({mix}) leaves {short} of loss unfunded; "
                 "it costs {cost} a year.").format(mix=mix, short=fit(s.shortfall_jpy, L), cost=fit(s.annual_cost_jpy, L))
    text = _("Cheapest compliant mix: {mix} → {cost} a year").format(mix=mix, cost=fit(s.annual_cost_jpy, L))
    if s.all_cash_cost_jpy:
        pct = 100 * (s.savings_jpy or 0.0) / s.all_cash_cost_jpy
        text += _(", {pct:.0f}% less than {cash} in cash").format(pct=pct, cash=fit(s.requirement_jpy, L)) \
            if pct >= 0.5 else _(", the same as holding {cash} in cash").format(cash=fit(s.requirement_jpy, L))
    elif s.all_cash_cost_jpy is None:
        text += _(" (all cash is not an option: R exceeds the liquid capital)")
    return text + ("。" if L == "ja" else ".")


def headline_slot():
    """A container at the top of a page that stays in view while scrolling (CSS .st-key-headline in app.py)."""
    return st.container(key="headline")


def headline(s, details=None) -> None:
    """The answer first: the sentence and the numbers (drawn into headline_slot()); R and what binds go into
    `details` (a container below the slot, so the part that stays in view is short)."""
    u = unit()
    with st.container():
        st.markdown(f"**{answer_sentence(s)}**")
        c = st.columns(4)
        c[0].metric(_("Annual cost"), u(s.annual_cost_jpy), help=_("Cash carry plus premiums and fees, per year"))
        if s.savings_jpy is None:
            c[1].metric(_("Savings vs all cash"), "—", help=_("All cash is not an option: R exceeds liquid capital"))
        else:
            share = s.savings_jpy / s.all_cash_cost_jpy if s.all_cash_cost_jpy else 0.0
            c[1].metric(_("Savings vs all cash"), u(s.savings_jpy), _("{p:.1f}% of {c}").format(
                p=100 * share, c=u(s.all_cash_cost_jpy)), delta_color="off")
        c[2].metric(_("Cash reserve"), u(s.cash_reserve_jpy), help=_("Cash the exchange sets aside"))
        c[3].metric(_("Shortfall"), u(s.shortfall_jpy), help=_("Largest loss up to R that nothing funds"),
                    delta=None if s.shortfall_jpy == 0 else _("cannot comply"), delta_color="inverse")
    mc = s.marginal_cost_per_jpy
    words = binding_words(s.binding, s.regime)
    with (details if details is not None else st.container()):
        st.caption(_("Requirement R = **{r}** under *{regime}*. Marginal cost of R: {mc} a year per yen.").format(
            r=u(s.requirement_jpy), regime=_(s.regime.name), mc="—" if mc is None else f"{100 * mc:.2f}%")
            + ((" " + _("What holds the answer where it is: {limits}.").format(limits="; ".join(words))) if words else ""))


def context_bar() -> None:
    """Which exchange, regime and quote sheet are in use, and whether they differ from the bundled ones."""
    w = ws()
    diff = w.differs()
    p = w.profile
    exchange = _("own figures") if w.exchange_id is None else (_(p.display_name) if p else w.exchange_id)
    mark = lambda changed: " ✎ " + _("changed") if changed else " · " + _("bundled")  # noqa: E731
    over = (" + " + _("{n} overrides").format(n=len(w.overrides))) if w.overrides else ""
    sheet = _("bundled") if w.quote_sheet == "bundled" else w.quote_sheet
    n_changed = len(w.changed_rows())
    quotes = _("{name}, {n} quotes").format(name=sheet, n=len(w.last_quotes)) + (
        ", " + _("{n} edited").format(n=n_changed) if n_changed else "")
    with st.container(key="context"):
        st.caption(" │ ".join([
            f":material/account_balance: {_('Exchange')}: **{exchange}**{mark(diff['exchange'])}",
            f":material/gavel: {_('Regime')}: **{_(w.base_regime.name)}**{over}{mark(diff['regime'])}",
            f":material/request_quote: {_('Quote sheet')}: **{quotes}**{mark(diff['quotes'])}",
        ]))
        if w.problems:
            st.caption(":material/warning: " + _("{n} quote cells need attention: results use the last valid quote sheet.").format(
                n=len(w.problems)))
