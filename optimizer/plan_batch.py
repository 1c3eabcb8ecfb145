"""`batch --plan F`: the plan for many exchanges — one row per exchange and year, and a summary per year.

The regulator's transition table: per year, the total provisions, the total R required, the insurance bought
against each counterparty's capacity, and who cannot comply. Profiles are solved one after another in this process
(one plan LP each); one bad profile never stops the run (its rows get status `error`). The output (CSV or
Parquet) and its summary (`OUT.summary.json`) are written atomically.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .batch_store import summary_path, write_atomic
from .domain import ExchangeProfile, Quote, Regime, ReserveAsset
from .inputs import InputError, check_asset_yields, check_profile_columns, parse_profile, read_csv_text
from .plan import PlanResult, solve_plans
from .plan_file import Plan
from .report import json_safe, plan_rows

OUT_TYPES = (".csv", ".parquet")


def _profiles(path: str | Path) -> list[tuple[str, ExchangeProfile | Exception]]:
    """(exchange_id, profile or the error that row raised), in file order."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path).astype(object)
        frame = frame.where(frame.notna(), None)
    else:
        frame = read_csv_text(path)
    check_profile_columns(frame.columns, str(path))  # a wrong header is the whole file's error
    if frame.empty:
        raise InputError(str(path), "the file has a header but no rows; expected at least one row")
    out: list[tuple[str, ExchangeProfile | Exception]] = []
    for row_no, record in enumerate(frame.to_dict("records"), start=1):
        given = str(record.get("exchange_id") or f"row {row_no}").strip()
        try:
            out.append((given, parse_profile(record, str(path), row_no)))
        except InputError as exc:
            out.append((given, exc))
    return out


def run(profiles: str | Path, quotes: Sequence[Quote], regime: Regime, plan: Plan, out: str | Path, *,
        capacity: dict[str, float] | None = None, quotes_source: str = "quotes",
        assets: Sequence[ReserveAsset] = (), assets_source: str = "assets") -> dict[str, Any]:
    """Plan every profile; write the rows to `out` and the summary beside it. Returns the summary. `assets`:
    reserve assets offered every year (a profile whose cost of capital is below a held asset's yield is an error
    row, as in `batch --assets`)."""
    out = Path(out)
    if out.suffix.lower() not in OUT_TYPES:
        raise InputError(str(out), f"unknown output type; expected {', '.join(OUT_TYPES)}", column="--out")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(str(out), f"the folder {out.parent} does not exist")
    started = time.perf_counter()
    results, failed, valid = [], [], []  # failed: (file position, error row)
    for at, (given, prof) in enumerate(_profiles(profiles)):
        if isinstance(prof, Exception):
            failed.append((at, {"exchange_id": given, "plan": plan.name, "status": "error", "error": str(prof)}))
            continue
        try:
            if assets:
                check_asset_yields(prof, assets, assets_source)
        except InputError as exc:
            failed.append((at, {"exchange_id": prof.exchange_id, "plan": plan.name, "status": "error",
                                "error": str(exc)}))
            continue
        valid.append((at, prof))
    # a term longer than the plan (InputError) is the sheet's error for every exchange: raised
    solved = solve_plans([p for _, p in valid], quotes, regime, plan, quotes_source=quotes_source, assets=assets)
    for (at, prof), result in zip(valid, solved):
        if isinstance(result, Exception):
            failed.append((at, {"exchange_id": prof.exchange_id, "plan": plan.name, "status": "error",
                                "error": str(result)}))
        else:
            results.append(result)
    errors = [row for _, row in sorted(failed, key=lambda f: f[0])]
    rows = [row for result in results for row in plan_rows(result)]
    table = pd.DataFrame(rows + errors) if rows or errors else pd.DataFrame()
    summary = summarise(results, plan, capacity or {}, errors, time.perf_counter() - started)
    if out.suffix.lower() == ".parquet":
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        write_atomic(out, buffer.getvalue())
    else:
        write_atomic(out, table.to_csv(index=False).encode("utf-8"))
    write_atomic(summary_path(out), (json.dumps(json_safe(summary), ensure_ascii=False, indent=2) + "\n").encode())
    return summary


