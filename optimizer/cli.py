"""The command line (docs/design.md §6): thin; parses options, calls the core, prints views.

Exit codes: 0 solved; 2 bad input (one line on stderr naming file, row and column) or an output that cannot be
written or is busy (`error: PATH: reason`); 3 the requirement cannot be met (the result is still printed, status
`shortfall`); 1 the solver failed; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM): a batch keeps its finished
chunks and the same command resumes.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from ._lazy import pandas as pd

from . import report
from ._lazy import LazyModule
from .batch_store import summary_path, write_atomic
from .model import Instance, Resolver, build, quiet_highs, solve
from .inputs import InputError, check_asset_yields, load_assets, load_incidents, load_profiles, load_quotes, load_regime, \
    select_profile
from .regime import SWEEPABLE
from .solution import SolveError

analysis = LazyModule("optimizer.analysis")  # break-evens, frontiers, stress tests, why a quote was not bought:
reasons = LazyModule("optimizer.reasons")    # imported when a command uses them, not at a batch's start-up

EXIT_OK, EXIT_BAD_INPUT, EXIT_SHORTFALL, EXIT_FAILED = 0, 2, 3, 1
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM, as a shell reports them


def data_dir() -> Path:
    """The bundled data/: next to the package in a checkout, else ./data."""
    here = Path(__file__).resolve().parent.parent / "data"
    return here if here.is_dir() else Path.cwd() / "data"


DEFAULT_REGIME = "securities-style.toml"


def _input_defaults() -> dict[str, str | None]:
    d = data_dir()
    return {"profiles": str(d / "profiles.csv"), "exchange": None, "quotes": str(d / "quotes.csv"),
            "regime": str(d / "regimes" / DEFAULT_REGIME)}


def _add_inputs(p: argparse.ArgumentParser, *, profiles_option: bool = True) -> None:
    """--profiles, --exchange, --quotes, --regime. They parse as None so that `_fill_inputs` can tell whether they
    were given (a --scenario replaces them: giving both is refused) and then fills in the bundled defaults."""
    if profiles_option:
        p.add_argument("--profiles", default=None, help="profiles CSV (default: bundled)")
        p.add_argument("--exchange", default=None, help="exchange_id to solve (default: the first row)")
    p.add_argument("--quotes", default=None, help="quotes CSV (default: bundled)")
    p.add_argument("--regime", default=None, help=f"regime TOML (default: bundled {DEFAULT_REGIME}); a bare preset "
                   "name such as asset-based also works")
    _add_assets(p)


def _add_assets(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assets", default=None, metavar="F",
                   help="assets CSV: reserve assets beyond cash (deposits, JGBs, bank guarantees, committed lines, "
                        "parent guarantees; data/assets-japan.csv is bundled); default: none, cash and cover alone")


def _assets(args: argparse.Namespace, profile) -> tuple:
    """The reserve assets of --assets (or of the scenario), each funded one checked against the exchange's cost of
    capital; () without them."""
    sc = getattr(args, "_scenario", None)
    if sc is not None:
        return tuple(sc.assets)
    path = getattr(args, "assets", None)
    if not path:
        return ()
    assets = tuple(load_assets(path))
    check_asset_yields(profile, assets, path)
    return assets


OUT_TYPES = (".json", ".csv", ".xlsx")  # what --out of a one-result command writes (`_emit`)


def _check_outputs(args: argparse.Namespace) -> None:
    """--out (of a command that prints one result) and --write-lp, checked before anything is solved: a bad path
    must not follow a printed result (exit 2 with a full answer on stdout)."""
    for what, path in _output_paths(args):  # a folder in the way would fail only after the work is done
        if path.is_dir() and what != f"the checkpoints folder of --out {args.out}":
            raise InputError(str(path), f"{'this' if what in ('--out', '--write-lp') else what} is a folder; "
                             "expected a file path (a folder cannot be replaced by a file)",
                             column=what if what in ("--out", "--write-lp") else None)
    xlsx = getattr(args, "summary_xlsx", None)
    if xlsx:
        if Path(xlsx).suffix.lower() != ".xlsx":
            raise InputError(xlsx, "unknown workbook type; expected a path ending in .xlsx", column="--summary-xlsx")
        folder = Path(xlsx).parent if str(Path(xlsx).parent) else Path(".")
        if not folder.is_dir():
            raise InputError(xlsx, f"the folder {folder} does not exist", column="--summary-xlsx")
    for option, value in (("--out", getattr(args, "out", None)), ("--write-lp", getattr(args, "write_lp", None))):
        if not value or args.command in ("batch", "market"):  # those check theirs (and take .parquet)
            continue
        path = Path(value)
        if option == "--out" and path.suffix.lower() not in OUT_TYPES:
            raise InputError(str(path), f"unknown output type; expected {', '.join(OUT_TYPES)}", column=option)
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise InputError(str(path), f"the folder {folder} does not exist",
                             column=option if option != "--out" else None)


def _input_paths(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(option, path) of every file the command will read, as the user named it (presets resolved)."""
    found: list[tuple[str, Path]] = []

    def add(option: str, value) -> None:
        if value:
            found.append((option, Path(value)))

    positional = args.command in ("batch", "market")
    add("--scenario", getattr(args, "scenario", None))
    add("PROFILES" if positional else "--profiles", getattr(args, "profiles", None))
    add("--quotes", getattr(args, "quotes", None))
    if getattr(args, "all_presets", False):  # batch --all-presets reads every bundled preset
        found += [("--all-presets", p) for p in sorted((data_dir() / "regimes").glob("*.toml"))]
    elif getattr(args, "regime", None):
        add("--regime", _regime_path(args.regime))
    if getattr(args, "capacity", None) and args.capacity.lower() != "none":
        add("--capacity", args.capacity)
    add("--incidents", getattr(args, "incidents", None))
    add("--assets", getattr(args, "assets", None))
    if getattr(args, "loss_model", None):
        add("--loss-model", _loss_model_path(args.loss_model))
    if getattr(args, "regimes", None) and Path(args.regimes).is_dir():  # compare reads every preset in it
        found += [("--regimes", p) for p in sorted(Path(args.regimes).glob("*.toml"))]
    return found


