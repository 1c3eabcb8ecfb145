"""The Risk view of the CFO page (`render`), and the layer expected losses the Broker page shows
(`layer_losses`): how likely, how bad — on the scenario the CFO page shows.

It only arranges what optimizer.risk computes and optimizer.charts draws. The app simulates fewer scenario-years
than the command line (APP_SCENARIOS, said on the page) so that the TVaR slider re-solves at once; each answer is
cached by scenario, loss model and limit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import DATA, N_, _, kind_words, lang, md, tr, unit
from optimizer import charts
from optimizer.loss_model import load_loss_model
from optimizer.risk import DEFAULT_LEVEL, RiskBook, layer_expected_losses, risk_view
from optimizer.simulation import DEFAULT_SEED, simulate
from optimizer.solution import SolveError

APP_SCENARIOS = 20_000
LOSS_MODELS = {p.stem: p for p in sorted((DATA / "loss-models").glob("*.toml"))}
DEFAULT_MODEL = "japan"
MODEL = "risk_loss_model"  # session key: the chosen preset
LIMIT_STEPS = 8            # TVaR limits offered between the least reachable and the unconstrained one
SAME_TVAR = 1e-4           # a range of TVaR limits narrower than this share of the TVaR is no choice (rounding)
# The presets' names, marked for the catalogue (shown translated)
MODEL_WORDS = (N_("Japan (central)"), N_("Japan (stressed)"), N_("Japan (heavy tail)"))


@st.cache_data(show_spinner=False, max_entries=4)
def _loss_model(name: str):
    return load_loss_model(LOSS_MODELS[name])


@st.cache_data(show_spinner=False, max_entries=8)
def _scenarios(profile, model: str, n: int, seed: int):
    return simulate(profile, _loss_model(model), n, seed)


@st.cache_data(show_spinner=False, max_entries=48)
def cached_risk_view(profile, quotes, regime, model: str, limit: float | None, n: int = APP_SCENARIOS,
                     seed: int = DEFAULT_SEED, level: float = DEFAULT_LEVEL, assets: tuple = ()):
    """The three mixes on the page's scenarios, with the reserve assets of the CFO page as `risk --assets` takes
    them (cached by all of these, the assets included)."""
    return risk_view(profile, quotes, regime, _scenarios(profile, model, n, seed), level=level, tvar_limit=limit,
                     assets=tuple(assets))


@st.cache_data(show_spinner=False, max_entries=16)
def layer_losses(profile, quotes, requirement_jpy: float, model: str = DEFAULT_MODEL, n: int = APP_SCENARIOS,
                 seed: int = DEFAULT_SEED) -> dict[str, tuple[float, float]]:
    """quote_id → (expected annual loss to the whole layer, standard error), JPY, for the quotes offered."""
    offered = [q for q in quotes if q.offered_to(profile.exchange_id)]
    book = RiskBook.build(_scenarios(profile, model, n, seed), offered, requirement_jpy)
    return layer_expected_losses(book)


def limit_options(view) -> list[float | None]:
    """TVaR limits worth offering: from just above the least a compliant mix reaches up to the TVaR of the
    unconstrained risk-optimal mix, then no limit (None) at the right end.

    A range is worth a slider whenever it is more than rounding (SAME_TVAR of the TVaR): a large exchange's TVaR
    is mostly loss no cover on the sheet reaches, so its whole range of choice can be a fraction of a percent of
    it (bitbank: ¥0.3bn on ¥134bn) and still be hundreds of millions of yen. The leftmost limit lies just above
    the least, by 0.5% of the TVaR or 5% of the range, whichever is smaller (so it is reachable and inside it)."""
    least, free = view.least_tvar_jpy, view.free_tvar_jpy
    if least is None or free - least <= SAME_TVAR * free:
        return [None]
    low = least + min(0.005 * least, 0.05 * (free - least))
    return [float(v) for v in np.linspace(low, free, LIMIT_STEPS + 1)[:-1]] + [None]


def _mix_words(solution) -> str:
    u = unit()
    parts = [f"{u(solution.cash_reserve_jpy)} {_('cash')}"] if solution.cash_reserve_jpy > 0 else []
    parts += [f"{md(line.quote.quote_id)} {100 * line.share:.3g}%" for line in solution.lines]  # Markdown: md
    parts += [f"{md(h.asset.asset_id)} {u(h.amount_jpy)}" for h in solution.holdings if h.amount_jpy > 0]
    return " + ".join(parts) or _("nothing")


def _with_assets(view) -> bool:
    """Whether a mix of the view was solved with reserve assets (its metrics then count what they pay)."""
    return any(m.metrics.expected_unfunded_jpy is not None for m in view.mixes)


def metrics_table(view) -> pd.DataFrame:
    """One row per metric, one column per mix; amounts in the chosen unit, probabilities in percent. With reserve
    assets the reserve a year's retained loss can exhaust is the cash and what the assets pay that year, and the
    expected unfunded loss is what both leave (as `risk --assets`); "—" for a mix without them."""
    u = unit()
    pct = f"{100 * view.level:.0f}%"
    assets = _with_assets(view)
    rows = [  # (label, key, its standard error's key or None when not simulated, kind)
        (_("annual cost"), "annual_cost_jpy", None, "money"),
        (_("cash reserve"), "cash_reserve_jpy", None, "money"),
        (_("expected loss"), "expected_loss_jpy", "expected_loss_se_jpy", "money"),
        (_("expected recovery from cover"), "expected_recovery_jpy", "expected_recovery_se_jpy", "money"),
        (_("expected retained loss"), "expected_retained_jpy", "expected_retained_se_jpy", "money"),
        (_("total cost of risk (cost + expected retained loss)"), "total_cost_of_risk_jpy",
         "total_cost_of_risk_se_jpy", "money"),
        (_("VaR {p} of retained loss").format(p=pct), "var_jpy", "var_se_jpy", "money"),
        (_("TVaR {p} of retained loss (mean of the worst {q})").format(p=pct, q=f"{100 * (1 - view.level):.0f}%"),
         "tvar_jpy", "tvar_se_jpy", "money"),
        (_("probability a year's retained loss exceeds the cash reserve") if not assets else
         _("probability a year's retained loss exceeds the reserve (cash and the reserve assets that pay that year)"),
         "prob_reserve_exhausted", "prob_reserve_exhausted_se", "prob"),
    ]
    if assets:
        rows.append((_("expected unfunded loss (retained beyond cash and the reserve assets that pay)"),
                     "expected_unfunded_jpy", "expected_unfunded_se_jpy", "money"))
    table = {_("metric"): [label for label, _k, _se, _f in rows]}
    for m in view.mixes:
        values = []
        for _label, key, se, kind in rows:
            v = getattr(m.metrics, key)
            if v is None:  # an asset figure of a mix without reserve assets
                values.append("—")
                continue
            text = u(v) if kind == "money" else f"{100 * v:.2f}%"
            if se is not None:  # a simulated figure: with its standard error
                e = getattr(m.metrics, se)
                text += " ± " + (u(e) if kind == "money" else f"{100 * e:.2f}%")
            values.append(text)
        table[_(charts.MIX_WORDS[m.name])] = values
    return pd.DataFrame(table)


def asset_table(view) -> pd.DataFrame:
    """One row per reserve asset held or committed in a mix (as `risk --assets` lists them): what it pays on
    average after the cash and the assets before it, and how often it is called on in a year its bank or parent
    defaults (it then pays nothing)."""
    u = unit()
    rows = []
    for m in view.mixes:
        for a in m.metrics.assets:
            rows.append({_("mix"): _(charts.MIX_WORDS[m.name]), _("asset"): a.asset_id,
                         _("kind"): kind_words(a.kind), _("bank or parent"): a.counterparty or "—",
                         _("amount ({unit})").format(unit=u.label): u.number(a.amount_jpy),
                         _("bank's default probability, % a year"): 100 * a.default_probability,
                         _("expected paid a year ({unit})").format(unit=u.label):
                             f"{u(a.expected_paid_jpy)} ± {u(a.expected_paid_se_jpy)}",
                         _("called on when its bank defaults, % of years"): 100 * a.prob_called_and_failed})
    return pd.DataFrame(rows)


def _noise_words(view) -> str:
    """How far the page's TVaR can be from the command line's: its standard error here and at 100,000 years."""
    m = view.mix("regulatory").metrics
    u = unit()
    return _("Each simulated figure carries its standard error (±): the regulatory mix's TVaR is {tvar} ± {se} on "
             "these {n} years; on the command line's 100,000 it is about ± {cli}, so the two can differ by about "
             "{gap} (two standard errors of the difference) from sampling alone. With the saved scenario, "
             "`python -m optimizer risk --scenario FILE --scenarios {plain}` gives the page's figures exactly."
             ).format(plain=APP_SCENARIOS,
        tvar=u(m.tvar_jpy), se=u(m.tvar_se_jpy), n=f"{APP_SCENARIOS:,}",
        cli=u(m.tvar_se_jpy * (APP_SCENARIOS / 100_000) ** 0.5),
        gap=u(2 * m.tvar_se_jpy * (1 + APP_SCENARIOS / 100_000) ** 0.5))


def render(scenario) -> None:
    """The Risk view: loss model, TVaR-limit slider, the exceedance chart, the metrics table."""
    u = unit()
    profile, quotes, regime = scenario.profile, scenario.quotes, scenario.regime
    assets = tuple(scenario.assets)
    names = list(LOSS_MODELS)
    left, right = st.columns([1, 2])
    model = left.selectbox(_("Loss model"), names, index=names.index(DEFAULT_MODEL) if DEFAULT_MODEL in names else 0,
                           key=f"{MODEL}_{lang()}",
                           format_func=lambda k, t=tr(): t(_loss_model(k).name))
    try:
        with st.spinner(_("Simulating hack losses…")):
            free = cached_risk_view(profile, quotes, regime, model, None, assets=assets)
    except SolveError as exc:
        st.error(_("The solver failed: {e}").format(e=md(exc)))
        return
    options = limit_options(free)
    if len(options) == 1:
        right.caption(_("No TVaR limit to choose here: no mix meets the requirement.") if free.least_tvar_jpy is None
                      else _("No TVaR limit to choose here: every compliant mix reaches about the same TVaR ({tvar})."
                             ).format(tvar=u(free.least_tvar_jpy)))
    pick = 0 if len(options) == 1 else right.select_slider(
        _("TVaR limit: the worst {q} of years may retain at most this on average").format(
            q=f"{100 * (1 - free.level):.0f}%"),
        options=list(range(len(options))), value=len(options) - 1,
        format_func=lambda i, t=tr(): t("no limit") if options[i] is None else u(options[i]),
        key=f"risk_limit_{model}_{hash(tuple(options))}",
        help=_("Moving left asks for less tail risk: the risk-optimal mix buys more cover. The leftmost value is "
               "just above the least TVaR any compliant mix reaches on these scenarios."))
    limit = options[pick]
    view = free
    if limit is not None:
        try:
            with st.spinner(_("Re-solving within the TVaR limit…")):
                view = cached_risk_view(profile, quotes, regime, model, limit, assets=assets)
        except SolveError as exc:
            st.error(_("The solver failed: {e}").format(e=md(exc)))
            return
    risk = view.mix("risk")
    same = _mix_words(risk.solution) == _mix_words(view.mix("regulatory").solution)
    sentence = (_("**Risk-optimal mix** (minimises annual cost + expected retained loss, still compliant{limit}): "
                  "{mix}; TVaR {tvar}.") if risk.solution.status != "shortfall" else
                _("**Risk-optimal mix** (minimises annual cost + expected retained loss at the least shortfall{limit}): "
                  "{mix}; TVaR {tvar}."))
    st.markdown(sentence.format(
        mix=_mix_words(risk.solution) + (_(" (the same as the cheapest compliant mix)") if same else ""),
        tvar=u(risk.metrics.tvar_jpy) + " ± " + u(risk.metrics.tvar_se_jpy),
        limit="" if limit is None else _(", TVaR at most {x}").format(x=u(limit))))
    st.altair_chart(charts.exceedance_chart(view, u, tr()), width="stretch")
    st.dataframe(metrics_table(view), hide_index=True, width="stretch",
                 column_config={_("metric"): st.column_config.TextColumn(width="large")})
    if _with_assets(view):
        table = asset_table(view)
        if len(table):
            st.markdown("**" + _("Reserve assets on the scenarios") + "**")
            st.dataframe(table, hide_index=True, width="stretch", key="risk_assets", column_config={
                _("bank's default probability, % a year"): st.column_config.NumberColumn(format="%.3f%%"),
                _("called on when its bank defaults, % of years"): st.column_config.NumberColumn(format="%.3f%%")})
        st.caption(_("With the reserve assets of the CFO page, as `python -m optimizer risk --assets FILE` takes "
                     "them: a year exhausts the reserve when its retained loss exceeds the cash plus what the assets "
                     "pay that year (held before promised; a guarantee or a line pays nothing in a year its bank or "
                     "parent defaults, at the loss model's rate for its rating). The assets do not change the "
                     "retained loss: the exchange still bears it."))
    st.caption(_("Monte Carlo of hack losses: {n} simulated years (the command line uses 100,000), the same years "
                 "for every mix, seed {seed}. Retained loss: what a year's hacks cost the exchange after its cover "
                 "pays. All cash holds R in cash and buys no cover.").format(n=f"{APP_SCENARIOS:,}", seed=DEFAULT_SEED))
    st.caption(_noise_words(view))