def summarise(results: Sequence[PlanResult], plan: Plan, capacity: dict[str, float], errors: Sequence[dict],
              seconds: float) -> dict[str, Any]:
    """Per year: totals over the exchanges, insurance bought against capacity, who cannot comply."""
    years = []
    for k in range(plan.years):
        ys = [r.years[k] for r in results]
        cover: dict[str, float] = {}
        for y in ys:
            for line in y.solution.lines:
                if not line.quote.is_derivative:
                    cover[line.quote.counterparty] = cover.get(line.quote.counterparty, 0.0) + line.cover_jpy
        years.append({
            "year": k + 1, "fiscal_year": plan.start_year + k, "required_share": plan.phase_in[k],
            "exchanges": len(ys),
            "total_requirement_full_jpy": sum(y.year.requirement_full_jpy for y in ys),
            "total_required_jpy": sum(y.solution.requirement_jpy for y in ys),
            "total_reserve_jpy": sum(y.reserve_held_jpy for y in ys),
            "total_provisions_jpy": sum(y.provision_jpy for y in ys),
            "total_premiums_jpy": sum(y.premiums_jpy + y.fees_jpy for y in ys),
            "total_annual_cost_jpy": sum(y.solution.annual_cost_jpy for y in ys),
            "total_shortfall_jpy": sum(y.solution.shortfall_jpy for y in ys),
            "insurance_cover_jpy": sum(cover.values()),
            "insurance_by_counterparty": [
                {"counterparty": c, "cover_jpy": v, "capacity_jpy": capacity.get(c),
                 "utilisation": v / capacity[c] if capacity.get(c) else None} for c, v in sorted(cover.items())],
            "short": [r.profile.exchange_id for r, y in zip(results, ys) if y.solution.status == "shortfall"],
            **({"total_reserve_assets_jpy": sum(y.solution.reserve_assets_jpy for y in ys),
                "total_committed_jpy": sum(y.solution.committed_jpy for y in ys)}
               if any(r.assets for r in results) else {}),
        })
    return {"plan": plan.name, "start_year": plan.start_year, "years": plan.years, "exchanges": len(results),
            "errors": [{"exchange_id": e["exchange_id"], "error": e["error"]} for e in errors],
            "present_value_jpy": sum(r.present_value_jpy for r in results),
            "present_value_after_tax_jpy": sum(r.present_value_after_tax_jpy for r in results),
            "by_year": years, "seconds": seconds}


def summary_text(summary: dict[str, Any]) -> str:
    """The summary per year for a terminal."""
    from .report import text_table, yen

    rows = pd.DataFrame([{"fiscal_year": str(y["fiscal_year"]), "share_of_R": f"{100 * y['required_share']:.0f}%",
                          "required_jpy": y["total_required_jpy"], "reserve_jpy": y["total_reserve_jpy"],
                          "provisions_jpy": y["total_provisions_jpy"], "insurance_jpy": y["insurance_cover_jpy"],
                          "annual_cost_jpy": y["total_annual_cost_jpy"], "shortfall_jpy": y["total_shortfall_jpy"],
                          "short": len(y["short"])} for y in summary["by_year"]])
    lines = [f"Plan            {summary['plan']} ({summary['years']} years from FY{summary['start_year']})",
             f"Exchanges       {summary['exchanges']:,}" + (f" ({len(summary['errors'])} with errors)"
                                                            if summary["errors"] else ""),
             f"Present value   {yen(summary['present_value_jpy'])} (after tax {yen(summary['present_value_after_tax_jpy'])})",
             "", text_table(rows)]
    for y in summary["by_year"]:
        if y["short"]:
            lines.append(f"Short in FY{y['fiscal_year']}: " + ", ".join(y["short"][:30])
                         + (" …" if len(y["short"]) > 30 else ""))
        over = [c for c in y["insurance_by_counterparty"] if c["utilisation"] is not None and c["utilisation"] > 1]
        if over:
            lines.append(f"Demand above capacity in FY{y['fiscal_year']}: " + ", ".join(
                f"{c['counterparty']} {100 * c['utilisation']:.0f}%" for c in over))
    lines.append(f"\n{summary['exchanges']:,} plans in {summary['seconds']:.1f} s")
    return "\n".join(lines)