def _output_paths(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(what, path) of every file the command will write: --out, --write-lp; for batch and market also the summary
    beside the output, its lock file and (batch) its checkpoints folder."""
    from .batch_store import lock_path, parts_dir, summary_path

    found: list[tuple[str, Path]] = []
    out = getattr(args, "out", None)
    if out:
        found.append(("--out", Path(out)))
        if args.command in ("batch", "market"):
            found += [(f"the summary of --out {out}", summary_path(Path(out))),
                      (f"the lock file of --out {out}", lock_path(Path(out)))]
        if args.command == "batch":
            found.append((f"the checkpoints folder of --out {out}", parts_dir(Path(out))))
    if getattr(args, "write_lp", None):
        found.append(("--write-lp", Path(args.write_lp)))
    if getattr(args, "summary_xlsx", None):
        found.append(("--summary-xlsx", Path(args.summary_xlsx)))
    return found


def _same_or_inside(path: Path, target: Path) -> bool:
    """Whether `path` is the file `target` (real paths: links and ./ resolved; or the same inode), or lies inside
    the folder `target`."""
    a, b = os.path.realpath(path), os.path.realpath(target)
    if a == b or a.startswith(b.rstrip(os.sep) + os.sep):
        return True
    try:
        return os.path.samefile(path, target)  # hard links
    except OSError:
        return False


def _check_no_overwrite(args: argparse.Namespace) -> None:
    """Every output path against every input path (and against the other outputs), before anything is computed:
    a command never replaces a file it reads. One line naming both."""
    inputs, outputs = _input_paths(args), _output_paths(args)
    for what, out in outputs:
        for option, given in inputs:
            if _same_or_inside(given, out):
                raise InputError(str(out), f"{what} is the {option} file {given}: writing it would replace an "
                                 "input; expected an output path that is not one of the command's inputs")
    for i, (what, out) in enumerate(outputs):
        for other, path in outputs[i + 1:]:
            if _same_or_inside(path, out) or _same_or_inside(out, path):
                raise InputError(str(out), f"{what} and {other} name the same file; expected two different paths")


_SCHEDULER = re.compile(r"^(?:[a-z][a-z0-9+]*://)?(?:\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+):\d{1,5}$")


def _check_processes(args: argparse.Namespace) -> None:
    """--workers, --scheduler and --chunk-size, refused when they are not numbers of processes, an address, or
    would change nothing (market --method joint solves one LP: no chunks)."""
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        raise InputError("--workers", f"expected a number of processes ≥ 1, got {workers}")
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None and not _SCHEDULER.match(scheduler):
        raise InputError("--scheduler", f"expected a Dask scheduler address such as tcp://127.0.0.1:8786, got "
                         f"{scheduler!r}")
    if getattr(args, "method", None) == "joint" and getattr(args, "chunk_size", None) is not None:
        raise InputError("--chunk-size", "expected no --chunk-size with --method joint: the joint LP has no chunks "
                         "(they split the decomposition)")


def _fill_inputs(args: argparse.Namespace) -> None:
    """Bundled defaults for the input options not given; with --scenario, none of them may be given."""
    given = [key for key in _input_defaults() if getattr(args, key, None) is not None]
    if getattr(args, "all_presets", False) and getattr(args, "regime", None) is not None:
        raise InputError("--all-presets", f"runs every bundled preset; expected no --regime with it (got "
                         f"--regime {args.regime})")
    if getattr(args, "scenario", None) and given:
        raise InputError("--scenario", f"the scenario holds the exchange, the quote sheet and the regime; expected "
                         f"no --{given[0]} with it (edit the scenario in the app, or leave --scenario out)")
    defaults = _input_defaults()
    if args.command == "compare":  # compare starts from Japan's exchanges and the Japanese sheet
        defaults.update(profiles=str(data_dir() / "profiles-japan-2025.csv"),
                        quotes=str(data_dir() / "quotes-japan.csv"))
    for key, default in defaults.items():
        if hasattr(args, key) and getattr(args, key) is None:
            setattr(args, key, default)


def _add_scenario(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default=None, metavar="F",
                   help="a scenario file saved by the app (exchange, quote sheet, regime with overrides); "
                        "replaces --profiles/--exchange/--quotes/--regime")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json"), default="table", help="table for people, json for programs")
    p.add_argument("--out", default=None, help="also write the result to a file (.json, .csv or .xlsx)")


DEFAULT_LOSS_MODEL = "japan.toml"


MAX_SCENARIOS = 2_000_000  # scenario-years held in memory at once: 16 MB per array, ~0.3 GB of payouts for 20 quotes
RISK_DEFAULTS = {"level": 0.99}  # with the simulation's DEFAULT_SCENARIOS and DEFAULT_SEED and the loss model above


def _risk_defaults() -> dict:
    from .simulation import DEFAULT_SCENARIOS, DEFAULT_SEED

    return {"loss_model": str(data_dir() / "loss-models" / DEFAULT_LOSS_MODEL), "scenarios": DEFAULT_SCENARIOS,
            "seed": DEFAULT_SEED, **RISK_DEFAULTS}


def _add_risk_options(p: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """--loss-model, --scenarios, --seed, --level. defaults=False leaves them None (so that a command can tell
    whether they were given; `_fill_risk_defaults` fills them)."""
    d = _risk_defaults() if defaults else dict.fromkeys(_risk_defaults())
    shown = _risk_defaults()
    p.add_argument("--loss-model", default=d["loss_model"],
                   help=f"loss-model TOML (default: bundled {DEFAULT_LOSS_MODEL}); a bare preset name such as "
                        "japan-stressed also works")
    p.add_argument("--scenarios", type=int, default=d["scenarios"], metavar="N",
                   help=f"scenario-years to simulate (default {shown['scenarios']:,})")
    p.add_argument("--seed", type=int, default=d["seed"], help=f"random seed (default {shown['seed']}): same "
                   "seed, same numbers")
    p.add_argument("--level", type=float, default=d["level"], metavar="A", help="VaR/TVaR level α (default 0.99)")


def _fill_risk_defaults(args: argparse.Namespace) -> list[str]:
    """Fill the risk options left None with their defaults; returns the options that were given."""
    given = []
    for key, value in _risk_defaults().items():
        if getattr(args, key) is None:
            setattr(args, key, value)
        else:
            given.append("--" + key.replace("_", "-"))
    return given


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m optimizer", description=(
        "Cheapest mix of cash reserve, insurance layers and parametric cover that meets a liability-reserve "
        "requirement. Every command runs on the bundled data/ when given no input options."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("solve", help="the cheapest compliant mix for one exchange")
    _add_inputs(p)
    _add_scenario(p)
    _add_output(p)
    p.add_argument("--objective", choices=("cost", "risk"), default="cost",
                   help="cost: cheapest compliant mix (default); risk: minimise cost + expected retained hack loss "
                        "(Monte Carlo, see the risk command), still compliant")
    p.add_argument("--tvar-limit", type=float, default=None, metavar="X",
                   help="JPY, with --objective risk: TVaR of annual retained loss at --level at most X")
    p.add_argument("--write-lp", default=None, metavar="FILE",
                   help="also write the model HiGHS solves (units of R, rows named by meaning) as an LP file, or "
                        "MPS when FILE ends in .mps")
    _add_risk_options(p, defaults=False)
    p.add_argument("--capacity", default=None, metavar="F",
                   help="capacity CSV (counterparty,capacity_jpy): no quote's ceiling above its counterparty's "
                        "capacity; the caps that bind are named (default: none)")

    p = sub.add_parser("price", help="break-even premium of every quote (brokers), or one quote's demand curve")
    _add_inputs(p)
    _add_scenario(p)
    p.add_argument("--quote", default=None, help="a quote_id: also print its demand curve (share against ROL)")
    _add_output(p)

    p = sub.add_parser("frontier", help="optimal cost as one regime parameter sweeps")
    _add_inputs(p)
    _add_scenario(p)
    p.add_argument("--param", default="max_insurance_share", choices=sorted(SWEEPABLE), metavar="NAME",
                   help="regime parameter to sweep (default max_insurance_share): " + ", ".join(sorted(SWEEPABLE)))
    p.add_argument("--values", default=None, help="comma-separated values (default: 0..1 for shares, 0..2× else)")
    _add_output(p)

    p = sub.add_parser("stress", help="replay historical hacks against the optimal mix: who pays")
    _add_inputs(p)
    _add_scenario(p)
    p.add_argument("--incidents", default=str(data_dir() / "incidents.csv"), help="incidents CSV (default: bundled)")
    p.add_argument("--scale", choices=("assets", "absolute"), default="assets",
                   help="assets: each loss as the same share of this exchange's customer assets (default); "
                        "absolute: the loss in JPY as reported")
    p.add_argument("--pair", default=None, metavar="FIRST,SECOND",
                   help="two incident ids: replay them as a first and a second hack in the same year (the cash and "
                        "each layer's aggregate are not restored in between)")
    _add_output(p)

    p = sub.add_parser("compare", help="one exchange under every regime preset, side by side")
    p.add_argument("--profiles", default=None,
                   help="profiles CSV (default: bundled profiles-japan-2025.csv, Japan's exchanges)")
    p.add_argument("--exchange", default=None, help="exchange_id (default: the first row)")
    p.add_argument("--quotes", default=None, help="quotes CSV (default: bundled quotes-japan.csv)")
    p.add_argument("--regimes", default=str(data_dir() / "regimes"),
                   help="folder of regime presets (default: bundled data/regimes)")
    _add_assets(p)
    p.add_argument("--scenario", default=None, metavar="F",
                   help="a scenario file saved by the app: its exchange and quote sheet under every preset "
                        "(replaces --profiles/--exchange/--quotes; its own regime is not used: compare runs every preset)")
    _add_output(p)

    p = sub.add_parser("risk", help="Monte Carlo hack losses: what a mix leaves the exchange to pay (VaR, TVaR, …)")
    _add_inputs(p)
    _add_scenario(p)
    _add_risk_options(p)
    p.add_argument("--mix", choices=("regulatory", "risk"), default="regulatory",
                   help="regulatory: the cheapest compliant mix (default); risk: the mix minimising cost + expected "
                        "retained loss (with --tvar-limit, TVaR at --level at most that)")
    p.add_argument("--tvar-limit", type=float, default=None, metavar="X",
                   help="JPY: TVaR of annual retained loss at --level at most X (with --mix risk)")
    _add_output(p)

    p = sub.add_parser("batch", help="solve many exchange profiles (CSV or Parquet) locally or on a Dask cluster")
    p.add_argument("profiles", nargs="?", default=str(data_dir() / "profiles.csv"), metavar="PROFILES")
    _add_inputs(p, profiles_option=False)
    p.add_argument("--out", default="results.csv", help="RESULTS.csv or RESULTS.parquet (default results.csv)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", default=None, help="address of a Dask scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--chunk-size", type=int, default=None, help="profiles per task and per checkpoint (default 512)")
    p.add_argument("--risk", action="store_true",
                   help="also the risk metrics of each optimal mix (expected loss, expected retained loss, VaR, TVaR, "
                        "P(year exhausts reserve), total cost of risk), from --loss-model/--scenarios/--seed/--level")
    _add_risk_options(p, defaults=False)
    p.add_argument("--capacity", default=str(data_dir() / "capacity.csv"), metavar="F",
                   help="capacity CSV: the summary sets the cover bought against each counterparty's capacity "
                        "(default: bundled capacity.csv; 'none' to leave it out)")
    p.add_argument("--all-presets", action="store_true",
                   help="the batch under every bundled preset of data/regimes (in the README's order, the default "
                        "first): one results file with a preset column, one summary with a section per preset "
                        "(instead of --regime)")
    p.add_argument("--summary-xlsx", default=None, metavar="F",
                   help="also write the summary (a row per preset with --all-presets) and the results as an Excel "
                        "workbook F.xlsx: numbers as numbers, yen #,##0, shares as %%")
    p = sub.add_parser("market", help="all exchanges at once against the world's insurance capacity: clearing "
                                      "prices, who falls short")
    p.add_argument("profiles", nargs="?", default=str(data_dir() / "profiles-japan-2025.csv"), metavar="PROFILES",
                   help="profiles CSV or Parquet (default: bundled profiles-japan-2025.csv)")
    p.add_argument("--quotes", default=str(data_dir() / "quotes-japan.csv"),
                   help="quotes CSV (default: bundled quotes-japan.csv)")
    p.add_argument("--regime", default=str(data_dir() / "regimes" / DEFAULT_REGIME), help="regime TOML (default: "
                   f"bundled {DEFAULT_REGIME}); a bare preset name such as asset-based also works")
    p.add_argument("--capacity", default=str(data_dir() / "capacity.csv"),
                   help="capacity CSV: counterparty,capacity_jpy[,source] (default: bundled capacity.csv)")
    p.add_argument("--out", default="market.csv", help="MARKET.csv or MARKET.parquet (default market.csv); the "
                   "summary goes to MARKET.summary.json")
    p.add_argument("--method", choices=("auto", "joint", "decompose"), default="auto",
                   help="joint: one LP; decompose: capacity prices by rounds, then a repair LP; auto: joint up to "
                        "20,000 exchanges")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", default=None, help="address of a Dask scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--chunk-size", type=int, default=None, help="exchanges per chunk LP when decomposing (default 512)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="table for people, json for programs")
    _add_assets(p)
    _add_plan_parser(sub)
    _add_sensitivity_parser(sub)
    return parser


def _add_sensitivity_parser(sub) -> None:
    """`sensitivity`: the real exchanges re-solved with each assumption of data/assumptions.toml at low and high."""
    p = sub.add_parser("sensitivity", help="how much each assumption in data/ moves total cost, insurance demand and "
                                           "who cannot comply (one at a time, tornado order)")
    p.add_argument("profiles", nargs="?", default=str(data_dir() / "profiles-japan-2025.csv"), metavar="PROFILES",
                   help="profiles CSV (default: bundled profiles-japan-2025.csv, Japan's 21 exchanges)")
    p.add_argument("--quotes", default=str(data_dir() / "quotes-japan.csv"),
                   help="quotes CSV (default: bundled quotes-japan.csv)")
    p.add_argument("--regime", default="cold-wallet", help="regime TOML or preset name (default cold-wallet)")
    p.add_argument("--capacity", default=str(data_dir() / "capacity.csv"), metavar="F",
                   help="capacity CSV: each quote's ceiling capped by its counterparty's capacity (default: bundled "
                        "capacity.csv; 'none' for no capping)")
    p.add_argument("--assumptions", default=str(data_dir() / "assumptions.toml"), metavar="F",
                   help="the assumptions and their ranges (default: bundled assumptions.toml)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="table for people, json for programs")
    p.add_argument("--out", default=None, help="also write the table to a file (.csv, .json or .xlsx)")
    _add_risk_options(p)  # the loss model the loss-model assumptions' risk figures are simulated under
    _add_assets(p)  # parsed so that it is refused in one line (cmd_sensitivity), never ignored


def _regime_path(value: str) -> str:
    """A bare preset name (`asset-based`) means data/regimes/<name>.toml."""
    path = Path(value)
    if not path.exists() and path.suffix == "" and (data_dir() / "regimes" / f"{value}.toml").exists():
        return str(data_dir() / "regimes" / f"{value}.toml")
    return value


def _load(args: argparse.Namespace):
    if getattr(args, "scenario", None):
        from .scenario import load as load_scenario

        if getattr(args, "assets", None):
            raise InputError("--scenario", "the scenario holds the reserve assets too; expected no --assets with it")
        sc = load_scenario(args.scenario)
        args._scenario = sc
        args.quotes = args.scenario  # errors about a quote id name the file it came from
        return sc.profile, list(sc.quotes), sc.regime
    profiles = load_profiles(args.profiles)
    profile = select_profile(profiles, args.exchange, args.profiles)
    quotes = load_quotes(args.quotes)
    regime = load_regime(_regime_path(args.regime))
    return profile, quotes, regime


def _say(text: str) -> None:
    """A view on stdout, its control characters escaped (a cell holding ESC or CR must not drive the terminal);
    the view's own line breaks kept. In JSON the escape is JSON's own: the value read back is the file's."""
    sys.stdout.write(report.printable(text, keep="\n") + "\n")


def _complain(line: str) -> None:
    """One line on stderr, whatever the message holds (a file's text is escaped, a line break too)."""
    print(report.printable(line), file=sys.stderr)


def _emit(args: argparse.Namespace, text, data, frames=None) -> None:
    """Print the table or the one JSON object; write --out if asked. `text` and `frames` may be functions that
    make them (the JSON of `plan` then never builds a table)."""
    if args.format == "json":
        _say(report.to_json(data))
    else:
        _say(text() if callable(text) else text)
    if callable(frames):
        frames = frames() if args.out and Path(args.out).suffix.lower() in (".xlsx", ".csv") else {}
    if args.out:
        out = Path(args.out)
        suffix = out.suffix.lower()
        if suffix == ".json":
            content = (report.to_json(data) + "\n").encode("utf-8")
        elif suffix == ".xlsx":
            content = report.xlsx_bytes(frames or {})
        elif suffix == ".csv":
            content = report.csv_bytes(next(iter((frames or {}).values())))
        else:
            raise InputError(str(out), "unknown output type; expected .json, .csv or .xlsx", column="--out")
        write_atomic(out, content)  # an OS error here is `error: PATH: reason`, exit 2


def cmd_solve(args: argparse.Namespace) -> int:
    given = _fill_risk_defaults(args)
    if getattr(args, "objective", "cost") == "risk":
        args.mix = "risk"
        return cmd_risk(args)
    if getattr(args, "tvar_limit", None) is not None:
        raise InputError("--tvar-limit", "expected --objective risk with a TVaR limit")
    if given:  # never ignored in silence: the cheapest mix does not depend on the loss model
        raise InputError(given[0], "expected --objective risk: the risk options only apply to the risk objective")
    profile, quotes, regime = _load(args)
    _warn_stale_statement(profile)
    quotes, caps = _capped_by_capacity(args, quotes)
    assets = _assets(args, profile)
    kept = Resolver()  # a fresh model, as solve's own; kept so that its optimal basis screens the reasons' probes
    s = solve(profile, quotes, regime, assets=assets, resolver=kept)
    if args.write_lp:
        _write_model(build(Instance.build(profile, quotes, regime, assets=assets)), args.write_lp)
    missing = reasons.not_bought(s, quotes, kept=kept)
    not_held = reasons.not_held(s, quotes, assets) if assets else []
    frames = {"mix": s.mix, "summary": report.summary_frame(s)}
    text = report.solution_text(s)
    if s.requirement_to_net_assets is not None:
        text += (f"\n\nR ÷ net assets  {report.pct(s.requirement_to_net_assets, 1)} (net assets "
                 f"{report.yen(profile.net_assets_jpy)}{', ' + profile.statement_date if profile.statement_date else ''})")
    if missing:
        text += "\n\nNot bought, and why:\n" + report.text_table(pd.DataFrame(missing)[["quote_id", "reason"]])
    if assets:
        text += (f"\n\nReserve assets  held {report.yen(s.reserve_assets_jpy)}, committed "
                 f"{report.yen(s.committed_jpy)}")
    if not_held:
        text += "\n\nReserve assets not held, and why:\n" + report.text_table(
            pd.DataFrame(not_held)[["asset_id", "reason"]])
        frames["assets_not_held"] = pd.DataFrame(not_held)
    text += _capacity_caps_text(s, caps)
    extra = {"assets_not_held": not_held} if assets else {}
    _emit(args, text, {**s.to_dict(), "instruments_not_bought": missing, **extra,
                       **_capacity_caps_data(s, caps, args)}, frames)
    return EXIT_SHORTFALL if s.status == "shortfall" else EXIT_OK


def _capped_by_capacity(args: argparse.Namespace, quotes):
    """`solve --capacity F`: every quote's ceiling at most its counterparty's capacity (ceilings.cap_by_capacity)."""
    if getattr(args, "capacity", None) is None:
        return quotes, None
    from .ceilings import cap_by_capacity
    from .inputs import load_capacity

    return cap_by_capacity(quotes, load_capacity(args.capacity))


def _capacity_caps_text(s, caps) -> str:
    if not caps:
        return ""
    binding = set(s.binding)
    lines = [f"  {c.describe()}" + (f" — binds (capacity:{c.quote_id})" if f"capacity:{c.quote_id}" in binding else "")
             for c in caps]
    return "\n\nCeilings cut to the counterparty's capacity:\n" + "\n".join(lines)


def _capacity_caps_data(s, caps, args) -> dict:
    if caps is None:
        return {}
    binding = set(s.binding)
    return {"capacity_file": args.capacity,
            "capacity_caps": [{**c.to_dict(), "binding": f"capacity:{c.quote_id}" in binding} for c in caps]}


def _warn_stale_statement(profile) -> None:
    """`warning: …` on stderr when the exchange's statement is more than 15 months older than this run."""
    from .statements import statement_age_warning

    warning = statement_age_warning(profile)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


def _write_model(model, path: str) -> None:
    """`solve --write-lp`: the PuLP model as an LP (or MPS) file; an unwritable path is the user's error."""
    import pulp

    try:
        model.write(path)
    except (OSError, pulp.PulpError) as exc:  # PuLP reports a missing folder as its own error
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(path, f"cannot write the model file ({reason}); expected a writable path",
                         column="--write-lp") from exc


def cmd_compare(args: argparse.Namespace) -> int:
    if args.scenario:  # (given with --profiles, --exchange or --quotes: refused by _fill_inputs)
        from .scenario import load as load_scenario

        sc = load_scenario(args.scenario)
        profile, quotes, args.quotes = sc.profile, list(sc.quotes), args.scenario
    else:
        profile = select_profile(load_profiles(args.profiles), args.exchange, args.profiles)
        quotes = load_quotes(args.quotes)
    assets = _assets(args, profile)
    from . import compare

    table = compare.compare_regimes(profile, quotes, compare.load_presets(args.regimes), assets=assets)
    data = {"exchange_id": profile.exchange_id, "exchange_name": profile.name,
            "customer_assets_jpy": profile.customer_assets_jpy, "net_assets_jpy": profile.net_assets_jpy,
            "statement_date": profile.statement_date or None, "presets": table.to_dict("records")}
    shown = table[["preset", "status", "required_coverage_jpy", "requirement_to_customer_assets",
                   "requirement_to_net_assets", "annual_cost_jpy", "all_cash_cost_jpy", "savings_jpy",
                   "cash_reserve_jpy", "insurance_credit_jpy", "shortfall_jpy",
                   *(["reserve_assets_jpy", "committed_jpy"] if assets else [])]]
    shown = shown.rename(columns={"required_coverage_jpy": "R_jpy", "requirement_to_customer_assets": "R/assets",
                                  "requirement_to_net_assets": "R/net_assets"})
    text = (f"{report.printable(profile.display_name)} ({profile.exchange_id}) under every preset in "
            f"{args.regimes}; quotes "
            f"{args.quotes}{'; assets ' + args.assets if assets else ''}\n\n" + report.text_table(shown, {"R/assets": lambda v: report.pct(v, 2),
                                                              "R/net_assets": lambda v: report.pct(v, 1)}))
    errors = table[table["status"] == "error"]
    if not errors.empty:
        text += "\n\n" + "\n".join(f"{r.preset}: {r.error}" for r in errors.itertuples())
    _emit(args, text, data, {"compare": table})
    return EXIT_OK


def cmd_price(args: argparse.Namespace) -> int:
    profile, quotes, regime = _load(args)
    if args.quote is not None and args.quote not in {q.quote_id for q in quotes}:
        raise InputError(args.quotes, f"no quote with quote_id {args.quote!r}", column="quote_id")
    offered = next((q for q in quotes if q.quote_id == args.quote), None)
    if offered is not None and not offered.offered_to(profile.exchange_id):  # its curve would be 0 at every price
        raise InputError("--quote", f"{args.quote} is offered only to {offered.exchange_id}, not to "
                         f"{profile.exchange_id}: no price makes this exchange buy it; expected a quote offered to "
                         f"{profile.exchange_id} (or --exchange {offered.exchange_id})")
    assets = _assets(args, profile)
    kept = Resolver()  # a fresh model, as solve's own; kept so that its optimal basis prices the quotes out of the mix
    s = solve(profile, quotes, regime, marginal=False, assets=assets, resolver=kept)
    table = analysis.break_evens(profile, quotes, regime, base=s, assets=assets, kept=kept)
    data = {"exchange_id": profile.exchange_id, "status": s.status, "annual_cost_jpy": s.annual_cost_jpy,
            "quotes": table.to_dict("records")}
    text = [f"Break-even premiums for {profile.exchange_id} under {report.printable(regime.name)} (rate on line; "
            "in the mix: the "
            "highest ROL at which it stays; out of it: the ROL at which it enters)", "",
            report.text_table(table[["quote_id", "rate_on_line", "bought", "share", "break_even_rol", "competitors",
                                     "reason"]],
                              {"rate_on_line": report.pct, "break_even_rol": report.pct,
                               "share": lambda v: report.pct(v, 1)})]
    frames = {"break_even": table}
    if assets:
        rows = analysis.asset_break_evens(profile, quotes, regime, assets, base=s)
        data["assets"] = rows.to_dict("records")
        text += ["", "Reserve assets (held: the amount; not held: the fee below which, or the yield above which, it "
                 "enters)", report.text_table(rows, {"fee_rate": report.pct, "yield": report.pct,
                                                    "break_even": report.pct})]
        frames["assets"] = rows
    if args.quote:
        curve = analysis.demand_curve(profile, quotes, regime, args.quote, assets=assets)
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
    table = analysis.frontier(profile, quotes, regime, args.param, values, assets=_assets(args, profile))
    data = {"exchange_id": profile.exchange_id, "param": args.param, "points": table.to_dict("records")}
    text = f"Frontier for {profile.exchange_id}: optimal cost as {args.param} sweeps " \
        f"({report.printable(regime.name)})\n\n" + \
        report.text_table(table[[args.param, "status", "required_coverage_jpy", "annual_cost_jpy", "savings_jpy",
                                 "cash_reserve_jpy", "shortfall_jpy", "insurance_credit_jpy", "derivative_credit_jpy",
                                 *[c for c in ("reserve_assets_jpy", "committed_jpy") if c in table]]])
    skipped = table[table["status"] == "skipped"]
    if not skipped.empty:
        text += "\n\nSkipped:\n" + "\n".join(skipped["note"])
    _emit(args, text, data, {"frontier": table})
    return EXIT_OK


def cmd_stress(args: argparse.Namespace) -> int:
    profile, quotes, regime = _load(args)
    incidents = load_incidents(args.incidents)
    s = solve(profile, quotes, regime, marginal=False, assets=_assets(args, profile))
    if args.pair is not None:
        return _stress_pair(args, s, incidents)
    table = analysis.stress_test(s, incidents, scale=args.scale)
    data = {"exchange_id": profile.exchange_id, "status": s.status, "cash_reserve_jpy": s.cash_reserve_jpy,
            "scale": args.scale, "incidents": table.to_dict("records")}
    text = (f"Stress test for {profile.exchange_id} ({report.printable(regime.name)}; losses scaled by "
            f"{'share of customer assets' if args.scale == 'assets' else 'reported JPY amount'})\n\n"
            + report.text_table(table[["incident_id", "date", "peril", "loss_jpy", "paid_by_cash_jpy",
                                       *(["paid_by_assets_jpy"] if "paid_by_assets_jpy" in table else []),
                                       "paid_by_layers_jpy", "uncovered_jpy"]]))
    noted = table[table["note"] != ""]
    if not noted.empty:  # a layer that paid nothing although the loss reached it, and why
        text += "\n\nNotes:\n" + "\n".join(f"{i}: {n}" for i, n in zip(noted["incident_id"], noted["note"]))
    _emit(args, text, data, {"stress": table})
    return EXIT_SHORTFALL if s.status == "shortfall" else EXIT_OK


def _stress_pair(args: argparse.Namespace, s, incidents) -> int:
    by_id = {inc.incident_id: inc for inc in incidents}
    ids = [part.strip() for part in args.pair.split(",")]
    if len(ids) != 2 or any(i not in by_id for i in ids):
        raise InputError("--pair", f"{args.pair!r}: expected two incident ids of {args.incidents} separated by a "
                         f"comma (e.g. {','.join(list(by_id)[:2])})")
    table = analysis.stress_pair(s, by_id[ids[0]], by_id[ids[1]], scale=args.scale)
    data = {"exchange_id": s.exchange_id, "status": s.status, "cash_reserve_jpy": s.cash_reserve_jpy,
            "scale": args.scale, "pair": table.to_dict("records")}
    text = (f"Two hacks in one year for {s.exchange_id} ({s.regime.name}): {ids[0]}, then {ids[1]}; the cash and the "
            "layers' aggregates are not restored in between\n\n"
            + report.text_table(table[["event", "incident_id", "peril", "loss_jpy", "paid_by_cash_jpy",
                                       "paid_by_layers_jpy", "uncovered_jpy", "cash_left_jpy"]]))
    _emit(args, text, data, {"stress": table})
    return EXIT_SHORTFALL if s.status == "shortfall" else EXIT_OK


def _progress_bar():
    """A rich progress bar on stderr (profiles done, rate, ETA), or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, \
        TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn("profiles"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   transient=False, console=Console(stderr=True),
                   auto_refresh=False)  # redrawn as chunks finish: no refresh thread, so workers can be forked
    bar.add_task("solve", total=None, rate="")
    return bar
def _loss_model_path(value: str) -> str:
    """A bare preset name (`japan-stressed`) means data/loss-models/<name>.toml."""
    path = Path(value)
    candidate = data_dir() / "loss-models" / f"{value}.toml"
    return str(candidate) if not path.exists() and path.suffix == "" and candidate.exists() else value


def _check_risk_options(args: argparse.Namespace) -> None:
    if not 0 < args.level < 1:
        raise InputError("--level", f"expected a level between 0 and 1 (0.99 = the worst 1%), got {args.level:g}")
    if not 1 <= args.scenarios <= MAX_SCENARIOS:
        raise InputError("--scenarios", f"expected a number of scenario-years from 1 to {MAX_SCENARIOS:,} (the "
                         f"simulation holds every year in memory), got {args.scenarios}")
    if args.scenarios * (1 - args.level) < 1:  # the worst (1 − α) of the years must hold at least one year
        raise InputError("--scenarios", f"{args.scenarios:,} scenario-years hold no year in the worst "
                         f"{1 - args.level:.2%} that VaR and TVaR at level {args.level:g} describe; expected at least "
                         f"{math.ceil(1 / (1 - args.level) - 1e-9):,}")
    if args.seed < 0:
        raise InputError("--seed", f"expected a whole number ≥ 0, got {args.seed}")


def cmd_risk(args: argparse.Namespace) -> int:
    from .loss_model import load_loss_model
    from .risk import book_for, solution_metrics, solve_with_risk
    from .simulation import simulate

    _check_risk_options(args)
    if args.tvar_limit is not None and (args.mix != "risk" or not 0 <= args.tvar_limit < math.inf):
        raise InputError("--tvar-limit", "expected a finite limit ≥ 0 in JPY, used with --mix risk")
    loss_model = load_loss_model(_loss_model_path(args.loss_model))
    profile, quotes, regime = _load(args)
    assets = _assets(args, profile)
    scenarios = simulate(profile, loss_model, args.scenarios, args.seed)
    if args.mix == "risk":
        result = solve_with_risk(profile, quotes, regime, scenarios, tvar_limit=args.tvar_limit, level=args.level,
                                 assets=assets)
        s, m = result.solution, result.metrics
    else:
        s = solve(profile, quotes, regime, marginal=False, assets=assets)
        m = solution_metrics(s, book_for(s, scenarios), level=args.level)
    data = {**s.to_dict(), "mix": args.mix, "tvar_limit_jpy": args.tvar_limit, "risk": m.to_dict()}
    frames = {"risk": _risk_frame(m)}
    if m.expected_unfunded_jpy is not None:
        import pandas as pd

        frames["reserve_assets"] = pd.DataFrame([a.__dict__ for a in m.assets])
    _emit(args, report_risk_text(s, m, args.mix), data, frames)
    return EXIT_SHORTFALL if s.status == "shortfall" else EXIT_OK


def _risk_frame(m):
    import pandas as pd

    return pd.DataFrame([{"key": k, "value": v} for k, v in m.to_dict().items() if k not in ("instruments", "assets")])


def report_risk_text(s, m, mix: str) -> str:
    """The risk metrics for people: the scalar figures, then one line per instrument."""
    import pandas as pd

    pct = f"{m.level:.3g}"
    lines = [f"Risk view of the {mix} mix for {s.exchange_id} ({m.loss_model}; {m.scenarios:,} scenario-years, "
             f"seed {m.seed})", "",
             f"  annual cost                 {report.yen(m.annual_cost_jpy)}",
             f"  cash reserve                {report.yen(m.cash_reserve_jpy)}",
             f"  expected loss               {report.yen(m.expected_loss_jpy)} ± {report.yen(m.expected_loss_se_jpy)}",
             f"  expected recovery           {report.yen(m.expected_recovery_jpy)} ± "
             f"{report.yen(m.expected_recovery_se_jpy)}",
             f"  expected retained loss      {report.yen(m.expected_retained_jpy)} ± "
             f"{report.yen(m.expected_retained_se_jpy)}",
             f"  total cost of risk          {report.yen(m.total_cost_of_risk_jpy)} ± "
             f"{report.yen(m.total_cost_of_risk_se_jpy)}",
             f"  {'VaR ' + pct + ' (retained)':<28}{report.yen(m.var_jpy)} ± {report.yen(m.var_se_jpy)}",
             f"  {'TVaR ' + pct + ' (retained)':<28}{report.yen(m.tvar_jpy)} ± {report.yen(m.tvar_se_jpy)}",
             f"  P(year exhausts reserve)    {report.pct(m.prob_reserve_exhausted, 3)} ± "
             f"{report.pct(m.prob_reserve_exhausted_se, 3)}"]
    if m.expected_unfunded_jpy is not None:  # reserve assets: the reserve is cash plus what they pay that year
        lines[-1] += "  (cash, and the reserve assets that pay that year)"
        lines.append(f"  {'expected unfunded':<28}{report.yen(m.expected_unfunded_jpy)} ± "
                     f"{report.yen(m.expected_unfunded_se_jpy)}  (retained beyond cash and paying assets)")
    if m.instruments:
        frame = pd.DataFrame([i.__dict__ for i in m.instruments])
        lines += ["", report.text_table(frame[["quote_id", "share", "annual_premium_jpy", "expected_recovery_jpy",
                                                "loss_ratio"]],
                                         {"share": lambda v: report.pct(v, 1), "loss_ratio": lambda v: report.pct(v, 1)})]
    if m.assets:
        frame = pd.DataFrame([a.__dict__ for a in m.assets])
        lines += ["", "Reserve assets (paid: after cash, held before promised; nothing in a year its bank or parent "
                  "defaults):", report.text_table(
                      frame[["asset_id", "kind", "counterparty", "amount_jpy", "default_probability",
                             "expected_paid_jpy", "prob_called_and_failed"]],
                      {"default_probability": lambda v: report.pct(v, 3),
                       "prob_called_and_failed": lambda v: report.pct(v, 3)})]
    return "\n".join(lines)


def cmd_batch(args: argparse.Namespace) -> int:
    """`batch PROFILES --out F`: run, print the summary table; exit 2 on a bad input file or an unwritable/busy
    output. A batch with shortfall or error rows still exits 0: they are rows of the result."""
    from . import batch

    risk = None
    given = _fill_risk_defaults(argparse.Namespace(**vars(args)))
    if given and not args.risk:
        raise InputError(given[0], "expected --risk: the risk options only apply to the risk columns")
    if args.risk:
        from .loss_model import load_loss_model
        from .risk import RiskColumns

        _fill_risk_defaults(args)
        _check_risk_options(args)
        risk = RiskColumns(load_loss_model(_loss_model_path(args.loss_model)), args.scenarios, args.seed, args.level)
    out = Path(args.out)
    started = time.perf_counter()
    bar = _progress_bar()

    def on_progress(done: int, total: int | None) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        bar.update(bar.task_ids[0], total=total, completed=done, rate=f"{rate:,.0f}/s")
        bar.refresh()

    if bar is not None:
        bar.start()
    if args.all_presets:
        return _batch_all_presets(args, risk, out, bar, on_progress)
    try:
        chunk_size = batch.DEFAULT_CHUNK if args.chunk_size is None else args.chunk_size
        result = batch.run(args.profiles, args.quotes, _regime_path(args.regime), out, workers=args.workers,
                           scheduler=args.scheduler, chunk_size=chunk_size,
                           on_progress=on_progress if bar is not None else None, risk=risk,
                           capacity=None if args.capacity.lower() == "none" else args.capacity, assets=args.assets)
    finally:
        if bar is not None:
            bar.stop()
    _say(report.batch_summary_text(result.summary))
    if risk is not None:
        d = risk.describe()
        _say(f"\nRisk columns: {d['loss_model']}, {d['scenarios']:,} scenario-years per exchange, seed {d['seed']}, "
              f"VaR/TVaR level {d['level']:g}")
    _say(f"\nResults: {out}\nSummary: {batch.summary_path(out)}")
    _write_summary_xlsx(args, [result.summary], out)
    return EXIT_OK


def _batch_all_presets(args: argparse.Namespace, risk, out: Path, bar, on_progress) -> int:
    """`batch PROFILES --all-presets`: batch.run under every bundled preset, the default first and then in the
    README's order; one table of headline figures, one row per preset."""
    from . import batch, compare

    folder = data_dir() / "regimes"
    loaded = dict(compare.load_presets(folder))
    names = compare.preset_order(loaded, first=Path(DEFAULT_REGIME).stem)
    quotes = load_quotes(args.quotes)
    try:
        result = batch.run_presets(
            args.profiles, quotes, [(n, loaded[n]) for n in names], out, workers=args.workers,
            scheduler=args.scheduler, chunk_size=batch.DEFAULT_CHUNK if args.chunk_size is None else args.chunk_size,
            on_progress=on_progress if bar is not None else None, risk=risk,
            capacity=None if args.capacity.lower() == "none" else args.capacity, assets=args.assets)
    finally:
        if bar is not None:
            bar.stop()
    _say(f"{result.sections[0]['profiles'] if result.sections else 0:,} profiles of {args.profiles} under "
         f"{len(names)} presets ({folder}); quotes {args.quotes}{'; assets ' + args.assets if args.assets else ''}\n")
    _say(report.presets_text(result.sections, quotes))
    for s in result.sections:
        stale = s.get("stale_statements") or {}
        if stale.get("count"):
            _say(f"\nOld statements: {stale['count']:,} more than {stale['months']} months before this run (the same "
                 "in every preset; the summary lists them)")
            break
    _say(f"\nResults: {out} (a preset column, then the batch's columns)\nSummary: {batch.summary_path(out)} "
         "(a section per preset)")
    _write_summary_xlsx(args, result.sections, out, quotes)
    return EXIT_OK


def _write_summary_xlsx(args: argparse.Namespace, sections, out: Path, quotes=None) -> None:
    """`--summary-xlsx F`: the summary (a row per preset) and the results, read back from --out, as a workbook."""
    if not args.summary_xlsx:
        return
    from .batch import _INT, _TEXT

    rows = sum(int(s["profiles"]) for s in sections)
    results = None
    if rows < report.EXCEL_ROWS:
        if out.suffix.lower() == ".parquet":
            results = pd.read_parquet(out)
        else:
            text = {c: object for c in (*_TEXT, "preset")}
            results = pd.read_csv(out, dtype=text, keep_default_na=False, na_values={
                c: [""] for c in pd.read_csv(out, nrows=0).columns if c not in _TEXT and c != "preset"})
            for c in results.columns:
                if c in _INT:
                    results[c] = results[c].astype("int64")
    quotes = quotes if quotes is not None else load_quotes(args.quotes)
    write_atomic(Path(args.summary_xlsx), report.batch_workbook(sections, results, quotes, rows=rows))
    _say(f"Workbook: {args.summary_xlsx}")


def cmd_market(args: argparse.Namespace) -> int:
    """`market PROFILES --capacity F --out F`: the joint problem; warnings (unknown counterparties) on stderr."""
    from . import market

    result = market.run(args.profiles, args.quotes, _regime_path(args.regime), args.capacity, args.out,
                        method=args.method, workers=args.workers, scheduler=args.scheduler,
                        chunk_size=market.DEFAULT_CHUNK if args.chunk_size is None else args.chunk_size,
                        assets=args.assets)
    for warning in result.summary["warnings"]:
        _complain(f"warning: {warning}")
    if args.format == "json":
        _say(report.to_json(result.summary))
    else:
        _say(report.market_summary_text(result.summary))
        _say(f"\nResults: {result.out}\nSummary: {market.summary_path(result.out)}")
    return EXIT_OK


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """`sensitivity [PROFILES]`: each assumption at its low and high value, all else at base."""
    from . import sensitivity
    from .inputs import load_capacity

    _refuse_assets(args, "sensitivity", "its runs do not take reserve assets yet (each assumption is re-solved "
                   "without them)")
    from .loss_model import load_loss_model

    _check_risk_options(args)
    assumptions = sensitivity.load_assumptions(args.assumptions)
    profiles = load_profiles(args.profiles)
    capacity = None if args.capacity.lower() == "none" else load_capacity(args.capacity)
    loss_model = load_loss_model(_loss_model_path(args.loss_model))
    inputs = sensitivity.Inputs(profiles, load_quotes(args.quotes), load_regime(_regime_path(args.regime)), capacity,
                                Path(args.quotes).resolve().parent, loss_model, args.scenarios, args.seed, args.level)
    from .statements import summary_warning

    warning = summary_warning(profiles)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    result = sensitivity.run(inputs, assumptions, source=args.assumptions)
    _emit(args, sensitivity.table_text(result), result.to_dict(), {"sensitivity": result.frame()})
    return EXIT_OK


COMMANDS = {"sensitivity": cmd_sensitivity, "market": cmd_market, "compare": cmd_compare, "solve": cmd_solve, "price": cmd_price, "frontier": cmd_frontier,
            "stress": cmd_stress, "batch": cmd_batch, "risk": cmd_risk}


# ---------------------------------------------------------------------------------------------- plan

def _add_plan_parser(sub) -> None:
    """`plan [input options] [--plan F] [--format table|json] [--out F]`."""
    p = sub.add_parser("plan", help="the funding plan year by year: phase-in, growth, provisions, tax, multi-year "
                                    "policies (one LP over all years)")
    _add_inputs(p)
    _add_scenario(p)
    _add_plan_option(p)
    _add_output(p)
    p.add_argument("--no-reasons", action="store_true",
                   help="leave out why each quote is not bought in each year (faster)")
    p.add_argument("--analyses", action="store_true",
                   help="also: the cost of a faster phase-in, the break-even rate of each multi-year policy against "
                        "one-year renewals, and a frontier over max_provision_jpy")
    _add_plan_option(sub.choices["batch"])  # batch --plan F: one row per exchange and year


def _batch_or_plan(args: argparse.Namespace) -> int:
    """`batch`, or with --plan the plan for every profile (`plan_batch`)."""
    if getattr(args, "plan", None) is None:
        return cmd_batch(args)
    from . import plan_batch
    from .inputs import load_capacity

    for option, value in (("--workers", args.workers), ("--scheduler", args.scheduler),
                          ("--chunk-size", args.chunk_size), ("--risk", args.risk or None),
                          ("--all-presets", args.all_presets or None), ("--summary-xlsx", args.summary_xlsx)):
        if value is not None:
            raise InputError(option, f"expected no {option} with --plan: plans are solved one exchange after another "
                             "in this process")
    given = _fill_risk_defaults(argparse.Namespace(**vars(args)))
    if given:
        raise InputError(given[0], "expected no risk options with --plan")
    plan = load_plan_option(args.plan)
    quotes, regime = load_quotes(args.quotes), load_regime(_regime_path(args.regime))
    assets = tuple(load_assets(args.assets)) if args.assets else ()
    capacity = None if args.capacity.lower() == "none" else load_capacity(args.capacity)
    summary = plan_batch.run(args.profiles, quotes, regime, plan, args.out, capacity=capacity,
                             quotes_source=args.quotes, assets=assets, assets_source=args.assets or "assets")
    print(plan_batch.summary_text(summary))
    print(f"\nResults: {args.out}\nSummary: {summary_path(Path(args.out))}")
    return EXIT_OK


def _add_plan_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", default=None, metavar="F",
                   help="plan TOML (default: the plan of --scenario if it holds one, else one year, the rule in "
                        "full, as solve); a bare preset name such as fy2027-five-year-phase-in means "
                        "data/plans/<name>.toml")


