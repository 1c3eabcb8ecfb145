"""Batch speed: profiles × 20 quotes, against a naive baseline measured in the same run.

Baseline: a fresh PuLP model per profile solved with HiGHS (`optimizer.model.solve`, with its marginal-cost
re-solve), timed on a sample and reported per profile. Ours: `optimizer.batch.run` end to end (read the profiles
file, warm-started HiGHS per chunk, independent check of every mix, write Parquet, summary) with 1 and 2 workers.
Costs are compared profile by profile on the sample (relative 1e-7).

Run:  .venv/bin/python benchmarks/bench_batch.py [--profiles 100000] [--sample 500] [--skip-two]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_solve import REGIME, make_quotes  # noqa: E402

from optimizer import batch  # noqa: E402
from optimizer.inputs import parse_profile  # noqa: E402
from optimizer.model import quiet_highs as _swallow_highs_banner, solve  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=500)
    ap.add_argument("--skip-two", action="store_true", help="skip the two-worker run")
    args = ap.parse_args()
    _swallow_highs_banner()
    quotes = make_quotes(20, seed=20)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        profiles = tmp / "profiles.parquet"
        make_profiles(profiles, args.profiles)

        sample = pd.read_parquet(profiles).head(args.sample).to_dict("records")
        started = time.perf_counter()
        naive = [solve(parse_profile(r), quotes, REGIME) for r in sample]
        naive_per = (time.perf_counter() - started) / len(sample)

        started = time.perf_counter()
        batch.run(profiles, quotes, REGIME, tmp / "one.parquet", workers=1)
        one = time.perf_counter() - started
        ours = pd.read_parquet(tmp / "one.parquet")
        head = ours.head(args.sample)
        gap = max(abs(a - s.annual_cost_jpy) / s.annual_cost_jpy for a, s in zip(head["annual_cost_jpy"], naive))
        same_status = all(a == s.status for a, s in zip(head["status"], naive))

        print(f"{args.profiles:,} profiles × {len(quotes)} quotes (requirement-basis layers, 3 perils, caps)")
        print(f"naive baseline   {naive_per * 1e3:8.3f} ms/profile  (fresh PuLP model + HiGHS, sample of {len(sample)})")
        print(f"batch, 1 worker  {one / args.profiles * 1e3:8.3f} ms/profile  → {naive_per * args.profiles / one:5.1f}× "
              f"faster than the baseline (extrapolated to {args.profiles:,}: {naive_per * args.profiles:,.0f} s vs {one:,.0f} s)")
        print(f"costs vs baseline: max relative gap {gap:.1e}; statuses identical: {same_status}")
        print(f"statuses: {ours['status'].value_counts().to_dict()}")
        if not args.skip_two:
            started = time.perf_counter()
            batch.run(profiles, quotes, REGIME, tmp / "two.parquet", workers=2)
            two = time.perf_counter() - started
            identical = pd.read_parquet(tmp / "two.parquet").equals(ours)
            print(f"batch, 2 workers {two / args.profiles * 1e3:8.3f} ms/profile  → {one / two:4.2f}× one worker; "
                  f"identical results: {identical}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: driver {own:,.0f} MiB, largest worker {kids:,.0f} MiB")


if __name__ == "__main__":
    main()
