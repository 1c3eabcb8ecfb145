"""Views of results for people and programs: text tables, JSON, CSV and XLSX exports (formula-safe)."""

from __future__ import annotations

import io
import json
import math
from typing import Any, Mapping, Sequence

import pandas as pd

from .solution import Solution

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def json_safe(value: Any) -> Any:
    """NaN and ±inf become None (JSON has no such numbers); numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(data: Any) -> str:
    return json.dumps(json_safe(data), ensure_ascii=False, allow_nan=False, indent=2)


def neutralize(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula (=, +, -, @ …) get a leading apostrophe."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    out.columns = [("'" + c if isinstance(c, str) and c.startswith(_FORMULA_START) else c) for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return neutralize(frame).to_csv(index=False).encode("utf-8")


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """A workbook with one sheet per frame (names cut to Excel's 31 characters), text cells neutralized."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            neutralize(frame).to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()


def summary_frame(solution: Solution) -> pd.DataFrame:
    """The scalar results as a two-column table (key, value)."""
    d = solution.to_dict()
    return pd.DataFrame([{"key": k, "value": v} for k, v in d.items() if not isinstance(v, (list, dict))])


# ------------------------------------------------------------------ text for a terminal

def yen(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"¥{value:,.0f}"


def pct(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{100 * value:.{digits}f}%"


def text_table(frame: pd.DataFrame, formats: Mapping[str, Any] | None = None) -> str:
    """A plain aligned table (numbers right-aligned)."""
    formats = formats or {}
    if frame.empty:
        return "(none)"
    cells = [[formats.get(c, _default_format)(row[c]) for c in frame.columns] for _, row in frame.iterrows()]
    header = [str(c) for c in frame.columns]
    widths = [max(len(header[i]), *(len(r[i]) for r in cells)) for i in range(len(header))]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(row, widths, numeric)).rstrip()

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in cells])


def _default_format(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return str(v)


def solution_text(s: Solution) -> str:
    """What a CFO reads in a terminal: the headline numbers, the mix, and what binds."""
    saving = s.savings_jpy
    lines = [
        f"Exchange        {s.profile.exchange_id}  {s.profile.name}".rstrip(),
        f"Regime          {s.regime.name}",
        f"Requirement R   {yen(s.requirement_jpy)}",
        f"Status          {s.status}",
        f"Annual cost     {yen(s.annual_cost_jpy)}",
        f"All cash        {yen(s.all_cash_cost_jpy)}" + ("" if s.all_cash_cost_jpy is not None
                                                          else "  (not an option: R exceeds liquid capital)"),
        f"Savings         {yen(saving)}" + (f"  ({pct(saving / s.all_cash_cost_jpy, 1)} of all cash)"
                                             if saving is not None and s.all_cash_cost_jpy else ""),
        f"Cash reserve    {yen(s.cash_reserve_jpy)}",
        f"Shortfall       {yen(s.shortfall_jpy)}",
        f"Marginal cost   {'—' if s.marginal_cost_per_jpy is None else f'¥{s.marginal_cost_per_jpy:.6f}'} per yen of R",
        "",
        "Funding mix:",
    ]
    mix = s.mix[["source", "kind", "counterparty", "rating", "attachment_jpy", "limit_jpy", "share", "credit_jpy",
                 "annual_cost_jpy"]]
    lines.append(text_table(mix, {"share": lambda v: pct(v, 1)}))
    if s.ineligible:
        lines += ["", "Not eligible (no credit, never bought): " + ", ".join(q.quote_id for q in s.ineligible)]
    if s.binding:
        lines += ["", "Binding limits: " + ", ".join(s.binding)]
    return "\n".join(lines)


def batch_summary_text(summary: Mapping[str, Any]) -> str:
    """A batch summary (batch.run's `summary`, the RESULTS.summary.json object) as a table for a terminal."""
    t, c = summary["totals"], summary["status_counts"]
    lines = [f"Profiles        {summary['profiles']:,}  (optimal {c.get('optimal', 0):,}, shortfall "
             f"{c.get('shortfall', 0):,}, error {c.get('error', 0):,})",
             f"Requirement     {yen(t['required_coverage_jpy'])}",
             f"Annual cost     {yen(t['annual_cost_jpy'])}",
             f"All cash        {yen(t['all_cash_cost_jpy'])}  (exchanges for which all cash is an option)",
             f"Savings         {yen(t['savings_jpy'])}",
             f"Cash reserves   {yen(t['cash_reserve_jpy'])}",
             f"Insurance credit {yen(t['insurance_credit_jpy'])}; derivative credit {yen(t['derivative_credit_jpy'])}",
             f"Shortfall       {yen(t['shortfall_jpy'])}"]
    if summary["shortfall_exchanges"]:
        lines.append("In shortfall    " + ", ".join(summary["shortfall_exchanges"][:20]))
    if summary["error_exchanges"]:
        lines.append("Errors          " + ", ".join(e or "(no id)" for e in summary["error_exchanges"][:20]))
    q = summary["cash_share_quantiles"]
    if q:
        lines.append("Cash share of R " + "  ".join(f"{k}={pct(v, 1)}" for k, v in q.items()))
    resumed, recomputed = summary.get("resumed_chunks", 0), summary.get("recomputed_chunks", 0)
    if resumed or recomputed:
        lines.append(f"Checkpoints     {resumed:,} chunk{'' if resumed == 1 else 's'} taken from an earlier run, "
                     f"{recomputed:,} damaged and recomputed")
    if summary["insurance_by_counterparty"]:
        lines += ["", "Cover bought by counterparty:",
                  text_table(pd.DataFrame(summary["insurance_by_counterparty"]))]
    lines.append(f"\n{summary['profiles']:,} profiles in {summary['seconds']:.1f} s")
    return "\n".join(lines)
