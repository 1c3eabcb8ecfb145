"""Altair charts of results. Each takes core objects and a money unit; no Streamlit here."""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd

from .solution import Solution


@dataclass(frozen=True)
class Unit:
    """How money is shown: divide yen by `divisor`, label with `label` (e.g. ¥bn, $m)."""

    label: str = "¥"
    divisor: float = 1.0

    def __call__(self, yen: float | None) -> str:
        if yen is None or yen != yen:
            return "—"
        v = yen / self.divisor
        symbol = "$" if self.label.startswith("$") else "¥"
        suffix = self.label[1:]
        digits = 0 if self.divisor == 1 else 2
        return f"{'-' if v < 0 else ''}{symbol}{abs(v):,.{digits}f}{suffix}"


_PAYER_ORDER = {"cash": 0, "uncovered": 99}


def tower_chart(solution: Solution, unit: Unit, peril: str | None = None) -> alt.Chart:
    """The tower: loss from 0 to R upwards; across, who pays each slice (cash, each layer by share, uncovered)."""
    t = solution.tower(peril)
    if t.empty:
        t = pd.DataFrame([{"from_jpy": 0.0, "to_jpy": 0.0, "payer": "cash", "amount_jpy": 0.0}])
    t = t.copy()
    width = (t["to_jpy"] - t["from_jpy"]).where(lambda w: w > 0, 1.0)
    t["fraction"] = t["amount_jpy"] / width
    t["order"] = t["payer"].map(lambda p: _PAYER_ORDER.get(p, 1))
    t = t.sort_values(["from_jpy", "order", "payer"])
    t["x0"] = t.groupby("from_jpy")["fraction"].cumsum() - t["fraction"]
    t["x1"] = t["x0"] + t["fraction"]
    t["loss_from"] = t["from_jpy"] / unit.divisor
    t["loss_to"] = t["to_jpy"] / unit.divisor
    t["pays"] = t["amount_jpy"].map(unit)
    t["share of slice"] = t["fraction"].map(lambda f: f"{100 * f:.1f}%")
    colors = alt.Scale(domain=["cash", "uncovered"] + sorted(set(t["payer"]) - {"cash", "uncovered"}),
                       range=["#4c78a8", "#e45756"] + ["#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6",
                                                        "#9d755d", "#bab0ac", "#f58518", "#88d27a", "#439894"] * 5)
    return alt.Chart(t).mark_rect(stroke="white", strokeWidth=0.5).encode(
        x=alt.X("x0:Q", title="share of each slice of loss paid", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        x2="x1:Q",
        y=alt.Y("loss_from:Q", title=f"loss ({unit.label})"),
        y2="loss_to:Q",
        color=alt.Color("payer:N", scale=colors, title="who pays"),
        tooltip=["payer", alt.Tooltip("loss_from:Q", title=f"from ({unit.label})", format=",.2f"),
                 alt.Tooltip("loss_to:Q", title=f"to ({unit.label})", format=",.2f"), "share of slice", "pays"],
    ).properties(height=380)


def cost_chart(solution: Solution, unit: Unit) -> alt.Chart:
    """Annual cost by source (cash carry, each premium and fee)."""
    mix = solution.mix
    data = pd.DataFrame({"source": mix["source"], "cost": mix["annual_cost_jpy"] / unit.divisor,
                         "label": mix["annual_cost_jpy"].map(unit)})
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("source:N", sort="-x", title=None),
        x=alt.X("cost:Q", title=f"annual cost ({unit.label})"),
        color=alt.value("#4c78a8"),
        tooltip=["source", alt.Tooltip("label:N", title="annual cost")],
    ).properties(height=max(120, 28 * len(data)))


def frontier_chart(frame: pd.DataFrame, param: str, current: float, unit: Unit) -> alt.Chart:
    """Optimal cost as a regime parameter sweeps, with the current value marked."""
    data = frame.assign(cost=frame["annual_cost_jpy"] / unit.divisor,
                        all_cash=frame["all_cash_cost_jpy"] / unit.divisor)
    line = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X(f"{param}:Q", title=param.replace("_", " "), axis=alt.Axis(format="%") if "share" in param else
                alt.Axis()),
        y=alt.Y("cost:Q", title=f"optimal annual cost ({unit.label})"),
        tooltip=[alt.Tooltip(f"{param}:Q", format=".2f"), alt.Tooltip("cost:Q", format=",.2f"), "status"],
    )
    cash = alt.Chart(data).mark_line(strokeDash=[4, 4], color="gray").encode(x=f"{param}:Q", y="all_cash:Q")
    rule = alt.Chart(pd.DataFrame({param: [current], "label": ["current regime"]})).mark_rule(
        color="#e45756", strokeWidth=2).encode(x=f"{param}:Q", tooltip=["label"])
    return (line + cash + rule).properties(height=320)


def demand_chart(curve: pd.DataFrame, current_rol: float) -> alt.Chart:
    """Share bought against rate on line, with the current premium marked."""
    step = alt.Chart(curve).mark_line(interpolate="step-after", point=True).encode(
        x=alt.X("rate_on_line:Q", title="rate on line (premium ÷ limit)", axis=alt.Axis(format="%")),
        y=alt.Y("share:Q", title="share bought", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("rate_on_line:Q", format=".3%"), alt.Tooltip("share:Q", format=".1%")],
    )
    rule = alt.Chart(pd.DataFrame({"rate_on_line": [current_rol], "label": ["current premium"]})).mark_rule(
        color="#e45756", strokeWidth=2).encode(x="rate_on_line:Q", tooltip=["label"])
    return (step + rule).properties(height=300)


def stress_chart(table: pd.DataFrame, unit: Unit) -> alt.Chart:
    """Each historical hack replayed: paid by cash, by layers, uncovered."""
    long = table.melt(id_vars=["incident_id"], value_vars=["paid_by_layers_jpy", "paid_by_cash_jpy", "uncovered_jpy"],
                      var_name="who", value_name="amount_jpy")
    long["who"] = long["who"].map({"paid_by_layers_jpy": "layers", "paid_by_cash_jpy": "cash",
                                   "uncovered_jpy": "uncovered"})
    long["amount"] = long["amount_jpy"] / unit.divisor
    return alt.Chart(long).mark_bar().encode(
        y=alt.Y("incident_id:N", title=None, sort=None, axis=alt.Axis(labelOverlap=False, labelLimit=200)),
        x=alt.X("amount:Q", title=f"loss ({unit.label})", stack="zero"),
        color=alt.Color("who:N", scale=alt.Scale(domain=["layers", "cash", "uncovered"],
                                                 range=["#54a24b", "#4c78a8", "#e45756"]), title="paid by"),
        tooltip=["incident_id", "who", alt.Tooltip("amount:Q", format=",.2f")],
    ).properties(height=max(160, 32 * len(table)))
