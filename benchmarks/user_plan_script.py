"""The baseline of bench_plan.py: the script a user would write to plan many exchanges over several years — a fresh
PuLP multi-year model per profile, solved with HiGHS, the present value only (no marginal costs, no independent
check, no reasons).

Its rows are the plan's (docs/plan.md): for each year t the single-year rows of `solve` on year t's instance (R'_t =
phase_in_t × R_t on year t's figures, its columns in units of R'_t), and across years the reserve never falling
(unless `release`), C_t − C_{t−1} ≤ max_provision_t with C_0 = 0, and a term policy's share and yes/no held over its
term; the objective is the present value of the years' annual costs. Where no compliant plan exists it does what the
package does: the least total shortfall first, then the least present value at it (two more fresh models).

It reads the same files as `python -m optimizer batch PROFILES --plan F` and writes
`exchange_id,status,present_value_jpy` as CSV.

Run:  .venv/bin/python benchmarks/user_plan_script.py PROFILES QUOTES REGIME PLAN OUT.csv [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import math

import numpy as np
import pandas as pd
import pulp

from optimizer.inputs import load_quotes, load_regime, parse_profile
from optimizer.lp.columns import CASH, SHORTFALL, Columns
from optimizer.model import Scaled, highs_solver, numbers, quiet_highs
from optimizer.plan import plan_years
from optimizer.plan_file import load_plan


def plan_model(years, plan, *, shortfall: bool):
    """A fresh PuLP model over all the years: (problem, present-value expression, total-shortfall expression)."""
    prob = pulp.LpProblem("plan", pulp.LpMinimize)
    blocks = [Scaled.of(y.instance) for y in years]
    money = float(np.exp(np.mean(np.log([float(d.unit) for d in blocks]))))  # linking rows in yen ÷ M
    pv, gap, cash, shares, takes = [], [], [], [], []
    for t, (year, d) in enumerate(zip(years, blocks), start=1):
        num = numbers(d)
        layout = Columns.of(d.quotes, d.binary)
        integer = set(num.integer.tolist())
        cols = [prob.add_variable(f"y{t}_c{k}", lowBound=float(lo), upBound=None if math.isinf(hi) else float(hi),
                                  cat=pulp.LpBinary if k in integer else pulp.LpContinuous)
                for k, (lo, hi) in enumerate(zip(num.col_lower, num.col_upper))]
        cols[SHORTFALL].upBound = None if shortfall else 0.0
        for i in range(len(num.names)):
            expr = pulp.lpSum(float(num.A[i, k]) * cols[k] for k in np.flatnonzero(num.A[i]))
            lo, hi = num.row_lower[i], num.row_upper[i]
            prob += (expr >= float(lo)) if math.isfinite(lo) else (expr <= float(hi))
        unit = float(d.unit)
        pv.append(pulp.lpSum(float(c) * unit * year.discount_factor / money * v for c, v in zip(num.cost, cols)
                             if c != 0))
        gap.append(unit / money * cols[SHORTFALL])
        cash.append(unit / money * cols[CASH])
        shares.append({q.quote_id: cols[layout.share(j)] for j, q in enumerate(d.quotes)})
        takes.append({d.quotes[j].quote_id: cols[layout.take(k)] for k, j in enumerate(np.flatnonzero(d.binary))})
        if t > 1 and not plan.release:
            prob += cash[-1] - cash[-2] >= 0
        if math.isfinite(year.max_provision_jpy):
            prob += cash[-1] - (cash[-2] if t > 1 else 0) <= year.max_provision_jpy / money
        if t > 1:
            for q in d.quotes:
                if q.term_years > 1 and q.quote_id in shares[0]:
                    prob += shares[-1][q.quote_id] - shares[0][q.quote_id] == 0
                    if q.quote_id in takes[-1] and q.quote_id in takes[0]:
                        prob += takes[-1][q.quote_id] - takes[0][q.quote_id] == 0
    total_pv, total_gap = pulp.lpSum(pv), pulp.lpSum(gap)
    prob += total_pv
    return prob, total_pv, total_gap, money


def present_value_of(years, plan) -> tuple[str, float]:
    """A fresh model; if infeasible, two more: least total shortfall, then least present value at it."""
    prob, pv, _gap, money = plan_model(years, plan, shortfall=False)
    if prob.solve(highs_solver()).status == 1:  # optimal
        return "optimal", pulp.value(pv) * money
    least, _pv, gap, money = plan_model(years, plan, shortfall=True)
    least.setObjective(gap)
    least.solve(highs_solver())
    z = pulp.value(gap)
    last, pv, gap, money = plan_model(years, plan, shortfall=True)
    last += gap <= z * (1 + 1e-9) + 1e-9
    last.solve(highs_solver())
    return ("shortfall" if z * money > 1e-6 else "optimal"), pulp.value(pv) * money


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("profiles", "quotes", "regime", "plan", "out"):
        ap.add_argument(name)
    ap.add_argument("--limit", type=int, default=None, help="only the first N profiles")
    args = ap.parse_args()
    quiet_highs()
    quotes, regime, plan = load_quotes(args.quotes), load_regime(args.regime), load_plan(args.plan)
    reader = pd.read_parquet if args.profiles.endswith(".parquet") else pd.read_csv
    frame = reader(args.profiles)
    if args.limit:
        frame = frame.head(args.limit)
    with open(args.out, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["exchange_id", "status", "present_value_jpy"])
        for k, row in enumerate(frame.to_dict("records")):
            profile = parse_profile({c: ("" if pd.isna(v) else v) for c, v in row.items()}, args.profiles, k + 1)
            status, pv = present_value_of(plan_years(profile, quotes, regime, plan), plan)
            out.writerow([profile.exchange_id, status, repr(pv)])


if __name__ == "__main__":
    main()
