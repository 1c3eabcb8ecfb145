"""The baseline of bench_batch.py: the script a user would write to price many exchanges — a fresh PuLP model
per profile, solved with HiGHS, the cost only (no marginal cost, no independent check, no checkpoints).

It reads the same files as `python -m optimizer batch` (profiles CSV/Parquet, quotes CSV, regime TOML) and writes
`exchange_id,status,annual_cost_jpy` as CSV. Where no compliant mix exists it does what the package does: the
least shortfall first, then the least cost at that shortfall (two more fresh models).

Run:  .venv/bin/python benchmarks/user_script.py PROFILES QUOTES REGIME OUT.csv [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import sys

import pandas as pd
import pulp

from optimizer.inputs import load_quotes, load_regime, parse_profile
from optimizer.model import Instance, build_view, highs_solver, quiet_highs


def cost_of(inst: Instance) -> tuple[str, float]:
    """A fresh model; if infeasible, two more: least shortfall, then least cost at it."""
    view = build_view(inst)
    if view.prob.solve(highs_solver()).status == 1:  # optimal
        return "optimal", pulp.value(view.cost) * inst.unit
    least = build_view(inst, with_shortfall=True)
    least.prob.setObjective(least.gap)
    least.prob.solve(highs_solver())
    z = least.gap.varValue
    last = build_view(inst, with_shortfall=True)
    last.gap.upBound = z + 1e-12
    last.prob.solve(highs_solver())
    return ("shortfall" if z * inst.unit > 1e-9 * inst.unit else "optimal"), pulp.value(last.cost) * inst.unit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profiles")
    ap.add_argument("quotes")
    ap.add_argument("regime")
    ap.add_argument("out")
    ap.add_argument("--limit", type=int, default=None, help="only the first N profiles")
    args = ap.parse_args()
    quiet_highs()
    quotes, regime = load_quotes(args.quotes), load_regime(args.regime)
    reader = pd.read_parquet if args.profiles.endswith(".parquet") else pd.read_csv
    frame = reader(args.profiles)
    if args.limit:
        frame = frame.head(args.limit)
    with open(args.out, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["exchange_id", "status", "annual_cost_jpy"])
        for k, row in enumerate(frame.to_dict("records")):
            profile = parse_profile({c: ("" if pd.isna(v) else v) for c, v in row.items()}, args.profiles, k + 1)
            status, cost = cost_of(Instance.build(profile, quotes, regime))
            out.writerow([profile.exchange_id, status, repr(cost)])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
