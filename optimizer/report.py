"""Views of results for people and programs: text tables, JSON, CSV and XLSX exports (formula-safe)."""

from __future__ import annotations

import io
import json
import math
from typing import Any, Mapping, Sequence

from ._lazy import pandas as pd

from .domain import AssetShares
from .i18n import N_
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


def printable(text: Any, *, keep: str = "") -> str:
    """`text` with every control character (inputs.CONTROL_CHARACTERS) written as a visible escape, \\u001b, so
    that a terminal shows it instead of obeying it; `keep`: characters left as they are (a view's own line
    breaks). The same escape is valid inside a JSON string, where it stands for the same character."""
    from .inputs import CONTROL_CHARACTERS

    return CONTROL_CHARACTERS.sub(lambda m: m.group() if m.group() in keep else f"\\u{ord(m.group()):04x}", str(text))


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


# ------------------------------------------------------------------ the workbook (one definition: CLI and app)

_MONEY_FORMAT = "#,##0"
_PERCENT_FORMAT = "0.00%"
_PERCENT_COLUMNS = {"share", "rate_on_line", "max_share", "min_share", "hot_wallet_share", "cost_of_capital",
                    "reserve_yield", "credit_factor", "break_even_rol", "headroom", "loss_vs_requirement",
                    "cash_share", "fronting_fee_rate"}


def _is_money(name: str) -> bool:
    return name.endswith("_jpy") or name in {"attachment", "limit"}


def _write_sheet(ws, frame: pd.DataFrame) -> None:
    """One frame into an openpyxl sheet: numbers as numbers (money rounded to the yen, `#,##0`; rates as %),
    text as text — a cell such as `=1+1` or `-Q01` is stored with the string type, so no spreadsheet runs it and
    the id reads back unchanged."""
    columns = [str(c) for c in frame.columns]
    labels = frame.attrs.get("labels", {})
    # a quote sheet's attachment and limit are yen only on yen-basis rows; on requirement-basis rows they are
    # fractions of R (0.25 = 25% of R), which rounding to the yen would turn into 0
    basis = list(frame["layer_basis"]) if "layer_basis" in frame.columns else None
    for j, name in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=str(labels.get(name, name)))
        cell.data_type = "s"
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        for j, (name, value) in enumerate(zip(columns, row), start=1):
            key = str(frame.columns[j - 1])
            fmt = None
            if hasattr(value, "item") and not isinstance(value, (str, bytes)):
                value = value.item()
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                continue
            if isinstance(value, bool):
                cell = ws.cell(row=i, column=j, value=value)
                continue
            if isinstance(value, (int, float)):
                if key in ("attachment", "limit") and basis is not None and basis[i - 2] == "requirement":
                    fmt = _PERCENT_FORMAT
                elif _is_money(key) and frame.attrs.get("money_rows") is None:
                    value, fmt = round(float(value)), _MONEY_FORMAT
                elif key in _PERCENT_COLUMNS:
                    fmt = _PERCENT_FORMAT
                elif frame.attrs.get("money_rows") is not None and (i - 2) in frame.attrs["money_rows"]:
                    value, fmt = round(float(value)), _MONEY_FORMAT
                cell = ws.cell(row=i, column=j, value=value)
                if fmt:
                    cell.number_format = fmt
                continue
            if isinstance(value, (frozenset, set, list, tuple)):
                value = ";".join(sorted(map(str, value)))
            cell = ws.cell(row=i, column=j, value=str(value))
            cell.data_type = "s"  # text stays text: never a formula, no literal apostrophe
    for j, name in enumerate(columns, start=1):
        width = max([len(name)] + [len(str(v)) for v in frame.iloc[:200, j - 1]]) if len(frame) else len(name)
        ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = min(max(10, width + 2), 60)


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """A workbook with one sheet per frame (names cut to Excel's 31 characters).

    A frame made by `summary_frame(solution)` stands for the whole standard workbook of that solution
    (`workbook_sheets`): summary, mix, inputs, quotes — so every caller (CLI `--out x.xlsx`, the app) writes the
    same book. Money is rounded to the yen with `#,##0`; formula-like text is stored as text.
    """
    from openpyxl import Workbook

    expanded: dict[str, pd.DataFrame] = {}
    solution = next((f.attrs["solution"] for f in sheets.values() if f.attrs.get("solution") is not None), None)
    if solution is not None:
        expanded = workbook_sheets(solution)
    for name, frame in sheets.items():
        expanded.setdefault(name, frame)
    if "summary" in expanded:
        expanded = {"summary": expanded.pop("summary"), **expanded}
    book = Workbook()
    book.remove(book.active)
    for name, frame in expanded.items():
        _write_sheet(book.create_sheet(str(name)[:31]), frame)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _same(text: str) -> str:
    return text


