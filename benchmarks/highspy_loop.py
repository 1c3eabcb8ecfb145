"""The second baseline of the benchmarks: the loop a strong user writes straight against highspy.

What such a user does for a batch: read the profiles with pandas (no per-row objects), build ONE HiGHS model for
the quote sheet — the breakpoint LP of docs/design.md §4 in units of R, written with `highspy.Highs.addVars`,
`addRows` and `changeColsIntegrality` — sort the profiles so that neighbours have similar optimal bases, then per
profile change only the numbers that differ (`changeColsCost`, `changeColsBounds`, and for sheets whose rows move
with R, `changeRowsBounds` and `changeCoeff`) and re-solve warm from the previous basis. Cost only: no marginal
cost, no independent check, no checkpoints, no summary. Where no compliant mix exists it does what
`user_script.py` and the package do: the least shortfall, then the least cost at that shortfall, on the same model.

The quote sheet and the regime are read once with the project's loaders and κ comes from its rule
(`regime.credit_factor`): one-off work that a user would also write once; everything per profile is here.

    R = min(cap, share_cap·assets, max(floor, volume_rate·volume, hot_rate·hot + cold_rate·cold))   (vectorised)
    columns: C, z (shortfall, fixed at 0 unless needed), s_j (eligible quotes), y_j (yes/no quotes)
    min  carry·C + Σ_j multiplier·ROL_j·(1 + fronting_j)·l_j·s_j + Σ_j fee_j/R·y_j
    for each peril p and breakpoint x ∈ {1} ∪ {a_j, a_j + l_j} clipped to [0, 1]:
         C + z + Σ_{j covers p} κ_j·r_j(x)·s_j ≥ x
    C + z ≥ min_cash_share;  Σ_{insurance} κ_j·r_j(1)·s_j ≤ max_insurance_share;  same for derivatives;
    Σ_{j of c} κ_j·r_j(1)·s_j ≤ max_counterparty_share (collateralized derivatives exempt);
    s_j − min_j·y_j ≥ 0,  s_j − max_j·y_j ≤ 0;   0 ≤ C ≤ liquid/R,  0 ≤ s_j ≤ max_j (0 when not offered)

With the regime's `second_event_share` σ > 0 (the two-event test) it adds, for every ordered pair of peril groups
(perils covered by the same quotes) and every (x₁, x₂) ∈ {0, 1, a_j: j covers g₁} × {0, σ, a_j: j covers g₂}:
    C + z + Σ_j κ_j·min(c₁_j·r_j(x₁) + c₂_j·r_j(x₂), l_j·(1 + reinstatements_j))·s_j ≥ x₁ + x₂
With `--assets F` (read with the project's loader; κ_a from `regime.asset_credit_factor`) one column A_a per
eligible asset, c_a = κ_a·(1 − haircut), cost cost_of_capital − yield (held) or fee_rate (promised), bound
max_amount/R: c_a·A_a on the reserve's side of every funded and two-event row, held credit in the min_cash row,
one cap row per kind present, the asset's bank in its counterparty's row, and C + Σ_{held} A_a ≤ liquid/R.

Run:  .venv/bin/python benchmarks/highspy_loop.py PROFILES QUOTES REGIME OUT.csv [--assets F] [--limit N]
                                                  [--no-sort]
Writes `exchange_id,status,annual_cost_jpy` (the profiles' own order), like user_script.py.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass
from typing import Sequence

import highspy
import numpy as np
import pandas as pd

from optimizer import settings
from optimizer.domain import ASSET_KINDS, Quote, Regime, ReserveAsset
from optimizer.inputs import load_assets, load_quotes, load_regime
from optimizer.regime import asset_credit_factor, credit_factor

INF = highspy.kHighsInf
OPTIMAL, INFEASIBLE = highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kInfeasible


def quiet_banner() -> None:
    """HiGHS prints a banner on stdout when the first instance is made: make it with stdout on /dev/null."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(null)
        os.close(saved)


