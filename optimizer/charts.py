"""Altair charts of results. Each takes core objects, a money unit and a translator `t`; no Streamlit here.

Every chart is drawn so that it cannot be misread: the tower puts each layer in its own attachment–limit band,
the frontier marks and shades the range with no compliant mix, bars carry their amounts, the stress test has a
line at R.
"""

from __future__ import annotations

from typing import Callable

import altair as alt
import pandas as pd

from .i18n import N_, Unit
from .solution import Solution

__all__ = ["Unit", "tower_chart", "layer_bands", "cost_chart", "frontier_chart", "demand_chart", "pricing_chart",
           "stress_chart",
           "stress_table", "exceedance_frame", "exceedance_chart", "tornado_frame", "tornado_chart",
           "plan_chart_frame", "plan_chart",
           "capacity_chart", "distribution_frame", "distribution_chart"]

Translate = Callable[[str], str]
_same: Translate = lambda s: s  # noqa: E731
# SVG: labels and legends are text in the page (selectable, readable by a browser test), not canvas pixels.
SVG = {"embedOptions": {"renderer": "svg"}}
_PALETTE = ["#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac", "#f58518", "#88d27a",
            "#439894", "#d6616b", "#8ca252"]


def layer_bands(solution: Solution, peril: str | None = None) -> pd.DataFrame:
    """The tower as rectangles, one column per source: cash first (from 0 to the cash reserve), then each reserve
    asset held or committed (first-loss money like cash: from 0 to its credit; held before promised), then each
    layer in order of attachment, from its attachment to attachment + limit (yen), filled to the share bought.

    Columns: payer, column (0, 1, …), y0, y1 (yen), x0, x1 (column + share), share.
    """
    R = solution.requirement_jpy
    rows = [{"payer": "cash", "y0": 0.0, "y1": solution.cash_reserve_jpy, "share": 1.0}] \
        if solution.cash_reserve_jpy > 0 else []
    for h in sorted(solution.holdings, key=lambda h: (not h.asset.funded, h.asset.asset_id)):
        if h.credit_jpy > 0:
            rows.append({"payer": h.asset.asset_id, "y0": 0.0, "y1": h.credit_jpy, "share": 1.0})
    lines = [l for l in solution.lines if peril is None or l.quote.covers(peril)]
    for l in sorted(lines, key=lambda l: (l.quote.attachment_jpy(R), l.quote.quote_id)):
        a = l.quote.attachment_jpy(R)
        rows.append({"payer": l.quote.quote_id, "y0": a, "y1": a + l.quote.limit_jpy(R), "share": l.share})
    frame = pd.DataFrame(rows, columns=["payer", "y0", "y1", "share"])
    frame.insert(1, "column", range(len(frame)))
    frame["x0"] = frame["column"].astype(float)
    frame["x1"] = frame["x0"] + 0.9 * frame["share"]
    return frame


def tower_chart(solution: Solution, unit: Unit, peril: str | None = None, t: Translate = _same) -> alt.HConcatChart:
    """Left: the conventional tower (each layer in its band at its share; cash from the bottom; a line at R).
    Right: the regulatory credit allocation of a loss of R (who is credited with each slice), labelled as such."""
    R = solution.requirement_jpy
    bands = layer_bands(solution, peril)
    top = max([R] + list(bands["y1"])) if len(bands) else R
    view_top = min(top, 1.5 * R) if R > 0 else top
    bands = bands.assign(y1_shown=bands["y1"].clip(upper=view_top))
    bands["from"] = bands["y0"].map(unit)
    bands["to"] = bands["y1"].map(unit)
    bands["lo"] = bands["y0"] / unit.divisor
    bands["hi"] = bands["y1_shown"] / unit.divisor
    bands["share_text"] = bands["share"].map(lambda s: f"{100 * s:.0f}%")
    bands["payer"] = bands["payer"].replace({"cash": t("cash")})
    payers = [t("cash")] + [p for p in bands["payer"] if p != t("cash")]
    colors = alt.Scale(domain=payers + [t("uncovered")],
                       range=["#4c78a8"] + (_PALETTE * 10)[:len(payers) - 1] + ["#e45756"])
    columns = max(len(bands), 1)
    outline = alt.Chart(bands).mark_rect(fill=None, stroke="#999", strokeDash=[2, 2]).encode(
        x="x0:Q", x2="full:Q", y="lo:Q", y2="hi:Q").transform_calculate(full="datum.x0 + 0.9")
    rect = alt.Chart(bands).mark_rect(stroke="white", strokeWidth=1, opacity=0.9).encode(
        x=alt.X("x0:Q", title=t("one column per source; filled width = share bought (dashed = the whole layer)"),
                scale=alt.Scale(domain=[0, columns]), axis=alt.Axis(labels=False, ticks=False, grid=False)),
        x2="x1:Q",
        y=alt.Y("lo:Q", title=t("loss ({unit})").format(unit=unit.label), scale=alt.Scale(domain=[0, view_top / unit.divisor])),
        y2="hi:Q",
        color=alt.Color("payer:N", scale=colors, title=t("who pays")),
        tooltip=[alt.Tooltip("payer:N", title=t("who pays")), alt.Tooltip("from:N", title=t("from")),
                 alt.Tooltip("to:N", title=t("to")), alt.Tooltip("share_text:N", title=t("share"))],
    )
    labels = alt.Chart(bands).mark_text(fontSize=11, color="black", angle=270).encode(
        x=alt.X("mid_x:Q"), y=alt.Y("mid_y:Q"), text="label:N",
    ).transform_calculate(mid_x="datum.x0 + 0.45", mid_y="(datum.lo + datum.hi) / 2",
                          label="datum.payer + ' ' + datum.share_text")
    r_line = pd.DataFrame({"y": [R / unit.divisor], "label": [t("R = {r}").format(r=unit(R))]})
    rule = alt.Chart(r_line).mark_rule(color="#e45756", strokeDash=[6, 3], strokeWidth=2).encode(y="y:Q")
    r_text = alt.Chart(r_line).mark_text(align="right", baseline="bottom", dy=-3, x="width", color="#e45756").encode(
        y="y:Q", text="label:N")
    tower = (outline + rect + labels + rule + r_text).properties(
        height=360, width=430, title=t("Tower: each layer in its band, at the share bought"))
    alloc = allocation_chart(solution, unit, peril, t, colors)
    return alt.hconcat(tower, alloc, usermeta=SVG).resolve_scale(color="shared")