def summary_table(s: Solution, t=_same, generated: str | None = None) -> pd.DataFrame:
    """The summary sheet: one labelled row per headline figure (money in yen, numbers not text)."""
    import datetime as _dt

    rows = [
        (t("Status"), t(s.status), False),
        (t("Requirement R (¥)"), s.requirement_jpy, True),
        (t("Annual cost (¥ a year)"), s.annual_cost_jpy, True),
        (t("All-cash cost (¥ a year)"), s.all_cash_cost_jpy, True),
        (t("Savings vs all cash (¥ a year)"), s.savings_jpy, True),
        (t("Cash reserve (¥)"), s.cash_reserve_jpy, True),
        (t("Shortfall (¥)"), s.shortfall_jpy, True),
        (t("Marginal cost of R (¥ a year per ¥)"), s.marginal_cost_per_jpy, False),
        (t("Exchange"), f"{s.profile.exchange_id} {s.profile.name}".strip(), False),
        (t("Regime"), s.regime.name, False),
        (t("Binding limits"), ", ".join(s.binding), False),
        (t("Date"), generated or _dt.date.today().isoformat(), False),
    ]
    frame = pd.DataFrame([(k, v) for k, v, _m in rows], columns=[t("item"), t("value")])
    frame.attrs["money_rows"] = {i for i, (_k, _v, m) in enumerate(rows) if m}
    return frame


def workbook_sheets(s: Solution, *, quotes=None, stress: pd.DataFrame | None = None, t=_same,
                    generated: str | None = None) -> dict[str, pd.DataFrame]:
    """The standard workbook of a solution: summary, mix, inputs (profile and regime, numeric), quotes, stress."""
    import dataclasses as _dc

    profile = {k: v for k, v in _dc.asdict(s.profile).items()}
    regime_rows = [("regime", "name", s.regime.name)]
    regime_rows += [("requirement", k, (";".join(v) if isinstance(v, tuple) else v))
                    for k, v in _dc.asdict(s.regime.requirement).items()]
    regime_rows += [("eligibility", k, v) for k, v in _dc.asdict(s.regime.eligibility).items() if k != "asset_shares"]
    regime_rows += [("eligibility.assets", f"max_share.{k}", v)  # as in the regime file: the shares it sets
                    for k, v in _dc.asdict(s.regime.eligibility.asset_shares).items() if v != getattr(AssetShares(), k)]
    regime_rows += [("rating_credit", k, v) for k, v in s.regime.rating_credit.items()]
    inputs = pd.DataFrame([("profile", k, v) for k, v in profile.items()] + regime_rows,
                          columns=[t("section"), t("key"), t("value")])
    inputs = inputs[inputs[t("value")].map(lambda v: v is not None and v != "" and
                                           not (isinstance(v, float) and not math.isfinite(v)))]
    inputs = inputs.reset_index(drop=True)
    inputs.attrs["money_rows"] = {i for i, k in enumerate(inputs[t("key")]) if str(k).endswith("_jpy")}
    quotes = s.offered if quotes is None else quotes
    from .scenario import quotes_to_frame

    sheets = {t("summary"): summary_table(s, t, generated), t("mix"): s.mix, t("inputs"): inputs,
              t("quotes"): quotes_to_frame(quotes)}
    if s.offered_assets:  # the reserve assets offered (assets.csv), as the file holds them
        from .scenario import assets_to_frame

        sheets[t("assets")] = assets_to_frame(s.offered_assets)
    if stress is not None:
        sheets[t("stress")] = stress
    for name in (t("mix"), t("quotes"), t("stress")):
        if name in sheets:
            sheets[name] = sheets[name].copy()
            sheets[name].attrs["labels"] = {c: column_label(str(c), t) for c in sheets[name].columns}
    for name in (t("mix"), t("stress")):  # the words in their cells too (ids stay as they are)
        if name in sheets:
            _translate_words(sheets[name], t)
    return sheets


# Column words of the exported tables, marked for the catalogue (optimizer/locale): column_label translates them.
COLUMN_WORDS = (N_("source"), N_("quote id"), N_("kind"), N_("counterparty"), N_("rating"), N_("attachment"),
    N_("limit"), N_("share"), N_("cover"), N_("credit factor"), N_("credit"), N_("annual cost"),
    N_("layer basis"), N_("rate on line"), N_("max share"), N_("min share"), N_("fixed fee"), N_("perils"),
    N_("collateralized"), N_("exchange id"), N_("incident id"), N_("date"), N_("exchange"), N_("peril"),
    N_("loss"), N_("loss vs requirement"), N_("paid by cash"), N_("paid by layers"), N_("uncovered"),
    N_("status"), N_("required coverage"), N_("all cash cost"), N_("savings"), N_("cash reserve"),
    N_("shortfall"), N_("marginal cost per"), N_("insurance credit"), N_("derivative credit"), N_("cash share"),
    N_("n instruments"), N_("source row"), N_("error"), N_("regime"), N_("quote sheet"), N_("max limit"),
    N_("licensed in japan"), N_("fronting fee rate"), N_("exclusions"), N_("reinstatements"),
    N_("state backed"), N_("days to pay"), N_("term years"), N_("capacity"), N_("capacity used"), N_("premium"))


_VALUE_WORDS = {"source": {"cash reserve"}, "kind": {"cash", "insurance", "derivative"},
                "payer": {"cash", "uncovered"}}  # cells that are words for people, not ids


def for_people(frame: pd.DataFrame, t=_same) -> pd.DataFrame:
    """A result table as people read it in their language: headers by `column_label`, and the cells that are
    words (`cash reserve`, `insurance`, …) translated by t; ids and numbers unchanged."""
    out = _translate_words(frame.copy(), t)
    out.columns = [column_label(str(c), t) for c in out.columns]
    return out


def _translate_words(frame: pd.DataFrame, t) -> pd.DataFrame:
    """In place: the cells of `frame` that are words (_VALUE_WORDS) translated by t."""
    for col, words in _VALUE_WORDS.items():
        if col in frame.columns:
            frame[col] = frame[col].map(lambda v, words=words: t(v) if v in words else v)
    if "note" in frame.columns and t is not _same:  # the stress test's notes (why a layer paid nothing)
        from .analysis import note_words

        frame["note"] = frame["note"].map(lambda n: note_words(n, t))
    return frame