def _plan_path(value: str) -> str:
    """A bare preset name (`fy2027-hard-market`) means data/plans/<name>.toml."""
    path = Path(value)
    candidate = data_dir() / "plans" / f"{value}.toml"
    return str(candidate) if not path.exists() and path.suffix == "" and candidate.exists() else value


def load_plan_option(value: str | None):
    """--plan → Plan (None: the one-year plan, which gives solve's answer)."""
    from .plan_file import Plan, load_plan

    return Plan() if value is None else load_plan(_plan_path(value))


def _refuse_assets(args: argparse.Namespace, command: str, why: str) -> None:
    """A command that does not model reserve assets refuses --assets (or a scenario's assets) in one line, exit 2,
    rather than answer as if they were not offered."""
    sc = getattr(args, "_scenario", None)
    if getattr(args, "assets", None) or (sc is not None and tuple(sc.assets)):
        raise InputError("--assets" if getattr(args, "assets", None) else "--scenario",
                         f"{command} does not count reserve assets yet: {why}; expected no --assets (and no assets "
                         "in the scenario)")


def cmd_plan(args: argparse.Namespace) -> int:
    from .plan import solve_plan, with_reasons

    plan = load_plan_option(args.plan)
    profile, quotes, regime = _load(args)
    assets = _assets(args, profile)
    if args.plan is None and args.scenario:  # a scenario saved with a plan (the app's Plan page) plans with it
        from .scenario import load as load_scenario

        plan = load_scenario(args.scenario).plan or plan
    result = solve_plan(profile, quotes, regime, plan, quotes_source=args.quotes, assets=assets)
    if not args.no_reasons:
        result = with_reasons(result)
    data, found = result.to_dict(), {}
    if args.analyses:
        from .plan import phase_in_costs, provision_frontier, term_break_even

        found = {"phase_in_costs": phase_in_costs(profile, quotes, regime, plan, base=result, assets=assets),
                 "term_break_even": [term_break_even(profile, quotes, regime, plan, q.quote_id, assets=assets)
                                     for q in quotes if q.term_years > 1 and q.offered_to(profile.exchange_id)],
                 "provision_frontier": provision_frontier(profile, quotes, regime, plan, assets=assets)}
        data["analyses"] = found

    def text() -> str:
        out = report.plan_text(result, result.not_bought)
        return out + "\n\n" + report.plan_analyses_text(found) if found else out

    def sheets() -> dict:
        return {**report.plan_sheets(result), **{name: pd.DataFrame(rows) for name, rows in found.items()}}

    _emit(args, text, data, sheets)
    return EXIT_SHORTFALL if result.status == "shortfall" else EXIT_OK