def new_highs() -> highspy.Highs:
    """A HiGHS instance with the project's solver settings (tolerances, gaps, one thread), output off."""
    h = highspy.Highs()
    for name, value in {"output_flag": False, "threads": settings.THREADS, "mip_rel_gap": settings.MIP_GAP_REL,
                        "mip_abs_gap": settings.MIP_GAP_ABS, "time_limit": settings.TIME_LIMIT_SECONDS,
                        "primal_feasibility_tolerance": settings.PRIMAL_FEASIBILITY,
                        "dual_feasibility_tolerance": settings.DUAL_FEASIBILITY,
                        "mip_feasibility_tolerance": settings.MIP_FEASIBILITY}.items():
        h.setOptionValue(name, value)
    return h


@dataclass
class Sheet:
    """The quote sheet's eligible quotes as arrays, and the regime's numbers."""

    quotes: list[Quote]
    kappa: np.ndarray
    regime: Regime
    assets: tuple[ReserveAsset, ...] = ()  # the eligible reserve assets (κ_a > 0)
    asset_kappa: tuple[float, ...] = ()

    @classmethod
    def of(cls, quotes: Sequence[Quote], regime: Regime, assets: Sequence[ReserveAsset] = ()) -> "Sheet":
        kappa = np.array([credit_factor(q, regime) for q in quotes])
        keep = kappa > 0
        akappa = [asset_credit_factor(a, regime) for a in assets]
        return cls([q for q, k in zip(quotes, keep) if k], kappa[keep], regime,
                   tuple(a for a, k in zip(assets, akappa) if k > 0), tuple(k for k in akappa if k > 0))

    def __post_init__(self) -> None:
        qs, n = self.quotes, len(self.quotes)
        self.n = n
        self.req = np.array([q.layer_basis == "requirement" for q in qs])
        self.att0 = np.array([q.attachment for q in qs], float)
        self.lim0 = np.array([q.limit for q in qs], float)
        self.cap_jpy = np.array([q.max_limit_jpy for q in qs], float)
        self.rate = np.array([q.premium_rate for q in qs], float)
        self.fee = np.array([q.fixed_fee_jpy for q in qs], float)
        self.max_share = np.array([q.max_share for q in qs], float)
        self.min_share = np.array([q.min_share for q in qs], float)
        self.binary = np.flatnonzero([q.needs_binary for q in qs])
        self.derivative = np.array([q.is_derivative for q in qs])
        self.for_one = [q.exchange_id for q in qs]
        perils = self.regime.requirement.perils
        self.covers = np.array([[q.covers(p) for q in qs] for p in perils], float).reshape(len(perils), n)
        exempt = np.array([q.is_derivative and q.collateralized for q in qs], bool)
        self.cps = sorted({q.counterparty for q, e in zip(qs, exempt) if not e})
        self.of_cp = np.array([[q.counterparty == c and not e for q, e in zip(qs, exempt)] for c in self.cps],
                              float).reshape(len(self.cps), n)
        # the rows move with R when a layer is in yen or a requirement-basis limit can hit its yen ceiling
        self.moves = bool((~self.req).any() or np.isfinite(self.cap_jpy[self.req]).any())
        # reserve assets: columns after the shares
        ats, m = self.assets, len(self.assets)
        self.m = m
        self.c_asset = np.array([k * (1.0 - a.haircut) for a, k in zip(ats, self.asset_kappa)], float)
        self.held = np.array([a.funded for a in ats], bool)
        self.asset_yield = np.array([a.yield_rate for a in ats], float)
        self.asset_fee = np.array([a.fee_rate for a in ats], float)
        self.asset_max = np.array([a.max_amount_jpy for a in ats], float)
        self.asset_for = [a.exchange_id for a in ats]
        self.kinds = [k for k in ASSET_KINDS if any(a.kind == k for a in ats)]
        self.cps = sorted(set(self.cps) | {a.counterparty for a in ats if a.counterparty})
        self.of_cp = np.array([[q.counterparty == c and not e for q, e in zip(qs, exempt)] for c in self.cps],
                              float).reshape(len(self.cps), n)
        self.asset_of_cp = np.array([[a.counterparty == c for a in ats] for c in self.cps],
                                    float).reshape(len(self.cps), m)
        # the two-event test: one block per ordered pair of peril groups
        self.sigma = float(self.regime.requirement.second_event_share)
        self.reinst = np.array([q.reinstatements for q in qs], float)
        self.groups = np.unique(self.covers, axis=0) if self.sigma > 0 else np.zeros((0, n))
        self.ncol = 2 + n + m + len(self.binary)
        self.npoint = 1 + 2 * n
        self.nfunded = len(perils) * self.npoint
        self.nrepeat = sum((2 + int(g1.sum())) * (2 + int(g2.sum())) for g1 in self.groups for g2 in self.groups)
        self.liquid_row = None  # index of C + Σ held A ≤ liquid/R (its bound is the profile's)

    # ------------------------------------------------------------------ numbers in units of R
    def layers(self, R: float) -> tuple[np.ndarray, np.ndarray]:
        """(a_j, l_j) in units of R."""
        a = np.where(self.req, self.att0, self.att0 / R)
        l = np.where(self.req, np.minimum(self.lim0 * R, self.cap_jpy) / R, self.lim0 / R)
        return a, l

    def matrix(self, a: np.ndarray, l: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The dense constraint matrix (rows × columns) and row bounds for layers (a, l)."""
        n, m, e = self.n, self.m, self.regime.eligibility
        x = np.clip(np.concatenate([[1.0], a, a + l]), 0.0, 1.0)
        r = np.minimum(np.maximum(x[:, None] - a, 0.0), l) * self.kappa  # points × quotes: κ_j·r_j(x)
        top = np.minimum(np.maximum(1.0 - a, 0.0), l) * self.kappa
        held_c = self.c_asset * self.held
        blocks, lower, upper = [], [], []
        for g in range(len(self.covers)):  # funded rows, one block per peril
            blocks.append(np.hstack([np.ones((len(x), 2)), r * self.covers[g], np.tile(self.c_asset, (len(x), 1))]))
            lower.append(x)
            upper.append(np.full(len(x), INF))
        if self.sigma > 0:  # two losses in one year, after the funded rows (their bounds move with R too)
            agg = l * (1.0 + self.reinst)
            for g1 in self.groups:
                x1 = np.clip(np.concatenate([[0.0, 1.0], a[g1 > 0]]), 0.0, 1.0)
                for g2 in self.groups:
                    x2 = np.clip(np.concatenate([[0.0, self.sigma], a[g2 > 0]]), 0.0, self.sigma)
                    p1, p2 = np.repeat(x1, len(x2)), np.tile(x2, len(x1))
                    paid = np.minimum(np.minimum(np.maximum(p1[:, None] - a, 0.0), l) * g1
                                      + np.minimum(np.maximum(p2[:, None] - a, 0.0), l) * g2, agg)
                    blocks.append(np.hstack([np.ones((len(p1), 2)), paid * self.kappa,
                                             np.tile(self.c_asset, (len(p1), 1))]))
                    lower.append(p1 + p2)
                    upper.append(np.full(len(p1), INF))
        caps = [np.r_[1.0, 1.0, np.zeros(n), held_c], np.r_[0.0, 0.0, top * ~self.derivative, np.zeros(m)],
                np.r_[0.0, 0.0, top * self.derivative, np.zeros(m)]]
        blocks.append(np.array(caps))
        lower.append([e.min_cash_share, -INF, -INF])
        upper.append([INF, e.max_insurance_share, e.max_derivative_share])
        blocks.append(np.hstack([np.zeros((len(self.cps), 2)), self.of_cp * top, self.asset_of_cp * self.c_asset]))
        lower.append(np.full(len(self.cps), -INF))
        upper.append(np.full(len(self.cps), e.max_counterparty_share))
        if m:
            kinds = np.array([[a.kind == k for a in self.assets] for k in self.kinds], float)
            blocks.append(np.hstack([np.zeros((len(self.kinds), 2 + n)), kinds * self.c_asset]))
            lower.append(np.full(len(self.kinds), -INF))
            upper.append([e.max_asset_share(k) for k in self.kinds])
        if self.held.any():  # cash and held assets tie up liquid capital (bound set per profile)
            self.liquid_row = sum(len(b) for b in blocks)
            blocks.append(np.r_[1.0, 0.0, np.zeros(n), self.held.astype(float)][None, :])
            lower.append([-INF])
            upper.append([INF])
        A = np.hstack([np.vstack(blocks), np.zeros((sum(len(b) for b in blocks), len(self.binary)))])
        k = len(self.binary)
        lines = np.zeros((2 * k, self.ncol))
        for i, j in enumerate(self.binary):
            lines[i, 2 + j] = lines[k + i, 2 + j] = 1.0
            lines[i, 2 + n + m + i] = -self.min_share[j]
            lines[k + i, 2 + n + m + i] = -self.max_share[j]
        A = np.vstack([A, lines])
        lower = np.concatenate([*map(np.asarray, lower), np.zeros(k), np.full(k, -INF)])
        upper = np.concatenate([*map(np.asarray, upper), np.full(k, INF), np.zeros(k)])
        return A, lower, upper

    def costs(self, R: np.ndarray, multiplier: np.ndarray, carry: np.ndarray,
              coc: np.ndarray | None = None) -> np.ndarray:
        """Costs of every column for every profile (profiles × columns), units of R (`coc`, the cost of capital,
        prices held assets)."""
        P = len(R)
        if self.moves:
            l = np.where(self.req, np.minimum(self.lim0 * R[:, None], self.cap_jpy) / R[:, None],
                         self.lim0 / R[:, None])
        else:
            l = np.broadcast_to(self.lim0, (P, self.n))
        coc = np.zeros(P) if coc is None else coc
        assets = np.where(self.held, coc[:, None] - self.asset_yield, self.asset_fee) if self.m else np.zeros((P, 0))
        return np.hstack([carry[:, None], np.zeros((P, 1)), multiplier[:, None] * self.rate * l, assets,
                          self.fee[self.binary] / R[:, None]])

    # ------------------------------------------------------------------ the one model
    def model(self, R: float) -> tuple[highspy.Highs, np.ndarray]:
        """One HiGHS model for the sheet, its rows at the layers of a requirement R. Returns (h, A)."""
        h = new_highs()
        A, lower, upper = self.matrix(*self.layers(R))
        h.addVars(self.ncol, np.zeros(self.ncol), np.ones(self.ncol))
        rows, cols = np.nonzero(A)
        starts = np.searchsorted(rows, np.arange(A.shape[0])).astype(np.int32)
        h.addRows(A.shape[0], lower, upper, len(rows), starts, cols.astype(np.int32), A[rows, cols])
        if len(self.binary):
            idx = (2 + self.n + self.m + np.arange(len(self.binary))).astype(np.int32)
            h.changeColsIntegrality(len(idx), idx, np.full(len(idx), highspy.HighsVarType.kInteger))
        return h, A


def requirements(frame: pd.DataFrame, regime: Regime) -> np.ndarray:
    """R in yen for every profile (the regime's formula, vectorised)."""
    rule = regime.requirement
    assets = frame["customer_assets_jpy"].to_numpy(float)
    hot = assets * frame["hot_wallet_share"].to_numpy(float)
    by_volume = rule.volume_rate * frame["annual_trading_volume_jpy"].to_numpy(float)
    by_assets = rule.hot_wallet_rate * hot + rule.cold_wallet_rate * (assets - hot)
    ceiling = np.minimum(rule.cap_jpy, rule.max_share_of_customer_assets * assets
                         if np.isfinite(rule.max_share_of_customer_assets) else np.inf)
    return np.minimum(ceiling, np.maximum(rule.floor_jpy, np.maximum(by_volume, by_assets)))


def column(frame: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), default)
    return frame[name].fillna(default).to_numpy(float)


def solve_all(frame: pd.DataFrame, sheet: Sheet, sort: bool = True) -> tuple[list[str], np.ndarray]:
    """Every profile of `frame` on one kept HiGHS model. Returns (status, annual cost in yen) in frame order."""
    return solve_arrays(sheet, frame["exchange_id"].astype(str).to_numpy(), requirements(frame, sheet.regime),
                        column(frame, "premium_multiplier", 1.0),
                        column(frame, "cost_of_capital", 0.0) - column(frame, "reserve_yield", 0.0),
                        column(frame, "liquid_capital_jpy", np.inf), sort, column(frame, "cost_of_capital", 0.0))


def solve_arrays(sheet: Sheet, ids: np.ndarray, R: np.ndarray, multiplier: np.ndarray, carry: np.ndarray,
                 liquid_jpy: np.ndarray, sort: bool = True, coc: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """Profiles given as columns (R and liquid capital in yen) on one kept HiGHS model: (status, annual cost)."""
    P, n, m = len(R), sheet.n, sheet.m
    liquid = liquid_jpy / R
    cost = sheet.costs(R, multiplier, carry, coc)
    upper = np.hstack([np.minimum(liquid, INF)[:, None], np.zeros((P, 1)),
                       np.broadcast_to(sheet.max_share, (P, n)), np.minimum(sheet.asset_max / R[:, None], INF),
                       np.ones((P, len(sheet.binary)))])
    if any(e is not None for e in sheet.for_one):  # quotes offered to one exchange only: shares 0 for the others
        mine = np.array([[e is None or e == i for e in sheet.for_one] for i in ids])
        upper[:, 2:2 + n] *= mine
        upper[:, 2 + n + m:] *= mine[:, sheet.binary]
    if any(e is not None for e in sheet.asset_for):  # assets offered to one exchange only
        upper[:, 2 + n:2 + n + m] *= np.array([[e is None or e == i for e in sheet.asset_for] for i in ids])
    # neighbours in this order share their optimal basis: by how dear cash is against cover, then by size
    order = np.lexsort((R, carry / multiplier)) if sort else np.arange(P)
    if sheet.moves:
        order = np.lexsort((carry / multiplier, R)) if sort else order
    all_cols = np.arange(sheet.ncol, dtype=np.int32)
    lower = np.zeros(sheet.ncol)
    h, A = sheet.model(R[order[0]] if P else 1.0)
    _, row_lower, _ = sheet.matrix(*sheet.layers(R[order[0]] if P else 1.0))
    funded = np.arange(sheet.nfunded + sheet.nrepeat, dtype=np.int32)  # the funded and two-event rows
    status, out = [""] * P, np.full(P, np.nan)
    liquid_row = None if sheet.liquid_row is None else np.array([sheet.liquid_row], np.int32)
    for i in order:
        if liquid_row is not None:
            h.changeRowsBounds(1, liquid_row, np.array([-INF]), np.array([min(liquid[i], INF)]))
        if sheet.moves:  # the breakpoints and coefficients of yen layers move with R
            A_i, lo_i, up_i = sheet.matrix(*sheet.layers(R[i]))
            for r, c in zip(*np.nonzero(A_i != A)):
                h.changeCoeff(int(r), int(c), float(A_i[r, c]))
            h.changeRowsBounds(len(funded), funded, lo_i[funded], up_i[funded])
            A = A_i
        h.changeColsCost(sheet.ncol, all_cols, cost[i])
        h.changeColsBounds(sheet.ncol, all_cols, lower, upper[i])
        h.run()
        if h.getModelStatus() == OPTIMAL:
            status[i], out[i] = "optimal", h.getInfo().objective_function_value * R[i]
            continue
        if h.getModelStatus() != INFEASIBLE:
            raise SystemExit(f"{ids[i]}: HiGHS stopped with {h.modelStatusToString(h.getModelStatus())}")
        # no compliant mix: least shortfall z, then least cost with z held there
        free_z = upper[i].copy()
        free_z[1] = INF
        h.changeColsCost(sheet.ncol, all_cols, np.eye(sheet.ncol)[1])
        h.changeColsBounds(sheet.ncol, all_cols, lower, free_z)
        h.run()
        z = h.getSolution().col_value[1]
        free_z[1] = z + 1e-12
        h.changeColsCost(sheet.ncol, all_cols, cost[i])
        h.changeColsBounds(sheet.ncol, all_cols, lower, free_z)
        h.run()
        status[i] = "shortfall" if z > 1e-9 else "optimal"
        out[i] = h.getInfo().objective_function_value * R[i]
    return status, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profiles")
    ap.add_argument("quotes")
    ap.add_argument("regime")
    ap.add_argument("out")
    ap.add_argument("--limit", type=int, default=None, help="only the first N profiles")
    ap.add_argument("--no-sort", action="store_true", help="solve in file order")
    ap.add_argument("--assets", default=None, help="an assets CSV (reserve assets beyond cash)")
    args = ap.parse_args()
    quiet_banner()
    sheet = Sheet.of(load_quotes(args.quotes), load_regime(args.regime),
                     load_assets(args.assets) if args.assets else ())
    frame = (pd.read_parquet if args.profiles.endswith(".parquet") else pd.read_csv)(args.profiles)
    if args.limit:
        frame = frame.head(args.limit)
    status, cost = solve_all(frame, sheet, sort=not args.no_sort)
    with open(args.out, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["exchange_id", "status", "annual_cost_jpy"])
        out.writerows(zip(frame["exchange_id"].astype(str), status, map(repr, cost.tolist())))


if __name__ == "__main__":
    main()


def joint_market(sheet: Sheet, R: np.ndarray, multiplier: np.ndarray, carry: np.ndarray, liquid_jpy: np.ndarray,
                 capacity: dict[str, float], margin: float = 0.0) -> tuple[float, float, float]:
    """The strong user's market LP: every exchange's breakpoint LP side by side (block diagonal, each in units of
    its own R) plus one row per counterparty with capacity, Σ_e Σ_{j of c} l_ej·R_e·s_ej ≤ capacity_c (divided by
    capacity_c), the objective the total annual cost in yen ÷ M (M the geometric mean of R). One HiGHS run, LP
    sheets only (no shortfall stage: every exchange must be able to comply). `margin`: each capacity is held at
    capacity × (1 − margin). Returns (total annual cost in yen, seconds to build, seconds to solve)."""
    import time

    import scipy.sparse as sp

    started = time.perf_counter()
    E, k = len(R), sheet.ncol
    if len(sheet.binary):
        raise SystemExit("joint_market: LP sheets only")
    money = float(np.exp(np.mean(np.log(R))))
    if sheet.moves:
        blocks = [sp.csr_matrix(sheet.matrix(*sheet.layers(r))[0]) for r in R]
        own = sp.block_diag(blocks, format="csr")
        bounds = [sheet.matrix(*sheet.layers(r))[1:] for r in R]
        row_lower = np.concatenate([b[0] for b in bounds])
        row_upper = np.concatenate([b[1] for b in bounds])
    else:
        A, lo, up = sheet.matrix(*sheet.layers(1.0))
        own = sp.kron(sp.identity(E, format="csr"), sp.csr_matrix(A), format="csr")
        row_lower, row_upper = np.tile(lo, E), np.tile(up, E)
    limit = np.where(sheet.req, np.minimum(sheet.lim0 * R[:, None], sheet.cap_jpy), sheet.lim0 + 0 * R[:, None])
    named = [c for c in capacity if any(q.counterparty == c for q in sheet.quotes)]
    cap_rows = []
    for c in named:
        of_c = np.array([q.counterparty == c for q in sheet.quotes])
        coef = np.zeros((E, k))
        coef[:, 2:2 + sheet.n] = limit * of_c / capacity[c]
        cap_rows.append(sp.csr_matrix(coef.reshape(1, -1)))
    full = sp.vstack([own, *cap_rows], format="csc")
    cost = (sheet.costs(R, multiplier, carry) * (R / money)[:, None]).ravel()
    col_upper = np.hstack([np.minimum(liquid_jpy / R, INF)[:, None], np.zeros((E, 1)),
                           np.broadcast_to(sheet.max_share, (E, sheet.n))]).ravel()
    h = new_highs()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = full.shape[1], full.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, np.zeros(full.shape[1]), col_upper
    lp.row_lower_ = np.concatenate([row_lower, np.full(len(named), -INF)])
    lp.row_upper_ = np.concatenate([row_upper, np.full(len(named), 1.0 - margin)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = full.shape[1], full.shape[0]
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = full.indptr, full.indices, full.data
    h.passModel(lp)
    built = time.perf_counter()
    h.run()
    if h.getModelStatus() != OPTIMAL:
        raise SystemExit(f"joint_market: HiGHS stopped with {h.modelStatusToString(h.getModelStatus())}")
    return h.getInfo().objective_function_value * money, built - started, time.perf_counter() - built