def column_label(name: str, t=_same) -> str:
    """A column name as a header people read: `annual_cost_jpy` → "annual cost (¥)" (translated by t)."""
    if name.startswith("paid_") and name.endswith("_jpy") and name not in ("paid_by_cash_jpy", "paid_by_layers_jpy"):
        return t("paid by {q} (¥)").format(q=name[5:-4])
    if name.endswith("_jpy"):
        return t(name[:-4].replace("_", " ")) + " (¥)"
    return t(name.replace("_", " "))


def summary_frame(solution: Solution) -> pd.DataFrame:
    """The scalar results as a two-column table (key, value); in a workbook it stands for the standard book."""
    d = solution.to_dict()
    frame = pd.DataFrame([{"key": k, "value": v} for k, v in d.items() if not isinstance(v, (list, dict))])
    frame.attrs["solution"] = solution
    return frame


# ------------------------------------------------------------------ text for a terminal

def yen(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"¥{value:,.0f}"


def pct(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{100 * value:.{digits}f}%"


class Rows:
    """A table's rows (dicts) as a frame built from them holds its cells — a column of numbers with a missing one
    is a column of floats, a column of whole numbers stays whole, numbers are right-aligned — for `text_table`
    without pandas (a plan's table in a terminal)."""

    def __init__(self, records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None):
        self.columns = list(columns) if columns is not None else list(dict.fromkeys(k for r in records for k in r))
        self.values: dict[str, list[Any]] = {}
        self.numeric: list[bool] = []
        for c in self.columns:
            values, numeric = _as_column([r.get(c) for r in records])
            self.values[c] = values
            self.numeric.append(numeric)
        self.size = len(records)
        if self.columns and all(self.numeric) and any(_is_float_column(v) for v in self.values.values()):
            self.values = {c: [float(x) for x in v] for c, v in self.values.items()}  # a row of numbers is floats

    @property
    def empty(self) -> bool:
        return not self.size or not self.columns


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_float_column(values: Sequence[Any]) -> bool:
    return any(isinstance(v, float) for v in values)


def _as_column(values: list[Any]) -> tuple[list[Any], bool]:
    """(the cells as a frame holds them, whether the column is numeric)."""
    if values and all(isinstance(v, bool) for v in values):
        return values, True
    if values and all(v is None or _is_number(v) for v in values) and any(v is not None for v in values):
        if all(isinstance(v, int) for v in values):
            return values, True
        return [math.nan if v is None else float(v) for v in values], True
    return values, False


def text_table(frame: "pd.DataFrame | Rows", formats: Mapping[str, Any] | None = None) -> str:
    """A plain aligned table (numbers right-aligned)."""
    formats = formats or {}
    if frame.empty:
        return "(none)"
    if isinstance(frame, Rows):
        cells = [[printable(formats.get(c, _default_format)(frame.values[c][k])) for c in frame.columns]
                 for k in range(frame.size)]
        numeric = frame.numeric
    else:
        cells = [[printable(formats.get(c, _default_format)(row[c])) for c in frame.columns]
                 for _, row in frame.iterrows()]
        numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    header = [printable(c) for c in frame.columns]
    widths = [max(len(header[i]), *(len(r[i]) for r in cells)) for i in range(len(header))]

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
        f"Exchange        {s.profile.exchange_id}  {printable(s.profile.name)}".rstrip(),
        f"Regime          {printable(s.regime.name)}",
        f"Requirement R   {yen(s.requirement_jpy)}",
        f"Status          {s.status}" + ("  (stopped by the solver's time limit: the best mix found so far, not proven "
                                           "the cheapest; it meets the rules as checked)" if s.status == "time_limit"
                                           else ""),
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
    lines += two_events_lines(s)
    if s.ineligible:
        lines += ["", "Not eligible (no credit, never bought): " + ", ".join(q.quote_id for q in s.ineligible)]
    if s.binding:
        lines += ["", "Binding limits: " + ", ".join(binding_words(s))]
    return "\n".join(lines)


def two_events_lines(s: Solution) -> list[str]:
    """Under a regime with a second loss in the year, or with reinstatements that cost something: what each layer
    pays for the first and the second loss, and what its reinstatement costs after the first (empty otherwise)."""
    if not s.lines or not s.regime.requirement.perils:
        return []
    sigma = s.regime.requirement.second_event_share
    two = s.two_events()
    if sigma <= 0 and not any(two.reinstatement_jpy):
        return []
    frame = pd.DataFrame({"quote_id": [l.quote.quote_id for l in s.lines],
                          "reinstatements": [l.quote.reinstatements for l in s.lines],
                          "first_event_jpy": two.first_jpy, "second_event_jpy": two.second_jpy,
                          "reinstatement_cost_jpy": two.reinstatement_jpy})
    head = (f"Two losses in one year: {yen(two.first_loss_jpy)} ({two.first_peril}), then {yen(two.second_loss_jpy)} "
            f"({two.second_peril}); both leave {yen(two.retained_jpy)} to the reserve"
            if sigma > 0 else "What each layer pays for a loss of R")
    return ["", head + " (reinstatement cost: due after the first loss, not in the annual cost):",
            text_table(frame, {})]


def binding_words(s: Solution) -> list[str]:
    """The binding list with each `capacity:<quote id>` saying which capacity is used up: the layer's yen ceiling
    (`max_limit_jpy`, finite capacity) when it cuts the layer below limit × R, else its largest share on offer."""
    quotes = {l.quote.quote_id: l.quote for l in s.lines}
    out = []
    for name in s.binding:
        kind, _sep, qid = name.partition(":")
        q = quotes.get(qid) if kind == "capacity" else None
        if q is not None and q.layer_basis == "requirement" and q.limit * s.requirement_jpy > q.max_limit_jpy:
            name += f" (ceiling {yen(q.max_limit_jpy)}{'' if q.max_share >= 1 else f' at {pct(q.max_share, 0)}'})"
        elif q is not None:
            name += f" (max share {pct(q.max_share, 0)})"
        out.append(name)
    return out


def _ids(ids: Sequence[str], count: int, shown: int = 20) -> str:
    more = count - min(len(ids), shown)
    return ", ".join(list(ids)[:shown]) + (f" and {more:,} more" if more > 0 else "")


def batch_summary_text(summary: Mapping[str, Any]) -> str:
    """A batch summary (batch.run's `summary`, the RESULTS.summary.json object) as a table for a terminal:
    totals, who cannot comply (R above net assets or liquid capital; in shortfall, with what binds) and the cover
    bought against the market's capacity when a capacity file was given."""
    totals, c = summary["totals"], summary["status_counts"]
    others = "".join(f", {k} {n:,}" for k, n in c.items() if k not in ("optimal", "shortfall", "error") and n)
    lines = [f"Profiles        {summary['profiles']:,}  (optimal {c.get('optimal', 0):,}, shortfall "
             f"{c.get('shortfall', 0):,}, error {c.get('error', 0):,}{others})",
             f"Requirement     {yen(totals['required_coverage_jpy'])}  (total R)",
             f"Annual cost     {yen(totals['annual_cost_jpy'])}",
             f"All cash        {yen(totals['all_cash_cost_jpy'])}  (exchanges for which all cash is an option)",
             f"Savings         {yen(totals['savings_jpy'])}",
             f"Cash reserves   {yen(totals['cash_reserve_jpy'])}",
             f"Insurance credit {yen(totals['insurance_credit_jpy'])}; derivative credit {yen(totals['derivative_credit_jpy'])}",
             f"Shortfall       {yen(totals['shortfall_jpy'])}"]
    for key, words in (("requirement_over_net_assets", "R > net assets "),
                       ("requirement_over_liquid_capital", "R > liquid cap.")):
        over = summary.get(key)
        if over is not None:
            lines.append(f"{words} {over['count']:,}" + (f": {_ids(over['exchanges'], over['count'])}"
                                                           if over["count"] else ""))
    short = summary.get("cannot_comply")
    if short:
        n = c.get("shortfall", len(short))
        lines.append(f"Cannot comply   {n:,} (in shortfall; what binds in brackets):")
        lines += [f"  {e['exchange_id']:<14}  short {yen(e['shortfall_jpy'])} of R {yen(e['required_coverage_jpy'])}"
                  f"  [{', '.join(e['binding']) or '—'}]" for e in short[:20]]
        if n > min(len(short), 20):
            lines.append(f"  … and {n - min(len(short), 20):,} more (status shortfall in the results)")
    elif summary["shortfall_exchanges"]:
        lines.append("In shortfall    " + ", ".join(summary["shortfall_exchanges"][:20]))
    if summary["error_exchanges"]:
        lines.append("Errors          " + ", ".join(e or "(no id)" for e in summary["error_exchanges"][:20]))
    stale = summary.get("stale_statements")
    if stale and stale["count"]:  # figures the run cannot vouch for: a newer statement may say otherwise
        lines.append(f"Old statements  {stale['count']:,} more than {stale['months']} months before this run: "
                     + ", ".join(f"{e['exchange_id']} ({e['statement_date']})" for e in stale["exchanges"][:20])
                     + (" …" if stale["count"] > 20 else ""))
    q = summary["cash_share_quantiles"]
    if q:
        lines.append("Cash share of R " + "  ".join(f"{k}={pct(v, 1)}" for k, v in q.items()))
    if "reserve_assets_by_kind" in summary:  # a run with an assets file
        kinds = summary["reserve_assets_by_kind"]
        lines.append("Reserve assets  " + ("; ".join(f"{r['kind']} {yen(r['amount_jpy'])}" for r in kinds)
                                           or "none held or committed"))
        lines += [f"  {r['counterparty']:<40} {yen(r['amount_jpy'])}"
                  for r in summary["reserve_assets_by_counterparty"][:20]]
    resumed, recomputed = summary.get("resumed_chunks", 0), summary.get("recomputed_chunks", 0)
    if resumed or recomputed:
        lines.append(f"Checkpoints     {resumed:,} chunk{'' if resumed == 1 else 's'} taken from an earlier run, "
                     f"{recomputed:,} damaged and recomputed")
    paths = summary.get("solve_paths") or {}
    if paths:  # how the solves went: basis re-used, warm simplex, rebuilt (and why), solved on their own
        lines.append("Solve paths     " + "; ".join(f"{reason}: {n:,}" for reason, n in paths.items()))
    demand = summary.get("cover_demand")
    if demand is not None:
        line = f"Cover bought    {yen(demand['cover_jpy'])} (insurance {yen(demand['insurance_cover_jpy'])})"
        if "capacity_jpy" in demand:
            cap = demand["capacity_jpy"]
            listed = demand["cover_of_listed_jpy"]
            line += (f"; from the counterparties of the capacity file {yen(listed)} against their capacity {yen(cap)}"
                     + (f" ({pct(listed / cap, 1)})" if cap else ""))
            line += "\n                (each exchange solved alone: the market's capacity is not shared out)"
            if demand["over_capacity"]:
                line += "\nOver capacity   " + ", ".join(demand["over_capacity"])
        lines.append(line)
    if summary["insurance_by_counterparty"]:
        frame = pd.DataFrame(summary["insurance_by_counterparty"])
        lines += ["", "Cover bought by counterparty:",
                  text_table(frame, {"capacity_used": lambda v: pct(v, 1)})]
    lines.append(f"\n{summary['profiles']:,} profiles in {summary['seconds']:.1f} s")
    return "\n".join(lines)


def scarcity_reading(summary: Mapping[str, Any]) -> tuple[float | None, int]:
    """The cost of scarcity as it may be read, and how many exchanges fall short because capacity ran out.

    The cost is None when the market's total is lower than the one without capacity limits while exchanges fall
    short because of capacity: it is cheaper only because those exchanges do not buy the cover they need, which is
    not a saving (as the frontier marks the range with no compliant mix instead of drawing its cost as a gain)."""
    n = len(summary["short_because_of_capacity"])
    cost = float(summary["scarcity_cost_jpy"])
    return (None if n and cost < 0 else cost), n


def _scarcity_words(summary: Mapping[str, Any]) -> str:
    """The cost of scarcity, never a saving: lower only because exchanges fall short is said in those words."""
    cost, n = scarcity_reading(summary)
    exchanges = f"{n:,} exchange{'' if n == 1 else 's'}"
    if cost is None:
        return f"scarcity: not a saving, cheaper only because {exchanges} fall{'s' if n == 1 else ''} short"
    return f"scarcity {yen(cost)}" + (f", and {exchanges} fall{'s' if n == 1 else ''} short" if n else "")


def market_summary_text(summary: Mapping[str, Any]) -> str:
    """The market's summary (market.run's `summary`, the MARKET.summary.json object) for a terminal: totals
    against the run without capacity limits, then one row per counterparty with its clearing price."""
    totals, free = summary["totals"], summary["unlimited"]
    short = summary["short_because_of_capacity"]
    lines = [f"Exchanges       {summary['exchanges']:,}  ({summary['regime']}; method {summary['method']})",
             f"Yes/no quotes   {summary['milp']}",
             f"Phases          {' → '.join(summary['phases'])}",
             f"Requirement     {yen(totals['required_coverage_jpy'])}",
             f"Annual cost     {yen(totals['annual_cost_jpy'])}  (without capacity limits {yen(free['annual_cost_jpy'])}; "
             f"{_scarcity_words(summary)})",
             f"Shortfall       {yen(totals['shortfall_jpy'])}  (without capacity limits {yen(free['shortfall_jpy'])})",
             f"Insurance       {yen(totals['insurance_written_jpy'])} of cover written",
             *([f"Reserve assets  {yen(totals['reserve_assets_jpy'])} held (deposits, JGBs), "
                f"{yen(totals['committed_jpy'])} promised (guarantees, lines: they use their bank's or parent's "
                "capacity)"] if "committed_jpy" in totals else []),
             f"In shortfall    {len(summary['shortfall_exchanges']):,} exchanges ({free['shortfall_exchanges']:,} "
             f"without capacity limits)"]
    if short:
        lines.append("Short because capacity ran out: " + ", ".join(short[:20]) + (" …" if len(short) > 20 else ""))
    split = summary.get("shortfall_split") or {}
    if split.get("unique") is False:
        lines.append("Not unique      the split of the shortfall among exchanges is one of many as cheap; another "
                     "method may name others. In every such split:")
        ranged = pd.DataFrame([{"exchange_id": r["exchange_id"], "shortfall_jpy": r["shortfall_jpy"],
                                "least_jpy": r["least_jpy"], "most_jpy": r["most_jpy"]} for r in split["exchanges"]])
        lines.append(text_table(ranged, {c: yen for c in ("shortfall_jpy", "least_jpy", "most_jpy")}))
    elif split.get("unique") is None and split.get("note"):
        lines.append("Not unique      " + split["note"])
    rows = pd.DataFrame([{"counterparty": r["counterparty"], "capacity_jpy": r["capacity_jpy"],
                          "cover_jpy": r["cover_jpy"],
                          **({"of_which_promised_jpy": r["committed_jpy"]} if "committed_jpy" in r else {}),
                          "utilisation": r["utilisation"],
                          "clearing_price": r["clearing_price"], "shortfall_price": r["shortfall_price"],
                          "exchanges": r["exchanges"]} for r in summary["counterparties"]])
    if not rows.empty:
        price = lambda v: "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4f}"  # noqa: E731
        lines += ["", "By counterparty (clearing price: yen of annual cost saved per yen of extra capacity):",
                  text_table(rows, {"utilisation": lambda v: pct(v, 1), "clearing_price": price,
                                    "shortfall_price": price})]
    lines.append(f"\n{summary['exchanges']:,} exchanges in {summary['seconds']:.1f} s")
    return "\n".join(lines)


# ------------------------------------------------------------------ the multi-year plan

PLAN_COLUMNS = ("fiscal_year", "status", "requirement_full_jpy", "required_share", "required_coverage_jpy",
                "cash_reserve_jpy", "provision_jpy", "premiums_jpy", "fees_jpy", "carry_jpy", "annual_cost_jpy",
                "present_value_jpy", "after_tax_cost_jpy", "credit_cash_jpy", "credit_insurance_jpy",
                "credit_derivative_jpy", "shortfall_jpy", "marginal_cost_per_jpy", "binding")


def plan_frame(result) -> pd.DataFrame:
    """One row per year of a plan (`plan.PlanResult`): the scalar keys of each year, `binding` joined by ';'."""
    return pd.DataFrame(plan_rows(result))


def plan_rows(result) -> list[dict[str, Any]]:
    """`plan_frame`'s rows as dicts (a batch of plans makes one frame of all its exchanges' rows)."""
    return [{"exchange_id": result.profile.exchange_id, "plan": result.plan.name, "year": y.year.t, **y.scalars()}
            for y in result.years]


def plan_binding_words(y) -> list[str]:
    """What binds in a plan's year, in words: the year's own limits (`binding_words`), then the plan's rows."""
    out = binding_words(y.solution)
    for name in y.binding[len(y.solution.binding):]:
        if name == "max_provision":
            name = f"max_provision (the reserve may grow by at most {yen(y.year.max_provision_jpy)} this year)"
        elif name == "reserve_never_falls":
            name = ("reserve_never_falls (the reserve may not fall below last year's "
                    f"{yen(y.reserve_held_jpy - y.provision_jpy)})")
        out.append(name)
    return out


def plan_text(result, not_bought: Sequence[Sequence[Mapping[str, Any]]] = ()) -> str:
    """A plan for a terminal: the plan's totals, one row per year, then each year's mix and what binds."""
    p, prof = result.plan, result.profile
    d = result.to_dict()
    lines = [f"Exchange        {prof.exchange_id}  {prof.name}".rstrip(),
             f"Plan            {p.name} ({p.start_year}–{p.start_year + p.years - 1}, {p.years} year"
             f"{'s' if p.years > 1 else ''}; reserve {'may' if p.release else 'never'} fall{'s' if not p.release else ''})",
             f"Regime          {result.regime.name}",
             f"Status          {result.status}" + (f"  (short in {', '.join(map(str, result.short_years))})"
                                                    if result.short_years else ""),
             f"Present value   {yen(d['present_value_jpy'])}  (discounted at {pct(d['discount_rate'], 1)})",
             f"After tax       {yen(d['present_value_after_tax_jpy'])}  (premiums and fees deductible at "
             f"{pct(p.tax_rate, 2)}; provisions and carry not)",
             f"Provisions      {yen(d['total_provisions_jpy'])} in total; final reserve {yen(d['final_reserve_jpy'])}",
             "", "Year by year:"]
    # the asset columns when some asset is offered to this exchange (the rows have them only then)
    assets = any(y.solution.offered_assets for y in result.years)
    shown = ["fiscal_year", "status", "required_share", "required_coverage_jpy", "cash_reserve_jpy",
             *(["reserve_assets_jpy", "committed_jpy"] if assets else []),
             "provision_jpy", "premiums_jpy", "fees_jpy", *(["asset_fees_jpy"] if assets else []),
             "carry_jpy", "annual_cost_jpy", "shortfall_jpy"]
    named = {"required_share": "share_of_R", "required_coverage_jpy": "R_jpy"}
    lines.append(text_table(Rows([{named.get(c, c): r[c] for c in shown} for r in plan_rows(result)]),
                            {"share_of_R": lambda v: pct(v, 0), "fiscal_year": str}))
    for k, y in enumerate(result.years):
        mix = Rows(y.solution.mix_rows(), ["source", "kind", "share", "credit_jpy", "annual_cost_jpy"])
        lines += ["", f"FY{y.year.fiscal_year}: R {yen(y.year.requirement_full_jpy)} × {pct(y.year.phase_in, 0)} = "
                  f"{yen(y.solution.requirement_jpy)}", text_table(mix, {"share": lambda v: pct(v, 1)})]
        words = plan_binding_words(y)
        if words:
            lines.append("Binding: " + ", ".join(words))
        if k < len(not_bought) and not_bought[k]:
            lines.append("Not bought: " + "; ".join(f"{r['quote_id']}: {r['reason']}" for r in not_bought[k]))
        if k < len(result.not_held) and result.not_held[k]:
            lines.append("Not held: " + "; ".join(f"{r['asset_id']}: {r['reason']}" for r in result.not_held[k]))
    return "\n".join(lines)


def plan_sheets(result) -> dict[str, pd.DataFrame]:
    """The plan's workbook: a plan sheet (one row per year), then one sheet per year with that year's mix."""
    sheets = {"plan": plan_frame(result)}
    for k, y in enumerate(result.years):
        mix = y.solution.mix.copy()
        if result.not_bought and result.not_bought[k]:
            out = pd.DataFrame(result.not_bought[k])
            mix = pd.concat([mix, out.rename(columns={"quote_id": "source"})[["source", "reason"]]],
                            ignore_index=True)
        if result.not_held and result.not_held[k]:
            out = pd.DataFrame(result.not_held[k])
            mix = pd.concat([mix, out.rename(columns={"asset_id": "source"})[["source", "reason"]]],
                            ignore_index=True)
        sheets[f"FY{y.year.fiscal_year}"] = mix
    return sheets


def plan_analyses_text(found: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """`plan --analyses` for a terminal: a faster phase-in, multi-year break-evens, the provision frontier."""
    lines = ["A faster phase-in (present value added by requiring next year's share one year earlier):"]
    lines.append(text_table(pd.DataFrame(found["phase_in_costs"]),
                            {"fiscal_year": lambda v: f"{int(v)}", "share_now": lambda v: pct(v, 0),
                             "share_earlier": lambda v: pct(v, 0)}))
    lines += ["", "Multi-year policies: the highest rate on line at which the plan still buys each:"]
    lines.append(text_table(pd.DataFrame(found["term_break_even"]),
                            {"rate_on_line": pct, "break_even_rol": lambda v: "not bought even free" if v is None
                             else pct(v, 4)}))
    lines += ["", "Frontier over max_provision_jpy (one limit every year):"]
    frame = pd.DataFrame(found["provision_frontier"])
    if not frame.empty:
        frame["years_short"] = frame["years_short"].map(lambda v: ", ".join(map(str, v)) or "—")
        frame["max_provision_jpy"] = frame["max_provision_jpy"].map(lambda v: "none" if v is None or
                                                                    (isinstance(v, float) and math.isnan(v)) else yen(v))
    lines.append(text_table(frame))
    return "\n".join(lines)


# The plan's column names as headers people read (column_label; translated in the app's Japanese downloads)
PLAN_COLUMN_WORDS = (N_("plan"), N_("year"), N_("fiscal year"), N_("requirement full"), N_("required share"),
                     N_("provision"), N_("max provision"), N_("premiums"), N_("fees"), N_("carry"),
                     N_("discount factor"), N_("present value"), N_("tax shield"), N_("after tax cost"),
                     N_("profit charge"), N_("credit cash"), N_("credit insurance"), N_("credit derivative"),
                     N_("customer assets"), N_("liquid capital"), N_("binding"))


# ------------------------------------------------------------------ a batch under every preset (`batch --all-presets`)

def preset_headline(summary: Mapping[str, Any], quotes: Sequence[Any] = ()) -> dict[str, Any]:
    """A batch summary's headline figures (the README's presets table): total R, annual cost, the cover bought
    (insurance alone and all of it) against the capacity file's total, the quotes of the counterparties asked for
    more than they write, how many exchanges have R above their net assets, and who cannot comply (count, total
    shortfall, the first 50 ids). `quotes`: the sheet, to name an over-capacity counterparty by its quotes."""
    totals, demand = summary["totals"], summary["cover_demand"]
    by_cp: dict[str, list[str]] = {}
    for q in quotes:
        by_cp.setdefault(q.counterparty, []).append(q.quote_id)
    capacity = demand.get("capacity_jpy")
    return {"required_coverage_jpy": totals["required_coverage_jpy"], "annual_cost_jpy": totals["annual_cost_jpy"],
            "insurance_cover_jpy": demand["insurance_cover_jpy"], "cover_jpy": demand["cover_jpy"],
            "capacity_jpy": capacity, "cover_to_capacity": demand["cover_jpy"] / capacity if capacity else None,
            "over_capacity": [qid for cp in demand.get("over_capacity", []) for qid in by_cp.get(cp, [cp])],
            "over_net_assets": summary["requirement_over_net_assets"]["count"],
            "cannot_comply": summary["status_counts"].get("shortfall", 0), "shortfall_jpy": totals["shortfall_jpy"],
            "cannot_comply_exchanges": [e["exchange_id"] for e in summary["cannot_comply"]],
            "errors": summary["status_counts"].get("error", 0)}


def _bn(value: float) -> str:
    return f"{value / 1e9:,.1f}"


def presets_text(sections: Sequence[Mapping[str, Any]], quotes: Sequence[Any] = ()) -> str:
    """`batch --all-presets`: one row per preset (¥bn), the README's presets table for any run."""
    heads = [(s["preset"], preset_headline(s, quotes)) for s in sections]
    capacity = next((h["capacity_jpy"] for _, h in heads if h["capacity_jpy"]), None)
    cover = "all cover" + (f" (of ¥{capacity / 1e9:,.0f}bn)" if capacity else "")
    rows = []
    for name, h in heads:
        short = "0" if not h["cannot_comply"] else (
            f"{h['cannot_comply']:,} (¥{_bn(h['shortfall_jpy'])}bn): " + _ids(h["cannot_comply_exchanges"],
                                                                             h["cannot_comply"], 12))
        rows.append({"preset": name, "total R": _bn(h["required_coverage_jpy"]),
                     "annual cost": _bn(h["annual_cost_jpy"]), "insurance cover": _bn(h["insurance_cover_jpy"]),
                     cover: _bn(h["cover_jpy"]) + (f" ({h['cover_to_capacity']:.0%})" if capacity else ""),
                     "over their capacity": ", ".join(h["over_capacity"]) or "—",
                     "R > net assets": f"{h['over_net_assets']:,}", "cannot comply (shortfall)": short,
                     **({"errors": f"{h['errors']:,}"} if any(x["errors"] for _, x in heads) else {})})
    frame = pd.DataFrame(rows)
    for col in ("total R", "annual cost", "insurance cover", cover, "R > net assets"):  # figures right-aligned
        frame[col] = frame[col].str.rjust(frame[col].str.len().max())
    against = ", cover set against the capacity file" if capacity else ""
    return f"Every preset (¥bn; each exchange solved alone{against}):\n" + text_table(frame)


_SHEET_PERCENT = {"cash_share", "requirement_to_net_assets", "cover_to_capacity", "capacity_used",
                  "prob_reserve_exhausted", "cash_share_p50"}
SHEET_FORMATS = {"money": "#,##0", "percent": "0.0%", "count": "#,##0", "number": "0.0000"}


def batch_summary_sheets(sections: Sequence[Mapping[str, Any]], quotes: Sequence[Any] = ()) -> dict[str, pd.DataFrame]:
    """A batch's summary (one section per preset; a plain batch is one section) as sheets: `summary` (a row per
    preset: counts, totals, cover against capacity, who cannot comply), `counterparties` (cover bought from each
    against its capacity) and `cannot comply` (each exchange in shortfall: R, the shortfall, what binds)."""
    summary, cps, short = [], [], []
    for s in sections:
        h, c, t = preset_headline(s, quotes), s["status_counts"], s["totals"]
        summary.append({"preset": s.get("preset", ""), "regime": s.get("regime", ""), "profiles": int(s["profiles"]),
                        "optimal": int(c.get("optimal", 0)), "shortfall": int(c.get("shortfall", 0)),
                        "error": int(c.get("error", 0)), **{k: float(v) for k, v in t.items()},
                        "cover_jpy": h["cover_jpy"], "insurance_cover_jpy": h["insurance_cover_jpy"],
                        "capacity_jpy": h["capacity_jpy"], "cover_to_capacity": h["cover_to_capacity"],
                        "over_capacity": ", ".join(h["over_capacity"]),
                        "r_over_net_assets": int(h["over_net_assets"]),
                        "r_over_liquid_capital": int(s["requirement_over_liquid_capital"]["count"]),
                        "cash_share_p50": s["cash_share_quantiles"].get("p50"),
                        "cannot_comply": ", ".join(h["cannot_comply_exchanges"])})
        cps += [{"preset": s.get("preset", ""), **r} for r in s["insurance_by_counterparty"]]
        short += [{"preset": s.get("preset", ""), "exchange_id": e["exchange_id"],
                   "required_coverage_jpy": e["required_coverage_jpy"], "shortfall_jpy": e["shortfall_jpy"],
                   "binding": ", ".join(e["binding"])} for e in s["cannot_comply"]]
    return {"summary": pd.DataFrame(summary), "counterparties": pd.DataFrame(cps),
            "cannot comply": pd.DataFrame(short, columns=["preset", "exchange_id", "required_coverage_jpy",
                                                          "shortfall_jpy", "binding"])}


EXCEL_ROWS = 1_048_576  # a worksheet's rows, the header's included


def batch_workbook(sections: Sequence[Mapping[str, Any]], results: pd.DataFrame | None,
                   quotes: Sequence[Any] = (), rows: int | None = None) -> bytes:
    """The batch summary as a workbook (`batch_summary_sheets`), then the results rows when they fit a worksheet.

    Numbers are stored as numbers at full precision; only the display is rounded: yen `#,##0`, shares and ratios
    `0.0%`, counts `#,##0`, any other number `0.0000`. Text is stored as text (never a formula). `results` None
    with `rows` (the count of result rows): too many for a worksheet, which the summary sheet says."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    sheets = batch_summary_sheets(sections, quotes)
    rows = len(results) if results is not None else rows
    if results is not None and rows < EXCEL_ROWS:
        sheets["results"] = results
    elif rows is not None and rows >= EXCEL_ROWS:
        sheets["summary"] = sheets["summary"].assign(
            note=f"{rows:,} result rows: more than a worksheet holds; see the results file")
    book = Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        ws = book.create_sheet(name[:31])
        columns = [str(c) for c in frame.columns]
        for j, col in enumerate(columns, start=1):
            ws.cell(row=1, column=j, value=col).data_type = "s"
        formats = [_sheet_format(col, frame[col]) for col in columns]
        for i, row in enumerate(frame.itertuples(index=False, name=None), start=2):
            for j, value in enumerate(row, start=1):
                if hasattr(value, "item") and not isinstance(value, (str, bytes)):
                    value = value.item()
                if value is None or (isinstance(value, float) and not math.isfinite(value)):
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    cell = ws.cell(row=i, column=j, value=value)
                    if formats[j - 1]:
                        cell.number_format = formats[j - 1]
                else:
                    ws.cell(row=i, column=j, value=str(value)).data_type = "s"
        for j, col in enumerate(columns, start=1):
            width = max([len(col)] + [len(str(v)) for v in frame.iloc[:200, j - 1]]) if len(frame) else len(col)
            ws.column_dimensions[get_column_letter(j)].width = min(max(10, width + 2), 60)
        ws.freeze_panes = "B2" if columns and columns[0] in ("preset", "exchange_id") else "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_format(name: str, column: pd.Series) -> str | None:
    if not pd.api.types.is_numeric_dtype(column) and column.dtype != object:
        return None
    if name.endswith("_jpy") and not name.endswith("_per_jpy"):
        return SHEET_FORMATS["money"]
    if name in _SHEET_PERCENT or name in _PERCENT_COLUMNS:
        return SHEET_FORMATS["percent"]
    if pd.api.types.is_integer_dtype(column) or name in ("profiles", "optimal", "shortfall", "error", "exchanges",
                                                         "r_over_net_assets", "r_over_liquid_capital"):
        return SHEET_FORMATS["count"]
    return SHEET_FORMATS["number"]