COMMANDS["plan"] = cmd_plan
COMMANDS["batch"] = _batch_or_plan


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C: pools stopped, temporary files removed,
    locks released, checkpoints kept."""


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second SIGTERM must not interrupt the clean-up
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can signals be handled
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    # Ctrl-C as KeyboardInterrupt from here on (before, optimizer._startup's one line); given back at the end
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler) if in_main_thread else None
    try:
        _fill_inputs(args)
        _check_no_overwrite(args)
        _check_outputs(args)
        _check_processes(args)
        quiet_highs()  # HiGHS's banner, before any code path makes its first HiGHS here: stdout stays the result's
        return COMMANDS[args.command](args)
    except InputError as exc:  # OutputError too: `error: PATH: reason`
        _complain(f"error: {exc}")
        return EXIT_BAD_INPUT
    except SolveError as exc:
        _complain(f"solver error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted" + _resume_hint(args), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("terminated (SIGTERM)" + _resume_hint(args), file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:  # `… | head`: the reader left; say nothing more (not even at exit's final flush)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return 128 + signal.SIGPIPE
    except OSError as exc:  # reading or writing a file the user named: say which and why, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        _complain(f"error: {where}{exc.strerror or exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("RESERVE_DEBUG"):
            raise
        _complain(f"internal error: {type(exc).__name__}: {exc} (set RESERVE_DEBUG=1 for the traceback)")
        return EXIT_FAILED
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
            if previous_int is not None:
                signal.signal(signal.SIGINT, previous_int)


def _resume_hint(args: argparse.Namespace) -> str:
    return "; finished chunks are kept: run the same command again to resume" if args.command == "batch" else ""


if __name__ == "__main__":
    raise SystemExit(main())
