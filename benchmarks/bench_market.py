"""Market speed: the joint LP and the decomposition, against a batch run of the same profiles in the same run.

Profiles: random exchanges (sizes spread over two orders of magnitude, costs of capital 5–15%) × 20 requirement-
basis quotes from 8 counterparties (bench_solve.make_quotes). Capacity per counterparty: half of what the
exchanges would buy from it without limits (the batch run says how much), so several counterparties are scarce.
Reported: seconds of the batch run (the baseline: each exchange alone, no capacity), of the joint LP
(`--joint` sizes) and of the decomposition with 1 and 2 workers (`--decompose` sizes), each as a ratio to the
batch of the same profiles, and the decomposition's total cost against the joint LP's where both run.

Run:  .venv/bin/python benchmarks/bench_market.py [--joint 26,1000,10000] [--decompose 100000] [--skip-two]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_solve import REGIME, make_quotes  # noqa: E402

from optimizer import batch, market  # noqa: E402
from optimizer.domain import ExchangeProfile  # noqa: E402


def profiles(n: int, seed: int = 11) -> list[ExchangeProfile]:
    rng = np.random.default_rng(seed)
    assets = 10 ** rng.uniform(9, 12, n)
    return [ExchangeProfile(f"B{i:06d}", float(a), float(rng.uniform(0.005, 0.05)), float(a * rng.uniform(1, 10)),
                            float(rng.uniform(0.05, 0.15)), 0.005) for i, a in enumerate(assets)]


def run(n: int, joint: bool, decompose: bool, two: bool) -> None:
    quotes = make_quotes(20, seed=5)
    ps = profiles(n)
    t = time.perf_counter()
    free = batch.run(ps, quotes, REGIME, None, workers=1)
    t_batch = time.perf_counter() - t
    demand = {r["counterparty"]: r["cover_jpy"] for r in free.summary["insurance_by_counterparty"]}
    capacity = {c: 0.5 * v for c, v in demand.items() if v > 0}
    line = f"{n:>8,} exchanges  batch {t_batch:8.2f} s"
    cost_joint = None
    if joint:
        t = time.perf_counter()
        r = market.solve_market(ps, quotes, REGIME, capacity, method="joint", unlimited=free)
        t_joint = time.perf_counter() - t - r.summary["unlimited_seconds"]
        cost_joint = r.summary["totals"]["annual_cost_jpy"]
        s = r.summary["solver"]
        line += (f" | joint {t_joint:8.2f} s ({t_joint / t_batch:5.2f}× batch; {s['rows']:,} rows, "
                 f"{s['nonzeros']:,} nonzeros; scarce {len(r.summary['scarce_counterparties'])})")
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
    args = ap.parse_args()
    sizes = lambda text: [int(v) for v in text.split(",") if v.strip()]  # noqa: E731
    for n in sizes(args.joint):
        run(n, joint=True, decompose=True, two=False)
    for n in sizes(args.decompose):
        run(n, joint=False, decompose=True, two=not args.skip_two)


if __name__ == "__main__":
    main()
