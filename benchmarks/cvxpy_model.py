"""The strong user's cvxpy model of one solve, written from docs/design.md §4 (not from the project's code): the
breakpoint LP in units of R — cash C and a share s_j per eligible quote, every loss level x in {R} ∪ {a_j, a_j + l_j}
funded for every peril, the caps on credit by kind and by counterparty — solved by HiGHS through cvxpy.
An LP sheet only (no minimum lines or flat fees). Used by bench_solve.py (`--cvxpy`); needs the `bench` extra."""

from __future__ import annotations

import numpy as np

from optimizer.domain import ExchangeProfile, Quote, Regime
from optimizer.regime import credit_factor, exempt_from_counterparty_cap, requirement


def solve_cvxpy(profile: ExchangeProfile, quotes: list[Quote], regime: Regime) -> float:
    """Build and solve the model; the annual cost in yen."""
    import cvxpy as cp

    R = requirement(profile, regime)
    qs = [q for q in quotes if q.offered_to(profile.exchange_id) and credit_factor(q, regime) > 0]
    kappa = np.array([credit_factor(q, regime) for q in qs])
    a = np.array([q.attachment_jpy(R) for q in qs]) / R
    lim = np.array([q.limit_jpy(R) for q in qs]) / R
    premium = profile.premium_multiplier * np.array([q.premium_rate for q in qs]) * lim
    elig = regime.eligibility
    C = cp.Variable(nonneg=True)
    s = cp.Variable(len(qs), nonneg=True)
    points = np.unique(np.clip(np.concatenate([[1.0], a, a + lim]), 0.0, 1.0))
    credit = kappa * np.clip(points[:, None] - a, 0.0, lim)  # points × quotes: κ_j·r_j(x)
    rows = [s <= np.array([q.max_share for q in qs])]
    if np.isfinite(profile.liquid_capital_jpy):
        rows.append(C <= profile.liquid_capital_jpy / R)
    for p in regime.requirement.perils:
        covers = np.array([q.covers(p) for q in qs], dtype=float)
        rows.append(C + (credit * covers) @ s >= points)
    full = credit[-1]
    derivative = np.array([q.is_derivative for q in qs])
    rows += [C >= elig.min_cash_share, (full * ~derivative) @ s <= elig.max_insurance_share,
             (full * derivative) @ s <= elig.max_derivative_share]
    for c in sorted({q.counterparty for q in qs if not exempt_from_counterparty_cap(q)}):
        mine = np.array([q.counterparty == c and not exempt_from_counterparty_cap(q) for q in qs], dtype=float)
        rows.append((full * mine) @ s <= elig.max_counterparty_share)
    prob = cp.Problem(cp.Minimize(profile.carry * C + premium @ s), rows)
    prob.solve(solver=cp.HIGHS)
    return float(prob.value) * R
