"""Batch speed, end to end through the command line, against the script a user would write — measured in the
same run, on the same files.

Baselines, each run as its own process:
  - `benchmarks/user_script.py` — a fresh PuLP model + HiGHS per profile, cost only — on the first `--sample`
    profiles; its time per profile (start-up included) is extrapolated to the whole file;
  - `benchmarks/highspy_loop.py` — the strong user's raw-highspy loop: one HiGHS model for the sheet, profiles
    sorted, bounds and costs changed per profile and re-solved warm, cost only — on the whole file (on a sheet with
    yes/no quotes, where every profile is a fresh MIP search and neighbours do not help, on the first
    `--loop-sample` profiles, extrapolated).
Ours: `python -m optimizer batch PROFILES --quotes Q --regime R --out OUT.parquet --workers W`, the whole
file, start-up, reading, solving (with the marginal cost and the independent check of every mix), writing and
summary included. Both baselines' statuses must be identical to ours and their costs equal within 1e-9 relative.

Cases (each can be skipped or resized):
  req20    20 requirement-basis LP quotes                   --req-sizes 20000,100000
  bundled  the bundled quote sheet (yen-basis layers, a minimum line, a flat fee)        --bundled 20000
  milp50   50 quotes, 4 of them yes/no (minimum lines, flat fees)                       --milp 5000
  repeat   data/quotes-japan.csv under the preset cold-wallet-repeat (a second loss of up to R in the same year:
           the two-event rows, reinstatements)                                          --repeat 20000
  assets   data/quotes-japan.csv and --assets data/assets-japan.csv under cold-wallet-assets (JGBs, a deposit, a
           bank guarantee for at most half; haircuts, caps by kind, days to pay)        --assets 20000
The repeat and assets cases use `benchmarks/user_script_terms.py` as the user script: written from docs/design.md
alone (it does not import the package), with the two-event rows and the asset columns.
Each with 1 worker; `--two` also runs 2 workers and reports 2 workers over 1, whole command against whole command.

Each case alternates the user script and the batch for `--rounds` rounds and reports the median ratio (the load
of a shared machine moves between runs; a ratio within one round is a fair one).

Run:  .venv/bin/python benchmarks/bench_batch.py [--req-sizes 20000,100000] [--bundled 20000] [--milp 5000]
                                                 [--repeat 20000] [--assets 20000]
                                                 [--sample 1000] [--loop-sample 1000] [--two] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_solve import make_quotes  # noqa: E402

from optimizer.domain import PERILS, Quote  # noqa: E402

REGIME_TOML = """name = "bench"
[requirement]
volume_rate = 0.002
perils = ["external_hack", "insider_theft", "vendor_compromise"]
[eligibility]
max_derivative_share = 0.25
max_counterparty_share = 0.5
"""


def make_profiles(path: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    pd.DataFrame({
        "exchange_id": [f"P{i:07d}" for i in range(n)],
        "customer_assets_jpy": rng.uniform(1e9, 1.5e12, n).round(0),
        "hot_wallet_share": rng.uniform(0.01, 0.05, n).round(4),
        "annual_trading_volume_jpy": rng.uniform(1e11, 2.5e13, n).round(0),
        "cost_of_capital": rng.uniform(0.05, 0.15, n).round(4),
        "reserve_yield": rng.uniform(0.0, 0.01, n).round(4),
        "liquid_capital_jpy": np.where(rng.random(n) < 0.05, 1.5e9, np.nan),
        "premium_multiplier": rng.uniform(0.8, 1.5, n).round(3),
    }).to_parquet(path, index=False)


def milp_quotes(n: int, binaries: int, seed: int) -> list[Quote]:
    """n quotes, `binaries` of them yes/no (alternately a minimum line and a flat fee), yen- and R-basis."""
    rng = random.Random(seed)
    out = make_quotes(n, seed)
    for k in range(binaries):
        q = out[k * (n // binaries)]
        fields = dict(q.__dict__)
        if k % 2:
            fields.update(fixed_fee_jpy=float(rng.choice([5e6, 2e7, 5e7])))
        else:
            fields.update(min_share=0.25, max_share=max(q.max_share, 0.5))
        out[k * (n // binaries)] = Quote(**fields)
    for k in range(1, n, 5):  # a fifth of the layers in yen: their rows move with R
        fields = dict(out[k].__dict__)
        fields.update(layer_basis="jpy", attachment=float(rng.choice([0.0, 1e9, 5e9])),
                      limit=float(rng.choice([2e9, 5e9, 1e10])))
        out[k] = Quote(**fields)
    return out


def write_quotes(path: Path, quotes: list[Quote]) -> None:
    cols = ["quote_id", "kind", "counterparty", "rating", "attachment", "limit", "layer_basis", "rate_on_line",
            "max_share", "min_share", "fixed_fee_jpy", "perils", "collateralized", "exchange_id"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for q in quotes:
            perils = "all" if set(q.perils) == set(PERILS) else ";".join(sorted(q.perils))
            w.writerow([q.quote_id, q.kind, q.counterparty, q.rating, repr(q.attachment), repr(q.limit),
                        q.layer_basis, repr(q.rate_on_line), q.max_share, q.min_share, q.fixed_fee_jpy, perils,
                        str(q.collateralized).lower(), ""])


def run(cmd: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def agreement(got: pd.DataFrame, want: pd.DataFrame) -> tuple[bool, float]:
    """(statuses identical, largest relative gap of the costs) of a baseline's rows against ours, row by row."""
    got = got.head(len(want))
    same = bool((got["exchange_id"].to_numpy() == want["exchange_id"].astype(str).to_numpy()).all()
                and (got["status"].to_numpy() == want["status"].to_numpy()).all())
    return same, float(np.max(np.abs(want["annual_cost_jpy"].to_numpy() / got["annual_cost_jpy"].to_numpy() - 1)))


