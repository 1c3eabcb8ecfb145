"""The command line (DESIGN.md "Command line"): thin; parses options, calls the core, prints views.

Exit codes: 0 solved; 2 bad input (one line on stderr naming file, row and column); 3 the requirement cannot be
met (the result is still printed, status `shortfall`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from . import analysis, report
from .model import solve
from .inputs import InputError, load_incidents, load_profiles, load_quotes, load_regime, select_profile
from .regime import SWEEPABLE
from .solution import SolveError

EXIT_OK, EXIT_BAD_INPUT, EXIT_SHORTFALL, EXIT_FAILED = 0, 2, 3, 1


def data_dir() -> Path:
    """The bundled data/: next to the package in a checkout, else ./data."""
    here = Path(__file__).resolve().parent.parent / "data"
    return here if here.is_dir() else Path.cwd() / "data"


DEFAULT_REGIME = "securities-style.toml"


def _add_inputs(p: argparse.ArgumentParser, *, profiles_option: bool = True) -> None:
    d = data_dir()
    if profiles_option:
        p.add_argument("--profiles", default=str(d / "profiles.csv"), help="profiles CSV (default: bundled)")
        p.add_argument("--exchange", default=None, help="exchange_id to solve (default: the first row)")
    p.add_argument("--quotes", default=str(d / "quotes.csv"), help="quotes CSV (default: bundled)")
    p.add_argument("--regime", default=str(d / "regimes" / DEFAULT_REGIME), help="regime TOML (default: bundled "
                   f"{DEFAULT_REGIME}); a bare preset name such as asset-based also works")


def _add_scenario(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default=None, metavar="F",
                   help="a scenario file saved by the app (exchange, quote sheet, regime with overrides); "
                        "replaces --profiles/--exchange/--quotes/--regime")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json"), default="table", help="table for people, json for programs")
    p.add_argument("--out", default=None, help="also write the result to a file (.json, .csv or .xlsx)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m optimizer", description=(
        "Cheapest mix of cash reserve, insurance layers and parametric cover that meets a liability-reserve "
        "requirement. Every command runs on the bundled data/ when given no input options."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("solve", help="the cheapest compliant mix for one exchange")
    _add_inputs(p)
    _add_scenario(p)
    _add_output(p)

    p = sub.add_parser("price", help="break-even premium of every quote (brokers), or one quote's demand curve")
    _add_inputs(p)
    _add_scenario(p)
    p.add_argument("--quote", default=None, help="a quote_id: also print its demand curve (share against ROL)")
    _add_output(p)

    p = sub.add_parser("frontier", help="optimal cost as one regime parameter sweeps")
    _add_inputs(p)
    p.add_argument("--param", default="max_insurance_share", choices=sorted(SWEEPABLE), metavar="NAME",
                   help="regime parameter to sweep (default max_insurance_share): " + ", ".join(sorted(SWEEPABLE)))
    p.add_argument("--values", default=None, help="comma-separated values (default: 0..1 for shares, 0..2× else)")
    _add_output(p)

    p = sub.add_parser("stress", help="replay historical hacks against the optimal mix: who pays")
    _add_inputs(p)
    p.add_argument("--incidents", default=str(data_dir() / "incidents.csv"), help="incidents CSV (default: bundled)")
    p.add_argument("--scale", choices=("assets", "absolute"), default="assets",
                   help="assets: each loss as the same share of this exchange's customer assets (default); "
                        "absolute: the loss in JPY as reported")
    _add_output(p)

    p = sub.add_parser("batch", help="solve many exchange profiles (CSV or Parquet) locally or on a Dask cluster")
    p.add_argument("profiles", nargs="?", default=str(data_dir() / "profiles.csv"), metavar="PROFILES")
    _add_inputs(p, profiles_option=False)
    p.add_argument("--out", default="results.csv", help="RESULTS.csv or RESULTS.parquet (default results.csv)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", default=None, help="address of a Dask scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--chunk-size", type=int, default=None, help="profiles per task and per checkpoint (default 512)")
    return parser


def _regime_path(value: str) -> str:
    """A bare preset name (`asset-based`) means data/regimes/<name>.toml."""
    path = Path(value)
    if not path.exists() and path.suffix == "" and (data_dir() / "regimes" / f"{value}.toml").exists():
        return str(data_dir() / "regimes" / f"{value}.toml")
    return value


def _load(args: argparse.Namespace):
    if getattr(args, "scenario", None):
        from .scenario import load as load_scenario

        sc = load_scenario(args.scenario)
        args.quotes = args.scenario  # errors about a quote id name the file it came from
        return sc.profile, list(sc.quotes), sc.regime
    profiles = load_profiles(args.profiles)
    profile = select_profile(profiles, args.exchange, args.profiles)
    quotes = load_quotes(args.quotes)
    regime = load_regime(_regime_path(args.regime))
    return profile, quotes, regime


def _emit(args: argparse.Namespace, text: str, data, frames: dict | None = None) -> None:
    """Print the table or the one JSON object; write --out if asked."""
    if args.format == "json":
        sys.stdout.write(report.to_json(data) + "\n")
    else:
        sys.stdout.write(text + "\n")
    if args.out:
        out = Path(args.out)
        suffix = out.suffix.lower()
        if suffix == ".json":
            out.write_text(report.to_json(data) + "\n", encoding="utf-8")
        elif suffix == ".xlsx":
            out.write_bytes(report.xlsx_bytes(frames or {}))
        elif suffix == ".csv":
            first = next(iter((frames or {}).values()))
            out.write_bytes(report.csv_bytes(first))
        else:
            raise InputError(str(out), "unknown output type; expected .json, .csv or .xlsx", column="--out")


def cmd_solve(args: argparse.Namespace) -> int:
    profile, quotes, regime = _load(args)
    s = solve(profile, quotes, regime)
    frames = {"mix": s.mix, "summary": report.summary_frame(s)}
    _emit(args, report.solution_text(s), s.to_dict(), frames)
    return EXIT_SHORTFALL if s.status == "shortfall" else EXIT_OK


def cmd_price(args: argparse.Namespace) -> int:
    profile, quotes, regime = _load(args)
    if args.quote is not None and args.quote not in {q.quote_id for q in quotes}:
        raise InputError(args.quotes, f"no quote with quote_id {args.quote!r}", column="quote_id")
    s = solve(profile, quotes, regime, marginal=False)
    table = analysis.break_evens(profile, quotes, regime, base=s)
    data = {"exchange_id": profile.exchange_id, "status": s.status, "annual_cost_jpy": s.annual_cost_jpy,
            "quotes": table.to_dict("records")}
    text = [f"Break-even premiums for {profile.exchange_id} under {regime.name} (rate on line; in the mix: the "
            "highest ROL at which it stays; out of it: the ROL at which it enters)", "",
            report.text_table(table[["quote_id", "rate_on_line", "bought", "share", "break_even_rol", "competitors",
                                     "reason"]],
                              {"rate_on_line": report.pct, "break_even_rol": report.pct,
                               "share": lambda v: report.pct(v, 1)})]
    frames = {"break_even": table}
    if args.quote:
        curve = analysis.demand_curve(profile, quotes, regime, args.quote)
        data["demand_curve"] = {"quote_id": args.quote, "points": curve.to_dict("records")}
        text += ["", f"Demand curve of {args.quote} (share bought against ROL):",
                 report.text_table(curve, {"rate_on_line": report.pct, "share": lambda v: report.pct(v, 1)})]
        frames["demand_curve"] = curve
    _emit(args, "\n".join(text), data, frames)
    return EXIT_SHORTFALL if s.status == "shortfall" else EXIT_OK


def cmd_frontier(args: argparse.Namespace) -> int:
    profile, quotes, regime = _load(args)
    values = None
    if args.values:
        try:
            values = [float(v) for v in args.values.split(",") if v.strip()]
        except ValueError:
            raise InputError("--values", f"expected comma-separated numbers, got {args.values!r}") from None
    table = analysis.frontier(profile, quotes, regime, args.param, values)
    data = {"exchange_id": profile.exchange_id, "param": args.param, "points": table.to_dict("records")}
    text = f"Frontier for {profile.exchange_id}: optimal cost as {args.param} sweeps ({regime.name})\n\n" + \
        report.text_table(table[[args.param, "status", "annual_cost_jpy", "savings_jpy", "cash_reserve_jpy",
                                 "shortfall_jpy", "insurance_credit_jpy", "derivative_credit_jpy"]])
    _emit(args, text, data, {"frontier": table})
    return EXIT_OK


def cmd_stress(args: argparse.Namespace) -> int:
    profile, quotes, regime = _load(args)
    incidents = load_incidents(args.incidents)
    s = solve(profile, quotes, regime, marginal=False)
    table = analysis.stress_test(s, incidents, scale=args.scale)
    data = {"exchange_id": profile.exchange_id, "status": s.status, "cash_reserve_jpy": s.cash_reserve_jpy,
            "scale": args.scale, "incidents": table.to_dict("records")}
    text = (f"Stress test for {profile.exchange_id} ({regime.name}; losses scaled by "
            f"{'share of customer assets' if args.scale == 'assets' else 'reported JPY amount'})\n\n"
            + report.text_table(table[["incident_id", "date", "peril", "loss_jpy", "paid_by_cash_jpy",
                                       "paid_by_layers_jpy", "uncovered_jpy"]]))
    _emit(args, text, data, {"stress": table})
    return EXIT_SHORTFALL if s.status == "shortfall" else EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import cli_batch

    args.regime = _regime_path(args.regime)
    return cli_batch(args)


COMMANDS = {"solve": cmd_solve, "price": cmd_price, "frontier": cmd_frontier, "stress": cmd_stress,
            "batch": cmd_batch}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SolveError as exc:
        print(f"solver error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("RESERVE_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (set RESERVE_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
