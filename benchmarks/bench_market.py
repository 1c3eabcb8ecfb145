"""Market speed: the joint LP and the decomposition, against a batch run of the same profiles in the same run.

Profiles: random exchanges (sizes spread over two orders of magnitude, costs of capital 5–15%) × 20 requirement-
basis quotes from 8 counterparties (bench_solve.make_quotes). Capacity per counterparty: half of what the
exchanges would buy from it without limits (the batch run says how much), so several counterparties are scarce.
Reported: seconds of the batch run (the baseline: each exchange alone, no capacity), of the joint LP
(`--joint` sizes) and of the decomposition with 1 and 2 workers (`--decompose` sizes), each as a ratio to the
batch of the same profiles, and the decomposition's total cost against the joint LP's where both run.
The strong user's raw highspy (`highspy_loop.py`) beside them: its loop over the same exchanges alone (one kept
model, sorted, warm re-solves), and, up to `--raw-max` exchanges, its joint LP written straight into one
`highspy.Highs` (block diagonal plus the capacity rows, each capacity held at (1 − market.CAPACITY_MARGIN) as
ours is), with its total cost against ours.

Run:  .venv/bin/python benchmarks/bench_market.py [--joint 26,1000,10000] [--decompose 100000] [--skip-two]
                                                  [--raw-max 10000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_solve import REGIME, make_quotes  # noqa: E402

import highspy_loop  # noqa: E402
from optimizer import batch, market  # noqa: E402
from optimizer.domain import ExchangeProfile  # noqa: E402
from optimizer.regime import requirement  # noqa: E402


def profiles(n: int, seed: int = 11) -> list[ExchangeProfile]:
    rng = np.random.default_rng(seed)
    assets = 10 ** rng.uniform(9, 12, n)
    return [ExchangeProfile(f"B{i:06d}", float(a), float(rng.uniform(0.005, 0.05)), float(a * rng.uniform(1, 10)),
                            float(rng.uniform(0.05, 0.15)), 0.005) for i, a in enumerate(assets)]


def run(n: int, joint: bool, decompose: bool, two: bool, raw_max: int) -> None:
    quotes = make_quotes(20, seed=5)
    ps = profiles(n)
    t = time.perf_counter()
    free = batch.run(ps, quotes, REGIME, None, workers=1)
    t_batch = time.perf_counter() - t
    demand = {r["counterparty"]: r["cover_jpy"] for r in free.summary["insurance_by_counterparty"]}
    capacity = {c: 0.5 * v for c, v in demand.items() if v > 0}
    # the strong user's columns: R, multiplier, carry and liquid capital of each exchange
    t = time.perf_counter()
    sheet = highspy_loop.Sheet.of(quotes, REGIME)
    cols = (np.array([requirement(p, REGIME) for p in ps]), np.array([p.premium_multiplier for p in ps]),
            np.array([p.carry for p in ps]), np.array([p.liquid_capital_jpy for p in ps]))
    _, loop_cost = highspy_loop.solve_arrays(sheet, np.array([p.exchange_id for p in ps]), *cols)
    t_loop = time.perf_counter() - t
    alone = free.summary["totals"]["annual_cost_jpy"]
    line = (f"{n:>8,} exchanges  batch {t_batch:8.2f} s | highspy loop {t_loop:8.2f} s (batch {t_batch / t_loop:5.2f}× "
            f"its time; cost vs batch {loop_cost.sum() / alone - 1:+.1e})")
    cost_joint = None
    if joint:
        t = time.perf_counter()
        r = market.solve_market(ps, quotes, REGIME, capacity, method="joint", unlimited=free)
        t_joint = time.perf_counter() - t - r.summary["unlimited_seconds"]
        cost_joint = r.summary["totals"]["annual_cost_jpy"]
        s = r.summary["solver"]
        line += (f" | joint {t_joint:8.2f} s ({t_joint / t_batch:5.2f}× batch; {s['rows']:,} rows, "
                 f"{s['nonzeros']:,} nonzeros; scarce {len(r.summary['scarce_counterparties'])})")
        if n <= raw_max:
            # the same margin under each capacity as ours (market.CAPACITY_MARGIN), so that the costs compare
            raw_cost, raw_build, raw_solve = highspy_loop.joint_market(sheet, *cols, capacity,
                                                                        margin=market.CAPACITY_MARGIN)
            t_raw = raw_build + raw_solve
            line += (f" | raw highspy joint {t_raw:8.2f} s (build {raw_build:.2f} s; ours {t_joint / t_raw:5.2f}× its "
                     f"time; cost vs ours {raw_cost / cost_joint - 1:+.1e})")
    if decompose:
        for workers in (1, 2) if two else (1,):
            t = time.perf_counter()
            r = market.solve_market(ps, quotes, REGIME, capacity, method="decompose", unlimited=free,
                                    workers=workers)
            t_dec = time.perf_counter() - t - r.summary["unlimited_seconds"]
            s = r.summary["solver"]
            gap = "" if cost_joint is None else \
                f", cost vs joint {r.summary['totals']['annual_cost_jpy'] / cost_joint - 1:+.2e}"
            line += (f" | decompose×{workers} {t_dec:8.2f} s ({t_dec / t_batch:5.2f}× batch; {s['rounds']} rounds, "
                     f"of which mix LP {s['mix_lp_seconds']:.1f} s; "
                     f"repair {s['repair']['kind']} of {s['repair']['exchanges']:,}{gap})")
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--joint", default="26,1000,10000", help="sizes for the joint LP (and the decomposition "
                    "alongside, for the cost comparison)")
    ap.add_argument("--decompose", default="100000", help="sizes for the decomposition alone")
    ap.add_argument("--skip-two", action="store_true", help="decomposition with one worker only")
    ap.add_argument("--raw-max", type=int, default=10000, help="largest market the raw-highspy joint LP is run on")
    args = ap.parse_args()
    sizes = lambda text: [int(v) for v in text.split(",") if v.strip()]  # noqa: E731
    for n in sizes(args.joint):
        run(n, joint=True, decompose=True, two=False, raw_max=args.raw_max)
    for n in sizes(args.decompose):
        run(n, joint=False, decompose=True, two=not args.skip_two, raw_max=args.raw_max)


if __name__ == "__main__":
    main()