def case(name: str, tmp: Path, profiles: Path, quotes: Path, regime: Path, n: int, sample: int,
         two: bool, rounds: int, loop_n: int | None = None, assets: Path | None = None,
         user: str = "user_script.py") -> None:
    """Alternate the user script, the raw-highspy loop and the batch `rounds` times (a shared machine's load moves
    between runs, so each ratio is taken within one round) and report every round's ratios and their medians.
    `loop_n`: profiles the loop solves (the whole file when None); `assets`: an assets CSV given to all three;
    `user`: the user's script (user_script.py, or user_script_terms.py written without the package)."""
    py = sys.executable
    base_out, ours_out = tmp / f"{name}-user.csv", tmp / f"{name}-ours.parquet"
    loop_out, loop_n = tmp / f"{name}-loop.csv", min(loop_n or n, n)
    extra = ["--assets", str(assets)] if assets else []
    batch = [py, "-m", "optimizer", "batch", str(profiles), "--quotes", str(quotes), "--regime", str(regime)] + extra
    loop = [py, str(HERE / "highspy_loop.py"), str(profiles), str(quotes), str(regime), str(loop_out)] + \
        (["--limit", str(loop_n)] if loop_n < n else []) + extra
    per_base, per_loop, ours, ours2 = [], [], [], []
    for _ in range(rounds):
        per_base.append(run([py, str(HERE / user), str(profiles), str(quotes), str(regime),
                             str(base_out), "--limit", str(sample)] + extra) / sample)
        per_loop.append(run(loop) / loop_n)
        ours.append(run(batch + ["--out", str(ours_out), "--workers", "1"]))
        if two:
            ours2.append(run(batch + ["--out", str(tmp / f"{name}-two.parquet"), "--workers", "2"]))
    got = pd.read_parquet(ours_out)
    same_status, gap = agreement(got, pd.read_csv(base_out))
    loop_same, loop_gap = agreement(got, pd.read_csv(loop_out))
    summary = json.loads(Path(str(ours_out).replace(".parquet", ".summary.json")).read_text())
    ratios = [b * n / o for b, o in zip(per_base, ours)]
    loop_ratios = [b * n / o for b, o in zip(per_loop, ours)]
    print(f"\n[{name}] {n:,} profiles, {rounds} rounds")
    print(f"  user script   {np.median(per_base) * 1e3:8.3f} ms/profile  (fresh PuLP model + HiGHS, cost only; first "
          f"{sample:,} profiles, start-up included, extrapolated to {n:,}; {user}; median)")
    print(f"  highspy loop  {np.median(per_loop) * 1e3:8.3f} ms/profile  (one kept HiGHS model, sorted, warm; cost "
          f"only; {'all' if loop_n == n else f'first {loop_n:,}'} profiles; median)")
    print(f"  batch, 1 wkr  {np.median(ours) / n * 1e3:8.3f} ms/profile  (median {np.median(ours):.1f} s)  → "
          f"{np.median(ratios):6.1f}× the user script (rounds: {', '.join(f'{r:.1f}×' for r in ratios)}), "
          f"{np.median(loop_ratios):5.2f}× the highspy loop (rounds: {', '.join(f'{r:.2f}×' for r in loop_ratios)})")
    print(f"  user script: statuses identical {same_status}; costs max relative gap {gap:.1e}")
    print(f"  highspy loop: statuses identical {loop_same}; costs max relative gap {loop_gap:.1e}")
    print(f"  statuses: {summary.get('status_counts')}")
    if summary.get("solve_paths"):
        print(f"  solve paths: {summary['solve_paths']}")
    if two:
        identical = pd.read_parquet(tmp / f"{name}-two.parquet").equals(pd.read_parquet(ours_out))
        scaling = [o / t for o, t in zip(ours, ours2)]
        print(f"  batch, 2 wkrs {np.median(ours2) / n * 1e3:8.3f} ms/profile  → {np.median(scaling):4.2f}× one worker "
              f"(rounds: {', '.join(f'{r:.2f}×' for r in scaling)}); identical results {identical}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--req-sizes", default="20000,100000", help="comma-separated; empty to skip")
    ap.add_argument("--bundled", type=int, default=20000, help="0 to skip")
    ap.add_argument("--milp", type=int, default=5000, help="0 to skip")
    ap.add_argument("--repeat", type=int, default=20000, help="profiles under cold-wallet-repeat; 0 to skip")
    ap.add_argument("--assets", type=int, default=20000,
                    help="profiles with data/assets-japan.csv under cold-wallet-assets; 0 to skip")
    ap.add_argument("--sample", type=int, default=1000, help="profiles the user script solves")
    ap.add_argument("--loop-sample", type=int, default=1000,
                    help="profiles the highspy loop solves on sheets with yes/no quotes (the whole file otherwise)")
    ap.add_argument("--two", action="store_true", help="also run 2 workers on every case")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per case (median reported)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        regime = tmp / "bench.toml"
        regime.write_text(REGIME_TOML)
        req = tmp / "req20.csv"
        write_quotes(req, make_quotes(20, seed=20))
        for n in [int(x) for x in args.req_sizes.split(",") if x]:
            profiles = tmp / f"profiles-{n}.parquet"
            make_profiles(profiles, n)
            case(f"req20-{n}", tmp, profiles, req, regime, n, min(args.sample, n), args.two, args.rounds)
        if args.bundled:
            profiles = tmp / f"profiles-{args.bundled}.parquet"
            make_profiles(profiles, args.bundled)
            case("bundled sheet", tmp, profiles, ROOT / "data" / "quotes.csv", ROOT / "data" / "regimes" /
                 "securities-style.toml", args.bundled, min(args.sample, args.bundled), args.two, args.rounds,
                 args.loop_sample)
        if args.milp:
            profiles = tmp / f"profiles-{args.milp}.parquet"
            make_profiles(profiles, args.milp)
            milp = tmp / "milp50.csv"
            write_quotes(milp, milp_quotes(50, 4, seed=50))
            case("milp50", tmp, profiles, milp, regime, args.milp, min(args.sample, args.milp), args.two, args.rounds,
                 args.loop_sample)
        japan, regimes = ROOT / "data" / "quotes-japan.csv", ROOT / "data" / "regimes"
        for label, n, preset, assets in (("repeat", args.repeat, "cold-wallet-repeat", None),
                                         ("assets", args.assets, "cold-wallet-assets",
                                          ROOT / "data" / "assets-japan.csv")):
            if n:
                profiles = tmp / f"profiles-{n}.parquet"
                make_profiles(profiles, n)
                case(f"{label}-{preset}", tmp, profiles, japan,
                     regimes / f"{preset}.toml", n, min(args.sample, n), args.two, args.rounds,
                     assets=assets, user="user_script_terms.py")


if __name__ == "__main__":
    main()