def allocation_chart(solution: Solution, unit: Unit, peril: str | None, t: Translate, colors) -> alt.Chart:
    """Who is credited with each slice of a loss of R (Solution.tower): the regulatory allocation."""
    a = solution.tower(peril)
    if a.empty:
        a = pd.DataFrame([{"from_jpy": 0.0, "to_jpy": 0.0, "payer": "cash", "amount_jpy": 0.0}])
    a = a.copy()
    width = (a["to_jpy"] - a["from_jpy"]).where(lambda w: w > 0, 1.0)
    a["fraction"] = a["amount_jpy"] / width
    a["order"] = a["payer"].map(lambda p: {"cash": 0, "uncovered": 99}.get(p, 1))
    a = a.sort_values(["from_jpy", "order", "payer"])
    a["x0"] = a.groupby("from_jpy")["fraction"].cumsum() - a["fraction"]
    a["x1"] = a["x0"] + a["fraction"]
    a["lo"], a["hi"] = a["from_jpy"] / unit.divisor, a["to_jpy"] / unit.divisor
    a["pays"] = a["amount_jpy"].map(unit)
    a["payer"] = a["payer"].replace({"cash": t("cash"), "uncovered": t("uncovered")})
    return alt.Chart(a).mark_rect(stroke="white", strokeWidth=0.5).encode(
        x=alt.X("x0:Q", title=t("share of each slice credited"), scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        x2="x1:Q",
        y=alt.Y("lo:Q", title=t("loss up to R ({unit})").format(unit=unit.label)), y2="hi:Q",
        color=alt.Color("payer:N", scale=colors, title=t("who pays")),
        tooltip=[alt.Tooltip("payer:N", title=t("who pays")), alt.Tooltip("pays:N", title=t("credited"))],
    ).properties(height=360, width=150, title=t("Regulatory credit allocation of a loss of R"))


def cost_chart(solution: Solution, unit: Unit, t: Translate = _same) -> alt.LayerChart:
    """Annual cost by source (cash carry, each premium and fee), every bar labelled with its amount."""
    mix = solution.mix
    data = pd.DataFrame({"source": mix["source"].replace({"cash reserve": t("cash reserve")}),
                         "cost": mix["annual_cost_jpy"] / unit.divisor, "label": mix["annual_cost_jpy"].map(unit)})
    data = data.sort_values("cost", ascending=False, kind="stable")
    # An explicit order: a sort by "-x" shared by two layers (bars and labels) collapses the band scale in Vega-Lite
    base = alt.Chart(data).encode(
        y=alt.Y("source:N", sort=list(data["source"]), title=None, axis=alt.Axis(labelOverlap=False, labelLimit=240),
                scale=alt.Scale(paddingInner=0.25)),
        x=alt.X("cost:Q", title=t("annual cost ({unit})").format(unit=unit.label),
                scale=alt.Scale(domain=[0, float(data["cost"].max() or 1) * 1.25])),
        tooltip=[alt.Tooltip("source:N", title=t("source")), alt.Tooltip("label:N", title=t("annual cost"))],
    )
    bars = base.mark_bar(color="#4c78a8")
    text = base.mark_text(align="left", dx=4, fontSize=12).encode(text="label:N")
    return (bars + text).properties(height=max(220, 36 * len(data)), title=t("Annual cost by source"),
                                    usermeta=SVG)


def frontier_chart(frame: pd.DataFrame, param: str, current: float, unit: Unit, t: Translate = _same) -> alt.LayerChart:
    """Optimal cost as a regime parameter sweeps: compliant points on the line, shortfall points marked with a cross
    and their range shaded (there the cost is that of the least-short mix, not a compliant answer)."""
    data = frame.assign(cost=frame["annual_cost_jpy"] / unit.divisor,
                        all_cash=frame["all_cash_cost_jpy"].astype(float) / unit.divisor,
                        status_text=frame["status"].map(lambda s: t("shortfall") if s == "shortfall" else
                                                        t("compliant")),
                        shortfall=frame["shortfall_jpy"].map(unit))
    axis = alt.Axis(format="%") if "share" in param else alt.Axis()
    x = alt.X(f"{param}:Q", title=t(param.replace("_", " ")), axis=axis)
    y = alt.Y("cost:Q", title=t("annual cost ({unit})").format(unit=unit.label))
    cost_line = alt.Chart(data).mark_line(color="#4c78a8").encode(x=x, y=y)
    cash_line = alt.Chart(data.dropna(subset=["all_cash"])).mark_line(color="gray", strokeDash=[4, 4]).encode(
        x=x, y="all_cash:Q")
    last = data.iloc[[-1]]
    ends = pd.concat([last.assign(label=t("optimal annual cost"), y=last["cost"]),
                      last.dropna(subset=["all_cash"]).assign(label=t("all cash"), y=last["all_cash"])])
    end_labels = alt.Chart(ends).mark_text(align="right", dy=-8, color="#444").encode(x=x, y="y:Q", text="label:N")
    lines = cost_line + cash_line + end_labels
    points = alt.Chart(data).mark_point(filled=True, size=90).encode(
        x=x, y="cost:Q",
        shape=alt.Shape("status_text:N", title=t("status"),
                        scale=alt.Scale(domain=[t("compliant"), t("shortfall")], range=["circle", "cross"])),
        color=alt.Color("status_text:N", title=t("status"),
                        scale=alt.Scale(domain=[t("compliant"), t("shortfall")], range=["#4c78a8", "#e45756"])),
        tooltip=[alt.Tooltip(f"{param}:Q", format=".0%" if "share" in param else ",.4g", title=t(param.replace("_", " "))),
                 alt.Tooltip("cost:Q", format=",.2f", title=t("annual cost ({unit})").format(unit=unit.label)),
                 alt.Tooltip("status_text:N", title=t("status")),
                 alt.Tooltip("shortfall:N", title=t("shortfall"))],
    )
    layers = [lines, points]
    short = data[data["status"] == "shortfall"]
    if len(short):
        step = (data[param].max() - data[param].min()) / max(len(data) - 1, 1) / 2
        shade = pd.DataFrame({"x0": [short[param].min() - step], "x1": [short[param].max() + step],
                              "label": [t("no compliant mix")]})
        layers.insert(0, alt.Chart(shade).mark_rect(color="#e45756", opacity=0.12).encode(
            x="x0:Q", x2="x1:Q", tooltip=[alt.Tooltip("label:N", title="")]))
        layers.append(alt.Chart(shade).mark_text(align="left", baseline="top", dx=4, dy=4, y=0, color="#e45756")
                      .encode(x="x0:Q", text="label:N"))
    rule = alt.Chart(pd.DataFrame({param: [current], "label": [t("current regime")]})).mark_rule(
        color="#e45756", strokeWidth=2).encode(x=f"{param}:Q", tooltip=[alt.Tooltip("label:N", title="")])
    return alt.layer(*layers, rule).properties(height=320, title=t("Optimal cost as the insurance cap sweeps"),
                                               usermeta=SVG)


def demand_chart(curve: pd.DataFrame, current_rol: float, t: Translate = _same) -> alt.LayerChart:
    """Share bought against rate on line, with the current premium marked."""
    step = alt.Chart(curve).mark_line(interpolate="step-after", point=True).encode(
        x=alt.X("rate_on_line:Q", title=t("rate on line (premium ÷ limit, a year)"), axis=alt.Axis(format="%")),
        y=alt.Y("share:Q", title=t("share bought"), axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("rate_on_line:Q", format=".3%", title=t("rate on line")),
                 alt.Tooltip("share:Q", format=".1%", title=t("share bought"))],
    )
    rule = alt.Chart(pd.DataFrame({"rate_on_line": [current_rol], "label": [t("current premium")]})).mark_rule(
        color="#e45756", strokeWidth=2).encode(x="rate_on_line:Q", tooltip=[alt.Tooltip("label:N", title="")])
    return (step + rule).properties(height=300, title=t("Demand curve: share bought at each rate on line"),
                                    usermeta=SVG)


MULTIPLES = (1.0, 2.0, 5.0, 10.0)  # the pricing multiples drawn as guide lines


def pricing_chart(frame: pd.DataFrame, t: Translate = _same) -> alt.LayerChart:
    """Rate on line against expected loss on line, one point per layer (the pricing multiple: premium ÷ expected
    loss, the slope from the origin), with guide lines at 1×, 2×, 5× and 10×.

    `frame`: quote_id, loss_on_line (expected annual loss ÷ limit), rate_on_line (premium paid ÷ limit, a year),
    multiple, bought (bool).
    """
    data = frame.dropna(subset=["loss_on_line", "rate_on_line"]).copy()
    data["bought_words"] = data["bought"].map(lambda b: t("bought") if b else t("not bought"))
    top = float(max(data["loss_on_line"].max() if len(data) else 0.0, 1e-4)) * 1.08
    high = float(max(data["rate_on_line"].max() if len(data) else 0.0, 1e-4)) * 1.1
    guides = pd.DataFrame([{"x": 0.0, "y": 0.0, "m": m} for m in MULTIPLES]
                          + [{"x": min(top, high / m), "y": m * min(top, high / m), "m": m} for m in MULTIPLES])
    guides["label"] = guides["m"].map(lambda m: f"{m:g}×")
    x = alt.X("x:Q", title=t("expected loss on line (expected annual loss ÷ limit)"), axis=alt.Axis(format="%"),
              scale=alt.Scale(domain=[0, top], nice=False, padding=0))
    y = alt.Y("y:Q", title=t("rate on line (premium ÷ limit, a year)"), axis=alt.Axis(format="%"),
              scale=alt.Scale(domain=[0, high], nice=False, padding=0))
    lines = alt.Chart(guides).mark_line(strokeDash=[4, 3], color="#9d9d9d", strokeWidth=1).encode(
        x=x, y=y, detail="m:N")
    ends = alt.Chart(guides[guides["x"] > 0]).mark_text(align="left", dx=3, dy=-4, color="#6d6d6d").encode(
        x=x, y=y, text="label:N")
    data = data.rename(columns={"loss_on_line": "x", "rate_on_line": "y"})
    words = [t("bought"), t("not bought")]
    points = alt.Chart(data).mark_point(filled=True, size=80).encode(
        x=x, y=y, color=alt.Color("bought_words:N", title=None, scale=alt.Scale(domain=words,
                                                                                range=["#4c78a8", "#bab0ac"])),
        tooltip=[alt.Tooltip("quote_id:N", title=t("quote")), alt.Tooltip("y:Q", format=".2%", title=t("rate on line")),
                 alt.Tooltip("x:Q", format=".3%", title=t("expected loss on line")),
                 alt.Tooltip("multiple:Q", format=".1f", title=t("pricing multiple (premium ÷ expected loss)"))])
    labels = alt.Chart(data).mark_text(align="left", dx=7, dy=3, fontSize=11).encode(x=x, y=y, text="quote_id:N")
    return (lines + ends + points + labels).properties(
        height=320, title=t("Rate on line against expected loss: the pricing multiple of each layer"), usermeta=SVG)


def stress_chart(table: pd.DataFrame, unit: Unit, t: Translate = _same, requirement_jpy: float | None = None):
    """Each historical hack replayed: paid by layers, by cash, uncovered; a dashed line at R."""
    who = {"paid_by_layers_jpy": t("layers"), "paid_by_cash_jpy": t("cash"), "uncovered_jpy": t("uncovered")}
    long = table.melt(id_vars=["incident_id"], value_vars=list(who), var_name="who", value_name="amount_jpy")
    long["who"] = long["who"].map(who)
    long["amount"] = long["amount_jpy"] / unit.divisor
    long["text"] = long["amount_jpy"].map(unit)
    bars = alt.Chart(long).mark_bar().encode(
        y=alt.Y("incident_id:N", title=None, sort=None, axis=alt.Axis(labelOverlap=False, labelLimit=200)),
        x=alt.X("amount:Q", title=t("loss ({unit})").format(unit=unit.label), stack="zero"),
        color=alt.Color("who:N", scale=alt.Scale(domain=list(who.values()),
                                                 range=["#54a24b", "#4c78a8", "#e45756"]), title=t("paid by")),
        tooltip=[alt.Tooltip("incident_id:N", title=t("incident")), alt.Tooltip("who:N", title=t("paid by")),
                 alt.Tooltip("text:N", title=t("amount"))],
    )
    layers = [bars]
    if requirement_jpy is not None:
        r = pd.DataFrame({"x": [requirement_jpy / unit.divisor], "label": [t("R = {r}").format(r=unit(requirement_jpy))]})
        layers.append(alt.Chart(r).mark_rule(color="black", strokeDash=[6, 3], strokeWidth=2).encode(
            x="x:Q", tooltip=[alt.Tooltip("label:N", title="")]))
        layers.append(alt.Chart(r).mark_text(align="left", dx=4, y=-6, color="black").encode(x="x:Q", text="label:N"))
    return alt.layer(*layers).properties(height=max(160, 32 * len(table)), title=t("Historical hacks: who pays"),
                                         usermeta=SVG)


def stress_table(table: pd.DataFrame, unit: Unit, t: Translate = _same) -> tuple[pd.DataFrame, list[str]]:
    """The stress test as shown: numbers in the unit (numeric, so columns sort as numbers), headers with the unit.
    Returns the frame and the names of its money columns."""
    money = {"loss_jpy": t("loss"), "paid_by_cash_jpy": t("paid by cash"), "paid_by_layers_jpy": t("paid by layers"),
             "uncovered_jpy": t("uncovered")}
    out = pd.DataFrame({t("incident"): table["incident_id"], t("date"): table["date"],
                        t("peril"): table["peril"].map(lambda p: t(p.replace("_", " ")))})
    names = []
    for col, label in money.items():
        name = f"{label} ({unit.label})"
        out[name] = table[col] / unit.divisor
        names.append(name)
    if "note" in table.columns:  # which layer paid nothing although the loss reached it, and why (in t's words)
        from .analysis import note_words

        out[t("note")] = table["note"].map(lambda n: note_words(n, t))
    return out, names


# ------------------------------------------------------------------ the risk view

MIX_WORDS = {"regulatory": N_("regulatory mix"), "risk": N_("risk-optimal mix"), "all cash": N_("all cash")}
_MIX_COLORS = {"regulatory": "#4c78a8", "risk": "#54a24b", "all cash": "#e45756"}


def exceedance_frame(view, t: Translate = _same) -> pd.DataFrame:
    """The exceedance curve of each mix of a risk.RiskView: columns mix (key), label (translated), loss_jpy,
    probability (that a year's retained loss is at least loss_jpy)."""
    from .risk import exceedance

    frames = []
    for m in view.mixes:
        x, p = exceedance(m.retained, view.n_years)
        frames.append(pd.DataFrame({"mix": m.name, "label": t(MIX_WORDS[m.name]), "loss_jpy": x, "probability": p}))
    return pd.concat(frames, ignore_index=True)


def exceedance_chart(view, unit: Unit, t: Translate = _same) -> alt.LayerChart:
    """How likely, how bad: for each mix, the probability (log scale) that a year's retained loss reaches each
    amount; a dashed line at R and a dotted line at each mix's cash reserve (beyond it the year exhausts it)."""
    data = exceedance_frame(view, t)
    data["loss"] = data["loss_jpy"] / unit.divisor
    data["amount"] = data["loss_jpy"].map(unit)
    labels = [t(MIX_WORDS[m.name]) for m in view.mixes]
    colors = [_MIX_COLORS[m.name] for m in view.mixes]
    floor = 0.5 / view.n_years
    top = max(float(data["probability"].max()) if len(data) else floor, 2 * floor)
    ticks = [v for v in (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0) if floor <= v <= top * 1.2]
    # the risk-optimal mix dashed and thinner: where it is the regulatory mix, both stay visible
    dashes = [[6, 3] if m.name == "risk" else [1, 0] for m in view.mixes]
    widths = [2 if m.name == "risk" else 3 for m in view.mixes]
    curves = alt.Chart(data).mark_line(interpolate="step-before").encode(
        x=alt.X("loss:Q", title=t("retained loss in a year ({unit})").format(unit=unit.label)),
        y=alt.Y("probability:Q", title=t("probability a year's retained loss is at least this"),
                scale=alt.Scale(type="log", domain=[floor, top * 1.2]),
                axis=alt.Axis(values=ticks, labelExpr="format(datum.value * 100, '~g') + '%'")),
        color=alt.Color("label:N", title=t("mix"), scale=alt.Scale(domain=labels, range=colors), sort=labels),
        strokeDash=alt.StrokeDash("label:N", scale=alt.Scale(domain=labels, range=dashes), legend=None),
        strokeWidth=alt.StrokeWidth("label:N", scale=alt.Scale(domain=labels, range=widths), legend=None),
        tooltip=[alt.Tooltip("label:N", title=t("mix")), alt.Tooltip("amount:N", title=t("retained loss")),
                 alt.Tooltip("probability:Q", format=".3%", title=t("probability"))],
    )
    marks = [{"x": view.requirement_jpy, "label": t("R = {r}").format(r=unit(view.requirement_jpy)),
              "dash": "R", "color": "black"}]
    held: dict[float, list[str]] = {}  # mixes holding the same cash share one rule and one label
    for m in view.mixes:
        cash = m.metrics.cash_reserve_jpy
        if m.name != "all cash" and cash > 0:
            held.setdefault(round(cash), []).append(m.name)
    for cash, names in held.items():
        marks.append({"x": float(cash), "label": t("cash reserve, {mix}: {c}").format(
            mix=t(" and ").join(t(MIX_WORDS[n]) for n in names), c=unit(cash)),
            "dash": "cash", "color": _MIX_COLORS[names[0]]})
    marks = pd.DataFrame(marks)
    marks["x_unit"] = marks["x"] / unit.divisor
    marks["row"] = range(len(marks))
    rules = [alt.Chart(marks[marks["dash"] == kind]).mark_rule(strokeWidth=2, strokeDash=dash).encode(
        x="x_unit:Q", color=alt.Color("color:N", scale=None), tooltip=[alt.Tooltip("label:N", title="")])
        for kind, dash in (("R", [6, 3]), ("cash", [2, 2]))]
    texts = alt.Chart(marks).mark_text(align="left", dx=4, baseline="top", fontSize=11).encode(
        x="x_unit:Q", y=alt.value(4), yOffset=alt.YOffset("row:O", scale=alt.Scale(range=[0, 14 * len(marks)])),
        text="label:N", color=alt.Color("color:N", scale=None))
    return alt.layer(curves, *rules, texts).properties(
        height=360, title=t("How likely, how bad: annual retained loss by mix"), usermeta=SVG,
        padding={"left": 5, "top": 18, "right": 5, "bottom": 5})


def tornado_frame(result, unit: Unit, t: Translate = _same) -> pd.DataFrame:
    """A sensitivity run (sensitivity.Sensitivity) as bars: one row per assumption and side (low, high), from the
    base total annual cost to that side's, in tornado order. Loss-model assumptions (no change to the mix) are
    left out."""
    base = result.base.annual_cost_jpy
    rows = []
    for r in result.rows:
        if r.low is None or r.high is None:
            continue
        for side, outcome, value in (("low", r.low, r.assumption.low), ("high", r.high, r.assumption.high)):
            cost = outcome.annual_cost_jpy
            rows.append({"assumption": t(r.assumption.label), "side": t(side), "value": f"{value:g}",
                         "from": base / unit.divisor, "to": cost / unit.divisor,
                         "change": unit(cost - base) if cost >= base else "−" + unit(base - cost),
                         "cannot_comply": len(outcome.cannot_comply)})
    return pd.DataFrame(rows, columns=["assumption", "side", "value", "from", "to", "change", "cannot_comply"])


def tornado_chart(result, unit: Unit, t: Translate = _same) -> alt.LayerChart:
    """How far each assumption at its low and its high value moves the total annual cost from base: one bar per
    side, widest swing at the top, a rule at the base cost."""
    data = tornado_frame(result, unit, t)
    order = list(dict.fromkeys(data["assumption"]))
    base = result.base.annual_cost_jpy / unit.divisor
    y = alt.Y("assumption:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=320))
    bars = alt.Chart(data).mark_bar(opacity=0.85).encode(
        y=y, x=alt.X("from:Q", title=t("total annual cost ({unit})").format(unit=unit.label)), x2="to:Q",
        color=alt.Color("side:N", title=t("assumption at"),
                        scale=alt.Scale(domain=[t("low"), t("high")], range=["#4c78a8", "#f58518"])),
        tooltip=[alt.Tooltip("assumption:N", title=t("assumption")), alt.Tooltip("side:N", title=t("side")),
                 alt.Tooltip("value:N", title=t("value")), alt.Tooltip("change:N", title=t("change in cost")),
                 alt.Tooltip("cannot_comply:Q", title=t("cannot comply"))])
    rule = alt.Chart(pd.DataFrame({"base": [base]})).mark_rule(color="black").encode(x="base:Q")
    return (bars + rule).properties(height=max(220, 28 * len(order)), title=t("What each assumption moves"),
                                    usermeta=SVG)


# ------------------------------------------------------------------ the multi-year plan

PLAN_CREDIT_WORDS = {"cash": N_("cash"), "insurance": N_("insurance"), "derivative": N_("parametric cover"),
                     "shortfall": N_("unfunded (shortfall)")}
# the reserve assets by kind (optimizer.domain.ASSET_KINDS), between cash and the cover: held before promised
PLAN_ASSET_WORDS = {"deposit": N_("bank deposits"), "jgb": N_("Japanese government bonds"),
                    "bank_guarantee": N_("bank guarantees"), "credit_line": N_("committed credit lines"),
                    "parent_guarantee": N_("parent-company guarantees")}
PLAN_CHARGE_WORDS = {"provision": N_("provision to the reserve"), "premiums": N_("premiums"), "fees": N_("fees"),
                     "asset_fees": N_("fees of guarantees and lines")}
_PLAN_CREDIT_COLORS = {"cash": "#4c78a8", "deposit": "#72b7b2", "jgb": "#439894", "bank_guarantee": "#b279a2",
                       "credit_line": "#9d755d", "parent_guarantee": "#bab0ac", "insurance": "#54a24b",
                       "derivative": "#eeca3b", "shortfall": "#e45756"}
_PLAN_CHARGE_COLORS = {"provision": "#9d755d", "premiums": "#b279a2", "fees": "#ff9da6", "asset_fees": "#f58518"}


def plan_chart_frame(result) -> pd.DataFrame:
    """A plan (`plan.PlanResult`) year by year in long form: one row per fiscal year and part, with
    panel "credit" (what meets R'_t: cash, the reserve assets by kind, insurance, parametric cover, shortfall) or
    "charge" (what the year charges to profit: provision, premiums, fees, and with reserve assets the fees of
    guarantees and lines), and each year's R'_t and reserve held H_t (cash, and the deposits and JGBs held: the
    balance the provisions build; C_t without assets). A reserve asset's kind is a part only when some year holds
    or is promised it."""
    from .domain import ASSET_KINDS

    kinds = [k for k in ASSET_KINDS if any(h.asset.kind == k and h.credit_jpy > 0
                                           for y in result.years for h in y.solution.holdings)]
    rows = []
    for y in result.years:
        d = y.to_dict()
        base = {"fiscal_year": y.year.fiscal_year, "required_jpy": d["required_coverage_jpy"],
                "reserve_jpy": float(y.reserve_held_jpy)}
        rows.append({**base, "panel": "credit", "part": "cash", "amount_jpy": float(d["credit_cash_jpy"])})
        for kind in kinds:
            rows.append({**base, "panel": "credit", "part": kind,
                         "amount_jpy": float(sum(h.credit_jpy for h in y.solution.holdings if h.asset.kind == kind))})
        for part, key in (("insurance", "credit_insurance_jpy"), ("derivative", "credit_derivative_jpy"),
                          ("shortfall", "shortfall_jpy")):
            rows.append({**base, "panel": "credit", "part": part, "amount_jpy": float(d[key])})
        charges = [("provision", "provision_jpy"), ("premiums", "premiums_jpy"), ("fees", "fees_jpy")]
        if y.solution.offered_assets:
            charges.append(("asset_fees", "asset_fees_jpy"))
        for part, key in charges:
            rows.append({**base, "panel": "charge", "part": part, "amount_jpy": float(d[key])})
    return pd.DataFrame(rows, columns=["fiscal_year", "panel", "part", "amount_jpy", "required_jpy", "reserve_jpy"])


def plan_chart(result, unit: Unit, t: Translate = _same) -> alt.HConcatChart:
    """Left: each year's requirement R'_t met by kind (stacked: cash, the reserve assets by kind, insurance,
    parametric cover, and what is left unfunded), R'_t marked on each bar and the reserve held H_t (C_t without
    assets) as a line. Right: what each year charges to profit (stacked: the provision into the reserve, premiums,
    fees, the fees of guarantees and lines), its total on top."""
    data = plan_chart_frame(result)
    data["year"] = data["fiscal_year"].map(lambda v: t("FY{year}").format(year=v))
    data["amount"] = data["amount_jpy"] / unit.divisor
    data["text"] = data["amount_jpy"].map(unit)
    years = list(dict.fromkeys(data["year"]))
    x = alt.X("year:O", title=None, sort=years, axis=alt.Axis(labelAngle=0))
    legend = alt.Legend(orient="bottom", direction="horizontal", columns=2, labelLimit=200)

    def stacked(panel: str, words: dict, colors: dict, title: str, y_title: str):
        part = data[data["panel"] == panel].copy()
        parts = list(dict.fromkeys(part["part"]))  # the frame's order: cash, the assets by kind, the cover, …
        part["what"] = part["part"].map(lambda p: t(words[p]))
        part["order"] = part["part"].map(parts.index)
        labels = [t(words[p]) for p in parts]
        return alt.Chart(part).mark_bar(stroke="white", strokeWidth=0.5).encode(
            x=x, y=alt.Y("amount:Q", title=y_title, stack="zero"),
            color=alt.Color("what:N", title=None, scale=alt.Scale(domain=labels, range=[colors[p] for p in parts]),
                            sort=labels,
                            legend=legend),
            order=alt.Order("order:Q"),
            tooltip=[alt.Tooltip("year:N", title=t("fiscal year")), alt.Tooltip("what:N", title=t("what")),
                     alt.Tooltip("text:N", title=t("amount"))],
        ).properties(width=330, height=300, title=title)

    money = t("{what} ({unit})")
    credit = stacked("credit", {**PLAN_CREDIT_WORDS, **PLAN_ASSET_WORDS}, _PLAN_CREDIT_COLORS,
                     t("What meets the requirement each year"),
                     money.format(what=t("requirement met"), unit=unit.label))
    per_year = data[data["panel"] == "credit"].drop_duplicates("fiscal_year").copy()
    per_year["required"] = per_year["required_jpy"] / unit.divisor
    per_year["reserve"] = per_year["reserve_jpy"] / unit.divisor
    per_year["required_text"] = per_year["required_jpy"].map(unit)
    per_year["reserve_text"] = per_year["reserve_jpy"].map(unit)
    per_year["required_label"] = t("required")
    per_year["reserve_label"] = t("reserve")
    tick = alt.Chart(per_year).mark_tick(color="black", thickness=2, size=40).encode(
        x=x, y="required:Q", tooltip=[alt.Tooltip("year:N", title=t("fiscal year")),
                                      alt.Tooltip("required_text:N", title=t("required"))])
    reserve = alt.Chart(per_year).mark_line(color="#1f3b57", point=alt.OverlayMarkDef(color="#1f3b57", size=50),
                                            strokeDash=[5, 3]).encode(
        x=x, y="reserve:Q", tooltip=[alt.Tooltip("year:N", title=t("fiscal year")),
                                     alt.Tooltip("reserve_text:N", title=t("reserve"))])
    last = per_year.iloc[[-1]]
    reserve_label = alt.Chart(last).mark_text(align="right", dx=-8, dy=-10, color="#1f3b57").encode(
        x=x, y="reserve:Q", text="reserve_label:N")
    charge = stacked("charge", PLAN_CHARGE_WORDS, _PLAN_CHARGE_COLORS, t("What each year charges to profit"),
                     money.format(what=t("charge to profit"), unit=unit.label))
    totals = data[data["panel"] == "charge"].groupby(["year", "fiscal_year"], as_index=False)["amount_jpy"].sum()
    totals["amount"] = totals["amount_jpy"] / unit.divisor
    totals["text"] = totals["amount_jpy"].map(unit)
    total_text = alt.Chart(totals).mark_text(baseline="bottom", dy=-3, fontSize=11).encode(
        x=x, y="amount:Q", text="text:N")
    return alt.hconcat(alt.layer(credit, tick, reserve, reserve_label), alt.layer(charge, total_text),
                       usermeta=SVG).resolve_scale(color="independent")


def capacity_chart(by_counterparty: list[dict], unit: Unit, t: Translate = _same) -> alt.LayerChart:
    """Cover bought from each counterparty (a batch summary's `insurance_by_counterparty`, every exchange solved
    alone) as bars, each counterparty's capacity as a black tick; a bar above its capacity is red and says so."""
    rows = []
    total = sum(r["cover_jpy"] for r in by_counterparty)
    for r in by_counterparty:
        cap = r.get("capacity_jpy")
        over = cap is not None and r["cover_jpy"] > cap * (1 + 1e-9)
        share = r["cover_jpy"] / total if total > 0 else 0.0  # the concentration: this counterparty's part of all cover
        used = "" if not cap else t(", {used} of its capacity").format(used=f"{r['cover_jpy'] / cap:.0%}")
        rows.append({"counterparty": t(r["counterparty"]), "cover": r["cover_jpy"] / unit.divisor,
                     "capacity": None if cap is None else cap / unit.divisor,
                     "share_text": f"{share:.0%}", "used_text": "—" if not cap else f"{r['cover_jpy'] / cap:.0%}",
                     "cover_text": unit(r["cover_jpy"]) + " " + t("({share} of the cover bought{used})").format(
                         share=f"{share:.0%}", used=""),
                     "cover_used_text": unit(r["cover_jpy"]) + " " + t("({share} of the cover bought{used})").format(
                         share=f"{share:.0%}", used=used),
                     "capacity_text": "—" if cap is None else unit(cap),
                     "state": t("over capacity") if over else t("within capacity") if cap is not None
                     else t("no capacity listed")})
    data = pd.DataFrame(rows, columns=["counterparty", "cover", "capacity", "share_text", "used_text", "cover_text",
                                       "cover_used_text", "capacity_text", "state"])
    # room on the right for the bars' labels (the cover and its share of all cover)
    top = max([0.0, *data["cover"].fillna(0), *data["capacity"].fillna(0)]) * 1.6 or 1.0
    order = list(data.sort_values("cover", ascending=False)["counterparty"])
    y = alt.Y("counterparty:N", sort=order, title=None, axis=alt.Axis(labelLimit=470))
    tooltip = [alt.Tooltip("counterparty:N", title=t("counterparty")),
               alt.Tooltip("cover_used_text:N", title=t("cover bought")),
               alt.Tooltip("capacity_text:N", title=t("capacity")),
               alt.Tooltip("share_text:N", title=t("share of the cover bought")),
               alt.Tooltip("used_text:N", title=t("capacity used"))]
    states = [t("within capacity"), t("over capacity"), t("no capacity listed")]
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("cover:Q", title=t("cover bought ({unit}); tick: capacity").format(unit=unit.label),
                scale=alt.Scale(domain=[0, top], nice=False)), y=y,
        color=alt.Color("state:N", title=None, scale=alt.Scale(domain=states, range=["#4c78a8", "#e45756", "#bab0ac"]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=tooltip)
    labels = alt.Chart(data).mark_text(align="left", dx=4, fontSize=11).encode(
        x="cover:Q", y=y, text="cover_text:N")
    ticks = alt.Chart(data.dropna(subset=["capacity"])).mark_tick(color="black", thickness=3, size=24).encode(
        x="capacity:Q", y=y, tooltip=tooltip)
    # the height holds the title, the axis and the legend besides the bars (the page fits the chart to it)
    return (bars + ticks + labels).properties(
        height=max(160, 40 * len(data)) + 130, usermeta=SVG,
        title=t("Cover bought by counterparty against its capacity (each exchange solved alone)"))


# The distributions across exchanges of a batch (the regulator's view): panel → (results column, title, kind)
DISTRIBUTIONS = (("requirement_to_net_assets", N_("R ÷ net assets"), "share"),
                 ("cash_share", N_("cash share of R"), "share"),
                 ("shortfall_jpy", N_("shortfall ({unit})"), "money"))


def distribution_frame(results: pd.DataFrame, unit: Unit, t: Translate = _same) -> pd.DataFrame:
    """A batch's results as the distributions' long frame: one row per exchange and panel (error rows left out; the
    shortfall panel holds the exchanges that fall short). Columns: panel, exchange, value (a fraction, or money in
    the unit), text (as a tooltip reads it)."""
    ok = results[results["status"] != "error"] if "status" in results else results
    rows = []
    for col, title, kind in DISTRIBUTIONS:
        if col not in ok:
            continue
        values = pd.to_numeric(ok[col], errors="coerce")
        if col == "shortfall_jpy":
            values = values[values > 0]
        name = t(title).format(unit=unit.label)
        for ex, v in zip(ok.loc[values.index, "exchange_id"], values):
            if pd.isna(v):
                continue
            rows.append({"panel": name, "exchange": ex, "value": v / unit.divisor if kind == "money" else v,
                         "text": unit(v) if kind == "money" else f"{v:.1%}"})
    return pd.DataFrame(rows, columns=["panel", "exchange", "value", "text"])


def distribution_chart(results: pd.DataFrame, unit: Unit, t: Translate = _same) -> alt.HConcatChart:
    """Histograms across the exchanges of a batch: R ÷ net assets, the cash share of R and the shortfall of those
    that fall short, side by side; each panel's title says how many exchanges it counts."""
    data = distribution_frame(results, unit, t)
    n = int((results["status"] != "error").sum()) if "status" in results else len(results)
    panels = []
    for col, title, kind in DISTRIBUTIONS:
        name = t(title).format(unit=unit.label)
        part = data[data["panel"] == name]
        axis = alt.Axis(format=".0%") if kind == "share" else alt.Axis(format=",.0f")
        head = (t("{title}: {k} of {n} exchanges short") if col == "shortfall_jpy" else
                t("{title}: {n} exchanges")).format(title=name, k=len(part), n=n)
        if not len(part):  # nothing to count (no exchange falls short): said, not an empty axis
            empty = alt.Chart(pd.DataFrame({"text": [t("none")]})).mark_text(fontSize=14, color="#666").encode(
                text="text:N")
            panels.append(empty.properties(width=230, height=170, title=alt.TitleParams(head, fontSize=12)))
            continue
        bars = alt.Chart(part).mark_bar(color="#4c78a8" if col != "shortfall_jpy" else "#e45756").encode(
            x=alt.X("value:Q", bin=alt.Bin(maxbins=20), title=name, axis=axis),
            y=alt.Y("count():Q", title=t("exchanges"), axis=alt.Axis(format="d", tickMinStep=1)),
            tooltip=[alt.Tooltip("count():Q", title=t("exchanges"))])
        panels.append(bars.properties(width=230, height=170, title=alt.TitleParams(head, fontSize=12)))
    return alt.hconcat(*panels).properties(usermeta=SVG)
