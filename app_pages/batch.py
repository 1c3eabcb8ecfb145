"""Batch page: the rule over many exchanges with the scenario's regime and quote sheet, on all the machine's cores."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
import types

import pandas as pd
import streamlit as st

from app_pages.common import (
    BATCH_ERROR_WIDTHS as ERROR_WIDTHS, DATA, ILLUSTRATIVE_PROFILES, N_, REAL_PROFILES, _, fitted_table, md, overrides_note, read_profiles_parquet, right_aligned,
    stale_warning, styled, tr, unit, upload_rows_check, ws,
)
from optimizer import batch, charts, compare, report, settings
from optimizer.i18n import input_error_words
from optimizer.inputs import InputError, csv_text_to_frame, load_capacity
from optimizer.scenario import assets_to_frame, quotes_to_frame, regime_to_dict

RESULT = "batch_result"      # (fingerprint, BatchResult or PresetsResult, names) of the last run
EVERY = "batch_every_on"     # the "Every preset" switch, kept across pages
CHUNK = 64                   # profiles per task: progress at least every few seconds
# Bundled profiles the page runs when nothing is uploaded: key → (file, label)
BUNDLED = {"real": (REAL_PROFILES, N_("Japan's exchanges, 2025 statements")),
           "illustrative": (ILLUSTRATIVE_PROFILES, N_("Illustrative exchanges"))}
MAIN = ("exchange_id", "status", "required_coverage_jpy", "annual_cost_jpy", "savings_jpy", "cash_reserve_jpy",
        "shortfall_jpy")  # the columns in view at 1280 px; the others behind the toggle
MONEY = ("required_coverage_jpy", "annual_cost_jpy", "all_cash_cost_jpy", "savings_jpy", "cash_reserve_jpy",
         "shortfall_jpy", "insurance_credit_jpy", "derivative_credit_jpy")


def _read(up, bundled: str = "real") -> pd.DataFrame:
    """The uploaded (or bundled) profiles as a frame; InputError for anything that is not a profiles file."""
    if up is None:
        path = BUNDLED[bundled][0]
        return csv_text_to_frame(path.read_text(encoding="utf-8"), path.name)
    data = up.getvalue()
    limit, command = settings.APP_MAX_BATCH_ROWS, f"python -m optimizer batch {up.name} --out results.csv"
    if up.name.lower().endswith(".parquet"):
        return read_profiles_parquet(up.name, data, limit, command).to_pandas()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(up.name, "not UTF-8 text") from None
    frame = csv_text_to_frame(text, up.name)
    upload_rows_check(up.name, len(frame), limit, command)
    return frame


def _fingerprint(up, w, bundled: str, every: bool = False) -> str:
    """The inputs of a run; an every-preset run does not depend on the scenario's regime."""
    regime = ["every preset"] if every else [w.regime_name, json.dumps(regime_to_dict(w.regime), default=str)]
    parts = [up.file_id if up is not None else f"bundled:{bundled}", w.quote_sheet, *regime,
             quotes_to_frame(w.last_quotes).to_json(), assets_to_frame(w.last_assets).to_json()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@contextlib.contextmanager
def _plain_main():
    """Worker processes prepare themselves by running the parent's `__main__`, which during a Streamlit run is the
    page's script: every worker would run the page in bare mode (some 220 warnings in the server log per batch).
    While the workers start, `__main__` is an empty module instead."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


@st.cache_data(show_spinner=False)
def _capacity() -> dict[str, float]:
    """The bundled capacity per counterparty (data/capacity.csv), as the command line's batch uses by default."""
    return load_capacity(DATA / "capacity.csv")


def _capacity_words(summary, u) -> None:
    """What the command line's summary says about capacity: the cover bought from the counterparties of the
    capacity file against their capacity, who is over it, and a chart of each counterparty."""
    demand = summary.get("cover_demand") or {}
    if "capacity_jpy" not in demand or not any(cp.get("capacity_jpy") is not None
                                               for cp in summary["insurance_by_counterparty"]):
        return  # no counterparty bought from is in the capacity file
    st.subheader(_("Cover bought against the market's capacity"))
    cap, listed = demand["capacity_jpy"], demand["cover_of_listed_jpy"]
    st.caption(_("Cover bought {cover} (insurance {insurance}); from the counterparties of the capacity file {listed} "
                 "against their capacity {capacity} ({share}). Each exchange is solved alone: the capacity is not "
                 "shared out (the Market page shares it).").format(
        cover=u(demand["cover_jpy"]), insurance=u(demand["insurance_cover_jpy"]), listed=u(listed),
        capacity=u(cap), share=report.pct(listed / cap, 1) if cap else "—"))
    if demand["over_capacity"]:
        st.warning(_("Over capacity: {names}").format(names=md("; ".join(_(n) for n in demand["over_capacity"]))),
                   icon=":material/warning:")
    if summary["insurance_by_counterparty"]:
        st.altair_chart(charts.capacity_chart(summary["insurance_by_counterparty"], u, tr()), width="stretch",
                        key="batch_capacity_chart")


def _presets():
    """The bundled presets in the order `batch --all-presets` runs them: the command line's default first, then the
    README's order."""
    from optimizer.cli import DEFAULT_REGIME

    loaded = dict(compare.load_presets(DATA / "regimes"))
    return [(n, loaded[n]) for n in compare.preset_order(loaded, first=DEFAULT_REGIME.removesuffix(".toml"))]


# The every-preset table: its columns (report.preset_headline's keys), money in the page's unit
PRESET_MONEY = ("required_coverage_jpy", "annual_cost_jpy", "insurance_cover_jpy", "cover_jpy", "shortfall_jpy")
PRESET_WORDS = {"preset": N_("preset"), "required_coverage_jpy": N_("total R"), "annual_cost_jpy": N_("annual cost"),
                "insurance_cover_jpy": N_("insurance cover"), "cover_jpy": N_("all cover"),
                "cover_to_capacity": N_("all cover ÷ capacity"), "over_capacity": N_("over their capacity"),
                "over_net_assets": N_("R > net assets"), "cannot_comply": N_("cannot comply"),
                "shortfall_jpy": N_("shortfall"), "cannot_comply_exchanges": N_("who cannot comply"),
                "errors": N_("errors")}  # money in the page's unit, said in the caption (the headers fit at 1280 px)


def presets_table(sections, quotes, u, t) -> pd.DataFrame:
    """A row per preset: the headline figures the command line's `batch --all-presets` prints
    (report.preset_headline), money in the unit `u`, headers in the page's language."""
    rows = []
    for s in sections:
        h = report.preset_headline(s, quotes)
        rows.append({"preset": s["preset"], **{k: u.number(h[k]) if k in PRESET_MONEY else h[k]
                                               for k in PRESET_WORDS if k != "preset"}})
    frame = pd.DataFrame(rows, columns=list(PRESET_WORDS))
    for col in ("over_capacity", "cannot_comply_exchanges"):
        frame[col] = frame[col].map(lambda v: ", ".join(v) or "—")
    for col in PRESET_MONEY:
        frame[col] = frame[col].astype(float)
    return frame.rename(columns={k: t(w) for k, w in PRESET_WORDS.items()})


def workbook(result, quotes) -> bytes:
    """The batch as the command line's `--summary-xlsx` writes it: the summary (a row per preset), counterparties,
    who cannot comply, then the results."""
    sections = result.sections if isinstance(result, batch.PresetsResult) else [result.summary]
    return report.batch_workbook(sections, result.results, quotes, rows=len(result.results))


def main() -> None:
    ss = st.session_state
    w = ws()
    u = unit()
    st.markdown("#### " + _("Many exchanges at once"))
    st.caption(_("Upload a profiles file (CSV or Parquet, the columns of data/profiles.csv) and run the rule over every "
                 "exchange with the scenario's regime and quote sheet: total cost, insurance demand, who cannot "
                 "comply. A bad row becomes an error row; the rest still runs."))
    up = st.file_uploader(_("Profiles (CSV or Parquet)"), type=["csv", "parquet"], key="batch_upload")
    bundled = "real"
    if up is None:
        bundled = st.radio(_("Or the bundled profiles"), list(BUNDLED), horizontal=True, key="batch_bundled",
                           format_func=lambda k, t=tr(): t(BUNDLED[k][1]))
    profiles = up.name if up is not None else _(BUNDLED[bundled][1])
    sheet = _("bundled") if w.quote_sheet == "bundled" else w.quote_sheet
    st.caption(_("Regime: **{regime}**{over} · quote sheet: **{sheet}** ({n} quotes) · profiles: **{profiles}**").format(
        regime=md(_(w.regime.name)), over=overrides_note(w),
        sheet=md(sheet), n=len(w.last_quotes), profiles=md(profiles))
        + ((" · " + _("reserve assets: **{n}** (the CFO page's table)").format(n=len(w.last_assets)))
           if w.last_assets else ""))
    # kept beside the widget: a widget's state is dropped while another page runs, and the results shown would
    # then read as stale on coming back
    every = st.toggle(_("Every preset"), key="batch_every", value=bool(ss.get(EVERY, False)),
                      help=_("Run the batch under every bundled preset instead of the scenario's regime, as "
                             "`python -m optimizer batch PROFILES --all-presets` does: a row of headline figures per "
                             "preset."))
    ss[EVERY] = every
    fingerprint = _fingerprint(up, w, bundled, every)
    if st.button(_("Run batch"), type="primary", key="batch_run"):
        try:
            frame = _read(up, bundled)
            workers = max(1, min(os.cpu_count() or 1, -(-len(frame) // CHUNK)))
            # worker processes take a few seconds to start: said, rather than a bar standing at 0%
            bar = st.progress(0.0, text=_("Starting {n} worker processes…").format(n=workers) if workers > 1
                              else _("Solving…"))
            started = time.monotonic()

            def on_progress(done, total):
                rate = done / max(time.monotonic() - started, 1e-9)
                bar.progress(min(done / max(total or 1, 1), 1.0), text=_("{done} of {total} exchanges ({rate:,.0f}/s)"
                                                                         ).format(done=f"{done:,}", total=f"{total or 0:,}", rate=rate))

            with _plain_main():
                if every:
                    presets = _presets()
                    runs = len(frame) * len(presets)   # the bar counts the rows of every preset
                    result = batch.run_presets(frame, w.last_quotes, presets, workers=workers, chunk_size=CHUNK,
                                               on_progress=on_progress, capacity=_capacity(),
                                               assets=w.last_assets or None)
                else:
                    runs = len(frame)
                    result = batch.run(frame, w.last_quotes, w.regime, workers=workers, chunk_size=CHUNK,
                                       on_progress=on_progress, capacity=_capacity(), assets=w.last_assets or None)
            bar.progress(1.0, text=_("{done} of {total} exchanges ({rate:,.0f}/s)").format(
                done=f"{runs:,}", total=f"{runs:,}", rate=runs / max(time.monotonic() - started, 1e-9)))
            ss[RESULT] = (fingerprint, result, {"regime": w.regime.name, "quote_sheet": sheet,
                                                "profiles_file": up.name if up is not None else BUNDLED[bundled][1],
                                                "quotes": tuple(w.last_quotes)})
        except InputError as exc:
            st.error(_("Not run — {error}").format(error=md(input_error_words(exc, tr()))))
        except Exception as exc:  # whatever the file holds, a message, not a traceback
            st.error(_("Not run — the file could not be read ({what})").format(what=type(exc).__name__))
    stored = ss.get(RESULT)
    if stored is None:
        return
    old, result, names = stored
    names = dict(names)
    quotes = names.pop("quotes", ())
    if old != fingerprint:
        stale_warning()
    memo = ss.get(RESULT + "_xlsx")
    if memo is None or memo[0] is not result:  # the workbook of this run, written once
        memo = ss[RESULT + "_xlsx"] = (result, workbook(result, quotes))
    book = memo[1]
    if isinstance(result, batch.PresetsResult):
        st.subheader(_("Every preset"))
        st.caption(_("Each exchange solved alone under each preset, as `python -m optimizer batch PROFILES "
                     "--all-presets` prints it; cover set against the capacity file.") + " "
                   + _("Amounts in {unit}.").format(unit=u.label))
        table = presets_table(result.sections, quotes, u, tr())
        label = lambda k: _(PRESET_WORDS[k])  # noqa: E731
        view = styled(table, money=[label(k) for k in PRESET_MONEY], fraction=[label("cover_to_capacity")])
        fitted_table(view, [label(k) for k in ("preset", "required_coverage_jpy", "annual_cost_jpy", "cover_jpy",
                                                "cover_to_capacity", "over_net_assets", "cannot_comply",
                                                "shortfall_jpy")],
                     key="batch_presets_more", column_config={
                         **right_aligned(view), label("preset"): st.column_config.TextColumn(width=215)})
        shown_names = [s["preset"] for s in result.sections]
        pick = st.selectbox(_("Preset shown below"), shown_names, key="batch_preset_shown")
        k = shown_names.index(pick)
        summary = result.sections[k]
        names["regime"] = summary["regime"]
        rows = result.results[result.results["preset"] == pick].drop(columns="preset").reset_index(drop=True)
        result = types.SimpleNamespace(summary=summary, results=rows, all=result.results, sections=result.sections)
    summary = result.summary
    totals = summary["totals"]
    c = st.columns(4)
    c[0].metric(_("Exchanges"), f"{summary['profiles']:,}")
    c[1].metric(_("Total annual cost"), u(totals["annual_cost_jpy"]))
    c[2].metric(_("Savings vs all cash"), u(totals["savings_jpy"]))
    c[3].metric(_("In shortfall / errors"), f"{summary['status_counts'].get('shortfall', 0)} / "
                                            f"{summary['status_counts'].get('error', 0)}")
    st.caption(_("Run with regime **{regime}**, quote sheet **{sheet}**, profiles **{profiles}**, in {sec:.1f} s.")
               .format(regime=md(_(names["regime"])), sheet=md(names["quote_sheet"]),
                       profiles=md(_(names.get("profiles_file", ""))),
                       sec=summary.get("seconds", 0.0)))
    results = result.results.assign(regime=names["regime"], quote_sheet=names["quote_sheet"])
    errors = results[results["status"] == "error"]
    if len(errors):
        st.subheader(_("Rows with errors"))
        # the row is beside the message: the message says the column and what is wrong, the bad value in view
        errors = errors.assign(error=errors["error"].map(lambda m, t=tr(): input_error_words(m, t, column_only=True)))
        st.dataframe(errors[["exchange_id", "source_row", "error"]].rename(columns={
            "exchange_id": _("exchange"), "source_row": _("row"), "error": _("message")}), hide_index=True,
            width="stretch", column_config={_("exchange"): st.column_config.TextColumn(width=ERROR_WIDTHS["exchange"]),
                                            _("row"): st.column_config.NumberColumn(width=ERROR_WIDTHS["row"]),
                                            _("message"): st.column_config.TextColumn(width=ERROR_WIDTHS["message"])})
    shown = results.copy()
    main = [report.column_label(c, _).replace("(¥)", f"({u.label})") for c in MAIN]
    for col in MONEY:
        if col in shown:
            shown[col] = shown[col].map(u.number).astype(float)
    shown["status"] = shown["status"].map(lambda v: _(v) if isinstance(v, str) else v)
    shown = shown.rename(columns={c: report.column_label(c, _).replace("(¥)", f"({u.label})") for c in shown.columns})
    view = styled(shown, money=[c for c in shown.columns if f"({u.label})" in c])
    fitted_table(view, main, key="batch_more", column_config=right_aligned(view))
    if summary["insurance_by_counterparty"]:
        st.subheader(_("Insurance demand by counterparty"))
        demand = pd.DataFrame(summary["insurance_by_counterparty"])
        for col in [c for c in demand.columns if c.endswith("_jpy")]:
            demand[col] = demand[col].map(lambda v: None if v is None else u.number(v)).astype(float)
        if "counterparty" in demand:
            demand["counterparty"] = demand["counterparty"].map(_)
        demand = demand.rename(columns={c: report.column_label(c, _).replace("(¥)", f"({u.label})")
                                        for c in demand.columns})
        view = styled(demand, money=[c for c in demand.columns if f"({u.label})" in c],
                      fraction=[report.column_label("capacity_used", _)])
        label = lambda c: report.column_label(c, _).replace("(¥)", f"({u.label})")  # noqa: E731
        # in view at 1280 px: the counterparty, its cover, credit and capacity; the premium behind the toggle
        fitted_table(view, [label(c) for c in ("counterparty", "cover_jpy", "credit_jpy", "capacity_jpy",
                                               "capacity_used")],
                     key="batch_demand_more", column_config={**right_aligned(view),
                                                             label("counterparty"): st.column_config.TextColumn(
                                                                 width=330)})
    if len(results) and (results["status"] != "error").any():
        st.subheader(_("Across the exchanges"))
        st.altair_chart(charts.distribution_chart(results, u, tr()), width="stretch", key="batch_distributions")
    _capacity_words(summary, u)
    if hasattr(result, "all"):  # every preset: the results of all of them, a preset column first
        results = result.all.assign(quote_sheet=names["quote_sheet"])
    c = st.columns(4)
    c[0].download_button(_("Results (CSV)"), report.csv_bytes(results), "batch_results.csv", "text/csv", key="dl_batch")
    # every preset: the summaries of all of them (a section per preset) and the presets table, as the command line's
    text = report.batch_summary_text(summary)
    data = {**summary, **names}
    if hasattr(result, "sections"):
        text = report.presets_text(result.sections, quotes) + "\n\n" + summary["preset"] + ":\n" + text
        data = {"presets": result.sections, **{k: v for k, v in names.items() if k != "regime"}}
    c[1].download_button(_("Summary (JSON)"), report.to_json(data), "batch_summary.json",
                         "application/json", key="dl_batch_summary")
    c[2].download_button(_("Summary (text)"), text, "batch_summary.txt", "text/plain", key="dl_batch_summary_text")
    c[3].download_button(_("Summary (Excel)"), book, "batch_summary.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_batch_xlsx")


main()
